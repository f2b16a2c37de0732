// Global-norm clipping, as torch.nn.utils.clip_grad_norm_.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clipByGlobalNorm, globalNorm } from '../../src/train/optim/index.js';
import { throwsCoded } from './helpers.js';

test('globalNorm is the L2 norm over all arrays, in float64', () => {
  assert.equal(globalNorm([Float32Array.of(3), Float32Array.of(0, 4)]), 5);
  assert.equal(globalNorm([]), 0);
  // 5 odd-length arrays exercise the unrolled loop's tail; 1e6 ones sum exactly in float64
  assert.equal(globalNorm([1, 2, 3, 5, 1_000_000 - 11].map((n) => new Float32Array(n).fill(1))), 1000);
  // float32 accumulation would lose the small terms next to the big one
  const big = new Float32Array(1 + 1_000_000).fill(1e-3);
  big[0] = 1e3;
  assert.ok(Math.abs(globalNorm([big]) - Math.sqrt(1e6 + 1e6 * Math.fround(1e-3) ** 2)) < 1e-9);
});

test('clipping scales in place by maxNorm / (norm + 1e-6) above the limit', () => {
  const a = Float32Array.of(3, 0), b = Float32Array.of(4);
  const { norm, scale } = clipByGlobalNorm([a, b], 1);
  assert.equal(norm, 5);
  assert.equal(scale, 1 / (5 + 1e-6));
  assert.deepEqual(a, Float32Array.of(3 * scale, 0));
  assert.deepEqual(b, Float32Array.of(4 * scale));
  assert.ok(globalNorm([a, b]) < 1);
});

test('clipping is a no-op at or below the limit', () => {
  const a = Float32Array.of(0.3, -0.4);
  const f = Math.fround;
  assert.deepEqual(clipByGlobalNorm([a], 1), { norm: Math.sqrt(f(0.3) ** 2 + f(0.4) ** 2), scale: 1 });
  assert.deepEqual(a, Float32Array.of(0.3, -0.4));
  // norm exactly maxNorm: maxNorm / (norm + 1e-6) < 1, so it scales by a hair, as PyTorch does
  const b = Float32Array.of(3, 4);
  assert.ok(clipByGlobalNorm([b], 5).scale < 1);
  // just above norm - 1e-6 the scale is >= 1 and nothing happens
  const c = Float32Array.of(2);
  assert.deepEqual(clipByGlobalNorm([c], 2 + 1e-6), { norm: 2, scale: 1 });
  assert.deepEqual(c, Float32Array.of(2));
});

test('a non-finite norm is returned and nothing is scaled', () => {
  const a = Float32Array.of(1e3, NaN), b = Float32Array.of(2e3);
  const r = clipByGlobalNorm([a, b], 1);
  assert.ok(Number.isNaN(r.norm));
  assert.equal(r.scale, 1);
  assert.deepEqual(b, Float32Array.of(2e3));
  const c = Float32Array.of(Infinity, 1);
  assert.deepEqual(clipByGlobalNorm([c], 1), { norm: Infinity, scale: 1 });
  assert.deepEqual(c, Float32Array.of(Infinity, 1));
});

test('maxNorm must be a positive finite number', () => {
  for (const bad of [0, -1, NaN, Infinity]) {
    throwsCoded(() => clipByGlobalNorm([Float32Array.of(1)], bad), 'BAD_CONFIG', new RegExp(`clipByGlobalNorm: maxNorm must be a positive finite number, got ${bad}`));
  }
});
