/**
 * The in-memory training run of the browser build (src/browser/tab-run.ts), here on
 * onnxruntime-node with the tiny BERT fixture: it is the trainer's own loop (the same step losses
 * and best dev scores as `train` writing a run directory), and a run stopped by an abort and
 * continued gives the losses of an uninterrupted one, bit for bit.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { TabRun } from '../../src/browser/tab-run.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';
import { train } from '../../src/train/trainer.js';
import type { TrainEvent } from '../../src/train/trainer-events.js';
import { toyExamples } from '../train/toy-task.js';
import { tempDir } from '../temp-dir.js';

const trainSet = toyExamples(96, 1);
const dev = toyExamples(32, 2);
const head = headConfig({ kind: 'classification', labels: ['negative', 'positive'] });
const settings = { taskName: 'toy', epochs: 2, batchSize: 16, maxLength: 16, lr: 1e-2, seed: 3, evalEvery: 4 } as const;
const model = (base: BaseModel) => TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 8 }) }, head, seed: 5 });

describe('TabRun (training kept in memory)', () => {
  test('gives the step losses and best dev scores of the trainer writing a run directory', async () => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const dir = tempDir('ak-tabrun-');
    try {
      const onDisk = model(base);
      const r = await train(onDisk, trainSet, dev, { ...settings, outDir: dir, metrics: ['accuracy', 'f1'] });
      const diskLosses = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; loss: number }).filter((o) => o.type === 'train').map((o) => o.loss);
      const inMemory = model(base);
      const tab = new TabRun(inMemory, trainSet, dev, { ...settings, metrics: ['accuracy', 'f1'] });
      const out = await tab.run();
      assert.deepEqual(out, { kind: 'finished', reason: 'done', step: 12 });
      assert.equal(tab.totalSteps, 12);
      assert.deepEqual(tab.log.filter((l) => l.type === 'train').map((l) => l.loss), diskLosses);
      assert.deepEqual(tab.best?.metrics, r.best?.metrics);
      assert.equal(tab.best?.step, r.best?.step);
      assert.ok(tab.finished);
      assert.deepEqual(await tab.run(), { kind: 'finished', reason: 'done', step: 12 }, 'a finished run does not train again');
      await onDisk.dispose();
      await inMemory.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('stopped after 5 steps and continued, it gives the losses of an uninterrupted run', async () => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const whole = new TabRun(model(base), trainSet, dev, { ...settings, metrics: ['accuracy'] });
    await whole.run();
    const events: TrainEvent[] = [];
    const abort = new AbortController();
    const parts = new TabRun(model(base), trainSet, dev, {
      ...settings, metrics: ['accuracy'],
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'step' && e.step === 5) abort.abort();
      },
    });
    assert.deepEqual(await parts.run(abort.signal), { kind: 'stopped', step: 5 });
    assert.equal(parts.step, 5);
    assert.ok(events.some((e) => e.type === 'stop' && e.reason === 'interrupted'));
    assert.deepEqual(await parts.run(), { kind: 'finished', reason: 'done', step: 12 });
    const lossesOf = (t: TabRun) => t.log.filter((l) => l.type === 'train').map((l) => [l.step, l.loss]);
    assert.deepEqual(lossesOf(parts), lossesOf(whole));
    assert.deepEqual(parts.best?.metrics, whole.best?.metrics);
    assert.deepEqual(events.filter((e) => e.type === 'start').map((e) => (e as { resumedAt: number }).resumedAt), [0, 5]);
    await whole.model.dispose();
    await parts.model.dispose();
  });

  test('an empty training split is refused', async () => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    assert.throws(() => new TabRun(model(base), [], dev, { ...settings, metrics: ['accuracy'] }), /the training split is empty/);
  });
});
