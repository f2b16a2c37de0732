/**
 * Turning a (storage, offset, shape, stride) description into a contiguous row-major array.
 * A contiguous tensor is a zero-copy `subarray` of its storage (tied weights therefore share
 * memory, as they do in PyTorch); any other stride pattern is gathered into a new array.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { numelOf } from './dtypes.js';
import type { WeightArray } from './types.js';

/** A strided view of a storage; lengths and counts in elements. */
export interface StridedView {
  offset: number;
  shape: readonly number[];
  stride: readonly number[];
}

/** Most dimensions a tensor may have (PyTorch's own limit is 64 too). */
export const MAX_DIMS = 64;

/**
 * Checks `shape`/`stride`/`offset` against the storage size; `where` names the tensor for errors.
 * Every element the view addresses must lie inside the storage, and the view may not have more
 * elements than the storage holds: a stride-0 view (an expanded tensor) would otherwise turn a few
 * bytes of file into an arbitrarily large array.
 */
export function checkView(raw: { offset: number; shape: readonly unknown[]; stride: readonly unknown[] }, storageNumel: number, where: string): StridedView {
  const { offset, shape, stride } = raw;
  if (shape.length > MAX_DIMS) fail('BAD_FILE', `${where}: ${shape.length} dimensions; at most ${MAX_DIMS} are supported`);
  if (!shape.every(isCount)) fail('BAD_FILE', `${where}: size ${describeValue(shape)} is not a list of non-negative integers`);
  if (stride.length !== shape.length || !stride.every(isCount)) {
    fail('BAD_FILE', `${where}: stride ${describeValue(stride)} does not fit size [${shape.join(', ')}]`);
  }
  if (!isCount(offset)) fail('BAD_FILE', `${where}: storage offset ${describeValue(offset)} is invalid`);
  const view = { offset, shape, stride };
  const numel = numelOf(shape);
  if (numel > 0) {
    if (numel > storageNumel) {
      fail('BAD_FILE', `${where}: size [${shape.join(', ')}] has ${numel} elements but its storage holds only ${storageNumel}`);
    }
    const last = offset + shape.reduce((acc, d, i) => acc + (d - 1) * stride[i]!, 0);
    if (last >= storageNumel) {
      fail('BAD_FILE', `${where}: size [${shape.join(', ')}], stride [${stride.join(', ')}] and offset ${offset} reach element ${last} of a storage with ${storageNumel}`);
    }
  }
  return view;
}

/** True when `view` walks its elements in row-major order without gaps. */
export function isContiguous(view: StridedView): boolean {
  let expected = 1;
  for (let i = view.shape.length - 1; i >= 0; i--) {
    const size = view.shape[i]!;
    if (size !== 1 && view.stride[i] !== expected) return false;
    expected *= size;
  }
  return true;
}

/** The view's elements as a contiguous array (a subarray when possible, else a gathered copy). */
export function materialise<A extends WeightArray>(storage: A, view: StridedView): A {
  const n = numelOf(view.shape);
  if (isContiguous(view)) return storage.subarray(view.offset, view.offset + n) as A;
  const out = new (storage.constructor as new (n: number) => A)(n);
  const src = storage as unknown as { [i: number]: number | bigint };
  const dst = out as unknown as { [i: number]: number | bigint };
  const dims = view.shape.length;
  const index = new Array<number>(dims).fill(0);
  let at = view.offset;
  for (let k = 0; k < n; k++) {
    dst[k] = src[at]!;
    for (let d = dims - 1; d >= 0; d--) {
      index[d]!++;
      at += view.stride[d]!;
      if (index[d]! < view.shape[d]!) break;
      at -= view.stride[d]! * view.shape[d]!;
      index[d] = 0;
    }
  }
  return out;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
