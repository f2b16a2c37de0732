/**
 * What every weights file of a task directory shares: a tensor between adapterkit's internal
 * layout (`[in, out]` matrices) and a file's (PyTorch's `[out, in]` Linear weights), reading
 * whichever variant of a file exists, and mapping a file's keys to internal names.
 */
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { transposeMatrix, type HostTensor } from '../../engine/index.js';
import type { Encoder } from '../../models/encoder.js';
import { readWeights, type TensorToWrite, type WeightTensor } from '../../models/weights/index.js';
import { exists } from '../../util/fs.js';
import type { FileTensorKey } from '../method.js';
import { methodOf, type MethodConfig } from '../methods/index.js';

/** The tensors of one weights file, with its path for messages. */
export interface ReadWeightsFile {
  readonly file: string;
  readonly tensors: Map<string, WeightTensor>;
}

/** Tensors to write, by file key. */
export type FileTensors = Map<string, TensorToWrite>;

/** Safetensors metadata of the task's files: PyTorch format and the base's fingerprint. */
export function fileMetadata(fingerprint: string): Record<string, string> {
  return { format: 'pt', adapterkit_fingerprint: fingerprint };
}

/** A `[rows, cols]` tensor as `[cols, rows]`. */
export function transposed(t: HostTensor<'float32'>): HostTensor<'float32'> {
  const [r, c] = t.shape as [number, number];
  return { dtype: 'float32', shape: [c, r], data: transposeMatrix(t.data, r, c) };
}

/** A float32 file tensor as a host tensor of the same shape; BAD_FILE for another dtype. */
export function float32Of(t: WeightTensor, key: string, file: string): HostTensor<'float32'> {
  if (t.dtype !== 'float32') fail('BAD_FILE', `${file}: tensor ${key} is ${t.dtype}, expected float32`);
  return { dtype: 'float32', shape: t.shape, data: t.data as Float32Array };
}

/** An internal tensor as a file stores it under `k`. */
export function toFile(k: FileTensorKey, t: HostTensor<'float32'>): TensorToWrite {
  const data = k.transpose ? transposed(t).data : t.data;
  if (data.length !== k.shape.reduce((a, b) => a * b, 1)) fail('GRAPH_ERROR', `${k.internal} has ${data.length} values, its file key ${k.key} [${k.shape.join(', ')}] does not fit`);
  return { dtype: 'float32', shape: k.shape, data };
}

/** A file tensor back to its internal layout. */
function fromFile(k: FileTensorKey, t: WeightTensor, internalShape: readonly number[], file: string): HostTensor<'float32'> {
  if (t.dtype !== 'float32') fail('BAD_FILE', `${file}: tensor ${k.key} is ${t.dtype}, expected float32`);
  if (t.shape.length !== k.shape.length || t.shape.some((d, i) => d !== k.shape[i])) {
    fail('ADAPTER_MISMATCH', `${file}: tensor ${k.key} has shape [${t.shape.join(', ')}], this adapter config gives [${k.shape.join(', ')}]`);
  }
  const data = t.data as Float32Array;
  if (k.transpose) return { dtype: 'float32', shape: [...internalShape], data: transposeMatrix(data, k.shape[0] as number, k.shape[1] as number) };
  return { dtype: 'float32', shape: [...internalShape], data };
}

/** Internal shapes of an adapter's tensors, by internal name. */
export function internalShapes(c: MethodConfig, enc: Encoder, adapterName: string): Map<string, readonly number[]> {
  return new Map(methodOf(c).tensors(c, enc, adapterName).map((t) => [t.name, t.shape]));
}

/** Reads whichever of a weights file's variants exists (safetensors first). */
export async function readFirst(dir: string, files: readonly string[]): Promise<ReadWeightsFile | undefined> {
  for (const f of files) {
    const p = join(dir, f);
    if (await exists(p)) return { file: p, tensors: await readWeights(p) };
  }
  return undefined;
}

/**
 * Maps a file's tensors to internal names through `keys`; ADAPTER_MISMATCH for a tensor that has
 * no place (unless `other` takes it).
 */
export function mapTensors(
  read: ReadWeightsFile, keys: readonly FileTensorKey[], shapes: ReadonlyMap<string, readonly number[]>,
  out: Map<string, HostTensor<'float32'>>, what: string, other?: (key: string, t: WeightTensor) => boolean,
): void {
  const byKey = new Map(keys.map((k) => [k.key, k]));
  for (const [key, t] of read.tensors) {
    const k = byKey.get(key);
    if (!k) {
      if (other?.(key, t)) continue;
      fail('ADAPTER_MISMATCH', `${read.file}: tensor ${key} has no place in ${what}`);
    }
    out.set(k.internal, fromFile(k, t, shapes.get(k.internal) as readonly number[], read.file));
  }
}
