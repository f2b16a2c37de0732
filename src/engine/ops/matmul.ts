/** Matrix products: MatMul (numpy semantics, batch broadcasting) and Gemm (2-D, transposes, bias). */
import { fail } from '../../errors.js';
import { attr, type Value } from '../graph.js';
import { broadcastShapes, fmtShape, type Dim } from '../shape.js';
import { expectFloat, expectRank, expectSameDtype } from './check.js';
import { add } from './elementwise.js';
import { reshape, reshapeLeading } from './shape.js';
import { buildVariants } from '../variants.js';

/** a @ b for rank >= 2 inputs; leading (batch) axes broadcast. [..., M, K] x [..., K, N] -> [..., M, N] */
export function matmul(a: Value, b: Value): Value {
  expectFloat('MatMul', 'A', a);
  expectSameDtype('MatMul', a, b);
  expectRank('MatMul', 'A', a, 2, 8);
  expectRank('MatMul', 'B', b, 2, 8);
  const k1 = a.shape[a.rank - 1] as Dim;
  const k2 = b.shape[b.rank - 2] as Dim;
  if (k1 !== k2 && (typeof k1 === 'number') === (typeof k2 === 'number')) {
    fail('SHAPE_MISMATCH', `MatMul: inner dimensions differ: A ${a.name} ${fmtShape(a.shape)} has ${k1} columns, B ${b.name} ${fmtShape(b.shape)} has ${k2} rows`, {
      op: 'MatMul', a: a.shape, b: b.shape,
    });
  }
  const batch = broadcastShapes('MatMul', [
    { name: `A (${a.name})`, shape: a.shape.slice(0, -2) },
    { name: `B (${b.name})`, shape: b.shape.slice(0, -2) },
  ]);
  const shape = [...batch, a.shape[a.rank - 2] as Dim, b.shape[b.rank - 1] as Dim];
  return a.graph.addNode('MatMul', [a, b], {}, [{ dtype: a.dtype, shape }])[0] as Value;
}

/** Options of {@link gemm}. */
export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

/** alpha * op(A) @ op(B) + beta * C for 2-D A and B; C broadcasts to [M, N]. */
export function gemm(a: Value, b: Value, c?: Value, o: GemmOptions = {}): Value {
  expectFloat('Gemm', 'A', a);
  expectSameDtype('Gemm', a, b);
  expectRank('Gemm', 'A', a, 2);
  expectRank('Gemm', 'B', b, 2);
  const [m, ka] = o.transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = o.transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (ka !== kb && typeof ka === 'number' && typeof kb === 'number') {
    fail('SHAPE_MISMATCH', `Gemm: inner dimensions differ: A ${a.name} ${fmtShape(a.shape)}${o.transA ? ' (transposed)' : ''} and B ${b.name} ${fmtShape(b.shape)}${o.transB ? ' (transposed)' : ''}`);
  }
  const shape = [m as Dim, n as Dim];
  if (c) {
    expectSameDtype('Gemm', a, c);
    broadcastShapes('Gemm', [{ name: `C (${c.name})`, shape: c.shape }, { name: 'A@B', shape }]);
  }
  const attrs: Record<string, ReturnType<typeof attr.int>> = {};
  if (o.transA) attrs.transA = attr.int(1);
  if (o.transB) attrs.transB = attr.int(1);
  if (o.alpha !== undefined && o.alpha !== 1) attrs.alpha = attr.float(o.alpha);
  if (o.beta !== undefined && o.beta !== 1) attrs.beta = attr.float(o.beta);
  return a.graph.addNode('Gemm', c ? [a, b, c] : [a, b], attrs, [{ dtype: a.dtype, shape }])[0] as Value;
}

/**
 * x @ W + b for x [..., K], W [K, N], b [N] (a dense layer). A frozen W with a kernel set by
 * `Graph.setLinearKernel` (an int8 frozen base, ops/quantized.ts) runs that kernel instead.
 *
 * With a bias, the product and the bias add are one Gemm (the bias is its C input) over x's
 * leading axes folded into rows, [rows, K] @ [K, N] + b, reshaped back to x's leading axes: ONNX
 * Runtime does not fuse a MatMul and an Add when the leading axes are symbolic (batch, sequence),
 * and the Gemm saves the add's pass over the output. In the backward the bias gradient is then one
 * ReduceSum over the rows.
 */
export function linear(x: Value, w: Value, b?: Value): Value {
  const kernel = w.graph.linearKernel(w);
  if (kernel) return kernel(x, b);
  if (!b) return matmul(x, w);
  if (w.rank !== 2 || b.rank !== 1 || x.rank < 2 || !buildVariants().fusedBias) return add(matmul(x, w), b);
  if (x.rank === 2) return gemm(x, w, b);
  const [K, N] = w.shape as [Dim, Dim];
  if (typeof N !== 'number') return add(matmul(x, w), b);
  return reshapeLeading(gemm(reshape(x, [-1, K]), w, b), x, [N]);
}

