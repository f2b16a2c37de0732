/**
 * Mixed-task batches: one forward pass over examples of different adapters gives the same
 * scores as running each task alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';

function perturb(m: TaskModel, seed: number): void {
  const r = new Rng(seed);
  for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
}

test('a mixed batch over three tasks equals each task run alone', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const a = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['x', 'y'] }), seed: 1 });
  const b = TaskModel.create(base, {
    mode: { kind: 'adapters', adapter: adapterConfig({ size: 8, leave_out: [1], mh_adapter: false, trainLayerNorms: false }) },
    head: headConfig({ kind: 'classification', labels: ['p', 'q', 'r'], layers: 2 }), seed: 2,
  });
  const c = TaskModel.create(base, { mode: { kind: 'layer-norm' }, head: headConfig({ kind: 'regression', labels: [] }), seed: 3 });
  [a, b, c].forEach((m, i) => perturb(m, 10 + i));
  const multi = new MultiTaskModel(base);
  multi.add('a', a);
  multi.add('b', b);
  multi.add('c', c);
  const texts = ['the cat sat on the mat .', 'a dog ran fast', 'good book', 'the sun is red and big at night', 'no', 'we learn to adapt the model'];
  const tasks = ['a', 'b', 'c', 'b', 'a', 'c'];
  const batch = multi.encode(texts, 32);
  const mixed = await multi.predict(batch, tasks);
  for (const [name, model] of [['a', a], ['b', b], ['c', c]] as const) {
    const own = texts.filter((_, i) => tasks[i] === name);
    const solo = await model.predict(base.tokenizer.encode(own, 32));
    const n = model.head.kind === 'regression' ? 1 : model.head.labels.length;
    let k = 0;
    tasks.forEach((t, i) => {
      if (t !== name) return;
      const row = mixed[i]!;
      assert.equal(row.length, n);
      for (let j = 0; j < n; j++) assert.ok(Math.abs(row[j]! - solo[k * n + j]!) < 1e-4, `task ${name} row ${i} logit ${j}: ${row[j]} vs ${solo[k * n + j]}`);
      k++;
    });
  }
  // removing a task keeps the others exact and makes it unknown
  multi.remove('b');
  const again = await multi.predict(multi.encode([texts[0]!], 32), ['a']);
  const soloA = await a.predict(base.tokenizer.encode([texts[0]!], 32));
  assert.ok(Math.abs(again[0]![0]! - soloA[0]!) < 1e-4);
  await assert.rejects(multi.predict(multi.encode([texts[0]!], 32), ['b']), /task b is not loaded \(loaded: a, c\)/);
  assert.throws(() => multi.add('a', a), /task a is already loaded/);
  const full = TaskModel.create(base, { mode: { kind: 'full' }, head: headConfig({ kind: 'classification', labels: ['x', 'y'] }), seed: 4 });
  assert.throws(() => multi.add('f', full), /trained base weights other than layer norms/);
  await multi.dispose();
  for (const m of [a, b, c]) await m.dispose();
});

test('tasks of one shape live in the stacks only; adding past the spare rows and removing keep every task exact', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const make = (seed: number) => {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['x', 'y', 'z'] }), seed });
    perturb(m, 100 + seed);
    return m;
  };
  const models = Array.from({ length: 7 }, (_, i) => make(i + 1));
  const texts = ['the cat sat on the mat .', 'a dog ran fast', 'we learn to adapt the model'];
  const enc = base.tokenizer.encode(texts, 32);
  const solo = await Promise.all(models.map((m) => m.predict(enc)));
  const multi = new MultiTaskModel(base);
  const check = async (names: string[]) => {
    const tasks = names.flatMap((n) => texts.map(() => n));
    const out = await multi.predict(multi.encode(names.flatMap(() => texts), 32), tasks);
    tasks.forEach((name, r) => {
      const want = solo[Number(name.slice(1))]!;
      const i = r % texts.length;
      for (let j = 0; j < 3; j++) assert.ok(Math.abs(out[r]![j]! - want[i * 3 + j]!) < 1e-4, `${name} example ${i} logit ${j}: ${out[r]![j]} vs ${want[i * 3 + j]}`);
    });
  };
  for (let i = 0; i < 6; i++) multi.add(`t${i}`, models[i]!); // the sixth add outgrows the first stacks' spare rows
  await check(['t0', 't1', 't2', 't3', 't4', 't5']);
  const key = 'head.out.weight';
  const buf = models[0]!.owned.get(key)!.data.buffer;
  for (const m of models.slice(0, 6)) {
    for (const [k, t] of m.owned) assert.equal(t.data.buffer, m === models[0] ? t.data.buffer : models[0]!.owned.get(k)!.data.buffer, `${k} is a row of the shared stack`);
    assert.equal(m.owned.get(key)!.data.buffer, buf);
  }
  // A task still answers alone after its tensors moved into the stacks (its session is rebuilt).
  const alone = await models[3]!.predict(enc);
  for (let j = 0; j < alone.length; j++) assert.ok(Math.abs(alone[j]! - solo[3]![j]!) < 1e-5);

  multi.remove('t2');
  assert.notEqual(models[2]!.owned.get(key)!.data.buffer, buf, 'a removed task gets its own arrays back');
  const removedAlone = await models[2]!.predict(enc);
  for (let j = 0; j < removedAlone.length; j++) assert.ok(Math.abs(removedAlone[j]! - solo[2]![j]!) < 1e-5);
  await check(['t0', 't1', 't3', 't4', 't5']);
  multi.add('t6', models[6]!);
  await check(['t6', 't0', 't5', 't3']);
  await multi.dispose();
  for (const m of models) await m.dispose();
});
