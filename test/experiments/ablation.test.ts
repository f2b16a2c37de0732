/**
 * Layer ablation of a trained adapter (tiny BERT fixture, toy task): the matrix's shape, that an
 * empty span is the baseline, that removing every layer's adapters is exactly the encoder without
 * adapters (a layer-norm-mode model with the same trained norms and head), and the init-scale study.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { collate, tokenizeAll } from '../../src/train/batching.js';
import { predictExamples, scorePredictions } from '../../src/train/evaluate.js';
import { ablateLayers, initScaleRobustness, saveAblation, withoutAdapters } from '../../src/train/experiments/ablation.js';
import { sentenceTask } from '../../src/train/experiments/experiment-task.js';
import { TaskModel } from '../../src/train/task-model.js';
import { train } from '../../src/train/trainer.js';
import { TINY_BERT, tempDir, toyTask } from './helpers.js';

const task = toyTask();
const head = headConfig({ kind: 'classification', labels: task.labels });

async function logits(model: TaskModel): Promise<Float32Array> {
  const rows = tokenizeAll(model.base.tokenizer, task.splits.dev!, false, 16);
  return model.predict(collate(rows, model.base.tokenizer.padId));
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] as number))), 0);
}

describe('layer ablation', () => {
  test('matrix shape, empty span = baseline, all spans removed = the encoder without adapters', async () => {
    const base = await loadBase(TINY_BERT);
    const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 8, initStd: 0.1 }) }, head, seed: 3 });
    await train(model, task.splits.train!, task.splits.dev, { outDir: tempDir('abl'), taskName: 'toy', metrics: task.metrics, epochs: 2, batchSize: 16, maxLength: 16, lr: 3e-2, seed: 1 });
    const layers = base.encoder.numLayers;
    assert.ok(layers >= 2);

    const a = await ablateLayers(model, { task: sentenceTask(task), maxLength: 16 });
    assert.equal(a.task, 'toy');
    assert.equal(a.layers, layers);
    assert.equal(a.metric, 'accuracy');
    assert.deepEqual(Object.keys(a.splits), ['dev', 'test']);
    for (const s of Object.values(a.splits)) {
      assert.equal(s.values.length, layers);
      s.values.forEach((row, i) => {
        assert.equal(row.length, layers);
        row.forEach((v, j) => (j < i ? assert.equal(v, null) : assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `[${i}][${j}] = ${v}`)));
      });
    }
    // The baseline is the unmodified model's score.
    const preds = await predictExamples(model, task.splits.dev!, { maxLength: 16 });
    assert.equal(a.splits.dev!.baseline, scorePredictions(task.metrics, preds, task.splits.dev!).accuracy);

    // Removing no layer (an empty span) changes nothing.
    const none = TaskModel.create(base, { mode: model.mode, head: model.head, seed: 0, weights: withoutAdapters(model, 1, 0) });
    const trained = await logits(model);
    assert.equal(maxDiff(await logits(none), trained), 0);

    // Removing every layer = the same trained norms and head with no adapter in the graph at all.
    const all = TaskModel.create(base, { mode: model.mode, head: model.head, seed: 0, weights: withoutAdapters(model, 0, layers - 1) });
    const noAdapterWeights = new Map([...model.owned].filter(([k]) => !k.startsWith('adapters.')));
    const plain = TaskModel.create(base, { mode: { kind: 'layer-norm' }, head: model.head, seed: 0, weights: noAdapterWeights });
    const allLogits = await logits(all);
    assert.ok(maxDiff(allLogits, await logits(plain)) < 1e-5);
    assert.ok(maxDiff(allLogits, trained) > 1e-4, 'the trained adapters matter');
    const plainPreds = await predictExamples(plain, task.splits.dev!, { maxLength: 16 });
    assert.equal(a.splits.dev!.values[0]![layers - 1], scorePredictions(task.metrics, plainPreds, task.splits.dev!).accuracy);

    const p = await saveAblation(tempDir('abl-save'), a);
    assert.ok(p.endsWith('ablation-toy.json'));
    assert.deepEqual(JSON.parse(readFileSync(p, 'utf8')), JSON.parse(JSON.stringify(a)));
    for (const m of [model, none, all, plain]) await m.dispose();
  });

  test('refuses a task without adapters', async () => {
    const base = await loadBase(TINY_BERT);
    const m = TaskModel.create(base, { mode: { kind: 'head-only' }, head, seed: 1 });
    await assert.rejects(ablateLayers(m, { task: sentenceTask(task), maxLength: 16 }), /needs an adapter task; this task was trained in mode head-only/);
    const adapters = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head, seed: 1 });
    const noTest = sentenceTask({ ...task, splits: { train: task.splits.train!, dev: task.splits.dev! } });
    await assert.rejects(ablateLayers(adapters, { task: noTest, splits: ['test'], maxLength: 16 }), /task toy has no labeled test split/);
  });
});

describe('init scale robustness', () => {
  test('one row per std with dev and test scores; runs kept in init-scale.jsonl', async () => {
    const base = await loadBase(TINY_BERT);
    const out = tempDir('init');
    const rows = await initScaleRobustness({ base, task, outDir: out, stds: [1e-3, 1e-1], size: 8, lr: 1e-2, epochs: 1, batchSize: 16, maxLength: 16 });
    assert.deepEqual(rows.map((r) => [r.initStd, r.runs]), [[1e-3, 1], [1e-1, 1]]);
    for (const r of rows) {
      assert.ok(r.devMean !== null && r.devMean >= 0 && r.devMean <= 1);
      assert.ok(r.testMean !== null && r.testMean >= 0 && r.testMean <= 1);
      assert.equal(r.results[0]?.method, `adapters-m8-std${r.initStd === 1e-3 ? '1e-3' : '1e-1'}`);
    }
    assert.ok(existsSync(join(out, 'init-scale.jsonl')));
    assert.equal(existsSync(join(out, 'results.jsonl')), false);
  });
});
