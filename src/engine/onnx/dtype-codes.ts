/** ONNX TensorProto.DataType codes for the engine's dtypes. */
import type { DType } from '../tensor.js';

/** dtype -> ONNX element type code. */
export const ONNX_DTYPE: Readonly<Record<DType, number>> = {
  float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10,
};
