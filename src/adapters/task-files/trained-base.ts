/**
 * `trained_base.safetensors`: the base weights a task trained (layer norms, a pooler, top layers,
 * or every weight in full fine-tuning) under the base checkpoint's key names, Linear weights
 * `[out, in]` as PyTorch stores them. Neither AdapterHub's nor PEFT's adapter files have a place
 * for them.
 */
import { join } from 'node:path';
import { fail } from '../../errors.js';
import type { HostTensor } from '../../engine/index.js';
import type { Encoder } from '../../models/encoder.js';
import { writeSafetensors } from '../../models/weights/index.js';
import { isAdapterTensor } from '../names.js';
import { float32Of, readFirst, transposed, type FileTensors } from './tensor-files.js';

/** The file's name. */
export const TRAINED_BASE_FILE = 'trained_base.safetensors';

/** The note for a task whose adapters (`who`: "this adapter", "this task") trained the base's layer norms. */
export function trainedNormsNote(who: string): string {
  return `the layer norms ${who} trained are in ${TRAINED_BASE_FILE}: AdapterHub's and PEFT's adapter files have no place for them (README, "Use an adapter from Python")`;
}

/** Whether a base weight is stored transposed (Linear weights are [out, in] in PyTorch files). */
function baseIsLinear(enc: Encoder): (name: string, shape: readonly number[]) => boolean {
  const roles = new Map(enc.weightSpecs.map((s) => [s.name, s.role]));
  return (name, shape) => shape.length === 2 && name.endsWith('.weight') && (roles.get(name) === 'linear' || roles.get(name) === 'pooler');
}

/** The task's base weights (neither adapter nor head tensors) under checkpoint keys, as the file stores them. */
export function trainedBaseFileTensors(tensors: ReadonlyMap<string, HostTensor<'float32'>>, enc: Encoder): FileTensors {
  const base: FileTensors = new Map();
  const isLinear = baseIsLinear(enc);
  for (const [k, t] of tensors) {
    if (isAdapterTensor(k) || k.startsWith('head.')) continue;
    base.set(`${enc.checkpointPrefix}${k}`, isLinear(k, t.shape) ? transposed(t) : t);
  }
  return base;
}

/** Writes the file when the task trained any base weight. */
export async function writeTrainedBase(dir: string, base: FileTensors, meta: Record<string, string>): Promise<void> {
  if (base.size) await writeSafetensors(join(dir, TRAINED_BASE_FILE), base, meta);
}

/** Reads the file, when there is one, into `out` under canonical names, `[in, out]`. */
export async function readTrainedBase(dir: string, enc: Encoder, out: Map<string, HostTensor<'float32'>>): Promise<void> {
  const read = await readFirst(dir, [TRAINED_BASE_FILE]);
  if (!read) return;
  const isLinear = baseIsLinear(enc);
  const known = new Set(enc.weightSpecs.map((s) => s.name));
  for (const [key, t] of read.tensors) {
    const name = key.startsWith(enc.checkpointPrefix) ? key.slice(enc.checkpointPrefix.length) : key;
    if (!known.has(name)) fail('ADAPTER_MISMATCH', `${read.file}: tensor ${key} is not a weight of the ${enc.family} encoder`);
    const tensor = float32Of(t, key, read.file);
    out.set(name, isLinear(name, t.shape) ? transposed(tensor) : tensor);
  }
}
