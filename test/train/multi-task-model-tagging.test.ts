/**
 * Tagging tasks in mixed-task inference batches (MultiTaskModel): sentence-level and tagging
 * tasks of different methods in one forward pass, each output row equal to its task's own
 * TaskModel.predict on that input; the fan-out (one input asked of many tasks); the token branch
 * only while a tagging task is loaded; QA refused; one session for concurrent first calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { Session } from '../../src/engine/index.js';
import { headConfig, type HeadConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';

const TEXTS = ['the cat sat on the mat .', 'a dog ran', 'we learn to adapt the big model at night', 'good book'];

/** A task with every trainable tensor moved off its initial value (LoRA's B is no longer 0, adapters no longer the identity). */
function perturbed(base: BaseModel, mode: TrainingMode, head: HeadConfig, seed: number): TaskModel {
  const m = TaskModel.create(base, { mode, head, seed });
  const r = new Rng(seed);
  for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
  return m;
}

function tasks(base: BaseModel): Record<string, TaskModel> {
  return {
    spam: perturbed(base, { kind: 'adapters', adapter: methodConfig('pfeiffer', { reduction_factor: 8 }) }, headConfig({ kind: 'classification', labels: ['ham', 'spam'] }), 1),
    topics: perturbed(base, { kind: 'adapters', adapter: methodConfig('lora', { r: 4 }) }, headConfig({ kind: 'multilabel', labels: ['a', 'b', 'c', 'd'], layers: 2 }), 2),
    pos: perturbed(base, { kind: 'adapters', adapter: methodConfig('lora', { r: 2 }) }, headConfig({ kind: 'tagging', labels: ['O', 'A', 'N'], layers: 2 }), 3),
  };
}

/** Records the input names of the graph of every session created, until `restore()`. */
function recordGraphInputs(): { graphs: string[][]; restore: () => void } {
  const graphs: string[][] = [];
  const create = Session.create.bind(Session);
  Session.create = (g, o) => {
    graphs.push(g.inputs.map((v) => v.name));
    return create(g, o);
  };
  return { graphs, restore: () => void (Session.create = create) };
}

/**
 * Checks `got[k]` (output row k, reading input row `rows[k]` of `batch`) against `solo[task]`,
 * each task's own TaskModel.predict on the whole of `batch`: n logits of a sentence row; for a
 * tagging row the first `lengths[row]` positions of [B, T, n] (the rest is padding).
 */
function assertRowsEqual(got: readonly Float32Array[], names: readonly string[], rows: readonly number[], batch: EncodedBatch, models: Record<string, TaskModel>, solo: Record<string, Float32Array>): void {
  names.forEach((name, k) => {
    const m = models[name] as TaskModel;
    const want = solo[name] as Float32Array;
    const row = rows[k] as number;
    const n = m.head.kind === 'regression' ? 1 : m.head.labels.length;
    const g = got[k] as Float32Array;
    if (m.head.kind !== 'tagging') {
      assert.equal(g.length, n, `${name} row ${k}: ${n} logits`);
      for (let j = 0; j < n; j++) assert.ok(Math.abs((g[j] as number) - (want[row * n + j] as number)) < 1e-5, `${name} row ${k} logit ${j}: ${g[j]} vs ${want[row * n + j]}`);
      return;
    }
    const L = batch.lengths[row] as number;
    assert.equal(g.length, L * n, `${name} row ${k}: ${L} positions x ${n} tags`);
    const T = batch.seqLen;
    for (let p = 0; p < L; p++) {
      for (let j = 0; j < n; j++) {
        const w = want[(row * T + p) * n + j] as number;
        assert.ok(Math.abs((g[p * n + j] as number) - w) < 1e-5, `${name} row ${k} position ${p} tag ${j}: ${g[p * n + j]} vs ${w}`);
      }
    }
  });
}

test('a mixed batch of two sentence-level tasks and a tagging task (pfeiffer, LoRA; one- and two-layer heads) equals each task\'s own predict on its rows, and so does the fan-out of every input to every task', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const models = tasks(base);
  const multi = new MultiTaskModel(base);
  for (const [n, m] of Object.entries(models)) multi.add(n, m);
  try {
    const batch = multi.encode(TEXTS, 32);
    assert.ok(new Set(batch.lengths).size > 1, 'rows of different lengths: padding in the batch');
    const solo: Record<string, Float32Array> = {};
    for (const [n, m] of Object.entries(models)) solo[n] = await m.predict(batch);
    // one row per input, tasks interleaved
    const names = ['pos', 'spam', 'topics', 'pos'];
    const identity = names.map((_, i) => i);
    assertRowsEqual(await multi.predict(batch, names), names, identity, batch, models, solo);
    // fan-out: every input asked of every task, from a batch of the distinct inputs
    assert.equal(multi.fanoutLayer, 0, 'the adapters act from layer 0: the copy happens there');
    const fanNames = TEXTS.flatMap(() => Object.keys(models));
    const fanRows = TEXTS.flatMap((_, i) => Object.keys(models).map(() => i));
    assertRowsEqual(await multi.predict(batch, fanNames, { rows: fanRows }), fanNames, fanRows, batch, models, solo);
  } finally {
    await multi.dispose();
    for (const m of Object.values(models)) await m.dispose();
  }
});

test('a tagging task with a prompt tags the input\'s positions in a mixed batch (the prompt\'s are taken out), next to a sentence task', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const models: Record<string, TaskModel> = {
    spam: perturbed(base, { kind: 'adapters', adapter: methodConfig('lora', { r: 4 }) }, headConfig({ kind: 'classification', labels: ['ham', 'spam'] }), 4),
    chunk: perturbed(base, { kind: 'adapters', adapter: methodConfig('prompt', { prompt_length: 3 }) }, headConfig({ kind: 'tagging', labels: ['O', 'B', 'I', 'E'] }), 5),
  };
  const multi = new MultiTaskModel(base);
  for (const [n, m] of Object.entries(models)) multi.add(n, m);
  try {
    const batch = multi.encode(TEXTS, 32);
    const solo: Record<string, Float32Array> = {};
    for (const [n, m] of Object.entries(models)) solo[n] = await m.predict(batch);
    const names = ['chunk', 'spam', 'spam', 'chunk', 'chunk', 'spam'];
    const rows = [0, 0, 1, 1, 2, 3];
    assertRowsEqual(await multi.predict(batch, names, { rows }), names, rows, batch, models, solo);
  } finally {
    await multi.dispose();
    for (const m of Object.values(models)) await m.dispose();
  }
});

test('the token branch is built only while a tagging task is loaded; removing it keeps the others exact', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const models = tasks(base);
  const { graphs, restore } = recordGraphInputs();
  const multi = new MultiTaskModel(base);
  try {
    multi.add('spam', models.spam as TaskModel);
    multi.add('topics', models.topics as TaskModel);
    const batch = multi.encode(TEXTS.slice(0, 2), 32);
    const before = await multi.predict(batch, ['spam', 'topics']);
    multi.add('pos', models.pos as TaskModel);
    await multi.predict(batch, ['spam', 'pos']);
    multi.remove('pos');
    const after = await multi.predict(batch, ['spam', 'topics']);
    const tokenStacks = graphs.map((inputs) => inputs.filter((n) => n.startsWith('stack.tokens.')).sort());
    assert.deepEqual(tokenStacks, [[], ['stack.tokens.head.dense.bias', 'stack.tokens.head.dense.weight', 'stack.tokens.head.gate', 'stack.tokens.head.out.bias', 'stack.tokens.head.out.weight'], []]);
    before.forEach((row, k) => row.forEach((v, j) => assert.ok(Math.abs(v - (after[k]?.[j] as number)) < 1e-6, `row ${k} logit ${j} after the tagging task left`)));
    await assert.rejects(multi.predict(batch, ['pos', 'spam']), /task pos is not loaded \(loaded: spam, topics\)/);
  } finally {
    restore();
    await multi.dispose();
    for (const m of Object.values(models)) await m.dispose();
  }
});

test('QA heads are refused, saying why; a tagging-only model has no sentence branch', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const { graphs, restore } = recordGraphInputs();
  const multi = new MultiTaskModel(base);
  const qa = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('lora', { r: 2 }) }, head: headConfig({ kind: 'qa', labels: [] }), seed: 1 });
  const pos = perturbed(base, { kind: 'adapters', adapter: methodConfig('lora', { r: 2 }) }, headConfig({ kind: 'tagging', labels: ['O', 'A', 'N'] }), 2);
  try {
    assert.throws(() => multi.add('squad', qa), /task squad has a qa head; mixed-task batches serve classification, regression, multilabel, tagging heads \(a QA head's outputs are answer spans, decoded from start and end logits over the windows of a context, not one answer per row\): run it on its own TaskModel/);
    assert.match(multi.joinIssue('squad', qa) ?? '', /has a qa head/);
    assert.equal(multi.joinIssue('pos', pos), undefined);
    multi.add('pos', pos);
    const batch = multi.encode(TEXTS.slice(0, 2), 32);
    const got = await multi.predict(batch, ['pos', 'pos']);
    const [inputs] = graphs; // the mixed-task graph (the task's own comes next)
    assert.deepEqual(inputs?.filter((n) => n.startsWith('stack.head.')), [], 'no sentence-level head stacks');
    assert.ok(inputs?.includes('stack.tokens.head.out.weight'));
    const want = await pos.predict(batch);
    const T = batch.seqLen;
    got.forEach((row, r) => row.forEach((v, i) => assert.ok(Math.abs(v - (want[r * T * 3 + i] as number)) < 1e-5, `row ${r} value ${i}`)));
  } finally {
    restore();
    await multi.dispose();
    await qa.dispose();
    await pos.dispose();
  }
});

test('concurrent first predict calls share one session', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const models = tasks(base);
  const { graphs, restore } = recordGraphInputs();
  const multi = new MultiTaskModel(base);
  try {
    for (const [n, m] of Object.entries(models)) multi.add(n, m);
    const batch = multi.encode(TEXTS.slice(0, 3), 32);
    const names = ['spam', 'pos', 'topics'];
    const [a, b] = await Promise.all([multi.predict(batch, names), multi.predict(batch, names)]);
    assert.equal(graphs.length, 1, 'one session for both calls');
    assert.deepEqual(a, b);
  } finally {
    restore();
    await multi.dispose();
    for (const m of Object.values(models)) await m.dispose();
  }
});
