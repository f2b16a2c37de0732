// AdamW: the update rule on hand-checked numbers, the decay rule, and argument checking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, defaultDecayRule } from '../../src/train/optim/index.js';
import { throwsCoded } from './helpers.js';

test('one step by hand: bias-corrected first step moves each weight by lr * sign(g)', () => {
  // t=1: m_hat = g, v_hat = g^2, so p -= lr * g / (|g| + eps); decay first multiplies by 1 - lr*wd.
  const w = Float32Array.of(1, -2, 0.5);
  const b = Float32Array.of(1, -2, 0.5);
  const opt = new AdamW([{ name: 'layer.weight', data: w }, { name: 'layer.bias', data: b }], { lr: 0.1, weightDecay: 0.5, eps: 0 });
  opt.step([Float32Array.of(3, -0.25, 1e-3), Float32Array.of(3, -0.25, 1e-3)]);
  const near = (got: Float32Array, want: number[]) => want.forEach((x, i) => assert.ok(Math.abs(got[i]! - x) < 1e-6, `[${i}] ${got[i]} vs ${x}`));
  near(w, [1 * 0.95 - 0.1, -2 * 0.95 + 0.1, 0.5 * 0.95 - 0.1]);
  near(b, [1 - 0.1, -2 + 0.1, 0.5 - 0.1]); // a bias gets no decay
});

test('second step follows the bias-corrected moments (float64 reference)', () => {
  const p = Float32Array.of(0.3);
  const [b1, b2, lr, eps, wd] = [0.9, 0.999, 0.01, 1e-8, 0.01];
  const opt = new AdamW([{ name: 'w', data: p }], { lr, betas: [b1, b2], eps, weightDecay: wd });
  let ref = Math.fround(0.3), m = 0, v = 0;
  for (const [t, g] of [[1, 0.5], [2, -0.2], [3, 0.7]] as const) {
    opt.step([Float32Array.of(g)]);
    ref *= 1 - lr * wd;
    m = b1 * m + (1 - b1) * Math.fround(g);
    v = b2 * v + (1 - b2) * Math.fround(g) ** 2;
    ref -= (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
    assert.ok(Math.abs(p[0]! - ref) < 1e-7, `step ${t}: ${p[0]} vs ${ref}`);
  }
  assert.equal(opt.stepCount, 3);
});

test('gradients by name (Map) give the same result as by position', () => {
  const mk = () => [{ name: 'a.weight', data: Float32Array.of(1, 2) }, { name: 'a.bias', data: Float32Array.of(3) }];
  const byPos = mk(), byName = mk();
  new AdamW(byPos, { lr: 0.1 }).step([Float32Array.of(0.1, -0.2), Float32Array.of(0.3)]);
  new AdamW(byName, { lr: 0.1 }).step(new Map([['a.bias', Float32Array.of(0.3)], ['a.weight', Float32Array.of(0.1, -0.2)]]));
  assert.deepEqual(byName, byPos);
});

test('an explicit lr becomes the current learning rate', () => {
  const opt = new AdamW([{ name: 'w', data: new Float32Array(1) }], { lr: 0.1 });
  opt.step([Float32Array.of(1)], 0.02);
  assert.equal(opt.lr, 0.02);
  assert.equal(opt.hyperParameters.lr, 0.02);
});

test('default decay rule: no decay for biases and any *norm* parameter', () => {
  const decayed = [
    'bert.encoder.layer.0.attention.self.query.weight', 'bert.embeddings.word_embeddings.weight',
    'bert.encoder.layer.0.output.adapters.a.adapter_up.weight', 'classifier.weight',
  ];
  const notDecayed = [
    'bert.encoder.layer.0.attention.self.query.bias', 'bert.embeddings.LayerNorm.weight', 'bert.embeddings.LayerNorm.bias',
    'encoder/layer_norm/gamma', 'transformer.norm1.weight', 'classifier.bias', 'layernorm.weight',
  ];
  for (const n of decayed) assert.equal(defaultDecayRule(n), true, n);
  for (const n of notDecayed) assert.equal(defaultDecayRule(n), false, n);
  const opt = new AdamW([{ name: 'x.weight', data: new Float32Array(1) }, { name: 'x.bias', data: new Float32Array(1) }], { lr: 1, decay: (n) => n === 'x.bias' });
  assert.deepEqual(opt.decays, [false, true]);
});

test('constructor rejects bad hyper-parameters and parameters', () => {
  const w = () => [{ name: 'w', data: new Float32Array(2) }];
  throwsCoded(() => new AdamW(w(), { lr: -1 }), 'BAD_CONFIG', /AdamW: lr must be a finite number >= 0, got -1/);
  throwsCoded(() => new AdamW(w(), { lr: NaN }), 'BAD_CONFIG', /lr must be a finite number >= 0, got NaN/);
  throwsCoded(() => new AdamW(w(), { lr: 1, betas: [0.9, 1] }), 'BAD_CONFIG', /beta2 must be in \[0, 1\), got 1/);
  throwsCoded(() => new AdamW(w(), { lr: 1, betas: [-0.1, 0.9] }), 'BAD_CONFIG', /beta1 must be in \[0, 1\), got -0\.1/);
  throwsCoded(() => new AdamW(w(), { lr: 1, betas: [0.9] as unknown as [number, number] }), 'BAD_CONFIG', /AdamW: betas must be a pair \[beta1, beta2\], got \[0.9\]/);
  throwsCoded(() => new AdamW(w(), { lr: 1, eps: -1e-8 }), 'BAD_CONFIG', /eps must be a finite number >= 0/);
  throwsCoded(() => new AdamW(w(), { lr: 1, weightDecay: Infinity }), 'BAD_CONFIG', /weightDecay must be a finite number >= 0, got Infinity/);
  throwsCoded(() => new AdamW([...w(), ...w()], { lr: 1 }), 'BAD_CONFIG', /parameter name 'w' appears twice/);
  throwsCoded(() => new AdamW([{ name: 'w64', data: new Float64Array(2) as unknown as Float32Array }], { lr: 1 }), 'BAD_CONFIG', /parameter 'w64' must hold a Float32Array/);
  throwsCoded(() => new AdamW(w(), { lr: 1 }).lr = -2, 'BAD_CONFIG', /lr must be a finite number >= 0, got -2/);
});

test('step rejects gradients that do not fit, before changing anything', () => {
  const p = Float32Array.of(1, 2, 3);
  const opt = new AdamW([{ name: 'enc.weight', data: p }, { name: 'enc.bias', data: new Float32Array(2) }], { lr: 0.1 });
  throwsCoded(() => opt.step([Float32Array.of(1, 1, 1)]), 'BAD_CONFIG', /AdamW\.step: got 1 gradients for 2 parameters/);
  throwsCoded(() => opt.step([Float32Array.of(1, 1, 1), new Float32Array(5)]), 'SHAPE_MISMATCH', /gradient for parameter 'enc\.bias' has 5 elements but the parameter has 2/);
  throwsCoded(() => opt.step([new Float64Array(3) as unknown as Float32Array, new Float32Array(2)]), 'BAD_CONFIG', /gradient for parameter 'enc\.weight' must be a Float32Array/);
  throwsCoded(() => opt.step(new Map([['enc.weight', Float32Array.of(1, 1, 1)]])), 'BAD_CONFIG', /no gradient for parameter 'enc\.bias'/);
  throwsCoded(
    () => opt.step(new Map([['enc.weight', Float32Array.of(1, 1, 1)], ['enc.bias', new Float32Array(2)], ['dec.bias', new Float32Array(2)]])),
    'BAD_CONFIG', /gradient for unknown parameter 'dec\.bias'/,
  );
  throwsCoded(() => opt.step([Float32Array.of(1, 1, 1), new Float32Array(2)], -0.5), 'BAD_CONFIG', /lr must be a finite number >= 0, got -0\.5/);
  assert.deepEqual(p, Float32Array.of(1, 2, 3));
  assert.equal(opt.stepCount, 0);
  assert.equal(opt.lr, 0.1);
});
