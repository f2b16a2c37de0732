/**
 * The trainer end to end on the tiny BERT fixture: it learns a toy task beyond the majority
 * class, saves the best adapter that reloads to exactly the same scores, is reproducible, leaves
 * the frozen base bit-identical, and resumes after an interruption.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { inCliTerms } from '../../src/cli/library-terms.js';
import { AdapterkitError } from '../../src/errors.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { predictExamples, scorePredictions } from '../../src/train/evaluate.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { train, type TrainOptions } from '../../src/train/trainer.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { toyExamples } from './toy-task.js';
import { tempDir } from '../temp-dir.js';

const trainSet = toyExamples(192, 1);
const dev = toyExamples(64, 2);
const head = headConfig({ kind: 'classification', labels: ['negative', 'positive'] });
const adapters: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8 }) };

function hashBase(base: BaseModel): string {
  const h = createHash('sha256');
  for (const [k, t] of base.weights) h.update(k).update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return h.digest('hex');
}

function losses(dir: string): number[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((o) => o.type === 'train').map((o) => o.loss);
}

const opts = (outDir: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  outDir, taskName: 'toy', metrics: ['accuracy', 'f1'], epochs: 4, batchSize: 16, maxLength: 16, lr: 1e-2, seed: 3, ...extra,
});

describe('trainer', () => {
  test('learns the toy task beyond the majority class; the saved adapter reloads to the same scores; frozen base untouched', async () => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const before = hashBase(base);
    const model = TaskModel.create(base, { mode: adapters, head, seed: 5 });
    const dir = tempDir('ak-train-');
    const r = await train(model, trainSet, dev, opts(dir));
    const majority = Math.max(...[0, 1].map((c) => dev.filter((e) => e.label === c).length)) / dev.length;
    const acc = r.best?.metrics.accuracy ?? 0;
    assert.ok(acc > majority + 0.1, `dev accuracy ${acc} vs majority ${majority}`);
    assert.equal(r.steps, 4 * Math.ceil(192 / 16));
    assert.equal(hashBase(base), before, 'the frozen base weights changed');
    const loaded = await loadSavedTask(base, r.bestDir);
    const preds = await predictExamples(loaded.model, dev, { maxLength: 16 });
    assert.deepEqual(scorePredictions(['accuracy', 'f1'], preds, dev), r.best?.metrics);
    await model.dispose();
    await loaded.model.dispose();
  });

  test('same seed, same losses; another seed, other losses', async () => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const run = async (seed: number) => {
      const dir = tempDir('ak-repro-');
      const m = TaskModel.create(base, { mode: adapters, head, seed });
      await train(m, trainSet, dev, opts(dir, { maxSteps: 8, epochs: 1 }));
      await m.dispose();
      return losses(dir);
    };
    const a = await run(11);
    const b = await run(11);
    const c = await run(12);
    assert.equal(a.length, 8);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  test('--max-steps sizes the learning-rate schedule: warm-up over 10 % of the steps, then linear decay that reaches zero at the last step', async () => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const dir = tempDir('ak-maxsteps-');
    const m = TaskModel.create(base, { mode: adapters, head, seed: 5 });
    await train(m, trainSet, dev, opts(dir, { maxSteps: 10, epochs: 4 }));
    await m.dispose();
    const lrs = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((o) => o.type === 'train').map((o) => o.lr as number);
    // peak 1e-2, 10 steps, 1 warm-up step: 0, then 1e-2 * (10 - k) / 9
    assert.deepEqual(lrs.map((x) => Number(x.toPrecision(6))), [0, ...Array.from({ length: 9 }, (_, i) => Number((1e-2 * (9 - i) / 9).toPrecision(6)))]);
  });

  test('an interrupted run resumes from its checkpoint and finishes all steps', async () => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const dir = tempDir('ak-resume-');
    const ac = new AbortController();
    const m1 = TaskModel.create(base, { mode: adapters, head, seed: 7 });
    await assert.rejects(
      train(m1, trainSet, dev, opts(dir, { epochs: 2, signal: ac.signal, onEvent: (e) => { if (e.type === 'step' && e.step === 5) ac.abort(); } })),
      (e: unknown) => {
        assert.ok(e instanceof AdapterkitError && e.code === 'INTERRUPTED', String(e));
        assert.match(e.message, /interrupted at step 5; checkpoint saved in .*: continue with the option resume: true$/);
        assert.match(inCliTerms(e), /interrupted at step 5; checkpoint saved in .*: continue with --resume$/);
        return true;
      },
    );
    const m2 = TaskModel.create(base, { mode: adapters, head, seed: 7 });
    // Library errors name the library's option; the CLI words them as its flag (test/cli/workflow.test.ts).
    await assert.rejects(train(m2, trainSet, dev, opts(dir, { epochs: 2 })), (e: unknown) => {
      assert.ok(e instanceof AdapterkitError && e.code === 'BAD_CONFIG', String(e));
      assert.match(e.message, /already holds a checkpoint of an earlier run: continue it with the option resume: true, or choose another output directory$/);
      assert.doesNotMatch(e.message, /--resume/);
      assert.match(inCliTerms(e), /already holds a checkpoint of an earlier run: continue it with --resume, or choose another output directory$/);
      return true;
    });
    await assert.rejects(train(m2, trainSet, dev, opts(dir, { epochs: 3, resume: true })), /different epochs \(2 then, 3 now\)/);
    const r = await train(m2, trainSet, dev, opts(dir, { epochs: 2, resume: true }));
    assert.equal(r.steps, 2 * Math.ceil(192 / 16));
    const l = losses(dir);
    assert.equal(l.length, r.steps, 'every step logged exactly once');
    await m1.dispose();
    await m2.dispose();
  });

  test('bad options are refused with clear messages', async () => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const m = TaskModel.create(base, { mode: adapters, head, seed: 1 });
    const dir = tempDir('ak-bad-');
    await assert.rejects(train(m, trainSet, dev, opts(dir, { epochs: 0 })), /epochs must be a positive integer, got 0/);
    await assert.rejects(train(m, trainSet, dev, opts(dir, { maxLength: 1000 })), /max length 1000 exceeds the base's limit of 40 tokens/);
    await assert.rejects(train(m, [], dev, opts(dir)), /training split is empty/);
    await assert.rejects(train(m, [{ id: 'x', textA: 'a' }], dev, opts(dir)), /training example x has no label/);
    await m.dispose();
  });
});
