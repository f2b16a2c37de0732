/**
 * From an unpickled state dict to {@link WeightTensor}s: find the tensors, load each storage once
 * (only those a selected tensor needs), and cut each tensor out of its storage.
 */
import { fail } from '../../errors.js';
import { SOURCE_DTYPES } from './dtypes.js';
import { checkView, materialise } from './strided.js';
import { isTorchTensorRef, type TorchStorageRef, type TorchTensorRef } from './torch-pickle.js';
import type { ReadWeightsOptions, WeightArray, WeightTensor } from './types.js';

/** Loads one whole storage (converted to its in-memory type); `tensorName` is for error messages. */
export type StorageLoader = (ref: TorchStorageRef, tensorName: string) => Promise<WeightArray>;

/**
 * The tensors of an unpickled state dict, in order. Nested dicts (e.g. `{ model: {...} }`) are
 * flattened with dotted names; values that are not tensors (ints, strings, `None`) are skipped.
 */
export function stateDictTensors(root: unknown, path: string): Array<[string, TorchTensorRef]> {
  if (!(root instanceof Map)) fail('BAD_FILE', `${path}: the pickle holds a ${describeType(root)}, not a state dict`);
  const out: Array<[string, TorchTensorRef]> = [];
  collect(root, '', out, path);
  return out;
}

function collect(map: Map<unknown, unknown>, prefix: string, out: Array<[string, TorchTensorRef]>, path: string): void {
  for (const [key, value] of map) {
    const name = `${prefix}${String(key)}`;
    if (isTorchTensorRef(value)) out.push([name, value]);
    else if (value instanceof Map) collect(value, `${name}.`, out, path);
  }
}

/** Builds the selected tensors, loading every storage at most once. */
export async function buildTensors(
  entries: ReadonlyArray<[string, TorchTensorRef]>,
  loadStorage: StorageLoader,
  path: string,
  opts: ReadWeightsOptions,
): Promise<Map<string, WeightTensor>> {
  const cache = new Map<string, Promise<WeightArray>>();
  const out = new Map<string, WeightTensor>();
  for (const [name, ref] of entries) {
    if (opts.select && !opts.select(name)) continue;
    const { storage } = ref;
    let pending = cache.get(storage.key);
    if (!pending) {
      pending = loadStorage(storage, name);
      cache.set(storage.key, pending);
    }
    const data = await pending;
    const where = `${path}: tensor ${name}`;
    const view = checkView({ offset: ref.offset + storage.elementOffset, shape: ref.shape, stride: ref.stride }, data.length, where);
    const info = SOURCE_DTYPES[storage.dtype];
    out.set(name, { name, dtype: info.dtype, sourceDtype: storage.dtype, shape: [...view.shape], data: materialise(data, view) });
  }
  return out;
}

function describeType(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list or tuple';
  return typeof v;
}
