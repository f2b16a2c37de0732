/**
 * Comparing our tensors with a reference implementation's (the PyTorch fixtures): element order
 * across the file layout, and closeness with a relative and an absolute tolerance.
 */
import type { FileTensorKey } from '../../src/adapters/method.js';

/** Our internal [in, out] element i as an index into the file's layout (transposed keys are [out, in]). */
export function fileIndex(k: FileTensorKey | undefined, shape: readonly number[], i: number): number {
  if (!k?.transpose) return i;
  const [rows, cols] = shape as [number, number];
  return (i % cols) * rows + Math.floor(i / cols);
}

/** Whether `got` is within `abs + rel * |want|` of `want`. */
export function close(got: number, want: number, rel: number, abs: number): boolean {
  return Math.abs(got - want) <= abs + rel * Math.abs(want);
}
