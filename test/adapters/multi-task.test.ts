/**
 * Mixed-task batches: one forward pass over examples of different adapters gives the same
 * scores as running each task alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterConfig } from '../../src/adapters/config.js';
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
    mode: { kind: 'adapters', adapter: adapterConfig({ size: 8, leaveOut: [1], points: ['ffn_output'], trainLayerNorms: false }) },
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
