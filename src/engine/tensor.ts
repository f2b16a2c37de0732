/**
 * Host-side tensors: a dtype, a static shape and a typed array, row-major.
 * Used for constants, parameters, feeds and fetched results.
 */
import { fail } from '../errors.js';

/** Element types the engine builds graphs with. */
export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8';

/** Typed array holding the elements of a {@link HostTensor} of each dtype. */
export interface DTypeArrayMap {
  float32: Float32Array;
  float16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
  uint8: Uint8Array;
  int8: Int8Array;
}

/** Any typed array a host tensor can hold. */
export type TensorData = DTypeArrayMap[DType];

/** A tensor in JavaScript memory. */
export interface HostTensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DTypeArrayMap[D];
}

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  float32: 4, float16: 2, int64: 8, int32: 4, bool: 1, uint8: 1, int8: 1,
};

/** True for dtypes that carry gradients. */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16';
}

/** Number of elements of a static shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkSize(shape: readonly number[], length: number, what: string): void {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail('SHAPE_MISMATCH', `${what}: invalid shape [${shape.join(', ')}]`);
  if (numel(shape) !== length) {
    fail('SHAPE_MISMATCH', `${what}: shape [${shape.join(', ')}] needs ${numel(shape)} elements but the data has ${length}`);
  }
}

/** A float32 tensor; `data` defaults to zeros. */
export function f32(shape: readonly number[], data?: Float32Array | readonly number[]): HostTensor<'float32'> {
  const arr = data === undefined ? new Float32Array(numel(shape)) : data instanceof Float32Array ? data : Float32Array.from(data);
  checkSize(shape, arr.length, 'float32 tensor');
  return { dtype: 'float32', shape: [...shape], data: arr };
}

/** An int64 tensor from numbers or bigints. */
export function i64(shape: readonly number[], data: BigInt64Array | readonly (number | bigint)[]): HostTensor<'int64'> {
  const arr = data instanceof BigInt64Array ? data : BigInt64Array.from(data, (v) => BigInt(v));
  checkSize(shape, arr.length, 'int64 tensor');
  return { dtype: 'int64', shape: [...shape], data: arr };
}

/** An int32 tensor. */
export function i32(shape: readonly number[], data: Int32Array | readonly number[]): HostTensor<'int32'> {
  const arr = data instanceof Int32Array ? data : Int32Array.from(data);
  checkSize(shape, arr.length, 'int32 tensor');
  return { dtype: 'int32', shape: [...shape], data: arr };
}

/** A bool tensor from booleans or 0/1 bytes. */
export function bool(shape: readonly number[], data: Uint8Array | readonly boolean[]): HostTensor<'bool'> {
  const arr = data instanceof Uint8Array ? data : Uint8Array.from(data, (v) => (v ? 1 : 0));
  checkSize(shape, arr.length, 'bool tensor');
  return { dtype: 'bool', shape: [...shape], data: arr };
}

/** Validates that `t.data` has the length its shape requires. */
export function assertTensor(t: HostTensor, what: string): void {
  checkSize(t.shape, t.data.length, what);
}

/** Row-major transpose of a [rows, cols] matrix into a new [cols, rows] array. */
export function transposeMatrix(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c] as number;
  return out;
}
