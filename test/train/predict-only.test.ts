/**
 * Predict-only task models (`TaskModelOptions.predictOnly`, what `loadSavedTask(…, { inference:
 * true })` makes): training refused; every method preset predicting what the trainable model
 * predicts with its tensors held as constants; with an int8 frozen base, the adapters' matmuls
 * measured by the outlier guard and run in int8 where within the tolerance (fp32 where planted
 * outlier channels break int8); setWeights reaching the prediction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig, methodConfig, PRESET_NAMES } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { describeFrozenPlan, summarizeFrozenPlan, type FrozenPlan } from '../../src/train/frozen-precision.js';
import { TaskModel, type TaskModelOptions } from '../../src/train/task-model.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { relErr } from '../engine/gradcheck.js';
import { toyExamples } from './toy-task.js';
import { tempDir } from '../temp-dir.js';

const base = await loadBase('test/fixtures/models/tiny-bert');
const examples = toyExamples(16, 1);
const batch = base.tokenizer.encode(examples.map((e) => e.textA), 16);
const labels = examples.map((e) => e.label as number);
const head = headConfig({ kind: 'classification', labels: ['negative', 'positive'] });
const bottleneck: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8 }) };

/** A model whose every trainable tensor is moved off its initial value (a fresh up-projection is zero, LoRA's B too). */
function perturbed(mode: TrainingMode, o: Partial<TaskModelOptions> = {}): TaskModel {
  const m = TaskModel.create(base, { mode, head, seed: 3, ...o });
  let k = 1;
  for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + 0.05 * Math.sin(0.7 * i + k++);
  return m;
}

/** The same task, predict-only: the trained tensors copied in. */
function predictOnlyCopy(m: TaskModel, mode: TrainingMode, o: Partial<TaskModelOptions> = {}): TaskModel {
  return TaskModel.create(base, { mode, head, seed: 3, weights: m.owned, predictOnly: true, ...o });
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(b, (x, i) => Math.abs((a[i] as number) - x)).reduce((m, x) => Math.max(m, x), 0);

test('a predict-only model refuses to train, saying why; a task loaded with inference: true is predict-only', async () => {
  const m = predictOnlyCopy(perturbed(bottleneck), bottleneck);
  await assert.rejects(m.trainStep(batch, labels), (e: Error & { code?: string }) => e.code === 'BAD_CONFIG' && /only predicts \(predictOnly.*load the task without it to train it further/.test(e.message));
  const dir = join(tempDir('ak-predict-only-'), 't');
  try {
    await saveTask(perturbed(bottleneck), dir, { name: 't', maxLength: 16 });
    const infer = (await loadSavedTask(base, dir, { inference: true })).model;
    await assert.rejects(infer.trainStep(batch, labels), /only predicts/);
    const train = (await loadSavedTask(base, dir)).model;
    assert.equal(typeof (await train.trainStep(batch, labels)).loss, 'number', 'loaded without inference, it trains');
    assert.ok(maxAbs(await infer.predict(batch), await train.predict(batch)) < 1e-5, 'both predict the same');
    await infer.dispose();
    await train.dispose();
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('fp32: with its tensors as constants, a predict-only model of every method preset predicts what the trainable model does', async () => {
  for (const preset of PRESET_NAMES) {
    // presets sized for BERT-base: Compacter's PHM layers need a bottleneck that phm_dim 4 divides (32 / 4 here)
    const adapter = methodConfig(preset, /compacter/.test(preset) ? { reduction_factor: 4 } : {});
    const mode: TrainingMode = { kind: 'adapters', adapter };
    const m = perturbed(mode);
    const p = predictOnlyCopy(m, mode);
    const [want, got] = [await m.predict(batch), await p.predict(batch)];
    assert.ok(maxAbs(got, want) < 1e-5, `${preset}: ${maxAbs(got, want)}`);
    assert.equal(p.frozenPlan, undefined, 'fp32 runs no guard');
    await m.dispose();
    await p.dispose();
  }
});

test("int8: the guard measures a predict-only model's adapter matmuls, and they run int8 within the tolerance, fp32 over it", async () => {
  const m = perturbed(bottleneck, { frozenPrecision: 'int8' });
  const fp32Adapters = await m.predict(batch); // a trainable model: int8 base, fp32 adapters
  const plans: FrozenPlan[] = [];
  const p = predictOnlyCopy(m, bottleneck, { frozenPrecision: 'int8', onFrozenPlan: (x) => plans.push(x) });
  const q = await p.predict(batch);
  assert.equal(plans.length, 1);
  const plan = plans[0] as FrozenPlan;
  assert.equal((m.frozenPlan as FrozenPlan).adapters, undefined, 'a model that trains keeps its adapter products fp32');
  const names = (plan.adapters ?? []).map((c) => c.weight);
  // Houlsby's placement: after attention and after the feed-forward block in both layers, down and up
  assert.deepEqual([...names].sort(), [0, 1].flatMap((l) => ['attention', 'ffn'].flatMap((s) => ['down', 'up'].map((d) => `adapters.adapter.${l}.${s}.${d}.weight`))).sort());
  for (const c of plan.adapters ?? []) {
    assert.ok(c.errors.int8 > 1e-4, `${c.weight}: the int8 product was measured (${c.errors.int8})`);
    assert.equal(c.kernel, c.errors.int8 <= plan.tolerance ? 'int8' : 'fp32', c.weight);
    assert.equal(c.errors['int8-block'], undefined, 'no block kernel for an adapter (slower than fp32 on its narrow products)');
  }
  assert.deepEqual(plan.choices, (m.frozenPlan as FrozenPlan).choices, 'the base is measured as for the trainable model');
  assert.match(summarizeFrozenPlan(plan), /; adapter matmuls: \d of 8 int8, 0 int8-block, \d fp32/);
  assert.equal(describeFrozenPlan(plan).filter((l) => l.startsWith('adapters.')).length, 8);
  // A loose tolerance: all eight in int8; the logits move off the fp32-adapter ones, a little.
  const loose = predictOnlyCopy(m, bottleneck, { frozenPrecision: 'int8', int8Tolerance: 1 });
  const l = await loose.predict(batch);
  assert.ok((loose.frozenPlan?.adapters ?? []).every((c) => c.kernel === 'int8'));
  const e = relErr(l, fp32Adapters);
  assert.ok(e > 1e-6 && e < 3e-2, `int8 adapter products: logits within 3e-2 of fp32 adapters (${e})`);
  assert.ok(relErr(q, fp32Adapters) < 3e-2);
  // int8Adapters: false keeps them fp32: the plan has no adapter choices, the logits are the trainable model's
  const off = predictOnlyCopy(m, bottleneck, { frozenPrecision: 'int8', int8Adapters: false });
  const o = await off.predict(batch);
  assert.equal(off.frozenPlan?.adapters, undefined);
  assert.ok(maxAbs(o, fp32Adapters) < 1e-5, `int8Adapters false: ${maxAbs(o, fp32Adapters)}`);
  for (const x of [m, p, loose, off]) await x.dispose();
});

test('int8: an adapter matmul whose input has outlier channels stays fp32', async () => {
  const relu: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8, non_linearity: 'relu' }) };
  const m = perturbed(relu, { frozenPrecision: 'int8' });
  // Two channels of layer 0's bottleneck x30 (the down-projection's columns and biases), the matching rows of the
  // up-projection / 30: the adapter computes the same (ReLU commutes with the scale), but the up-projection's
  // input now has two outlier channels, which a per-tensor activation scale cannot hold.
  const t = (n: string) => m.trainable.find((x) => x.name === `adapters.adapter.0.ffn.${n}`) as (typeof m.trainable)[number];
  const [down, bias, up] = [t('down.weight'), t('down.bias'), t('up.weight')];
  const [rows, cols] = [down.shape[0] as number, up.shape[1] as number];
  for (const c of [1, 5]) {
    for (let r = 0; r < rows; r++) down.data[r * 8 + c] = (down.data[r * 8 + c] as number) * 30;
    bias.data[c] = (bias.data[c] as number) * 30;
    for (let j = 0; j < cols; j++) up.data[c * cols + j] = (up.data[c * cols + j] as number) / 30;
  }
  const p = predictOnlyCopy(m, relu, { frozenPrecision: 'int8' });
  await p.predict(batch);
  const choice = p.frozenPlan?.adapters?.find((c) => c.weight === 'adapters.adapter.0.ffn.up.weight');
  assert.ok(choice && choice.errors.int8 > 0.03, JSON.stringify(choice));
  assert.equal(choice.kernel, 'fp32');
  assert.equal(p.frozenPlan?.adapters?.find((c) => c.weight === 'adapters.adapter.0.ffn.down.weight')?.kernel, 'int8', 'scaled weight columns have their own scales');
  await m.dispose();
  await p.dispose();
});

test('setWeights on a predict-only model reaches the next prediction (and, with int8, the guard measures again)', async () => {
  const a = perturbed(bottleneck);
  const b = TaskModel.create(base, { mode: bottleneck, head, seed: 11 });
  for (const t of b.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) - 0.05 * Math.cos(i);
  const [wantA, wantB] = [await a.predict(batch), await b.predict(batch)];
  for (const frozenPrecision of ['fp32', 'int8'] as const) {
    let plans = 0;
    const p = predictOnlyCopy(a, bottleneck, { frozenPrecision, onFrozenPlan: () => plans++ });
    const bound = frozenPrecision === 'fp32' ? 1e-5 : 3e-2;
    assert.ok(relErr(await p.predict(batch), wantA) < bound);
    p.setWeights(b.owned);
    const got = await p.predict(batch);
    assert.ok(relErr(got, wantB) < bound, `${frozenPrecision}: after setWeights (${relErr(got, wantB)})`);
    assert.ok(relErr(got, wantA) > 10 * bound, 'the old constants are gone');
    assert.equal(plans, frozenPrecision === 'int8' ? 2 : 0);
    await p.dispose();
  }
  await a.dispose();
  await b.dispose();
});
