/**
 * Loads a BERT-family model directory (config.json + weights) into an encoder and its weights.
 *
 * Checkpoint keys are mapped to canonical names: the model prefix (`bert.`, `roberta.`, ...) is
 * optional, legacy `gamma`/`beta` LayerNorm names are accepted, and keys the encoder does not use
 * (pre-training heads, buffers) are ignored and reported. Linear weights are transposed from
 * PyTorch's [out, in] to [in, out] one tensor at a time. Every check runs before anything is
 * returned, so a bad checkpoint never yields a half-loaded model.
 */
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { transposeMatrix, type HostTensor } from '../../engine/index.js';
import { readJsonObjectFile } from '../../util/json.js';
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

/** The weight files of a model directory (single file or shards listed by an index). */
export async function findWeightFiles(dir: string): Promise<string[]> {
  for (const index of ['model.safetensors.index.json', 'pytorch_model.bin.index.json']) {
    const p = join(dir, index);
    if (await exists(p)) {
      const map = (await readJsonObjectFile(p)).weight_map;
      if (typeof map !== 'object' || map === null) fail('BAD_FILE', `${p}: missing "weight_map"`);
      return [...new Set(Object.values(map as Record<string, string>))].sort().map((f) => join(dir, f));
    }
  }
  for (const f of ['model.safetensors', 'pytorch_model.bin']) if (await exists(join(dir, f))) return [join(dir, f)];
  return fail('BAD_FILE', `${dir}: no weights found (looked for model.safetensors, pytorch_model.bin and their .index.json shards)`);
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
  const wanted = new Map(bertWeightSpecs(config, mayHavePooler).map((s) => [s.name, s]));
  const files = await findWeightFiles(dir);
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
