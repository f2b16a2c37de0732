/**
 * The multi-task graph's fan-out (a Parallel over tasks): one input asked of several tasks runs
 * once below the lowest layer where a task acts, and every task's answer equals that task alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterConfig, methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { MultiTaskModel, sharedAdapterOf } from '../../src/train/multi-task-model.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';

function perturbed(base: BaseModel, mode: TrainingMode, labels: string[], seed: number): TaskModel {
  const m = TaskModel.create(base, { mode, head: headConfig(labels.length ? { kind: 'classification', labels } : { kind: 'regression', labels: [] }), seed });
  const r = new Rng(seed);
  for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
  return m;
}

/** A single adapter with static AdapterDrop of `n` layers (what `train --adapter-drop n` saves). */
const dropped = (config: ReturnType<typeof methodConfig>, n: number): TrainingMode => ({ kind: 'adapters', adapters: [{ name: 'adapter', config }], active: 'adapter', adapterDrop: { kind: 'static', layers: n } });

const texts = ['the cat sat on the mat .', 'a dog ran fast', 'good book at night'];

/** Asks every text of every task with one fan-out call and compares each answer with the task alone. */
async function expectSolo(multi: MultiTaskModel, base: BaseModel, tasks: Record<string, TaskModel>): Promise<void> {
  const names = Object.keys(tasks);
  const batch = multi.encode(texts, 32);
  const rows = texts.flatMap((_, i) => names.map(() => i));
  const out = await multi.predict(batch, texts.flatMap(() => names), { rows });
  for (const [j, name] of names.entries()) {
    const m = tasks[name] as TaskModel;
    const solo = await m.predict(base.tokenizer.encode(texts, 32));
    const n = solo.length / texts.length;
    texts.forEach((_, i) => {
      const got = out[i * names.length + j] as Float32Array;
      assert.equal(got.length, n);
      for (let c = 0; c < n; c++) assert.ok(Math.abs((got[c] as number) - (solo[i * n + c] as number)) < 1e-5, `${name} text ${i} logit ${c}: ${got[c]} vs ${solo[i * n + c]}`);
    });
  }
}

test('fan-out: three inputs x four tasks of different methods and heads from one batch of three rows equal each task alone; the copy is at the lowest adapter layer', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const tasks = {
    houlsby: perturbed(base, { kind: 'adapters', adapter: adapterConfig({ size: 4, leave_out: [0], trainLayerNorms: false }) }, ['x', 'y'], 1),
    lora: perturbed(base, { kind: 'adapters', adapter: methodConfig('lora', { r: 4, leave_out: [0] }) }, ['p', 'q', 'r'], 2),
    ia3: perturbed(base, { kind: 'adapters', adapter: methodConfig('ia3', { leave_out: [0] }) }, [], 3),
    head: perturbed(base, { kind: 'head-only' }, ['a', 'b'], 4),
  };
  const multi = new MultiTaskModel(base);
  for (const [n, m] of Object.entries(tasks)) multi.add(n, m);
  assert.equal(multi.fanoutLayer, 1, 'every adapter leaves out layer 0: layer 0 runs once per input');
  await expectSolo(multi, base, tasks);
  const plain = perturbed(base, { kind: 'adapters', adapter: adapterConfig({ size: 4, trainLayerNorms: false }) }, ['x', 'y'], 5);
  multi.add('plain', plain);
  assert.equal(multi.fanoutLayer, 0);
  await expectSolo(multi, base, { ...tasks, plain });
  await assert.rejects(multi.predict(multi.encode(texts, 32), ['lora', 'ia3'], { rows: [0, 3] }), /rows\[1\] = 3 is not a row of the batch \(0 to 2\)/);
  await assert.rejects(multi.predict(multi.encode(texts, 32), ['lora', 'ia3'], { rows: [0] }), /2 task names but 1 input rows to read/);
  await multi.dispose();
  for (const m of [...Object.values(tasks), plain]) await m.dispose();
});

test('fan-out with AdapterDrop: tasks saved with --adapter-drop 1 join the shared graph as their adapter without layer 0, and layer 0 runs once per input', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const tasks = {
    houlsby: perturbed(base, dropped(adapterConfig({ size: 4, trainLayerNorms: false }), 1), ['x', 'y'], 11),
    lora: perturbed(base, dropped(methodConfig('lora', { r: 4 }), 1), ['p', 'q', 'r'], 12),
    ia3: perturbed(base, dropped(methodConfig('ia3'), 1), ['u', 'v'], 13),
  };
  const shared = sharedAdapterOf('houlsby', tasks.houlsby);
  assert.ok(shared && typeof shared !== 'string');
  assert.deepEqual(shared.config.leave_out, [0]);
  assert.ok(shared.tensors.every((t) => !t.name.startsWith('adapters.adapter.0.')), 'no adapter tensors in the dropped layer');
  const multi = new MultiTaskModel(base);
  for (const [n, m] of Object.entries(tasks)) multi.add(n, m);
  assert.equal(multi.fanoutLayer, 1, 'the replication starts above the dropped layer');
  await expectSolo(multi, base, tasks);
  // the same adapters without AdapterDrop act in layer 0: the solo answers differ, so the drop is really applied
  const full = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4, trainLayerNorms: false }) }, head: tasks.houlsby.head, seed: 11 });
  full.rebind(new Map([...tasks.houlsby.owned].map(([k, v]) => [k.replace(/^adapters\.adapter\./, `adapters.${full.adapterName}.`), Float32Array.from(v.data)])));
  const a = await full.predict(base.tokenizer.encode(texts, 32));
  const b = await tasks.houlsby.predict(base.tokenizer.encode(texts, 32));
  assert.ok(a.some((x, i) => Math.abs(x - (b[i] as number)) > 1e-4), 'AdapterDrop changes the answers');
  await full.dispose();
  await multi.dispose();
  for (const m of Object.values(tasks)) await m.dispose();
});

test('fan-out before the encoder: a task that trains the embedding layer norm makes every output row run the whole encoder, with the same answers', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const tasks = {
    ln: perturbed(base, { kind: 'layer-norm' }, ['x', 'y'], 21),
    lora: perturbed(base, { kind: 'adapters', adapter: methodConfig('lora', { r: 4 }) }, ['p', 'q', 'r'], 22),
  };
  const multi = new MultiTaskModel(base);
  for (const [n, m] of Object.entries(tasks)) multi.add(n, m);
  assert.equal(multi.fanoutLayer, undefined);
  await expectSolo(multi, base, tasks);
  await multi.dispose();
  for (const m of Object.values(tasks)) await m.dispose();
});

test('a composition of several adapters cannot join the shared graph and says why; a prefix-tuning task joins it (its prefix masked for the other rows)', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const stack = TaskModel.create(base, {
    mode: { kind: 'adapters', adapters: [{ name: 'a', config: adapterConfig({ size: 4 }) }, { name: 'b', config: adapterConfig({ size: 4 }) }], active: { type: 'Stack', children: ['a', 'b'] } },
    head: headConfig({ kind: 'classification', labels: ['x', 'y'] }), seed: 1,
  });
  assert.match(String(sharedAdapterOf('st', stack)), /task st holds several adapters \(Stack\(a, b\)/);
  const prefix = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('prefix', { prefix_length: 2, bottleneck_size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['x', 'y'] }), seed: 2 });
  const shared = sharedAdapterOf('p', prefix);
  assert.ok(typeof shared === 'object' && shared.config.method === 'prefix_tuning', String(shared));
  await stack.dispose();
  await prefix.dispose();
});
