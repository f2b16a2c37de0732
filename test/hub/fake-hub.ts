/**
 * A local stand-in for the Hugging Face hub, for tests: node:http on 127.0.0.1 with the hub's
 * `/{repo}/resolve/{revision}/{file}` URLs and headers, plus a second server on another port that
 * plays the LFS CDN under the name `localhost` (a different host and origin, so cross-origin token
 * handling can be checked).
 *
 * - regular files: 200 with a quoted ETag (git blob sha1), Content-Length and X-Repo-Commit;
 * - LFS files: 302 to `{cdn}/cdn/{sha256}` with X-Linked-Etag (sha256), X-Linked-Size, X-Repo-Commit;
 * - Range requests answered 206 with Content-Range;
 * - 404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound;
 * - gated repos answer 401 with X-Error-Code GatedRepo unless the right Bearer token is sent;
 * - `cutNext(file)` makes the next GET of that file's body stop half way by destroying the socket;
 * - every request is logged in `requests`.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One file of a fake repo. */
export interface FakeFile {
  content: Buffer;
  /** Served through the CDN redirect, with sha256 etag. */
  lfs?: boolean;
  /** Size the metadata announces instead of the real one (to provoke a size mismatch). */
  announcedSize?: number;
  /** Bytes the CDN serves instead of `content` (to provoke a checksum mismatch). */
  corruptOnCdn?: Buffer;
}

/** A fake model repo: files per commit and branch/tag names pointing at commits. */
export interface FakeRepo {
  commits: Record<string, Record<string, FakeFile>>;
  refs: Record<string, string>;
  /** When set, every request needs `Authorization: Bearer {gatedToken}`. */
  gatedToken?: string;
}

/** A logged request. */
export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/** A running fake hub. */
export interface FakeHub {
  /** Base URL to use as endpoint, e.g. http://127.0.0.1:40123. */
  endpoint: string;
  /** Origin of the CDN server. */
  cdnOrigin: string;
  /** The repos served; tests may change them (push a new commit...). */
  repos: Record<string, FakeRepo>;
  requests: LoggedRequest[];
  /** Cut the body of the next `times` GETs of `filename` half way. */
  cutNext(filename: string, times?: number): void;
  close(): Promise<void>;
}

/** Git's blob id: sha1 of `blob {size}\0{content}` (the hub's ETag for regular files). */
export function gitBlobSha1(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** Hex sha256 (the hub's ETag for LFS files). */
export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** A deterministic fake commit hash. */
export function fakeCommit(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

/** The ETag the fake hub announces for a file. */
export function etagOf(file: FakeFile): string {
  return file.lfs ? sha256(file.content) : gitBlobSha1(file.content);
}

/** Listens on 127.0.0.1; `host` is the name put in URLs (the CDN uses `localhost`, a different host). */
async function listen(server: Server, host: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

/** Starts the hub and CDN servers. */
export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const requests: LoggedRequest[] = [];
  const cuts = new Map<string, number>();
  let cdnOrigin = '';

  const log = (server: 'hub' | 'cdn', req: IncomingMessage): void => {
    requests.push({ server, method: req.method ?? '', path: req.url ?? '', headers: req.headers });
  };

  const sendBody = (req: IncomingMessage, res: ServerResponse, filename: string, content: Buffer, headers: Record<string, string>): void => {
    let start = 0;
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      if (start >= content.length) {
        res.writeHead(416, { 'content-range': `bytes */${content.length}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${content.length - 1}/${content.length}`;
    }
    const body = content.subarray(start);
    res.writeHead(status, { ...headers, 'content-length': String(body.length), 'accept-ranges': 'bytes' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const remainingCuts = cuts.get(filename) ?? 0;
    if (remainingCuts > 0) {
      cuts.set(filename, remainingCuts - 1);
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  };

  const findBySha = (sha: string): { filename: string; file: FakeFile } | undefined => {
    for (const repo of Object.values(repos)) {
      for (const files of Object.values(repo.commits)) {
        for (const [filename, file] of Object.entries(files)) if (file.lfs && sha256(file.content) === sha) return { filename, file };
      }
    }
    return undefined;
  };

  const hubError = (res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { 'x-error-code': code, 'x-error-message': message, 'content-type': 'text/plain', ...extra }).end(message);
  };

  const hub = createServer((req, res) => {
    log('hub', req);
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return hubError(res, 404, 'NotFound', 'no route');
    const [, repoId = '', rawRev = '', rawPath = ''] = m;
    const revision = decodeURIComponent(rawRev);
    const filename = rawPath.split('/').map(decodeURIComponent).join('/');
    const repo = repos[repoId];
    if (!repo) return hubError(res, 404, 'RepoNotFound', 'Repository not found');
    if (repo.gatedToken !== undefined && req.headers.authorization !== `Bearer ${repo.gatedToken}`) {
      return hubError(res, 401, 'GatedRepo', `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it.`);
    }
    const commit = repo.refs[revision] ?? (repo.commits[revision] ? revision : undefined);
    const files = commit !== undefined ? repo.commits[commit] : undefined;
    if (commit === undefined || files === undefined) return hubError(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    const file = files[filename];
    if (!file) return hubError(res, 404, 'EntryNotFound', `${filename} does not exist on "${revision}"`, { 'x-repo-commit': commit });
    const size = String(file.announcedSize ?? file.content.length);
    if (file.lfs) {
      const sha = sha256(file.content);
      res
        .writeHead(302, {
          location: `${cdnOrigin}/cdn/${sha}`,
          'x-repo-commit': commit,
          'x-linked-etag': `"${sha}"`,
          'x-linked-size': size,
          etag: `"${gitBlobSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\n`))}"`,
          'content-length': '0',
        })
        .end();
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { etag: `"${gitBlobSha1(file.content)}"`, 'x-repo-commit': commit, 'content-length': size }).end();
      return;
    }
    sendBody(req, res, filename, file.content, { etag: `"${gitBlobSha1(file.content)}"`, 'x-repo-commit': commit });
  });

  const cdn = createServer((req, res) => {
    log('cdn', req);
    const m = /^\/cdn\/([0-9a-f]{64})$/.exec(req.url ?? '');
    const found = m?.[1] !== undefined ? findBySha(m[1]) : undefined;
    if (!found) {
      res.writeHead(404).end('no such object');
      return;
    }
    sendBody(req, res, found.filename, found.file.corruptOnCdn ?? found.file.content, { etag: `"${sha256(found.file.content)}"` });
  });

  const endpoint = await listen(hub, '127.0.0.1');
  cdnOrigin = await listen(cdn, 'localhost');
  return {
    endpoint,
    cdnOrigin,
    repos,
    requests,
    cutNext(filename: string, times = 1) {
      cuts.set(filename, times);
    },
    async close() {
      for (const s of [hub, cdn]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}

/** Shorthand for a text file. */
export function text(s: string): FakeFile {
  return { content: Buffer.from(s) };
}

/** Shorthand for an LFS file of `size` pseudo-random bytes. */
export function lfsBytes(size: number, seed = 1): FakeFile {
  const content = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    content[i] = x >>> 24;
  }
  return { content, lfs: true };
}
