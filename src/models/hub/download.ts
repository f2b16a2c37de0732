/**
 * Downloads one file of a hub model repo into the shared cache (see `cache.ts`), the way
 * `huggingface_hub.hf_hub_download` does: HEAD for metadata, GET the content into
 * `blobs/{etag}.incomplete` (resuming with `Range` when a partial file exists), check its size
 * (and its sha256 for LFS files), rename it to `blobs/{etag}`, then link the snapshot and write refs.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readlinkSync, renameSync, rmSync, statSync, lstatSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { AdapterkitError, fail } from '../../errors.js';
import { checkRepoPath, isCommitHash, RepoCache, resolveHubCacheDir } from './cache.js';
import { hubHeaders, IdleTimeout, isRedirect, networkError, responseError, send, type RequestContext } from './http.js';
import { validateRepoId } from './repo-id.js';
import { isOfflineEnv, resolveEndpoint, resolveToken } from './settings.js';

/** Progress of one file download; `received` counts bytes already on disk from a resumed attempt. */
export interface DownloadProgress {
  file: string;
  received: number;
  total: number;
}

/** Options shared by {@link downloadFile} and `resolveModel`. */
export interface HubOptions {
  /** Branch, tag or commit hash. Default `main`. */
  revision?: string;
  /** Hub cache folder. Default: see `resolveHubCacheDir` (HF_HUB_CACHE, HF_HOME...). */
  cacheDir?: string;
  /** Hub base URL. Default `$HF_ENDPOINT` or https://huggingface.co. */
  endpoint?: string;
  /** Access token; `false` sends none. Default `$HF_TOKEN` or the token file. */
  token?: string | false;
  /** Never touch the network; serve from the cache only. Default `$HF_HUB_OFFLINE`. */
  offline?: boolean;
  /** Called as bytes arrive. */
  onProgress?: (p: DownloadProgress) => void;
  /** Give up on a request after this long without data, in ms. Default 30000. */
  timeoutMs?: number;
}

/** Where a downloaded (or cached) file is and what it is. */
export interface DownloadResult {
  /** Path inside `snapshots/{commit}/`. */
  path: string;
  /** Commit the file belongs to. */
  commit: string;
  /** Blob name (ETag); `undefined` when served from a cached copy that is not a link. */
  etag: string | undefined;
  /** `cache` when no bytes were downloaded. */
  source: 'cache' | 'download';
}

/** Metadata from the HEAD request. */
interface FileMetadata {
  commit: string;
  etag: string;
  /** Announced size; `undefined` when the hub gave none (then the GET's Content-Length is used). */
  size: number | undefined;
  /** Where to GET the content (the LFS redirect target, or the resolve URL). */
  location: URL;
  /** True for LFS files, whose etag is the content's sha256. */
  lfs: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Blob downloads in progress in this process, by final blob path. */
const inflight = new Map<string, Promise<void>>();
const MAX_REDIRECTS = 10;

/** Strips the weak marker and quotes from an ETag header. */
function normalizeEtag(raw: string | null): string | undefined {
  if (raw === null) return undefined;
  const v = raw.replace(/^W\//, '').replace(/^"|"$/g, '').trim();
  return v === '' ? undefined : v;
}

/** The `/resolve/` URL of a file: revision fully escaped, path escaped per segment. */
export function resolveUrl(endpoint: string, repoId: string, revision: string, filename: string): URL {
  const path = filename.split('/').map(encodeURIComponent).join('/');
  return new URL(`${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${path}`);
}

/**
 * Downloads `filename` of the model repo `repoId` into the hub cache and returns its snapshot path.
 * A file already in the cache at a commit-hash revision is returned without network; in offline
 * mode nothing is ever requested.
 *
 * @example
 * ```ts
 * const r = await downloadFile('google/bert_uncased_L-2_H-128_A-2', 'config.json');
 * // r.path: ~/.cache/huggingface/hub/models--google--bert_uncased_L-2_H-128_A-2/snapshots/<commit>/config.json
 * ```
 */
export async function downloadFile(repoId: string, filename: string, opts: HubOptions = {}): Promise<DownloadResult> {
  validateRepoId(repoId);
  checkRepoPath(repoId, filename);
  const revision = opts.revision ?? 'main';
  const cache = new RepoCache(opts.cacheDir ?? resolveHubCacheDir(), repoId);

  if (isCommitHash(revision)) {
    const hit = fromCache(cache, revision, filename);
    if (hit) return hit;
    if (cache.isKnownMissing(revision, filename)) throw knownMissing(repoId, revision, filename);
  }
  if (opts.offline ?? isOfflineEnv()) return offlineLookup(cache, revision, filename);

  const endpoint = resolveEndpoint(opts.endpoint);
  const token = resolveToken(opts.token);
  const ctx: RequestContext = { repoId, revision, filename, endpoint, hasToken: token !== undefined };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  let meta: FileMetadata;
  try {
    meta = await fetchMetadata(resolveUrl(endpoint, repoId, revision, filename), ctx, token, timeoutMs);
  } catch (e) {
    // Remember a missing file, as huggingface_hub does, so later lookups at that commit need no network.
    const header = e instanceof AdapterkitError ? e.details?.['commit'] : undefined;
    const commit = typeof header === 'string' ? header : isCommitHash(revision) ? revision : undefined;
    if (e instanceof AdapterkitError && e.details?.['hubError'] === 'EntryNotFound' && commit !== undefined && isCommitHash(commit)) {
      cache.writeRef(revision, commit);
      cache.markMissing(commit, filename);
    }
    throw e;
  }

  const blob = cache.blobPath(meta.etag);
  let source: DownloadResult['source'] = 'cache';
  if (!existsSync(blob)) {
    // Concurrent calls in this process for the same blob share one transfer.
    let transfer = inflight.get(blob);
    if (transfer === undefined) {
      transfer = fetchBlob(cache, meta, ctx, token, timeoutMs, opts.onProgress).finally(() => inflight.delete(blob));
      inflight.set(blob, transfer);
    }
    await transfer;
    source = 'download';
  }
  cache.writeRef(revision, meta.commit);
  const path = cache.linkSnapshot(meta.commit, filename, meta.etag);
  return { path, commit: meta.commit, etag: meta.etag, source };
}

/** The snapshot file when it is cached at that commit. */
function fromCache(cache: RepoCache, commit: string, filename: string): DownloadResult | undefined {
  const path = cache.cachedFile(commit, filename);
  if (path === undefined) return undefined;
  let etag: string | undefined;
  try {
    if (lstatSync(path).isSymbolicLink()) etag = basename(readlinkSync(path));
  } catch {
    etag = undefined;
  }
  return { path, commit, etag, source: 'cache' };
}

function knownMissing(repoId: string, commit: string, filename: string): AdapterkitError {
  return new AdapterkitError('NOT_FOUND', `file '${filename}' not found in repo '${repoId}' at revision '${commit}' (recorded in the cache's .no_exist)`, {
    repoId,
    revision: commit,
    filename,
    hubError: 'EntryNotFound',
  });
}

/** Offline mode: the revision must resolve through refs/ (or be a commit) and the file be in its snapshot. */
function offlineLookup(cache: RepoCache, revision: string, filename: string): DownloadResult {
  const where = `'${filename}' of '${cache.repoId}' (revision '${revision}')`;
  const commit = cache.resolveCommit(revision);
  if (commit === undefined) {
    fail(
      'NOT_FOUND',
      `offline mode is on (HF_HUB_OFFLINE or the offline option): cannot get ${where} because revision '${revision}' was never resolved into the cache (no ${cache.refPath(revision)}); turn offline mode off to download it`,
      { repoId: cache.repoId, revision, filename, offline: true },
    );
  }
  const hit = fromCache(cache, commit, filename);
  if (hit) return hit;
  if (cache.isKnownMissing(commit, filename)) {
    const e = knownMissing(cache.repoId, commit, filename);
    throw new AdapterkitError('NOT_FOUND', `offline mode is on: ${e.message}`, { ...e.details, offline: true });
  }
  fail(
    'NOT_FOUND',
    `offline mode is on (HF_HUB_OFFLINE or the offline option): ${where} is not in the cache (${cache.snapshotPath(commit, filename)} is missing); turn offline mode off to download it`,
    { repoId: cache.repoId, revision, filename, commit, offline: true, hubError: 'NotCached' },
  );
}

/**
 * HEAD on the resolve URL. Relative redirects (renamed repos) are followed; the LFS redirect to
 * the CDN is not: its headers already carry X-Linked-Etag, X-Linked-Size and X-Repo-Commit.
 */
async function fetchMetadata(url: URL, ctx: RequestContext, token: string | undefined, timeoutMs: number): Promise<FileMetadata> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const timeout = new IdleTimeout(timeoutMs);
    let res: Response;
    try {
      res = await send(current, { method: 'HEAD', headers: hubHeaders(current, ctx.endpoint, token) }, ctx, timeout);
    } finally {
      timeout.clear();
    }
    const commit = res.headers.get('x-repo-commit') ?? undefined;
    const linkedEtag = normalizeEtag(res.headers.get('x-linked-etag'));
    const etag = linkedEtag ?? normalizeEtag(res.headers.get('etag'));
    const location = res.headers.get('location');

    if (isRedirect(res.status) && location !== null && (commit === undefined || etag === undefined)) {
      const next = new URL(location, current);
      if (next.origin !== current.origin) {
        // Only redirects that stay on the hub are followed for metadata, as huggingface_hub does.
        fail('DOWNLOAD_FAILED', `${current.href} redirected to another host (${next.host}) without X-Repo-Commit and ETag headers for '${ctx.filename}' of '${ctx.repoId}': is ${ctx.endpoint} a Hugging Face hub endpoint? (check HF_ENDPOINT)`, {
          repoId: ctx.repoId,
          filename: ctx.filename,
          location: next.href,
        });
      }
      current = next;
      continue;
    }
    if (!res.ok && !isRedirect(res.status)) {
      const err = responseError(res, current, ctx);
      throw commit !== undefined ? new AdapterkitError(err.code, err.message, { ...err.details, commit }) : err;
    }
    if (commit === undefined || etag === undefined) {
      fail(
        'DOWNLOAD_FAILED',
        `${current.href} answered HTTP ${res.status} without ${commit === undefined ? 'X-Repo-Commit' : 'ETag'} header for '${ctx.filename}' of '${ctx.repoId}': is ${ctx.endpoint} a Hugging Face hub endpoint? (check HF_ENDPOINT)`,
        { repoId: ctx.repoId, revision: ctx.revision, filename: ctx.filename, status: res.status },
      );
    }
    // A redirect's Content-Length is the size of the redirect body, not of the file.
    const sizeHeader = res.headers.get('x-linked-size') ?? (isRedirect(res.status) ? null : res.headers.get('content-length'));
    const size = sizeHeader === null ? undefined : Number(sizeHeader);
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
      fail('DOWNLOAD_FAILED', `${current.href} gave an invalid size '${sizeHeader}' (X-Linked-Size / Content-Length) for '${ctx.filename}' of '${ctx.repoId}'`, {
        repoId: ctx.repoId,
        filename: ctx.filename,
      });
    }
    const target = isRedirect(res.status) && location !== null ? new URL(location, current) : current;
    return { commit, etag, size, location: target, lfs: linkedEtag !== undefined };
  }
  fail('DOWNLOAD_FAILED', `too many redirects (more than ${MAX_REDIRECTS}) resolving '${ctx.filename}' of '${ctx.repoId}' from ${url.href}`, {
    repoId: ctx.repoId,
    filename: ctx.filename,
  });
}

/** GET with redirects followed by hand, so the token never leaves the endpoint's origin. */
async function getFollowingRedirects(
  start: URL,
  ctx: RequestContext,
  token: string | undefined,
  extra: Record<string, string>,
  timeout: IdleTimeout,
): Promise<{ res: Response; url: URL }> {
  let url = start;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await send(url, { method: 'GET', headers: hubHeaders(url, ctx.endpoint, token, extra) }, ctx, timeout);
    const location = res.headers.get('location');
    if (!isRedirect(res.status) || location === null) return { res, url };
    await res.body?.cancel();
    url = new URL(location, url);
  }
  fail('DOWNLOAD_FAILED', `too many redirects (more than ${MAX_REDIRECTS}) downloading '${ctx.filename}' of '${ctx.repoId}' from ${start.href}`, {
    repoId: ctx.repoId,
    filename: ctx.filename,
  });
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Downloads the content into `blobs/{etag}.incomplete`, checks it and renames it into place. */
async function fetchBlob(
  cache: RepoCache,
  meta: FileMetadata,
  ctx: RequestContext,
  token: string | undefined,
  timeoutMs: number,
  onProgress: HubOptions['onProgress'],
): Promise<void> {
  const partial = cache.incompletePath(meta.etag);
  mkdirSync(dirname(partial), { recursive: true });
  let expected = meta.size;
  let offset = fileSize(partial);
  if (expected !== undefined && offset > expected) {
    rmSync(partial, { force: true });
    offset = 0;
  }
  const where = `'${ctx.filename}' of '${ctx.repoId}' (revision '${ctx.revision}')`;
  const timeout = new IdleTimeout(timeoutMs);
  try {
    if (expected === undefined || offset < expected || expected === 0) {
      const range: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
      const { res, url } = await getFollowingRedirects(meta.location, ctx, token, range, timeout);
      const total = announcedTotal(res, offset);
      if (res.status === 416 && offset > 0 && offset === (expected ?? total)) {
        await res.body?.cancel(); // the partial file is already complete
      } else {
        if (res.status === 416) {
          await res.body?.cancel();
          rmSync(partial, { force: true });
          fail('DOWNLOAD_FAILED', `${url.host} refused to resume ${where} at byte ${offset} (HTTP 416); the partial file was deleted, so the next attempt starts over`, {
            repoId: ctx.repoId,
            filename: ctx.filename,
            offset,
          });
        }
        if (!res.ok) {
          await res.body?.cancel();
          throw responseError(res, url, ctx);
        }
        if (res.status === 200) offset = 0; // the server ignored the Range header: start over
        else if (res.status === 206) checkContentRange(res, offset, url, where);
        expected ??= total;
        await writeBody(res, partial, offset, expected ?? 0, url, ctx, timeout, onProgress);
      }
    }
  } finally {
    timeout.clear();
  }
  const got = fileSize(partial);
  if (expected !== undefined && got !== expected) {
    // The server ended the body cleanly with the wrong length: the bytes cannot be trusted.
    rmSync(partial, { force: true });
    fail(
      'DOWNLOAD_FAILED',
      `size mismatch for ${where}: expected ${expected} bytes (from the hub's metadata) but received ${got}; the download was deleted`,
      { repoId: ctx.repoId, filename: ctx.filename, expected, received: got },
    );
  }
  if (meta.lfs && /^[0-9a-f]{64}$/.test(meta.etag)) {
    const digest = await sha256File(partial);
    if (digest !== meta.etag) {
      rmSync(partial, { force: true });
      fail('DOWNLOAD_FAILED', `checksum mismatch for ${where}: sha256 ${digest} but the hub announced ${meta.etag}; the download was deleted`, {
        repoId: ctx.repoId,
        filename: ctx.filename,
      });
    }
  }
  renameSync(partial, cache.blobPath(meta.etag));
}

/** Full file size from Content-Range (`bytes a-b/N`, `bytes *\/N`) or, for a 200, Content-Length. */
function announcedTotal(res: Response, offset: number): number | undefined {
  const range = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
  if (range) return Number(range[1]);
  const length = res.headers.get('content-length');
  if (res.status === 200 && length !== null) return Number(length);
  if (res.status === 206 && length !== null) return offset + Number(length);
  return undefined;
}

function checkContentRange(res: Response, offset: number, url: URL, where: string): void {
  const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
  if (m === null || Number(m[1]) !== offset) {
    fail('DOWNLOAD_FAILED', `resuming ${where} at byte ${offset}: ${url.host} answered 206 with Content-Range '${res.headers.get('content-range')}'`, {
      url: url.href,
      offset,
    });
  }
}

/** Appends the response body to the partial file (truncating it when `offset` is 0). */
async function writeBody(
  res: Response,
  partial: string,
  offset: number,
  total: number,
  url: URL,
  ctx: RequestContext,
  timeout: IdleTimeout,
  onProgress: HubOptions['onProgress'],
): Promise<void> {
  const fh = await open(partial, offset > 0 ? 'a' : 'w');
  let received = offset;
  try {
    onProgress?.({ file: ctx.filename, received, total });
    if (res.body === null) return;
    for await (const chunk of res.body) {
      timeout.touch();
      await fh.write(chunk as Uint8Array);
      received += (chunk as Uint8Array).byteLength;
      onProgress?.({ file: ctx.filename, received, total });
    }
  } catch (e) {
    if (e instanceof AdapterkitError) throw e;
    const reason = networkError(e, url, ctx, timeout, 'Downloading').details?.['reason'];
    throw new AdapterkitError(
      'DOWNLOAD_FAILED',
      `downloading '${ctx.filename}' of '${ctx.repoId}' (revision '${ctx.revision}') from host ${url.host} was cut after ${received} of ${total} bytes: ${String(reason)}; the partial file ${partial} is kept and the next attempt resumes from it`,
      { repoId: ctx.repoId, revision: ctx.revision, filename: ctx.filename, host: url.host, reason, received, total, partial },
      { cause: e },
    );
  } finally {
    await fh.close();
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
