/**
 * Turns a model source (a local directory or a hub id) into a local directory holding the model's
 * files: config, weights (single file or sharded) and tokenizer files. A model fully present in
 * the cache is served without network.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { AdapterkitError, fail } from '../../errors.js';
import { checkRepoPath, RepoCache, resolveHubCacheDir } from './cache.js';
import { downloadFile, type DownloadResult, type HubOptions } from './download.js';
import { validateRepoId } from './repo-id.js';
import { describeValue } from '../../util/describe.js';
import { readJsonObjectFileSync } from '../../util/json.js';
import { isOfflineEnv } from './settings.js';
import { ST_MODULES_FILE, ST_POOLING_CONFIG } from '../sentence-transformers/config.js';

/** Files to fetch besides the weights: `required` must exist, `optional` may be absent from the repo. */
export interface ModelFileSet {
  required: readonly string[];
  optional: readonly string[];
  /**
   * Tokenizer files looked for only when the repo has none of {@link PRIMARY_TOKENIZER_FILES}
   * (DeBERTa-v2/v3 repositories ship `spm.model` alone), so complete caches of other models need no
   * extra probe.
   */
  fallbackTokenizer?: readonly string[];
  /**
   * Files fetched with the model when it is downloaded, whose absence from a cached snapshot (with
   * no record of it) does not make that snapshot incomplete: files only some repos have, which a
   * cache written by other tools never probed (sentence-transformers' modules.json and Pooling
   * config), so that such caches keep working without network.
   */
  extras?: readonly string[];
}

/** The tokenizer files whose presence makes {@link ModelFileSet.fallbackTokenizer} unnecessary. */
export const PRIMARY_TOKENIZER_FILES = Object.freeze(['tokenizer.json', 'vocab.txt']);

/** Default files of a BERT-family model (weights are handled separately, see {@link WEIGHT_FILES}). */
export const DEFAULT_MODEL_FILES: ModelFileSet = Object.freeze({
  required: Object.freeze(['config.json']),
  optional: Object.freeze(['tokenizer.json', 'vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'merges.txt', 'vocab.json']),
  fallbackTokenizer: Object.freeze(['spm.model']),
  extras: Object.freeze([ST_MODULES_FILE, ST_POOLING_CONFIG]),
});

/** Weight files in order of preference; the first that exists wins. `.index.json` files list shards. */
export const WEIGHT_FILES = Object.freeze(['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json']);

/** Options of {@link resolveModel}. */
export interface ResolveOptions extends HubOptions {
  /** Replaces the default config/tokenizer file set. */
  files?: ModelFileSet;
  /** Fetch weights (one of {@link WEIGHT_FILES}). Default true. */
  weights?: boolean;
}

/** A model ready on disk. */
export interface ResolvedModel {
  /** Directory with the model's files (a hub snapshot folder for hub ids). */
  dir: string;
  /** `local` for a directory source, `cache` when nothing was downloaded, else `download`. */
  source: 'local' | 'cache' | 'download';
  /** Commit of the snapshot (hub ids only). */
  commit?: string;
  /** Weight files relative to `dir` (the shards for a sharded model; hub ids only). */
  weightFiles?: string[];
}

function looksLikePath(source: string): boolean {
  return isAbsolute(source) || /^\.{1,2}([/\\]|$)/.test(source) || source.startsWith('~') || source.includes('\\');
}

/**
 * Resolves a model source to a local directory: an existing directory is used as is; anything
 * else must be a hub id (`name` or `org/name`), fetched into the hub cache (or found there).
 * A model complete in the cache needs no network; when the hub cannot be reached, whatever usable
 * snapshot the cache holds for the revision is returned instead of failing.
 *
 * @example
 * ```ts
 * const m = await resolveModel('google/bert_uncased_L-2_H-128_A-2', { revision: 'main' });
 * // { dir: '.../models--google--bert_uncased_L-2_H-128_A-2/snapshots/<commit>', source: 'download',
 * //   commit: '<commit>', weightFiles: ['model.safetensors'] }
 * ```
 */
export async function resolveModel(source: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  if (existsSync(source)) {
    if (statSync(source).isDirectory()) return { dir: resolvePath(source), source: 'local' };
    fail('BAD_CONFIG', `model source '${source}' is a file; expected a model directory or a hub id like 'org/name'`);
  }
  if (looksLikePath(source)) fail('NOT_FOUND', `model directory '${source}' does not exist (resolved to ${resolvePath(source)})`);
  validateRepoId(source);

  const revision = opts.revision ?? 'main';
  const files = opts.files ?? DEFAULT_MODEL_FILES;
  const wantWeights = opts.weights ?? true;
  const cache = new RepoCache(opts.cacheDir ?? resolveHubCacheDir(), source);
  const offline = opts.offline ?? isOfflineEnv();

  const cached = inspectCache(cache, revision, files, wantWeights, offline);
  if (cached.commit !== undefined && cached.missing.length === 0 && cached.unknown.length === 0) {
    return { dir: cache.snapshotDir(cached.commit), source: 'cache', commit: cached.commit, ...(wantWeights ? { weightFiles: cached.weightFiles } : {}) };
  }
  if (offline) {
    const why =
      cached.commit === undefined
        ? `revision '${revision}' was never resolved into the cache (no ${cache.refPath(revision)})`
        : `snapshot ${cache.snapshotDir(cached.commit)} lacks ${cached.missing.join(', ')}`;
    fail('NOT_FOUND', `offline mode is on (HF_HUB_OFFLINE or the offline option): model '${source}' (revision '${revision}') is not in the cache: ${why}; turn offline mode off to download it`, {
      repoId: source,
      revision,
      missing: cached.missing,
      offline: true,
    });
  }
  try {
    return await downloadModel(cache, revision, files, wantWeights, opts);
  } catch (e) {
    // Hub unreachable: like huggingface_hub, fall back to what the cache holds when that is enough.
    if (e instanceof AdapterkitError && e.details?.['network'] === true) {
      const usable = inspectCache(cache, revision, files, wantWeights, true);
      if (usable.commit !== undefined && usable.missing.length === 0) {
        return { dir: cache.snapshotDir(usable.commit), source: 'cache', commit: usable.commit, ...(wantWeights ? { weightFiles: usable.weightFiles } : {}) };
      }
    }
    throw e;
  }
}

/** What the cache holds for a model, without network. */
interface CacheState {
  commit: string | undefined;
  /** Files (or a weights description) that are certainly needed and absent. */
  missing: string[];
  /** Files neither cached nor recorded as absent (only counted when not lenient). */
  unknown: string[];
  weightFiles: string[];
}

/**
 * Checks the cache for a complete model. `lenient` (offline) treats unknown optional files and
 * weight candidates as absent; otherwise they make the model incomplete so the network is asked.
 */
function inspectCache(cache: RepoCache, revision: string, files: ModelFileSet, wantWeights: boolean, lenient: boolean): CacheState {
  const state: CacheState = { commit: cache.resolveCommit(revision), missing: [], unknown: [], weightFiles: [] };
  const commit = state.commit;
  if (commit === undefined) return state;
  for (const f of files.required) if (cache.cachedFile(commit, f) === undefined) state.missing.push(f);
  const unknown = (f: string) => cache.cachedFile(commit, f) === undefined && !cache.isKnownMissing(commit, f) && !lenient;
  for (const f of files.optional) if (unknown(f)) state.unknown.push(f);
  if (!PRIMARY_TOKENIZER_FILES.some((f) => cache.cachedFile(commit, f) !== undefined)) {
    for (const f of files.fallbackTokenizer ?? []) if (unknown(f)) state.unknown.push(f);
  }
  if (!wantWeights) return state;
  for (const candidate of WEIGHT_FILES) {
    const path = cache.cachedFile(commit, candidate);
    if (path !== undefined) {
      if (!candidate.endsWith('.index.json')) {
        state.weightFiles = [candidate];
        return state;
      }
      const shards = readShardList(cache.repoId, candidate, path);
      const absent = shards.filter((s) => cache.cachedFile(commit, s) === undefined);
      state.missing.push(...absent);
      state.weightFiles = shards;
      return state;
    }
    if (cache.isKnownMissing(commit, candidate) || lenient) continue;
    state.unknown.push(candidate);
    return state;
  }
  state.missing.push(`weights (none of ${WEIGHT_FILES.join(', ')})`);
  return state;
}

/** Reads the shard file names of a `*.index.json` weight index, in first-seen order. */
function readShardList(repoId: string, indexName: string, path: string): string[] {
  const parsed = readJsonObjectFileSync(path, { maxDepth: 8 });
  const map = parsed['weight_map'];
  if (typeof map !== 'object' || map === null || Array.isArray(map)) fail('BAD_FILE', `${path} (${indexName} of '${repoId}'): missing the "weight_map" object`);
  const shards: string[] = [];
  const seen = new Set<string>();
  for (const [tensor, file] of Object.entries(map)) {
    if (typeof file !== 'string') fail('BAD_FILE', `${path} (${indexName} of '${repoId}'): weight_map entry ${describeValue(tensor)} is not a file name`);
    checkRepoPath(repoId, file);
    if (!seen.has(file)) {
      seen.add(file);
      shards.push(file);
    }
  }
  if (shards.length === 0) fail('BAD_FILE', `${path} (${indexName} of '${repoId}'): weight_map lists no shards`);
  return shards;
}

function isEntryNotFound(e: unknown): boolean {
  return e instanceof AdapterkitError && e.code === 'NOT_FOUND' && e.details?.['hubError'] === 'EntryNotFound';
}

/** Online path: the first file pins the commit, every later file is fetched at that commit. */
async function downloadModel(cache: RepoCache, revision: string, files: ModelFileSet, wantWeights: boolean, opts: ResolveOptions): Promise<ResolvedModel> {
  let pinned = revision;
  let downloaded = false;
  const get = async (file: string): Promise<DownloadResult> => {
    const r = await downloadFile(cache.repoId, file, { ...opts, cacheDir: cache.cacheDir, revision: pinned });
    pinned = r.commit;
    if (r.source === 'download') downloaded = true;
    return r;
  };
  const tryGet = async (file: string): Promise<DownloadResult | undefined> => {
    try {
      return await get(file);
    } catch (e) {
      if (isEntryNotFound(e)) return undefined;
      throw e;
    }
  };

  for (const f of files.required) await get(f);
  let weightFiles: string[] | undefined;
  if (wantWeights) {
    for (const candidate of WEIGHT_FILES) {
      const r = await tryGet(candidate);
      if (r === undefined) continue;
      if (candidate.endsWith('.index.json')) {
        weightFiles = readShardList(cache.repoId, candidate, r.path);
        for (const shard of weightFiles) await get(shard);
      } else {
        weightFiles = [candidate];
      }
      break;
    }
    if (weightFiles === undefined) {
      fail('NOT_FOUND', `no weights in repo '${cache.repoId}' at revision '${revision}': none of ${WEIGHT_FILES.join(', ')} exists`, {
        repoId: cache.repoId,
        revision,
      });
    }
  }
  let primary = false;
  for (const f of files.optional) if ((await tryGet(f)) !== undefined && PRIMARY_TOKENIZER_FILES.includes(f)) primary = true;
  if (!primary) for (const f of files.fallbackTokenizer ?? []) await tryGet(f);
  for (const f of files.extras ?? []) await tryGet(f);

  if (pinned === revision && !/^[0-9a-f]{40}$/.test(pinned)) {
    fail('BAD_CONFIG', `model '${cache.repoId}': no files requested, so revision '${revision}' could not be resolved`);
  }
  return {
    dir: cache.snapshotDir(pinned),
    source: downloaded ? 'download' : 'cache',
    commit: pinned,
    ...(weightFiles !== undefined ? { weightFiles } : {}),
  };
}
