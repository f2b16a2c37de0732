/** Input checks shared by the op builders; every message names the op, the input and the shapes. */
import { fail } from '../../errors.js';
import type { Value } from '../graph.js';
import { isFloat, type DType } from '../tensor.js';

/** Value or a plain number that becomes a literal of the partner's dtype. */
export type Operand = Value | number;

/** Throws DTYPE_MISMATCH unless `v` is a float tensor. */
export function expectFloat(op: string, input: string, v: Value): void {
  if (!isFloat(v.dtype)) fail('DTYPE_MISMATCH', `${op}: input ${input} (${v.describe()}) must be float32 or float16`, { op, input });
}

/** Throws DTYPE_MISMATCH unless `v` has one of `dtypes`. */
export function expectDtype(op: string, input: string, v: Value, dtypes: readonly DType[]): void {
  if (!dtypes.includes(v.dtype)) {
    fail('DTYPE_MISMATCH', `${op}: input ${input} (${v.describe()}) must be ${dtypes.join(' or ')}`, { op, input });
  }
}

/** Throws DTYPE_MISMATCH unless both values have the same dtype. */
export function expectSameDtype(op: string, a: Value, b: Value): void {
  if (a.dtype !== b.dtype) {
    fail('DTYPE_MISMATCH', `${op}: inputs have different dtypes: ${a.describe()} and ${b.describe()}`, { op });
  }
}

/** Throws SHAPE_MISMATCH unless `v` has rank `rank` (or within [min, max]). */
export function expectRank(op: string, input: string, v: Value, min: number, max = min): void {
  if (v.rank < min || v.rank > max) {
    const want = min === max ? `${min}` : `${min}..${max}`;
    fail('SHAPE_MISMATCH', `${op}: input ${input} (${v.describe()}) must have rank ${want}`, { op, input });
  }
}

/** Turns a number operand into a literal of `like`'s dtype. */
export function lift(x: Operand, like: Value): Value {
  return typeof x === 'number' ? like.graph.literal(like.dtype, x) : x;
}
