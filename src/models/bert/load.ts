/**
 * Loads a BERT-family model directory (config.json + weights) into an encoder and its weights.
 *
 * Checkpoint keys are mapped to canonical names: the model prefix (`bert.`, `roberta.`, ...) is
 * optional, legacy `gamma`/`beta` LayerNorm names are accepted, and keys the encoder does not use
 * (pre-training heads, buffers) are ignored and reported. Linear weights are transposed from
 * PyTorch's [out, in] to [in, out] one tensor at a time. Every check runs before anything is
 * returned, so a bad checkpoint never yields a half-loaded model.
 */
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { fail } from '../../errors.js';
import { transposeMatrix, type HostTensor } from '../../engine/index.js';
import { describeValue } from '../../util/describe.js';
import { jsonType, readJsonObjectFile } from '../../util/json.js';
import { readWeights, type WeightTensor } from '../weights/index.js';
import type { WeightSpec } from '../encoder.js';
import { parseBertConfig, type BertConfig } from './config.js';
import { BertEncoder } from './encoder.js';
import { EMBEDDINGS, MODEL_PREFIX, bertWeightSpecs } from './names.js';
import { exists } from '../../util/fs.js';

/** A loaded BERT-family model. */
export interface LoadedBert {
  readonly encoder: BertEncoder;
  readonly config: BertConfig;
  /** Canonical name -> float32 tensor (linear weights [in, out]). */
  readonly weights: Map<string, HostTensor<'float32'>>;
  /** Weight files read. */
  readonly files: readonly string[];
  /** Checkpoint keys that the encoder does not use. */
  readonly ignored: readonly string[];
}

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

/** Canonical name of a checkpoint key for `family`. */
export function canonicalName(key: string, prefix: string): string {
  let k = key.startsWith(prefix) ? key.slice(prefix.length) : key;
  k = k.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  return k;
}

/** Converts one checkpoint tensor to the spec's layout, checking shape and dtype. */
function convert(spec: WeightSpec, t: WeightTensor, file: string): HostTensor<'float32'> {
  if (t.dtype !== 'float32') fail('BAD_WEIGHTS', `${file}: tensor ${t.name} has dtype ${t.dtype}; expected a floating-point tensor`);
  const linear = (spec.role === 'linear' || spec.role === 'pooler') && spec.shape.length === 2;
  const want = linear ? [spec.shape[1] as number, spec.shape[0] as number] : [...spec.shape];
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
    fail('BAD_WEIGHTS', `${file}: tensor ${t.name} has shape [${t.shape.join(', ')}] but the config implies [${want.join(', ')}] for ${spec.name}`);
  }
  if (!linear) return { dtype: 'float32', shape: [...spec.shape], data: t.data as Float32Array };
  return { dtype: 'float32', shape: [...spec.shape], data: transposeMatrix(t.data as Float32Array, want[0] as number, want[1] as number) };
}

/**
 * Fails before the encoder is built when the files are too small for what the config implies (two
 * bytes an element at the least, F16/BF16): a config.json asking for a thousand layers or a
 * 4-million-token vocabulary over a small checkpoint is refused instead of allocated.
 */
async function checkWeightBytes(config: BertConfig, files: readonly string[], configPath: string): Promise<void> {
  let elements = 0;
  for (const spec of bertWeightSpecs(config, false)) elements += spec.shape.reduce<number>((a, d) => a * (d as number), 1);
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

/**
 * Loads `dir/config.json` and its weights.
 *
 * @example
 * ```ts
 * const m = await loadBertModel('test/fixtures/models/tiny-bert');
 * m.encoder.describe(); // { family: 'bert', layers: 2, hidden: 32, heads: 4, ... }
 * ```
 */
export async function loadBertModel(dir: string): Promise<LoadedBert> {
  const configPath = join(dir, 'config.json');
  if (!(await exists(configPath))) fail('BAD_FILE', `${dir}: no config.json`);
  const config = parseBertConfig(await readJsonObjectFile(configPath), configPath);
  const prefix = MODEL_PREFIX[config.modelType];
  const mayHavePooler = config.modelType === 'bert' || config.modelType === 'roberta';
  const files = await findWeightFiles(dir);
  const wanted = new Map(bertWeightSpecs(config, mayHavePooler).map((s) => [s.name, s]));
  const found = new Map<string, { t: WeightTensor; file: string }>();
  const ignored: string[] = [];
  for (const file of files) {
    const tensors = await readWeights(file, {
      select: (key) => {
        const ok = wanted.has(canonicalName(key, prefix));
        if (!ok) ignored.push(key);
        return ok;
      },
    });
    for (const [key, t] of tensors) {
      const name = canonicalName(key, prefix);
      const prev = found.get(name);
      if (prev) fail('BAD_WEIGHTS', `${file}: tensor ${key} and ${prev.t.name} (${prev.file}) both map to ${name}`);
      found.set(name, { t, file });
    }
  }
  // The readers have checked each file (a truncated one is named as such); now the sizes together.
  await checkWeightBytes(config, files, configPath);
  const hasPooler = mayHavePooler && found.has(`${EMBEDDINGS.pooler}.weight`);
  const encoder = new BertEncoder(config, hasPooler);
  const missing = encoder.weightSpecs.filter((s) => !found.has(s.name)).map((s) => `${prefix}${s.name}`);
  if (missing.length) {
    const list = missing.slice(0, 8).join(', ') + (missing.length > 8 ? `, and ${missing.length - 8} more` : '');
    fail('BAD_WEIGHTS', `${files.join(', ')}: missing ${missing.length} tensor(s) required by ${configPath}: ${list}`, { missing });
  }
  const weights = new Map<string, HostTensor<'float32'>>();
  for (const spec of encoder.weightSpecs) {
    const { t, file } = found.get(spec.name) as { t: WeightTensor; file: string };
    weights.set(spec.name, convert(spec, t, file));
    found.delete(spec.name); // drop the [out, in] copy as soon as it is converted
  }
  return { encoder, config, weights, files, ignored };
}
