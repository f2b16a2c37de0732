/**
 * The trainer: one loop for every training mode. AdamW (weight decay 0.01), linear warm-up over
 * 10 % of the steps then linear decay, clipping at global norm 1.0, batches of 32 with dynamic
 * padding and length bucketing, evaluation on the dev split every epoch (or every N steps), the
 * best checkpoint kept, early stopping, a JSONL log of every metric, and resume after an
 * interruption from the last checkpoint.
 *
 * The run directory (`metrics.jsonl`, `checkpoint/`, `best/`) is kept by {@link RunDir}, so that
 * a kill at any instant leaves a run that resumes; a resumed run is bit-identical to an
 * uninterrupted one (same data order, weights, optimizer moments and dropout masks).
 */
import { fail } from '../errors.js';
import type { Example } from './data/types.js';
import { AdamW, linearWarmupDecay } from './optim/index.js';
import { epochBatches } from './batching.js';
import { sentenceTrainingData, type TrainingData } from './training-data.js';
import type { TaskModel } from './task-model.js';
import { DEFAULT_LR, describeMode } from './modes.js';
import { RunDir, type TrainerState } from './run-dir.js';
import { frozenCacheLayer, openFrozenCache, type FrozenLayerCache } from './frozen-cache.js';
import { TrainerCheckpoints } from './trainer-checkpoints.js';
import { checkpointSelection, DevEvaluation } from './trainer-evaluation.js';
import type { TrainResult } from './trainer-events.js';
import { runStepLoop } from './trainer-loop.js';
import { checkMaxLength, resolveTrainOptions, type TrainDataOptions, type TrainOptions } from './trainer-options.js';
import { runSignature, startOrResume } from './trainer-resume.js';

export { DEFAULT_LR };
export type { TrainOptions, TrainDataOptions } from './trainer-options.js';
export type { TrainEvent, TrainResult } from './trainer-events.js';

/**
 * Trains `model` on `trainSet`, evaluating on `dev`, and saves the best task to `outDir/best`.
 *
 * @example
 * ```ts
 * const r = await train(model, data.splits.train!, data.splits.dev, { outDir: 'runs/spam', taskName: 'spam', metrics: ['accuracy'] });
 * r.best?.metrics.accuracy; // e.g. 0.97
 * ```
 */
export async function train(model: TaskModel, trainSet: readonly Example[], dev: readonly Example[] | undefined, o: TrainOptions): Promise<TrainResult> {
  const maxLength = checkMaxLength(model, o.maxLength);
  if (trainSet.length === 0) fail('BAD_DATA', 'the training split is empty');
  if (o.metrics.length === 0) fail('BAD_CONFIG', 'no metrics to evaluate');
  const data = sentenceTrainingData(model, trainSet, dev, { maxLength, metrics: o.metrics });
  const { metrics: _metrics, ...rest } = o;
  return trainOn(model, data, { ...rest, maxLength });
}

/**
 * Trains `model` on any {@link TrainingData} (sentence or token-level tasks): the same loop,
 * schedule, checkpoints, evaluation and resume as {@link train}. `options.maxLength` is recorded in
 * the saved task; the rows must already be tokenized to it.
 *
 * The parts, one module each: options and their defaults (trainer-options.ts), starting or
 * resuming (trainer-resume.ts), the checkpoint store (trainer-checkpoints.ts), dev evaluation and
 * the choice of the best checkpoint (trainer-evaluation.ts), and the step loop (trainer-loop.ts).
 */
export async function trainOn(model: TaskModel, data: TrainingData, options: TrainDataOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const o = resolveTrainOptions(model, data, options);
  const run = new RunDir(o.outDir);
  const stepsPerEpoch = epochBatches(data.rows, o.batchSize, o.seed, 0).length;
  const totalSteps = Math.min(o.maxSteps ?? Infinity, stepsPerEpoch * o.epochs);
  // maxSteps sizes the schedule (warm-up and decay to zero), as the Hugging Face Trainer does
  const lrAt = linearWarmupDecay({ peakLr: o.peakLr, totalSteps, warmupRatio: o.warmupRatio });
  const opt = new AdamW(model.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: o.peakLr, weightDecay: o.weightDecay });
  const note = (message: string) => o.onEvent?.({ type: 'note', message });
  const cacheLayer = o.cacheFrozenLayers ? frozenCacheLayer(model) : undefined; // refused before any file is touched
  const st = await startOrResume(run, model, opt, o, runSignature(model, o, data.examples), note);
  const frozenCache = cacheLayer !== undefined ? await openFrozenCache(model, data.rows, cacheLayer, { ...o, st, note }) : undefined;
  try {
    o.onEvent?.({ type: 'start', totalSteps, examples: data.examples, resumedAt: st.step, description: describeMode(model.mode, model.base.encoder) });
    return await finishRun(model, data, o, { run, st, opt, lrAt, totalSteps, t0, ...(frozenCache ? { frozenCache } : {}) });
  } finally {
    frozenCache?.close();
  }
}

/** The step loop, the last evaluation and checkpoint, and the summary of {@link trainOn}. */
async function finishRun(
  model: TaskModel, data: TrainingData, o: ReturnType<typeof resolveTrainOptions>,
  c: { run: RunDir; st: TrainerState; opt: AdamW; lrAt: (step: number) => number; totalSteps: number; t0: number; frozenCache?: FrozenLayerCache },
): Promise<TrainResult> {
  const { run, st, opt, lrAt, totalSteps, t0 } = c;
  const checkpoints = new TrainerCheckpoints(run, model, opt, { name: o.taskName, maxLength: o.maxLength }, o.onEvent);
  const evaluation = new DevEvaluation(model, data, run, checkpoints, checkpointSelection(data), o.onEvent);
  const { stopReason, lastLoss, seen, startedAt } = await runStepLoop({ model, data, o, st, run, opt, lrAt, totalSteps, checkpoints, evaluation, ...(c.frozenCache ? { frozenCache: c.frozenCache } : {}) });

  if (!evaluation.enabled) await checkpoints.saveBest({ step: st.step });
  else if (seen > 0 && !evaluation.evaluatedAtStep(st.step)) await evaluation.evaluate(st); // the last steps (e.g. cut by maxSteps) were not evaluated yet
  await checkpoints.save(st);
  o.onEvent?.({ type: 'stop', reason: stopReason, step: st.step });
  const seconds = (performance.now() - t0) / 1000;
  return {
    steps: st.step, epochsRun: st.epoch + (st.batch > 0 ? 1 : 0), epochsCompleted: st.epochLosses.length, stopReason,
    best: st.best ? { step: st.best.step, epoch: st.best.epoch, metrics: st.best.metrics } : undefined,
    lastLoss, seconds, examplesPerSec: seen / Math.max(1e-9, (performance.now() - startedAt) / 1000), bestDir: run.bestDir, epochLosses: st.epochLosses,
    notes: checkpoints.bestNotes,
  };
}
