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
import { mkdir } from 'node:fs/promises';
import { AdapterkitError, fail } from '../errors.js';
import type { Example } from './data/types.js';
import type { MetricName } from './metrics/index.js';
import { AdamW, clipByGlobalNorm, linearWarmupDecay } from './optim/index.js';
import { collate, epochBatches, type TokenizedRow } from './batching.js';
import { sentenceTrainingData, type TaskMetricValues, type TrainingData } from './training-data.js';
import type { TaskModel } from './task-model.js';
import { DEFAULT_LR, describeMode } from './modes.js';
import { RunDir, type TrainerState } from './run-dir.js';
import { exists } from '../util/fs.js';

export { DEFAULT_LR };

/** Options of {@link train}. */
export interface TrainOptions {
  /** Run directory (see the module comment). */
  outDir: string;
  /** Task name used in the saved files. */
  taskName: string;
  /** Metrics to report; the first selects the best checkpoint. */
  metrics: readonly MetricName[];
  epochs?: number;
  batchSize?: number;
  maxLength?: number;
  /** Peak learning rate (default per mode, {@link DEFAULT_LR}). */
  lr?: number;
  weightDecay?: number;
  warmupRatio?: number;
  clipNorm?: number;
  /** Seed of the data order (the model has its own for initialisation and dropout). */
  seed?: number;
  /** Evaluate every N steps (default: at the end of each epoch). */
  evalEvery?: number;
  /** Stop after this many evaluations without improvement (default: never). */
  patience?: number;
  /** Stop after this many optimizer steps in total. */
  maxSteps?: number;
  /** Continue from `outDir/checkpoint` when it exists. */
  resume?: boolean;
  /** Abort (Ctrl-C): a checkpoint is saved, then INTERRUPTED is thrown. */
  signal?: AbortSignal;
  /** Progress events. */
  onEvent?: (e: TrainEvent) => void;
}

/** Progress events. */
export type TrainEvent =
  | { type: 'start'; totalSteps: number; examples: number; resumedAt: number; description: string }
  | { type: 'step'; step: number; totalSteps: number; epoch: number; loss: number; lr: number; gradNorm: number; examplesPerSec: number }
  | { type: 'eval'; step: number; epoch: number; metrics: TaskMetricValues; best: boolean; seconds: number }
  | { type: 'eval-progress'; done: number; total: number }
  | { type: 'checkpoint'; step: number; dir: string }
  /** Something the user should know: what was repaired in the run directory after a kill, what resume found. */
  | { type: 'note'; message: string }
  | { type: 'stop'; reason: 'done' | 'early-stopping' | 'max-steps' | 'interrupted'; step: number };

/** What a training run reports. */
export interface TrainResult {
  readonly steps: number;
  /** Epochs trained in, a partial last one included (a stop by maxSteps or early stopping within an epoch). */
  readonly epochsRun: number;
  /** Epochs trained to their end. */
  readonly epochsCompleted: number;
  readonly stopReason: 'done' | 'early-stopping' | 'max-steps';
  /** Best dev metrics (undefined without a dev split); `epoch` counts from 0, as in `metrics.jsonl`. */
  readonly best?: { readonly step: number; readonly epoch: number; readonly metrics: TaskMetricValues };
  readonly lastLoss: number;
  /** Wall time spent in this call, seconds. */
  readonly seconds: number;
  /** Training examples per second over this call. */
  readonly examplesPerSec: number;
  readonly bestDir: string;
  /** Mean training loss of each epoch. */
  readonly epochLosses: number[];
  /** What the saved task's Python-library layouts could not hold (one line each; see saveTask). */
  readonly notes: readonly string[];
}

function signature(model: TaskModel, o: TrainDataOptions, n: number): Record<string, unknown> {
  return {
    mode: describeMode(model.mode, model.base.encoder), head: model.head.kind, labels: model.head.labels, epochs: o.epochs ?? 3, batchSize: o.batchSize ?? 32,
    maxLength: o.maxLength ?? 128, lr: o.lr ?? DEFAULT_LR[model.mode.kind], seed: o.seed ?? 42, trainExamples: n, base: model.base.id,
    ...(o.maxSteps !== undefined ? { maxSteps: o.maxSteps } : {}), // it sizes the schedule
  };
}

/**
 * Trains `model` on `train`, evaluating on `dev`, and saves the best task to `outDir/best`.
 *
 * @example
 * ```ts
 * const r = await train(model, data.splits.train, data.splits.dev, { outDir: 'runs/spam', taskName: 'spam', metrics: ['accuracy'] });
 * r.best?.metrics.accuracy; // e.g. 0.97
 * ```
 */
export async function train(model: TaskModel, trainSet: readonly Example[], dev: readonly Example[] | undefined, o: TrainOptions): Promise<TrainResult> {
  checkMaxLength(model, o.maxLength ?? 128);
  if (trainSet.length === 0) fail('BAD_DATA', 'the training split is empty');
  if (o.metrics.length === 0) fail('BAD_CONFIG', 'no metrics to evaluate');
  const data = sentenceTrainingData(model, trainSet, dev, { maxLength: o.maxLength ?? 128, metrics: o.metrics });
  const { metrics: _metrics, ...rest } = o;
  return trainOn(model, data, rest);
}

/** Options of {@link trainOn}: those of {@link train} except the metrics, which the data names. */
export type TrainDataOptions = Omit<TrainOptions, 'metrics'>;

function checkMaxLength(model: TaskModel, maxLength: number): void {
  if (!(Number.isInteger(maxLength) && maxLength >= 2 && maxLength <= model.base.encoder.maxLength)) {
    fail('BAD_CONFIG', `max length must be an integer from 2 to ${model.base.encoder.maxLength} (the base's limit), got ${maxLength}`);
  }
}

/**
 * Trains `model` on any {@link TrainingData} (sentence or token-level tasks): the same loop,
 * schedule, checkpoints, evaluation and resume as {@link train}. `o.maxLength` is recorded in
 * the saved task; the rows must already be tokenized to it.
 */
export async function trainOn(model: TaskModel, data: TrainingData, o: TrainDataOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const epochs = o.epochs ?? 3;
  const batchSize = o.batchSize ?? 32;
  const maxLength = o.maxLength ?? 128;
  const peak = o.lr ?? (DEFAULT_LR[model.mode.kind] as number);
  const seed = o.seed ?? 42;
  if (!(Number.isInteger(epochs) && epochs >= 1)) fail('BAD_CONFIG', `epochs must be a positive integer, got ${epochs}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) fail('BAD_CONFIG', `batch size must be a positive integer, got ${batchSize}`);
  checkMaxLength(model, maxLength);
  if (!(peak > 0)) fail('BAD_CONFIG', `learning rate must be positive, got ${peak}`);
  if (data.rows.length === 0) fail('BAD_DATA', 'the training split is empty');
  if (data.metrics.length === 0) fail('BAD_CONFIG', 'no metrics to evaluate');

  const run = new RunDir(o.outDir);
  const ckptDir = run.checkpointDir;
  const note = (message: string) => o.onEvent?.({ type: 'note', message });
  await mkdir(o.outDir, { recursive: true });
  for (const n of await run.recover()) note(n);
  const sig = signature(model, o, data.examples);
  const rows = data.rows;
  const canEvaluate = data.evaluate !== undefined && (data.evalExamples ?? 0) > 0;
  const stepsPerEpoch = epochBatches(rows, batchSize, seed, 0).length;
  const totalSteps = Math.min(o.maxSteps ?? Infinity, stepsPerEpoch * epochs);
  // --max-steps sizes the schedule (warm-up and decay to zero), as the Hugging Face Trainer does
  const lrAt = linearWarmupDecay({ peakLr: peak, totalSteps, warmupRatio: o.warmupRatio ?? 0.1 });
  const opt = new AdamW(model.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: peak, weightDecay: o.weightDecay ?? 0.01 });

  let st: TrainerState = { version: 1, step: 0, epoch: 0, batch: 0, evalsWithoutImprovement: 0, epochLosses: [], epochLossSum: 0, epochLossCount: 0, signature: sig };
  if (await run.hasCheckpoint()) {
    if (!o.resume) {
      fail('BAD_CONFIG', `${o.outDir} already holds a checkpoint of an earlier run: continue it (resume: true; --resume on the command line), or choose another output directory`);
    }
    st = await run.readState();
    const diff = Object.keys(sig).filter((k) => JSON.stringify(sig[k]) !== JSON.stringify(st.signature[k]));
    if (diff.length) fail('BAD_CONFIG', `cannot resume ${o.outDir}: the run was started with different ${diff.map((k) => `${k} (${JSON.stringify(st.signature[k])} then, ${JSON.stringify(sig[k])} now)`).join(', ')}`);
    await run.loadInto(model, opt);
    // Log lines written after the checkpoint (a kill after it): those steps run again.
    const dropped = await run.trimLog(st.step);
    if (dropped) note(`dropped ${dropped} line(s) of metrics.jsonl written after the checkpoint at step ${st.step}: those steps run again`);
    if (st.best && !(await exists(run.bestDir))) {
      note(`best/ is missing: the next evaluation saves it again`);
      st.best = undefined;
    }
  } else {
    if (o.resume && (await exists(run.logPath))) note(`no checkpoint in ${o.outDir} yet (none was saved before the run stopped): starting at step 0`);
    await run.resetLog();
  }

  o.onEvent?.({ type: 'start', totalSteps, examples: data.examples, resumedAt: st.step, description: describeMode(model.mode, model.base.encoder) });

  const checkpoint = async () => {
    await run.saveCheckpoint(model, opt, st, { name: o.taskName, maxLength });
    o.onEvent?.({ type: 'checkpoint', step: st.step, dir: ckptDir });
  };

  let evaluatedAt = -1;
  let notes: string[] = [];
  const evaluate = async (): Promise<boolean> => {
    const te = performance.now();
    if (!canEvaluate || !data.evaluate) return false;
    evaluatedAt = st.step;
    const total = data.evalExamples ?? 0;
    const metrics = await data.evaluate(model, { onBatch: (done) => o.onEvent?.({ type: 'eval-progress', done, total }) });
    const main = metrics[data.metrics[0] as string] ?? NaN;
    const improved = !st.best || (Number.isFinite(main) && main > st.best.value);
    await run.log({ type: 'eval', split: 'dev', step: st.step, epoch: st.epoch, ...metrics });
    if (improved) {
      st.best = { step: st.step, epoch: st.epoch, metrics, value: Number.isFinite(main) ? main : -Infinity };
      st.evalsWithoutImprovement = 0;
      notes = await run.saveBest(model, { name: o.taskName, maxLength, training: { step: st.step, epoch: st.epoch, dev: metrics, mode: describeMode(model.mode, model.base.encoder) } });
    } else st.evalsWithoutImprovement++;
    o.onEvent?.({ type: 'eval', step: st.step, epoch: st.epoch, metrics, best: improved, seconds: (performance.now() - te) / 1000 });
    return improved;
  };

  let stopReason: TrainResult['stopReason'] = 'done';
  let lastLoss = NaN;
  let seen = 0;
  const tTrain = performance.now();
  outer: while (st.epoch < epochs) {
    const batches = epochBatches(rows, batchSize, seed, st.epoch);
    while (st.batch < batches.length) {
      if (o.signal?.aborted) {
        await checkpoint();
        o.onEvent?.({ type: 'stop', reason: 'interrupted', step: st.step });
        throw new AdapterkitError('INTERRUPTED', `training interrupted at step ${st.step}; checkpoint saved in ${ckptDir}: continue with resume: true (--resume on the command line)`);
      }
      if (st.step >= totalSteps) {
        stopReason = 'max-steps';
        break outer;
      }
      const idx = batches[st.batch] as number[];
      const batch = collate(idx.map((i) => rows[i] as TokenizedRow), model.base.tokenizer.padId);
      const out = await model.trainStep(batch, data.labels(idx), { step: st.step }); // the step places its dropout masks
      if (!Number.isFinite(out.loss)) {
        const last = (await run.hasCheckpoint()) ? `; the last good checkpoint (step ${(await run.readState()).step}) is in ${ckptDir}` : '';
        fail('TRAINING_DIVERGED', `the loss became ${out.loss} at step ${st.step + 1} (learning rate ${lrAt(opt.stepCount)}): training diverged; start again with a lower learning rate (--lr) or a smaller clip norm (--clip-norm)${last}`);
      }
      const { norm } = clipByGlobalNorm(out.grads, o.clipNorm ?? 1.0);
      const lr = lrAt(opt.stepCount);
      opt.step(out.grads, lr);
      st.step++;
      st.batch++;
      seen += idx.length;
      lastLoss = out.loss;
      st.epochLossSum += out.loss;
      st.epochLossCount++;
      const eps = seen / ((performance.now() - tTrain) / 1000);
      await run.log({ type: 'train', step: st.step, epoch: st.epoch, loss: out.loss, lr, grad_norm: norm, batch: idx.length, seq: batch.seqLen });
      o.onEvent?.({ type: 'step', step: st.step, totalSteps, epoch: st.epoch, loss: out.loss, lr, gradNorm: norm, examplesPerSec: eps });
      if (o.evalEvery && st.step % o.evalEvery === 0) {
        await evaluate();
        await checkpoint();
        if (o.patience !== undefined && st.evalsWithoutImprovement >= o.patience) {
          stopReason = 'early-stopping';
          break outer;
        }
      }
    }
    st.epochLosses.push(st.epochLossSum / Math.max(1, st.epochLossCount));
    st.epochLossSum = 0;
    st.epochLossCount = 0;
    let stop = false;
    if (!o.evalEvery) {
      await evaluate();
      stop = o.patience !== undefined && st.evalsWithoutImprovement >= o.patience;
    }
    st.epoch++;
    st.batch = 0;
    if (stop) {
      stopReason = 'early-stopping';
      break;
    }
    if (st.epoch < epochs) await checkpoint();
  }
  if (!canEvaluate) notes = await run.saveBest(model, { name: o.taskName, maxLength, training: { step: st.step, mode: describeMode(model.mode, model.base.encoder) } });
  else if (seen > 0 && evaluatedAt !== st.step) await evaluate(); // the last steps (e.g. cut by maxSteps) were not evaluated yet
  await checkpoint();
  o.onEvent?.({ type: 'stop', reason: stopReason, step: st.step });
  const seconds = (performance.now() - t0) / 1000;
  return {
    steps: st.step, epochsRun: st.epoch + (st.batch > 0 ? 1 : 0), epochsCompleted: st.epochLosses.length, stopReason,
    best: st.best ? { step: st.best.step, epoch: st.best.epoch, metrics: st.best.metrics } : undefined,
    lastLoss, seconds, examplesPerSec: seen / Math.max(1e-9, (performance.now() - tTrain) / 1000), bestDir: run.bestDir, epochLosses: st.epochLosses, notes,
  };
}
