/**
 * The trainer's parts on their own: options and their defaults, the resume signature, and the
 * choice of the best checkpoint (the whole loop is in trainer.test.ts and resume.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LR } from '../../src/train/modes.js';
import type { TaskModel } from '../../src/train/task-model.js';
import type { TrainingData } from '../../src/train/training-data.js';
import { checkpointSelection } from '../../src/train/trainer-evaluation.js';
import { resolveTrainOptions } from '../../src/train/trainer-options.js';
import { runSignature } from '../../src/train/trainer-resume.js';

/** Just what options and signature read of a model. */
const model = {
  mode: { kind: 'head-only' }, head: { kind: 'classification', labels: ['a', 'b'] }, frozenPrecision: 'fp32',
  base: { id: 'tiny', encoder: { maxLength: 64, family: 'bert' } },
} as unknown as TaskModel;
const data = { rows: [{}], examples: 1, metrics: ['accuracy'], labels: () => ({}) } as unknown as TrainingData;

describe('trainer options', () => {
  test('defaults: 3 epochs, batches of 32, 128 tokens capped to the base\'s limit, the mode\'s learning rate, seed 42', () => {
    const o = resolveTrainOptions(model, data, { outDir: 'x', taskName: 't', maxLength: 64 });
    assert.deepEqual(
      { epochs: o.epochs, batchSize: o.batchSize, maxLength: o.maxLength, peakLr: o.peakLr, seed: o.seed, weightDecay: o.weightDecay, warmupRatio: o.warmupRatio, clipNorm: o.clipNorm, resume: o.resume },
      { epochs: 3, batchSize: 32, maxLength: 64, peakLr: DEFAULT_LR['head-only'], seed: 42, weightDecay: 0.01, warmupRatio: 0.1, clipNorm: 1, resume: false },
    );
    assert.equal(resolveTrainOptions(model, data, { outDir: 'x', taskName: 't' }).maxLength, 64); // the default 128, capped
    assert.throws(() => resolveTrainOptions(model, data, { outDir: 'x', taskName: 't', maxLength: 65 }), /max length 65 exceeds the base's limit of 64 tokens/);
  });

  test('each bad value is BAD_CONFIG or BAD_DATA naming it, in a fixed order', () => {
    const bad = (o: object, re: RegExp) => assert.throws(() => resolveTrainOptions(model, data, { outDir: 'x', taskName: 't', maxLength: 32, ...o }), re);
    bad({ epochs: 0 }, /epochs must be a positive integer, got 0/);
    bad({ batchSize: 1.5, epochs: 0 }, /epochs must be a positive integer/);
    bad({ batchSize: 1.5 }, /batch size must be a positive integer, got 1\.5/);
    bad({ lr: 0 }, /learning rate must be positive, got 0/);
    assert.throws(() => resolveTrainOptions(model, { ...data, rows: [] }, { outDir: 'x', taskName: 't', maxLength: 32 }), /the training split is empty/);
    assert.throws(() => resolveTrainOptions(model, { ...data, metrics: [] }, { outDir: 'x', taskName: 't', maxLength: 32 }), /no metrics to evaluate/);
  });

  test('the resume signature holds the settings that shape the run; maxSteps only when given', () => {
    const sig = runSignature(model, resolveTrainOptions(model, data, { outDir: 'x', taskName: 't', maxLength: 32, lr: 0.5 }), 7);
    assert.deepEqual(Object.keys(sig), ['mode', 'head', 'labels', 'epochs', 'batchSize', 'maxLength', 'lr', 'seed', 'trainExamples', 'base', 'setup', 'frozenPrecision', 'optimizer']);
    assert.deepEqual(sig.setup, { head: { kind: 'classification', labels: ['a', 'b'] }, mode: { kind: 'head-only' } }, 'every field of the mode and head, keys sorted');
    assert.equal(sig.frozenPrecision, 'fp32');
    assert.deepEqual(sig.optimizer, { clipNorm: 1, warmupRatio: 0.1, weightDecay: 0.01 });
    assert.equal(sig.lr, 0.5);
    assert.equal(sig.trainExamples, 7);
    assert.equal(runSignature(model, resolveTrainOptions(model, data, { outDir: 'x', taskName: 't', maxLength: 32, maxSteps: 5 }), 7).maxSteps, 5);
  });
});

describe('best checkpoint', () => {
  test('the data\'s first metric decides, higher is better; a missing or NaN score never improves on a best', () => {
    const s = checkpointSelection({ metrics: ['f1', 'accuracy'] });
    assert.equal(s.metric, 'f1');
    assert.equal(s.score({ f1: 0.5, accuracy: 0.9 }), 0.5);
    assert.equal(s.score({ accuracy: 0.9 }), -Infinity);
    assert.equal(s.score({ f1: NaN }), -Infinity);
    assert.ok(s.improves(-Infinity, undefined), 'the first evaluation is the best so far');
    assert.ok(s.improves(0.6, { value: 0.5 }));
    assert.ok(!s.improves(0.5, { value: 0.5 }), 'a tie keeps the earlier checkpoint');
    assert.ok(!s.improves(s.score({ f1: NaN }), { value: -Infinity }));
  });
});
