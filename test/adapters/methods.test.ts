/**
 * Every adapter method against an independent PyTorch implementation written from its paper's
 * equations (scripts/fixtures/reference_methods.py, make_method_fixtures.py): on the tiny BERT,
 * loaded from the files AdapterHub's or PEFT's layout holds, the logits, the loss, the gradient
 * of every trainable tensor and three AdamW steps must match. A fresh adapter must be exactly the
 * base where the method promises it (LoRA's B = 0, IA³'s ones, a zero up-projection).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterHubKeys, headKey } from '../../src/adapters/adapterhub.js';
import type { FileTensorKey } from '../../src/adapters/method.js';
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { peftHeadKey, peftKeys } from '../../src/adapters/peft.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { AdamW } from '../../src/train/optim/adamw.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { batchOf } from './reference.test.js';
import { close, fileIndex } from '../util/reference-compare.js';

const ROOT = 'test/fixtures/methods';
const CASES = readdirSync(ROOT).sort();

interface Rec {
  shape: number[];
  data: number[];
}
interface Ref {
  inputs: Parameters<typeof batchOf>[0];
  labels: number[];
  library: 'adapterhub' | 'peft';
  logits: Rec;
  loss: number;
  trainable: string[];
  gradients: Record<string, Rec>;
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number; steps: number };
  step_losses: number[];
  loss_after_steps: number;
  params_after_steps: Record<string, Rec>;
}

test('the fixtures cover every method and both libraries', () => {
  assert.deepEqual(CASES, [
    'bn-options', 'bn-options2', 'compacter', 'compacter++', 'compacter-options', 'compacter-options2', 'houlsby', 'ia3', 'ia3-peft', 'lora', 'lora-peft', 'mam', 'parallel', 'pfeiffer', 'prefix', 'prefix-flat', 'prefix-gated',
    'prefix-peft', 'prompt', 'prompt-bos', 'prompt-peft', 'unipelt',
  ]);
});

for (const name of CASES) {
  test(`${name}: logits, loss, every trainable gradient and three AdamW steps match PyTorch`, async () => {
    const dir = join(ROOT, name);
    const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Ref;
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const loaded = await loadSavedTask(base, dir);
    assert.equal(loaded.origin, ref.library);
    const model = TaskModel.create(base, { mode: loaded.model.mode, head: headConfig({ ...loaded.model.head, dropout: 0 }), seed: 1, dropout: 0, weights: loaded.model.owned });
    await loaded.model.dispose();
    const c = (model.mode as { adapter: MethodConfig }).adapter;
    // file keys of our tensors, in the library the fixture comes from
    const keys = new Map<string, FileTensorKey>();
    for (const k of ref.library === 'peft' ? peftKeys(c, base.encoder, model.adapterName) : adapterHubKeys(c, base.encoder, model.adapterName, 'tiny_task')) {
      if (!keys.has(k.internal)) keys.set(k.internal, k);
    }
    const keyOf = (t: { name: string; origin: string; shape: readonly number[] }): { key: string; k?: FileTensorKey } => {
      if (t.origin === 'adapter') return { key: (keys.get(t.name) as FileTensorKey).key, k: keys.get(t.name) };
      const key = ref.library === 'peft' ? (peftHeadKey('classifier', t.name) as string) : headKey('tiny_task', t.name, 1);
      return { key, k: t.shape.length === 2 ? { internal: t.name, key, shape: [...t.shape].reverse(), transpose: true } : undefined };
    };
    assert.deepEqual(model.trainable.map((t) => keyOf(t).key).sort(), [...ref.trainable].sort(), 'the trainable tensors are the reference\'s');

    const batch = batchOf(ref.inputs);
    const out = await model.trainStep(batch, ref.labels);
    assert.ok(close(out.loss, ref.loss, 1e-5, 1e-6), `loss ${out.loss} vs ${ref.loss}`);
    ref.logits.data.forEach((v, i) => assert.ok(close(out.logits[i]!, v, 1e-4, 1e-5), `logit ${i}: ${out.logits[i]} vs ${v}`));
    model.trainable.forEach((t, j) => {
      const { key, k } = keyOf(t);
      const r = ref.gradients[key] as Rec;
      const g = out.grads[j]!;
      assert.equal(g.length, r.data.length, key);
      for (let i = 0; i < g.length; i++) {
        const want = r.data[fileIndex(k, t.shape, i)]!;
        assert.ok(close(g[i]!, want, 1e-3, 2e-6), `${key}[${i}]: ${g[i]} vs ${want}`);
      }
    });

    // three AdamW steps, decay on every tensor as in the reference
    const o = ref.optimizer;
    const opt = new AdamW(model.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weight_decay, decay: () => true });
    const losses: number[] = [];
    for (let s = 0; s < o.steps; s++) {
      const st = await model.trainStep(batch, ref.labels);
      losses.push(st.loss);
      opt.step(st.grads);
    }
    losses.forEach((l, i) => assert.ok(close(l, ref.step_losses[i]!, 1e-5, 1e-6), `step loss ${i}: ${l} vs ${ref.step_losses[i]}`));
    const after = await model.trainStep(batch, ref.labels);
    assert.ok(close(after.loss, ref.loss_after_steps, 1e-5, 1e-6), `loss after the steps ${after.loss} vs ${ref.loss_after_steps}`);
    // Adam's first steps move each value by about lr whatever the gradient's size, so a tiny
    // gradient (the gates') turns float32 noise into a visible difference: allow 1 % of a step.
    for (const t of model.trainable) {
      const { key, k } = keyOf(t);
      const r = ref.params_after_steps[key] as Rec;
      for (let i = 0; i < t.data.length; i++) {
        const want = r.data[fileIndex(k, t.shape, i)]!;
        assert.ok(close(t.data[i]!, want, 1e-4, o.lr * 1e-2), `${key}[${i}] after the steps: ${t.data[i]} vs ${want}`);
      }
    }
    await model.dispose();
  });
}

test('a fresh adapter is exactly the base where the method promises it: LoRA (B = 0), IA³ (ones), parallel (up = 0)', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] });
  const batch = base.tokenizer.encode(['the cat sat on the mat .', 'a dog ran fast', 'good'], 16);
  const bare = TaskModel.create(base, { mode: { kind: 'head-only' }, head, seed: 5 });
  const want = await bare.predict(batch);
  const configs = [
    methodConfig('lora', { r: 4, attn_matrices: ['q', 'k', 'v'], attentionOutputLora: true, intermediate_lora: true, output_lora: true }),
    methodConfig('ia3'), methodConfig('ia3-peft'), methodConfig('parallel', { reduction_factor: 8 }),
  ];
  for (const c of configs) {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head, seed: 5 });
    assert.ok(m.adapterParams() > 0);
    // the head draws from its own seed, so both models have the same head
    assert.deepEqual(Array.from(await m.predict(batch)), Array.from(want), `${c.preset}: a fresh adapter changes the output`);
    await m.dispose();
  }
  await bare.dispose();
});
