/** Gradient rules of MatMul and Gemm. */
import type { Value } from '../../graph.js';
import { mul } from '../../ops/elementwise.js';
import { gemm, matmul } from '../../ops/matmul.js';
import { reshape, reshapeLeading, transpose } from '../../ops/shape.js';
import { attrFloat, attrInt, defineGradient } from '../registry.js';

const v = (x: Value | undefined) => x as Value;

function swapLast(x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return transpose(x, perm);
}

// Y[..., M, N] = A[..., M, K] @ B[..., K, N]
defineGradient('MatMul', ({ x, dy, needs }) => {
  const A = v(x[0]);
  const B = v(x[1]);
  const G = v(dy[0]);
  let dA: Value | undefined;
  let dB: Value | undefined;
  if (needs[0]) {
    if (B.rank === 2) {
      // dA = G @ B^T as one Gemm with transB over all rows: no transposed copy of a frozen B.
      const G2 = G.rank === 2 ? G : reshape(G, [-1, G.shape[G.rank - 1] as number | string]);
      const d2 = gemm(G2, B, undefined, { transB: true }); // [rows, K]
      // back to G's leading axes, read from G at run time (they may be expressions such as 3+seq)
      const K = B.shape[0] as number | string;
      dA = G.rank === 2 ? d2 : typeof K === 'number' ? reshapeLeading(d2, G, [K]) : reshape(d2, [...G.shape.slice(0, -1), K]);
    } else dA = matmul(G, swapLast(B)); // [..., M, K]; batch axes reduced by the driver
  }
  if (needs[1]) {
    if (B.rank === 2) {
      // Fold all leading axes into rows: dB[K, N] = A2^T @ G2 with A2 [rows, K], G2 [rows, N]
      const A2 = A.rank === 2 ? A : reshape(A, [-1, A.shape[A.rank - 1] as number | string]);
      const G2 = G.rank === 2 ? G : reshape(G, [-1, G.shape[G.rank - 1] as number | string]);
      dB = gemm(A2, G2, undefined, { transA: true });
    } else dB = matmul(swapLast(A), G);
  }
  return [dA, dB];
});

// Y = alpha * op(A) @ op(B) + beta * C
defineGradient('Gemm', ({ node, x, dy, needs }) => {
  const A = v(x[0]);
  const B = v(x[1]);
  const G = v(dy[0]);
  const ta = attrInt(node, 'transA', 0) === 1;
  const tb = attrInt(node, 'transB', 0) === 1;
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  let dA: Value | undefined;
  let dB: Value | undefined;
  if (needs[0]) {
    dA = !ta
      ? gemm(G, B, undefined, { transB: !tb, alpha }) // G op(B)^T
      : gemm(B, G, undefined, { transA: tb, transB: true, alpha }); // (G op(B)^T)^T = op(B) G^T
  }
  if (needs[1]) {
    dB = !tb
      ? gemm(A, G, undefined, { transA: !ta, alpha }) // op(A)^T G
      : gemm(G, A, undefined, { transA: true, transB: ta, alpha }); // (op(A)^T G)^T = G^T op(A)
  }
  const dC = needs[2] ? (beta === 1 ? G : mul(G, beta)) : undefined;
  return [dA, dB, dC];
});
