/**
 * Types shared by the checkpoint readers and the safetensors writer.
 *
 * Every reader returns the same thing: a `Map` from tensor name to {@link WeightTensor}, in the
 * order the file lists them. Floating-point tensors of any stored width arrive as `Float32Array`.
 */

/** Element type of a tensor as adapterkit holds it in memory. */
export type WeightDtype = 'float32' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';

/**
 * Element type as the file stored it, in safetensors spelling. PyTorch storages map onto the same
 * names (`FloatStorage` is `F32`, `HalfStorage` is `F16`, `LongStorage` is `I64`, ...).
 */
export type SourceDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL';

/** The typed array holding a tensor's elements (row-major, contiguous). `bool` uses `Uint8Array` (0/1). */
export type WeightArray = Float32Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;

/** One tensor read from a checkpoint. */
export interface WeightTensor {
  /** Name as stored in the file, e.g. `bert.encoder.layer.0.attention.self.query.weight`. */
  name: string;
  /** Element type in memory. */
  dtype: WeightDtype;
  /** What the file stored (a `F16` tensor has `dtype` `float32`). */
  sourceDtype: SourceDtype;
  /** Dimensions, outermost first; `[]` for a scalar. */
  shape: number[];
  /** Elements in row-major order; `data.length` is the product of `shape`. */
  data: WeightArray;
}

/** Options every reader takes. */
export interface ReadWeightsOptions {
  /**
   * Read only the tensors whose name passes this test. The others are never read from disk, so a
   * reader given `select` uses memory only for what it returns.
   */
  select?: (name: string) => boolean;
}

/** A tensor handed to the safetensors writer. */
export interface TensorToWrite {
  dtype: WeightDtype;
  shape: readonly number[];
  data: WeightArray;
}
