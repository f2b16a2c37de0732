/**
 * A checkpoint's tensors as an encoder takes them, with no file access (so in Node and in the
 * browser build): the canonical name of a key, how a checkpoint spelled its keys, collecting the
 * wanted tensors from weight files through a reader, and converting them to the encoder's layout.
 * Finding and reading checkpoint files on disk is checkpoint.ts.
 */
import { fail } from '../errors.js';
import { transposeMatrix, type HostTensor } from '../engine/index.js';
import type { WeightSpec } from './encoder.js';
import type { ReadWeightsOptions, WeightTensor } from './weights/types.js';

/** Reads one weight file's tensors (those `opts.select` accepts): from disk, or from fetched bytes. */
export type WeightFileReader = (file: string, opts: ReadWeightsOptions) => Promise<Map<string, WeightTensor>>;

/** Canonical name of a checkpoint key: without the model prefix, legacy `gamma`/`beta` LayerNorm names as `weight`/`bias`. */
export function canonicalName(key: string, prefix: string): string {
  let k = key.startsWith(prefix) ? key.slice(prefix.length) : key;
  k = k.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  return k;
}

/** How a checkpoint spelled its keys, for `adapterkit info`. */
export interface CheckpointKeys {
  /** Weight files read. */
  readonly files: readonly string[];
  /** `prefixed` (every used key carried the model prefix), `unprefixed`, or `mixed`. */
  readonly form: 'prefixed' | 'unprefixed' | 'mixed';
  /** The model prefix looked for, e.g. `albert.`. */
  readonly prefix: string;
  /** Whether LayerNorms were stored under the legacy `gamma`/`beta` names. */
  readonly legacyNorms: boolean;
  /** Checkpoint keys the encoder does not use (pre-training heads, buffers). */
  readonly ignored: readonly string[];
}

/** One line for `adapterkit info`, e.g. `albert.-prefixed keys in model.safetensors (12 unused: predictions.*)`. */
export function describeCheckpointKeys(k: CheckpointKeys): string {
  const form = k.form === 'prefixed' ? `${k.prefix}-prefixed` : k.form === 'unprefixed' ? 'unprefixed' : `mixed (some ${k.prefix}-prefixed)`;
  const files = k.files.map((f) => f.slice(f.lastIndexOf('/') + 1)).join(', '); // the file names
  const unused = k.ignored.length ? `; ${k.ignored.length} unused: ${[...new Set(k.ignored.map((x) => x.split('.').slice(0, 2).join('.')))].slice(0, 4).join(', ')}` : '';
  return `${form} keys${k.legacyNorms ? ' (legacy gamma/beta norms)' : ''} in ${files}${unused}`;
}

/** Tensors read from a checkpoint, by canonical name, in the file's layout. */
export interface CheckpointTensors {
  readonly found: Map<string, { t: WeightTensor; file: string }>;
  readonly keys: CheckpointKeys;
}

/**
 * Reads from `files` every tensor whose canonical name (see {@link canonicalName}) `wanted`
 * holds, each file read with `readWeights`; fails when two keys map to the same name. The tensors
 * stay in the file's layout.
 */
export async function collectCheckpointTensors(files: readonly string[], prefix: string, wanted: ReadonlySet<string>, readWeights: WeightFileReader): Promise<CheckpointTensors> {
  const found = new Map<string, { t: WeightTensor; file: string }>();
  const ignored: string[] = [];
  let prefixed = 0;
  let legacyNorms = false;
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
      if (key.startsWith(prefix)) prefixed++;
      if (/\.(gamma|beta)$/.test(key)) legacyNorms = true;
    }
  }
  const form = prefixed === 0 ? 'unprefixed' : prefixed === found.size ? 'prefixed' : 'mixed';
  return { found, keys: { files, form, prefix, legacyNorms, ignored } };
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
 * The encoder's weights from what was read: every spec must be there (BAD_WEIGHTS listing the
 * missing keys, with the model prefix) with the shape the config implies; each tensor is
 * converted and dropped from `read` as soon as it is.
 */
export function convertCheckpoint(specs: readonly WeightSpec[], read: CheckpointTensors, configPath: string): Map<string, HostTensor<'float32'>> {
  const { found, keys } = read;
  const missing = specs.filter((s) => !found.has(s.name)).map((s) => `${keys.prefix}${s.name}`);
  if (missing.length) {
    const list = missing.slice(0, 8).join(', ') + (missing.length > 8 ? `, and ${missing.length - 8} more` : '');
    fail('BAD_WEIGHTS', `${keys.files.join(', ')}: missing ${missing.length} tensor(s) required by ${configPath}: ${list}`, { missing });
  }
  const weights = new Map<string, HostTensor<'float32'>>();
  for (const spec of specs) {
    const { t, file } = found.get(spec.name) as { t: WeightTensor; file: string };
    weights.set(spec.name, convert(spec, t, file));
    found.delete(spec.name); // drop the [out, in] copy as soon as it is converted
  }
  return weights;
}
