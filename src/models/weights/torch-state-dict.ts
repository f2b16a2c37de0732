/**
 * From an unpickled state dict to {@link WeightTensor}s: find the tensors, load each storage once
 * (only those a selected tensor needs), and cut each tensor out of its storage.
 */
import { fail } from '../../errors.js';
import { describeValue, truncateText } from '../../util/describe.js';
import { numelOf, SOURCE_DTYPES } from './dtypes.js';
import { checkView, isContiguous, materialise } from './strided.js';
import { isTorchTensorRef, type TorchStorageRef, type TorchTensorRef } from './torch-pickle.js';
import type { ReadWeightsOptions, WeightArray, WeightTensor } from './types.js';

/** Loads one whole storage (converted to its in-memory type); `tensorName` is for error messages. */
export type StorageLoader = (ref: TorchStorageRef, tensorName: string) => Promise<WeightArray>;

/** Deepest nesting of dicts accepted in a state dict (`{ model: { ... } }` is 2). */
export const MAX_STATE_DICT_DEPTH = 32;

/**
 * The tensors of an unpickled state dict, in order. Nested dicts (e.g. `{ model: {...} }`) are
 * flattened with dotted names; values that are not tensors (ints, strings, `None`) are skipped.
 * The walk is iterative; a dict nested deeper than {@link MAX_STATE_DICT_DEPTH}, a dict that
 * appears twice (or inside itself) and a key that is not a string or an integer are BAD_FILE.
 */
export function stateDictTensors(root: unknown, path: string): Array<[string, TorchTensorRef]> {
  if (!(root instanceof Map)) fail('BAD_FILE', `${path}: the pickle holds a ${describeType(root)}, not a state dict`);
  const out: Array<[string, TorchTensorRef]> = [];
  const seen = new Set<Map<unknown, unknown>>([root]);
  // Depth-first, in dict order: a stack of (iterator, name prefix) pairs.
  const stack: Array<{ it: Iterator<[unknown, unknown]>; prefix: string }> = [{ it: root[Symbol.iterator](), prefix: '' }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const next = top.it.next();
    if (next.done) {
      stack.pop();
      continue;
    }
    const [key, value] = next.value;
    if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'bigint') {
      fail('BAD_FILE', `${path}: the state dict has a key that is not a string (${describeType(key)})`);
    }
    const name = `${top.prefix}${String(key)}`;
    if (isTorchTensorRef(value)) {
      out.push([name, value]);
    } else if (value instanceof Map) {
      if (seen.has(value)) fail('BAD_FILE', `${path}: the dict at ${describeValue(name, 120)} appears twice in the state dict (or inside itself)`);
      if (stack.length >= MAX_STATE_DICT_DEPTH) fail('BAD_FILE', `${path}: dicts nested more than ${MAX_STATE_DICT_DEPTH} deep at ${describeValue(name, 120)}`);
      seen.add(value);
      stack.push({ it: value[Symbol.iterator](), prefix: `${name}.` });
    }
  }
  return out;
}

/**
 * Builds the selected tensors, loading every storage at most once. Strided tensors are copies, so
 * many strided views of one storage could multiply its size: their copies together may hold at
 * most twice as many elements as the file (`fileSize`) has bytes.
 */
export async function buildTensors(
  entries: ReadonlyArray<[string, TorchTensorRef]>,
  loadStorage: StorageLoader,
  path: string,
  fileSize: number,
  opts: ReadWeightsOptions,
): Promise<Map<string, WeightTensor>> {
  const cache = new Map<string, Promise<WeightArray>>();
  const out = new Map<string, WeightTensor>();
  let copyBudget = 2 * fileSize + 1024;
  for (const [name, ref] of entries) {
    if (opts.select && !opts.select(name)) continue;
    const { storage } = ref;
    let pending = cache.get(storage.key);
    if (!pending) {
      pending = loadStorage(storage, truncateText(name));
      cache.set(storage.key, pending);
    }
    const data = await pending;
    const where = `${path}: tensor ${truncateText(name)}`;
    const view = checkView({ offset: ref.offset + storage.elementOffset, shape: ref.shape, stride: ref.stride }, data.length, where);
    const info = SOURCE_DTYPES[storage.dtype];
    if (!isContiguous(view)) {
      copyBudget -= numelOf(view.shape);
      if (copyBudget < 0) fail('BAD_FILE', `${where}: strided copies of the file's tensors would hold more than twice as many elements as the file has bytes`);
    }
    out.set(name, { name, dtype: info.dtype, sourceDtype: storage.dtype, shape: [...view.shape], data: materialise(data, view) });
  }
  return out;
}

function describeType(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list or tuple';
  return typeof v;
}
