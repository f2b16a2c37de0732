/**
 * readRun and renderReport on a run directory written by the real trainer (tiny BERT fixture,
 * a few steps), so the report follows the trainer's actual log and manifest format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';
import { train } from '../../src/train/trainer.js';
import { readRun } from '../../src/train/report/runs.js';
import { renderReport } from '../../src/train/report/html.js';
import { toyExamples } from '../train/toy-task.js';
import { checkWellFormed } from './xml-check.js';
import { tempDir } from '../temp-dir.js';

test('a run written by the trainer reads back and renders', { timeout: 60_000 }, async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const model = TaskModel.create(base, {
    mode: { kind: 'adapters', adapter: adapterConfig({ size: 8 }) },
    head: headConfig({ kind: 'classification', labels: ['negative', 'positive'] }),
    seed: 5,
  });
  const dir = tempDir('adapterkit-report-trained-');
  try {
    await train(model, toyExamples(64, 1), toyExamples(16, 2), {
      outDir: dir, taskName: 'toy', metrics: ['accuracy', 'f1'], epochs: 1, batchSize: 8, maxLength: 16, lr: 1e-2, seed: 3, evalEvery: 4,
    });
  } finally {
    await model.dispose();
  }
  const run = await readRun(dir);
  assert.equal(run.name, 'toy');
  assert.match(run.mode ?? '', /^bottleneck \(paper, m=8\b/);
  assert.deepEqual(run.train.map((p) => p.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok(run.train.every((p) => Number.isFinite(p.loss) && p.loss > 0));
  assert.deepEqual(run.evals.map((e) => e.step), [4, 8]);
  assert.deepEqual(Object.keys(run.evals[0]?.metrics ?? {}), ['accuracy', 'f1']);
  const html = renderReport({ title: 'toy', generatedAt: 't', runs: [run] });
  checkWellFormed(html, { html: true });
  assert.ok(html.includes('<title>Dev accuracy</title>'));
});
