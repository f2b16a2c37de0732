/**
 * Whole-model checks with adapters on the tiny BERT: finite differences through every trainable
 * tensor (adapters, layer norms, head), and near-identity initialisation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterConfig, methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';

const texts = ['the cat sat on the mat .', 'a good book', 'rain at night in the house'];
const labels = [0, 2, 1];
const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'], dropout: 0 });

test('finite differences through the whole model with adapters match the analytic gradients', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4, initStd: 0.1 }) }, head, seed: 3, dropout: 0 });
  const batch = base.tokenizer.encode(texts, 16);
  const { grads } = await m.trainStep(batch, labels);
  const eps = 4e-3;
  let checked = 0;
  for (const [k, t] of m.trainable.entries()) {
    const g = grads[k] as Float32Array;
    // the element with the largest gradient and two fixed ones
    let top = 0;
    for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[top]!)) top = i;
    for (const i of new Set([top, 0, Math.floor(t.data.length / 2)])) {
      const orig = t.data[i]!;
      t.data[i] = orig + eps;
      const lp = (await m.trainStep(batch, labels)).loss;
      t.data[i] = orig - eps;
      const lm = (await m.trainStep(batch, labels)).loss;
      t.data[i] = orig;
      const numeric = (lp - lm) / (2 * eps);
      assert.ok(Math.abs(g[i]! - numeric) <= 4e-4 + 3e-2 * Math.abs(numeric), `${t.name}[${i}]: analytic ${g[i]}, numeric ${numeric}`);
      checked++;
    }
  }
  assert.ok(checked >= 3 * 20, `checked ${checked} elements`);
  await m.dispose();
});

test('freshly inserted adapters leave the outputs unchanged to within the initialisation scale', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const batch = base.tokenizer.encode(texts, 16);
  const plain = TaskModel.create(base, { mode: { kind: 'head-only' }, head, seed: 9 });
  const ref = await plain.predict(batch);
  const diff = async (initStd: number) => {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 8, initStd }) }, head, seed: 9 });
    const out = await m.predict(batch);
    await m.dispose();
    return Math.max(...Array.from(out, (v, i) => Math.abs(v - ref[i]!)));
  };
  const d2 = await diff(1e-2);
  const d3 = await diff(1e-3);
  const d1 = await diff(1e-1);
  assert.ok(d2 < 2e-2, `std 1e-2 moved the logits by ${d2}`);
  assert.ok(d3 < d2 / 3, `std 1e-3 moved them by ${d3}, std 1e-2 by ${d2}`);
  assert.ok(d1 > d2 * 3, `std 1e-1 moved them by ${d1}, std 1e-2 by ${d2}`);
  await plain.dispose();
});

test('finite differences through USE-lite (pre-norm blocks, fused Q|K|V) with LoRA, IA³ input scaling, Pfeiffer and a gated parallel adapter', async () => {
  const base = await loadBase('use-lite');
  const batch = base.tokenizer.encode(texts, 16);
  const configs = [
    methodConfig('lora', { r: 2, alpha: 4, attn_matrices: ['q', 'k'], attentionOutputLora: true, init_weights: 'bert' }),
    methodConfig('ia3-peft', { intermediate_lora: true }),
    methodConfig('pfeiffer', { size: 2 }),
    methodConfig('parallel', { size: 2, use_gating: true, ln_after: true, init_weights: 'bert' }),
  ];
  for (const c of configs) {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head, seed: 4, dropout: 0 });
    // move away from the identity so that every tensor's gradient is non-trivial
    for (const t of m.trainable) if (t.origin === 'adapter') for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + 0.05 * Math.sin(7 * i + t.data.length);
    const { grads } = await m.trainStep(batch, labels);
    const eps = 2e-3;
    for (const [k, t] of m.trainable.entries()) {
      if (t.origin !== 'adapter') continue;
      const g = grads[k] as Float32Array;
      let top = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[top]!)) top = i;
      const orig = t.data[top]!;
      t.data[top] = orig + eps;
      const lp = (await m.trainStep(batch, labels)).loss;
      t.data[top] = orig - eps;
      const lm = (await m.trainStep(batch, labels)).loss;
      t.data[top] = orig;
      const numeric = (lp - lm) / (2 * eps);
      assert.ok(Math.abs(g[top]! - numeric) <= 5e-4 + 5e-2 * Math.abs(numeric), `${c.preset} ${t.name}[${top}]: analytic ${g[top]}, numeric ${numeric}`);
    }
    await m.dispose();
  }
});
