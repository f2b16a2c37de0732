/**
 * Reading an encoder checkpoint, whatever the family: the weight files of a model directory
 * (`model.safetensors`, `pytorch_model.bin`, or shards listed by an index), checkpoint keys mapped
 * to canonical names (the model prefix such as `bert.` or `albert.` optional, legacy `gamma`/`beta`
 * LayerNorm names accepted), keys the encoder does not use ignored and reported, and tensors
 * converted to the layout the encoder declares (linear weights transposed from PyTorch's
 * [out, in] to [in, out], one tensor at a time). Every check runs before anything is returned.
 */
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { fail } from '../errors.js';
import { collectCheckpointTensors, type CheckpointTensors } from './checkpoint-tensors.js';
import { describeValue } from '../util/describe.js';
import { exists } from '../util/fs.js';
import { jsonType, readJsonObjectFile } from '../util/json.js';
import type { WeightSpec } from './encoder.js';
import { readWeights } from './weights/index.js';

export { canonicalName, convertCheckpoint, describeCheckpointKeys, type CheckpointKeys, type CheckpointTensors } from './checkpoint-tensors.js';

/** Most shard files one index may list. */
const MAX_SHARDS = 10_000;

/**
 * The weight files of a model directory (single file or shards listed by an index). An index must
 * be `{ "weight_map": { "<tensor>": "<shard file>" }, "metadata"?: {...} }`; every shard must be
 * a relative path inside `dir` (no `..`, no absolute paths) that exists, and a shard that is a
 * symbolic link must resolve inside `dir` too (or, for a Hugging Face cache snapshot, inside the
 * repo's `blobs/` folder, where the cache keeps file contents).
 */
export async function findWeightFiles(dir: string): Promise<string[]> {
  for (const index of ['model.safetensors.index.json', 'pytorch_model.bin.index.json']) {
    const p = join(dir, index);
    if (await exists(p)) {
      const shards = shardNames(await readJsonObjectFile(p, { maxDepth: 8 }), p);
      const roots = await allowedRoots(dir);
      const out: string[] = [];
      for (const f of shards) out.push(await confinedShard(dir, f, roots, p));
      return out;
    }
  }
  for (const f of ['model.safetensors', 'pytorch_model.bin']) if (await exists(join(dir, f))) return [join(dir, f)];
  return fail('BAD_FILE', `${dir}: no weights found (looked for model.safetensors, pytorch_model.bin and their .index.json shards)`);
}

/** The distinct shard names of a parsed index, sorted, each checked to be a plain relative path. */
function shardNames(index: Record<string, unknown>, p: string): string[] {
  const map = index['weight_map'];
  if (typeof map !== 'object' || map === null || Array.isArray(map)) fail('BAD_FILE', `${p}: "weight_map" must be an object of tensor name -> shard file, got ${jsonType(map)}`);
  const meta = index['metadata'];
  if (meta !== undefined && meta !== null && (typeof meta !== 'object' || Array.isArray(meta))) fail('BAD_FILE', `${p}: "metadata" must be an object, got ${jsonType(meta)}`);
  const shards = new Set<string>();
  for (const [tensor, file] of Object.entries(map)) {
    if (typeof file !== 'string') fail('BAD_FILE', `${p}: weight_map entry ${describeValue(tensor)} must be a shard file name, got ${jsonType(file)}`);
    const parts = file.split('/');
    if (file === '' || file.startsWith('/') || file.includes('\\') || file.includes('\0') || isAbsolute(file) || parts.some((x) => x === '' || x === '.' || x === '..')) {
      fail('BAD_FILE', `${p}: weight_map entry ${describeValue(tensor)} names ${describeValue(file)}, which is not a relative path inside the model directory`);
    }
    shards.add(file);
    if (shards.size > MAX_SHARDS) fail('BAD_FILE', `${p}: weight_map lists more than ${MAX_SHARDS} shard files`);
  }
  if (shards.size === 0) fail('BAD_FILE', `${p}: weight_map lists no shard files`);
  return [...shards].sort();
}

/** Real directories a shard may resolve into: the model directory, and a hub cache snapshot's blobs. */
async function allowedRoots(dir: string): Promise<string[]> {
  const real = await realpath(dir);
  const roots = [real];
  const repo = dirname(dirname(real));
  if (basename(dirname(real)) === 'snapshots' && basename(repo).startsWith('models--')) {
    try {
      roots.push(await realpath(join(repo, 'blobs')));
    } catch {
      // no blobs folder: nothing more is allowed
    }
  }
  return roots;
}

async function confinedShard(dir: string, file: string, roots: readonly string[], indexPath: string): Promise<string> {
  const path = join(dir, ...file.split('/'));
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return fail('BAD_FILE', `${indexPath}: shard ${describeValue(file)} is missing from ${dir}`);
  }
  const inside = roots.some((root) => {
    const rel = relative(root, real);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  });
  if (!inside) fail('BAD_FILE', `${indexPath}: shard ${describeValue(file)} is a link that leads outside ${dir}; refusing to read it`);
  return path;
}





/**
 * Reads from the weight files on disk every tensor whose canonical name `wanted` holds (see
 * {@link collectCheckpointTensors}).
 */
export async function readCheckpointTensors(files: readonly string[], prefix: string, wanted: ReadonlySet<string>): Promise<CheckpointTensors> {
  return collectCheckpointTensors(files, prefix, wanted, readWeights);
}

/**
 * Fails before an encoder is built when the files are too small for the weights `specs` declares
 * (two bytes an element at the least, F16/BF16): a config.json asking for a thousand layers or a
 * 4-million-token vocabulary over a small checkpoint is refused instead of allocated.
 */
export async function checkWeightBytes(specs: readonly WeightSpec[], files: readonly string[], configPath: string): Promise<void> {
  let elements = 0;
  for (const spec of specs) elements += spec.shape.reduce<number>((a, d) => a * d, 1);
  let bytes = 0;
  for (const f of files) {
    try {
      bytes += (await stat(f)).size;
    } catch (e) {
      fail('BAD_FILE', `${f}: cannot open: ${(e as Error).message}`);
    }
  }
  if (elements * 2 > bytes) {
    fail('BAD_WEIGHTS', `${configPath} implies ${elements} weight elements (at least ${elements * 2} bytes) but the weight files hold only ${bytes} bytes: the config does not fit these weights`);
  }
}

