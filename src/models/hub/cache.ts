/**
 * The Hugging Face hub cache, laid out exactly as the Python `huggingface_hub` library lays it out,
 * so models downloaded by Python tools are found and reused, and the other way round.
 *
 * ```text
 * {cacheDir}/models--{org}--{name}/
 *   blobs/{etag}                      file contents, named by ETag (git sha1 or LFS sha256)
 *   snapshots/{commit}/{path}         relative symlink to ../../blobs/{etag} (a copy where links fail)
 *   refs/{revision}                   the commit hash a branch or tag pointed to when last resolved
 *   .no_exist/{commit}/{path}         empty marker: this file does not exist at that commit
 * ```
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, lstatSync, readlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fail } from '../../errors.js';

/** Environment variables the cache and download code read (defaults to `process.env`). */
export type HubEnv = Readonly<Record<string, string | undefined>>;

/** Expands a leading `~` the way Python's `os.path.expanduser` does. */
function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/') || p.startsWith(`~${sep}`)) return join(homedir(), p.slice(2));
  return p;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v !== '' ? v : undefined;
}

/**
 * The Hugging Face home folder: `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else
 * `~/.cache/huggingface`. The token file lives there.
 */
export function resolveHfHome(env: HubEnv = process.env): string {
  const home = nonEmpty(env['HF_HOME']);
  if (home !== undefined) return resolve(expandHome(home));
  const xdg = nonEmpty(env['XDG_CACHE_HOME']);
  return resolve(expandHome(join(xdg ?? join('~', '.cache'), 'huggingface')));
}

/**
 * The hub cache folder, resolved as `huggingface_hub` does: `$HF_HUB_CACHE`, else the legacy
 * `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
 * `~/.cache/huggingface/hub`.
 *
 * @example
 * ```ts
 * resolveHubCacheDir({ HF_HOME: '/data/hf' }); // '/data/hf/hub'
 * ```
 */
export function resolveHubCacheDir(env: HubEnv = process.env): string {
  const explicit = nonEmpty(env['HF_HUB_CACHE']) ?? nonEmpty(env['HUGGINGFACE_HUB_CACHE']);
  if (explicit !== undefined) return resolve(expandHome(explicit));
  return join(resolveHfHome(env), 'hub');
}

/** True for a full 40-character lowercase hex git commit hash. */
export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/** The cache folder name of a model repo: `google/bert` becomes `models--google--bert`. */
export function repoFolderName(repoId: string): string {
  return ['models', ...repoId.split('/')].join('--');
}

/**
 * Checks that a file path inside a repo is relative and cannot escape the snapshot folder.
 * Throws BAD_CONFIG naming the repo and path otherwise.
 */
export function checkRepoPath(repoId: string, filename: string): void {
  const parts = filename.split('/');
  if (filename === '' || filename.startsWith('/') || filename.includes('\\') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    fail('BAD_CONFIG', `invalid file path '${filename}' in repo '${repoId}': must be a relative path without '.', '..' or empty parts`);
  }
}

/** Paths of one model repo inside a hub cache folder. */
export class RepoCache {
  /** `{cacheDir}/models--{org}--{name}`. */
  readonly root: string;

  constructor(
    readonly cacheDir: string,
    readonly repoId: string,
  ) {
    this.root = join(cacheDir, repoFolderName(repoId));
  }

  /** Final blob path for an ETag. */
  blobPath(etag: string): string {
    return join(this.root, 'blobs', etag);
  }

  /** Partial download path for an ETag (kept after a failure so the next attempt resumes). */
  incompletePath(etag: string): string {
    return `${this.blobPath(etag)}.incomplete`;
  }

  /** Snapshot folder of a commit. */
  snapshotDir(commit: string): string {
    return join(this.root, 'snapshots', commit);
  }

  /** Path of a repo file inside a commit's snapshot. */
  snapshotPath(commit: string, filename: string): string {
    checkRepoPath(this.repoId, filename);
    return join(this.snapshotDir(commit), ...filename.split('/'));
  }

  /** Path of the refs file for a branch or tag (revisions like `refs/pr/1` nest). */
  refPath(revision: string): string {
    return join(this.root, 'refs', ...revision.split('/'));
  }

  /** Path of the "does not exist" marker for a file at a commit. */
  noExistPath(commit: string, filename: string): string {
    checkRepoPath(this.repoId, filename);
    return join(this.root, '.no_exist', commit, ...filename.split('/'));
  }

  /**
   * The commit a revision points to in the cache, without network: the revision itself when it is
   * a commit hash, else the content of `refs/{revision}`; `undefined` when unknown.
   */
  resolveCommit(revision: string): string | undefined {
    if (isCommitHash(revision)) return revision;
    const ref = this.refPath(revision);
    if (!existsSync(ref)) return undefined;
    const commit = readFileSync(ref, 'utf8').trim();
    return isCommitHash(commit) ? commit : undefined;
  }

  /** Records that `revision` points to `commit` (nothing to write when the revision is the commit). */
  writeRef(revision: string, commit: string): void {
    if (revision === commit) return;
    const ref = this.refPath(revision);
    mkdirSync(dirname(ref), { recursive: true });
    let current: string | undefined;
    try {
      current = readFileSync(ref, 'utf8').trim();
    } catch {
      current = undefined;
    }
    if (current !== commit) writeFileSync(ref, commit);
  }

  /** The snapshot file path when the file is cached at that commit (a dangling link counts as absent). */
  cachedFile(commit: string, filename: string): string | undefined {
    const p = this.snapshotPath(commit, filename);
    return existsSync(p) ? p : undefined;
  }

  /** True when the cache records that the file does not exist at that commit. */
  isKnownMissing(commit: string, filename: string): boolean {
    return existsSync(this.noExistPath(commit, filename));
  }

  /** Writes the marker that the file does not exist at that commit. */
  markMissing(commit: string, filename: string): void {
    const p = this.noExistPath(commit, filename);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, '');
  }

  /**
   * Points `snapshots/{commit}/{filename}` at `blobs/{etag}` with a relative symlink, falling back
   * to a copy of the blob where the file system refuses symlinks. Returns the snapshot path.
   */
  linkSnapshot(commit: string, filename: string, etag: string): string {
    const target = this.snapshotPath(commit, filename);
    const blob = this.blobPath(etag);
    mkdirSync(dirname(target), { recursive: true });
    const linkText = relative(dirname(target), blob);
    if (isSymlinkTo(target, linkText)) return target;
    rmSync(target, { force: true });
    try {
      symlinkSync(linkText, target);
    } catch {
      copyFileSync(blob, target);
    }
    return target;
  }
}

function isSymlinkTo(path: string, linkText: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink() && readlinkSync(path) === linkText;
  } catch {
    return false;
  }
}
