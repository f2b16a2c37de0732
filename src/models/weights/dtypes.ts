/**
 * One table describing every stored element type: its width, the in-memory type it becomes, and
 * how its raw bytes turn into that type. Readers allocate the raw array, fill its bytes straight
 * from the file, then call `finish` — which is the identity for types kept as stored, so those
 * are copied exactly once (file -> their own typed array).
 */
import { fail } from '../../errors.js';
import { bfloat16ToFloat32, halfToFloat32 } from './half.js';
import type { SourceDtype, WeightArray, WeightDtype } from './types.js';

/** Raw containers a file's bytes are read into before any conversion. */
export type RawArray = WeightArray | Uint16Array | Int16Array | Float64Array;

/** How one stored element type is read. */
export interface SourceDtypeInfo {
  /** Bytes per element in the file. */
  readonly bytes: number;
  /** Element type in memory after reading. */
  readonly dtype: WeightDtype;
  /** Allocates a raw array of `n` elements whose bytes the reader fills from the file. */
  alloc(n: number): RawArray;
  /** Turns the filled raw array into the in-memory array (no copy when the types agree). */
  finish(raw: RawArray): WeightArray;
}

const keep = (raw: RawArray): WeightArray => raw as WeightArray;

/** Every stored element type adapterkit reads, keyed by its safetensors name. */
export const SOURCE_DTYPES: Readonly<Record<SourceDtype, SourceDtypeInfo>> = {
  F32: { bytes: 4, dtype: 'float32', alloc: (n) => new Float32Array(n), finish: keep },
  F16: { bytes: 2, dtype: 'float32', alloc: (n) => new Uint16Array(n), finish: (r) => halfToFloat32(r as Uint16Array) },
  BF16: { bytes: 2, dtype: 'float32', alloc: (n) => new Uint16Array(n), finish: (r) => bfloat16ToFloat32(r as Uint16Array) },
  F64: { bytes: 8, dtype: 'float32', alloc: (n) => new Float64Array(n), finish: (r) => Float32Array.from(r as Float64Array) },
  I64: { bytes: 8, dtype: 'int64', alloc: (n) => new BigInt64Array(n), finish: keep },
  I32: { bytes: 4, dtype: 'int32', alloc: (n) => new Int32Array(n), finish: keep },
  I16: { bytes: 2, dtype: 'int32', alloc: (n) => new Int16Array(n), finish: (r) => Int32Array.from(r as Int16Array) },
  U16: { bytes: 2, dtype: 'int32', alloc: (n) => new Uint16Array(n), finish: (r) => Int32Array.from(r as Uint16Array) },
  I8: { bytes: 1, dtype: 'int8', alloc: (n) => new Int8Array(n), finish: keep },
  U8: { bytes: 1, dtype: 'uint8', alloc: (n) => new Uint8Array(n), finish: keep },
  BOOL: { bytes: 1, dtype: 'bool', alloc: (n) => new Uint8Array(n), finish: keep },
};

/** True when `name` is a stored element type adapterkit can read. */
export function isSourceDtype(name: string): name is SourceDtype {
  return Object.prototype.hasOwnProperty.call(SOURCE_DTYPES, name);
}

/** The bytes of any typed array, without copying. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Reverses the byte order of each `width`-byte element in place (big-endian files). */
export function swapBytesInPlace(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Fails on a big-endian host: typed arrays there would read little-endian files wrongly. */
export function assertLittleEndianHost(): void {
  if (!HOST_IS_LITTLE_ENDIAN) fail('UNSUPPORTED_MODEL', 'checkpoint readers need a little-endian host');
}

/** Number of elements of a shape (1 for a scalar). */
export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
