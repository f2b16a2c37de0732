/**
 * Gradient rules of the int8 frozen matmuls (ops/quantized.ts). The weight is frozen, so only
 * the activation input gets a gradient, dA = dY Wᵀ through the weight's int8 transposed copy
 * (dY quantised at run time the same way); a fused bias gets dY (the driver reduces it to [N]).
 */
import type { Value } from '../../graph.js';
import { transposedProduct } from '../../ops/quantized.js';
import { defineGradient } from '../registry.js';

// Y[..., N] = A[..., K] @ dequant(B)[K, N] + bias[N]; inputs A, B, b_scale, b_zero_point, bias
defineGradient('DynamicQuantizeMatMul', ({ node, x, dy, needs }) => {
  const G = dy[0] as Value;
  const dA = needs[0] ? transposedProduct(x[1], node.name)(G) : undefined; // [..., K]
  return [dA, undefined, undefined, undefined, needs[4] ? G : undefined];
});

// Y[..., N] = A[..., K] @ dequant(B)ᵀ + bias[N]; inputs A, B, scales, zero_points, g_idx, bias
defineGradient('MatMulNBits', ({ node, x, dy, needs }) => {
  const G = dy[0] as Value;
  const dA = needs[0] ? transposedProduct(x[1], node.name)(G) : undefined; // [..., K]
  return [dA, undefined, undefined, undefined, undefined, needs[5] ? G : undefined];
});
