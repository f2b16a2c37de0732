/**
 * Mixed-task batches: one forward pass over examples of different adapters gives the same
 * scores as running each task alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterConfig, methodConfig } from '../../src/adapters/methods/index.js';
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

test('one mixed batch over every method (bottleneck presets, Compacter, LoRA, IA³ in both placements) and the baselines equals each task alone', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const two = headConfig({ kind: 'classification', labels: ['x', 'y'] });
  const three = headConfig({ kind: 'classification', labels: ['p', 'q', 'r'], layers: 2 });
  const specs: [string, Parameters<typeof TaskModel.create>[1]['mode'], typeof two][] = [
    ['paper', { kind: 'adapters', adapter: methodConfig('paper', { size: 4 }) }, two],
    ['paper8', { kind: 'adapters', adapter: methodConfig('paper', { size: 8, leave_out: [0] }) }, three], // same group, larger and leaving a layer out
    ['houlsby', { kind: 'adapters', adapter: methodConfig('houlsby', { reduction_factor: 8 }) }, three],
    ['pfeiffer', { kind: 'adapters', adapter: methodConfig('pfeiffer', { reduction_factor: 8 }) }, two],
    ['parallel', { kind: 'adapters', adapter: methodConfig('parallel', { reduction_factor: 8 }) }, two],
    ['gated', { kind: 'adapters', adapter: methodConfig('paper', { size: 3, ln_before: true, ln_after: true, use_gating: true, scaling: 'learned' }) }, two],
    ['compacter', { kind: 'adapters', adapter: methodConfig('compacter', { reduction_factor: 4 }) }, two],
    ['compacter-b', { kind: 'adapters', adapter: methodConfig('compacter', { reduction_factor: 4, leave_out: [1] }) }, three], // same group, a layer left out
    ['compacter++', { kind: 'adapters', adapter: methodConfig('compacter++', { reduction_factor: 4, shared_phm_rule: false, factorized_phm_rule: true, shared_W_phm: true, phm_rank: 2 }) }, two],
    ['lora', { kind: 'adapters', adapter: methodConfig('lora', { r: 2 }) }, two],
    ['lora4', { kind: 'adapters', adapter: methodConfig('lora', { r: 4, alpha: 8, attn_matrices: ['q', 'k', 'v'], attentionOutputLora: true, output_lora: true }) }, three],
    ['ia3', { kind: 'adapters', adapter: methodConfig('ia3') }, two],
    ['ia3peft', { kind: 'adapters', adapter: methodConfig('ia3-peft') }, three],
    ['ln', { kind: 'layer-norm' }, two],
    ['head', { kind: 'head-only' }, three],
  ];
  const models = specs.map(([, mode, h], i) => {
    const m = TaskModel.create(base, { mode, head: h, seed: 20 + i });
    perturb(m, 40 + i);
    return m;
  });
  const texts = ['the cat sat on the mat .', 'a dog ran fast', 'good book', 'the sun is red and big at night'];
  const enc = base.tokenizer.encode(texts, 32);
  const solo = await Promise.all(models.map((m) => m.predict(enc)));
  const multi = new MultiTaskModel(base);
  specs.forEach(([name], i) => multi.add(name, models[i]!));
  // every task's examples in one batch, interleaved
  const rows = specs.flatMap(([name], i) => texts.map((t, j) => ({ name, i, j, t })));
  rows.sort((a, b) => a.j - b.j || a.i - b.i);
  const out = await multi.predict(multi.encode(rows.map((r) => r.t), 32), rows.map((r) => r.name));
  let worst = 0;
  rows.forEach((r, k) => {
    const n = specs[r.i]![2].labels.length;
    const want = solo[r.i]!.subarray(r.j * n, (r.j + 1) * n);
    assert.equal(out[k]!.length, n);
    for (let c = 0; c < n; c++) worst = Math.max(worst, Math.abs(out[k]![c]! - want[c]!));
  });
  assert.ok(worst < 1e-4, `a task's logits in the mixed batch differ from its own by ${worst}`);
  // a config whose output is not LN(x + h + delta) cannot share the batch
  const odd = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('pfeiffer', { reduction_factor: 8, residual_before_ln: false }) }, head: two, seed: 3 });
  assert.throws(() => multi.add('odd', odd), /task odd cannot share a mixed batch: its output is not LN\(x \+ h \+ delta\)/);
  await multi.dispose();
  for (const m of [...models, odd]) await m.dispose();
});
