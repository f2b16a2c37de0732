/**
 * One training run over several tasks on one frozen base, every batch mixing them
 * ({@link trainMultiTask}). Each example runs its own task's adapter and head
 * ({@link MixedTaskTrainer}); the batches come from {@link mixedEpoch} (proportional or
 * temperature-scaled sampling); each task is evaluated on its own dev split and keeps its own best
 * checkpoint, saved as an ordinary task directory `outDir/<task>/best` (what `adapterkit eval`,
 * `predict` and `serve` load), with its dev scores in `outDir/<task>/metrics.jsonl`.
 *
 * What separate runs would do, per step: the loss of a batch of B examples is `Σ_t (n_t/B) L_t`
 * with L_t task t's own loss on its n_t examples of the batch (for classification tasks
 * `(1/B) Σ_i ℓ_task(i)`), so task t receives `n_t/B` times the gradient its own model computes on
 * its n_t examples of the batch; each task clips its own gradient (its own global norm) and has its
 * own AdamW moments, stepped only in batches that hold some of its examples, at the run's
 * learning rate for the step. A task's trajectory therefore depends only on its own examples and
 * on how many examples the batches hold (test/train/multi-task-train.test.ts checks it against
 * single-task models step by step).
 *
 * Checkpoints and resuming (multi-task-resume.ts): every task's `checkpoint/` and the run's
 * position are saved after each evaluation and when the run is interrupted; `resume: true`
 * continues from there with the same example order, dropout masks and optimizer moments, so a
 * resumed run ends where the uninterrupted one does.
 *
 * Early stopping (`patience`), per task: a task whose main dev metric has not improved for
 * `patience` evaluations in a row stops. Its examples leave the batches (the rest of the epoch's
 * draws and later epochs' skip it; batches fill up from the other tasks'), it takes no more
 * optimizer steps and keeps its best checkpoint; the other tasks go on, and the run stops when
 * every task has stopped. The learning-rate schedule is the one the full run would have.
 *
 * Tasks: sentence-level tasks ({@link SentenceMultiTask}: classification, regression, multi-label,
 * dev scored with their metrics) and tagging tasks ({@link TaggingMultiTask}, dev scored with seqeval's metrics or token
 * accuracy) in any mix; for a tagging task the "n_t/B times its own gradient" above holds with its
 * own loss, the mean token cross-entropy over the labelled tokens of its n_t sentences.
 *
 * The draws are length-bucketed by default (`lengthBucketing`): batches of like lengths, as
 * single-task training cuts them. Not in this slice: extractive-QA heads (see
 * multi-task-train-model.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AdapterkitError, fail } from '../errors.js';
import type { Example } from './data/types.js';
import type { TaggedSentence } from './tokens/types.js';
import { taggingTrainingData } from './token-tasks/tagging.js';
import type { MetricName } from './metrics/index.js';
import { AdamW, clipByGlobalNorm, linearWarmupDecay } from './optim/index.js';
import { collate } from './batching.js';
import { DEFAULT_LR } from './modes.js';
import { resolveMaxLength } from './max-length.js';
import { MixedTaskTrainer, mixedTrainingRefusal, type MixedLabel } from './multi-task-train-model.js';
import { saveMixedCheckpoint, startOrResumeMixed, type CheckpointedTask, type MixedPosition } from './multi-task-resume.js';
import type { FrozenOptions } from './frozen-precision.js';
import { bucketDraws, checkSampling, mixedEpoch, taskProbabilities, type MixedDraw, type MultiTaskSampling } from './multi-task-sampling.js';
import { RunDir, type TrainerState } from './run-dir.js';
import type { TaskModel } from './task-model.js';
import { sentenceTrainingData, type TaskMetricValues, type TrainingData } from './training-data.js';
import { TrainerCheckpoints } from './trainer-checkpoints.js';
import { checkpointSelection, DevEvaluation, patienceExhausted } from './trainer-evaluation.js';
import { RESUME_OPTION_TERM } from './trainer-options.js';
import type { TrainEvent } from './trainer-events.js';
import { runSetup } from './trainer-state.js';

/** One task of a mixed-task run: a sentence-level task ({@link SentenceMultiTask}) or a tagging task ({@link TaggingMultiTask}). */
export type MultiTaskTask = SentenceMultiTask | TaggingMultiTask;

/** A sentence-level task of a mixed-task run: single-label classification, regression or multi-label. */
export interface SentenceMultiTask {
  /** The task's name: its directory under `outDir` and the name in its saved files. */
  readonly name: string;
  /** A single-adapter task with a classification, regression or multi-label head on the run's base (TaskModel.create). */
  readonly model: TaskModel;
  /** Its training split. */
  readonly train: readonly Example[];
  /** Its dev split (required: each task keeps the checkpoint that scores best on it). */
  readonly dev: readonly Example[];
  /** Metrics, main first (the main one picks the task's best checkpoint). */
  readonly metrics: readonly MetricName[];
  /** Class index of the positive class for F1-style metrics (TaskData.positive). */
  readonly positive?: number;
}

/** A tagging task of a mixed-task run: its model has a tagging head, its data are tagged sentences (as {@link taggingTrainingData} takes them). */
export interface TaggingMultiTask {
  /** The task's name: its directory under `outDir` and the name in its saved files. */
  readonly name: string;
  /** A single-adapter task with a tagging head on the run's base. */
  readonly model: TaskModel;
  /** Its training sentences. */
  readonly train: readonly TaggedSentence[];
  /** Its dev split (required). */
  readonly dev: readonly TaggedSentence[];
  /** seqeval's metrics or `token_accuracy`, main first (default: those of the head's tag scheme). */
  readonly metrics?: readonly string[];
}

/** Whether a task of a mixed-task run is a tagging task (its model's head says so). */
function isTaggingTask(t: MultiTaskTask): t is TaggingMultiTask {
  return t.model.head.kind === 'tagging';
}

/** The trainer's view of a task's data: tagging rows and seqeval scores, or sentence rows and sentence metrics. */
function trainingDataOf(t: MultiTaskTask, maxLength: number): TrainingData {
  if (isTaggingTask(t)) return taggingTrainingData(t.model, t.train, t.dev, { maxLength, ...(t.metrics ? { metrics: t.metrics } : {}) });
  return sentenceTrainingData(t.model, t.train, t.dev, { maxLength, metrics: t.metrics, ...(t.positive !== undefined ? { positive: t.positive } : {}) });
}

/** Progress events: the single-task trainer's, with the task they concern. */
export type MultiTaskEvent =
  | { type: 'start'; totalSteps: number; tasks: readonly { name: string; examples: number; probability: number }[] }
  | { type: 'step'; step: number; totalSteps: number; epoch: number; loss: number; lr: number; examplesPerSec: number; counts: readonly number[] }
  | (Extract<TrainEvent, { type: 'eval' | 'eval-progress' }> & { task: string })
  | { type: 'task-stopped'; task: string; step: number; evals: number }
  | { type: 'note'; message: string }
  | { type: 'stop'; reason: MultiTaskStopReason | 'interrupted'; step: number };

/** Why a mixed-task run ended: its epochs, `maxSteps`, or every task stopped early (`patience`). */
export type MultiTaskStopReason = 'done' | 'max-steps' | 'early-stop';

/** Options of {@link trainMultiTask}. */
export interface MultiTaskOptions {
  /** Run directory: one sub-directory per task, and the run's own `metrics.jsonl`. */
  readonly outDir: string;
  /** At least two tasks on one base, with distinct names. */
  readonly tasks: readonly MultiTaskTask[];
  /** Default `proportional`. */
  readonly sampling?: MultiTaskSampling;
  /**
   * Length bucketing of each epoch's draws (default true; see multi-task-sampling's
   * `bucketDraws`): batches of like lengths, as single-task training cuts them. false cuts the
   * draws into batches in the order drawn, so that every batch mixes the tasks as sampled (and
   * pads to its longest example).
   */
  readonly lengthBucketing?: boolean;
  /** Passes over the draws. Default 3. */
  readonly epochs?: number;
  /** Examples per batch, all tasks together. Default 32. */
  readonly batchSize?: number;
  /** Tokens per example. Default 128, capped to the base's limit; more than the limit is BAD_CONFIG. */
  readonly maxLength?: number;
  /** Peak learning rate (default: the adapters mode's). */
  readonly lr?: number;
  /** AdamW weight decay. Default 0.01. */
  readonly weightDecay?: number;
  /** Share of the steps of linear warm-up before the linear decay. Default 0.1. */
  readonly warmupRatio?: number;
  /** Each task's gradient is clipped at this global norm (its own). Default 1. */
  readonly clipNorm?: number;
  /** Seed of the data order and of the dropout masks. Default 42. */
  readonly seed?: number;
  /** Hidden and attention dropout (default: the base's configuration); heads use their own (they must agree). */
  readonly dropout?: number;
  /** Evaluate every task every N steps (default: at the end of each epoch). */
  readonly evalEvery?: number;
  /** Stop after this many steps (default: every epoch's). */
  readonly maxSteps?: number;
  /** Per task: stop it after this many evaluations in a row without improvement of its main dev metric (see the module comment). */
  readonly patience?: number;
  /** Continue from the run's last checkpoint (with the same settings). */
  readonly resume?: boolean;
  /** Intra-op threads of each ONNX Runtime session (default: all available cores). */
  readonly threads?: number;
  /** Precision of the frozen base's matmuls in training (see {@link MixedTaskTrainerOptions.frozen}): every task's model must have the same. */
  readonly frozen?: FrozenOptions;
  /** Abort: the run stops after the current step and throws INTERRUPTED (each task's best so far is kept). */
  readonly signal?: AbortSignal;
  /** Progress: start, steps, each task's evaluations, tasks stopping, notes and the stop. */
  readonly onEvent?: (e: MultiTaskEvent) => void;
}

/** What a mixed-task run reports. */
export interface MultiTaskResult {
  readonly steps: number;
  readonly stopReason: MultiTaskStopReason;
  readonly seconds: number;
  readonly examplesPerSec: number;
  readonly tasks: readonly {
    readonly name: string;
    readonly bestDir: string;
    readonly best?: { readonly step: number; readonly epoch: number; readonly metrics: TaskMetricValues };
    /** Optimizer steps the task took (batches that held its examples). */
    readonly steps: number;
    /** Training examples of the task seen. */
    readonly seen: number;
    /** The run's step at which the task stopped early (patience), if it did. */
    readonly stoppedAt?: number;
  }[];
}

/** Per task: its data, run directory, optimizer, checkpoints and evaluation state. */
interface TaskRun extends CheckpointedTask {
  readonly task: MultiTaskTask;
  readonly data: TrainingData;
  readonly evaluation: DevEvaluation;
}

/** The next batch of an epoch's draws from `at`, skipping stopped tasks; and where the one after starts. */
function nextBatch(draws: readonly MixedDraw[], at: number, size: number, stopped: ReadonlySet<number>): { part: MixedDraw[]; next: number } {
  const part: MixedDraw[] = [];
  let next = at;
  while (part.length < size && next < draws.length) {
    const d = draws[next++] as MixedDraw;
    if (!stopped.has(d.task)) part.push(d);
  }
  return { part, next };
}

/**
 * Trains several tasks in mixed batches; see the module comment.
 *
 * @example
 * ```ts
 * const r = await trainMultiTask({ outDir: 'runs/mt', sampling: { temperature: 2 }, tasks: [
 *   { name: 'spam', model: spamModel, train: spam.splits.train!, dev: spam.splits.dev, metrics: ['f1', 'accuracy'] },
 *   { name: 'sotu', model: sotuModel, train: sotu.splits.train!, dev: sotu.splits.dev, metrics: ['accuracy'] },
 * ] });
 * r.tasks[0]!.bestDir; // 'runs/mt/spam/best'
 * ```
 *
 * @throws AdapterkitError BAD_CONFIG for bad options, a task name that cannot name a directory,
 *   tasks that cannot share a batch (named) or a task name given twice (the last from the
 *   {@link MixedTaskTrainer} constructor); BAD_DATA for a task without training or dev examples.
 */
export async function trainMultiTask(o: MultiTaskOptions): Promise<MultiTaskResult> {
  const t0 = performance.now();
  if (o.tasks.length < 2) fail('BAD_CONFIG', `mixed-task training needs at least two tasks, got ${o.tasks.length}`);
  const first = o.tasks[0] as MultiTaskTask;
  const base = first.model.base;
  for (const t of o.tasks) {
    if (!/^[A-Za-z0-9_-]+$/.test(t.name)) fail('BAD_CONFIG', `task name ${JSON.stringify(t.name)} may only contain letters, digits, _ and - (it names a directory)`);
    const why = mixedTrainingRefusal(t.name, t.model, base);
    if (why) fail('BAD_CONFIG', why);
    if (t.train.length === 0) fail('BAD_DATA', `task ${t.name}: the training split is empty`);
    if (t.dev.length === 0) fail('BAD_DATA', `task ${t.name} has no dev examples; each task of a mixed-task run is evaluated on its own dev split`);
    if (t.metrics?.length === 0) fail('BAD_CONFIG', `task ${t.name}: no metrics to evaluate`);
  }
  const sampling = checkSampling(o.sampling ?? 'proportional');
  const lengthBucketing = o.lengthBucketing ?? true;
  const epochs = o.epochs ?? 3;
  const batchSize = o.batchSize ?? 32;
  const peakLr = o.lr ?? (DEFAULT_LR.adapters as number);
  const clipNorm = o.clipNorm ?? 1;
  const seed = o.seed ?? 42;
  if (!(Number.isInteger(epochs) && epochs >= 1)) fail('BAD_CONFIG', `epochs must be a positive integer, got ${epochs}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) fail('BAD_CONFIG', `batch size must be a positive integer, got ${batchSize}`);
  if (!(peakLr > 0)) fail('BAD_CONFIG', `learning rate must be positive, got ${peakLr}`);
  if (o.patience !== undefined && !(Number.isInteger(o.patience) && o.patience >= 1)) fail('BAD_CONFIG', `patience must be a positive integer (evaluations without improvement before a task stops), got ${o.patience}`);
  const maxLength = resolveMaxLength(base.encoder.maxLength, o.maxLength, { over: 'fail', name: 'max length' });

  const mixed = new MixedTaskTrainer(base, o.tasks.map((t) => ({ name: t.name, model: t.model })), { ...(o.dropout !== undefined ? { dropout: o.dropout } : {}), seed, ...(o.threads !== undefined ? { threads: o.threads } : {}), ...(o.frozen ? { frozen: o.frozen } : {}) });
  await mkdir(o.outDir, { recursive: true });
  const top = new RunDir(o.outDir);
  const parts = o.tasks.map((task) => {
    const run = new RunDir(join(o.outDir, task.name));
    const opt = new AdamW(task.model.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: peakLr, weightDecay: o.weightDecay ?? 0.01 });
    return { task, run, opt };
  });
  const signature = {
    multiTask: o.tasks.map((t) => t.name), sampling, lengthBucketing, epochs, batchSize, lr: peakLr, weightDecay: o.weightDecay ?? 0.01, warmupRatio: o.warmupRatio ?? 0.1, clipNorm, seed, maxLength,
    dropout: o.dropout ?? null, evalEvery: o.evalEvery ?? null, maxSteps: o.maxSteps ?? null, patience: o.patience ?? null,
    // what each task's model is (its adapter's every field, its head), and the frozen base's precision
    setups: o.tasks.map((t) => runSetup(t.model)), frozenPrecision: o.frozen?.frozenPrecision ?? 'fp32',
  };
  const note = (message: string) => o.onEvent?.({ type: 'note', message });
  const started = await startOrResumeMixed(o.outDir, parts.map((p) => ({ name: p.task.name, run: p.run, model: p.task.model, opt: p.opt })), !!o.resume, signature, note);
  const start: MixedPosition = started.position ?? { step: 0, epoch: 0, batch: 0, draw: 0, evaluated: false };
  if (started.position) await top.trimLog(start.step);
  else await top.resetLog();
  const runs: TaskRun[] = [];
  for (const [i, { task, run, opt }] of parts.entries()) {
    const data = trainingDataOf(task, maxLength);
    const checkpoints = new TrainerCheckpoints(run, task.model, opt, { name: task.name, maxLength }, undefined);
    const onEvent = (e: TrainEvent) => {
      if (e.type === 'eval' || e.type === 'eval-progress') o.onEvent?.({ ...e, task: task.name });
    };
    const evaluation = new DevEvaluation(task.model, data, run, checkpoints, checkpointSelection(data), onEvent);
    const st = started.states[i] as TrainerState;
    runs.push({ name: task.name, model: task.model, task, data, run, opt, evaluation, st, seen: started.seen?.[i] ?? 0 });
  }
  // tasks that had stopped before the checkpoint stay stopped
  const stopped = new Set<number>();
  runs.forEach((r, t) => {
    const at = started.stoppedAt?.[t];
    if (at !== undefined) {
      stopped.add(t);
      r.stoppedAt = at;
    }
  });

  const sizes = runs.map((r) => r.data.rows.length);
  const stepsPerEpoch = Math.ceil(sizes.reduce((a, b) => a + b, 0) / batchSize);
  const totalSteps = Math.min(o.maxSteps ?? Infinity, stepsPerEpoch * epochs);
  const lrAt = linearWarmupDecay({ peakLr, totalSteps, warmupRatio: o.warmupRatio ?? 0.1 });
  const probabilities = taskProbabilities(sizes, sampling);
  o.onEvent?.({ type: 'start', totalSteps, tasks: runs.map((r, i) => ({ name: r.task.name, examples: sizes[i] as number, probability: probabilities[i] as number })) });
  await top.log({ type: 'start', sampling, totalSteps, tasks: runs.map((r, i) => ({ name: r.task.name, examples: sizes[i], probability: probabilities[i] })) });

  let step = start.step;
  let seen = 0;
  let stopReason: MultiTaskStopReason = 'done';
  let lastEval = start.evaluated ? start.step : -1;
  const startedAt = performance.now();
  /** Evaluates every task still training; stops those out of patience. */
  const evaluateAll = async (epoch: number) => {
    lastEval = step;
    for (const [t, r] of runs.entries()) {
      if (stopped.has(t)) continue;
      r.st.step = step;
      r.st.epoch = epoch;
      await r.evaluation.evaluate(r.st);
      if (patienceExhausted(r.st, o.patience)) {
        stopped.add(t);
        r.stoppedAt = step;
        await top.log({ type: 'task-stopped', task: r.task.name, step, evals: r.st.evalsWithoutImprovement });
        o.onEvent?.({ type: 'task-stopped', task: r.task.name, step, evals: r.st.evalsWithoutImprovement });
      }
    }
  };
  const save = (epoch: number, batch: number, draw: number) => saveMixedCheckpoint(o.outDir, runs, { step, epoch, batch, draw, evaluated: lastEval === step }, maxLength);
  try {
    outer: for (let epoch = start.epoch; epoch < epochs; epoch++) {
      const drawn = mixedEpoch(sizes, sampling, seed, epoch);
      const draws = lengthBucketing ? bucketDraws(drawn, (d) => ((runs[d.task] as TaskRun).data.rows[d.example]?.ids.length ?? 0), batchSize, seed, epoch) : drawn;
      let at = epoch === start.epoch ? start.draw : 0;
      for (let b = epoch === start.epoch ? start.batch : 0; ; b++) {
        const { part, next } = nextBatch(draws, at, batchSize, stopped);
        if (part.length === 0) break;
        if (o.signal?.aborted) {
          await save(epoch, b, at);
          o.onEvent?.({ type: 'stop', reason: 'interrupted', step });
          throw new AdapterkitError('INTERRUPTED', `mixed-task training interrupted at step ${step}; a checkpoint of every task is saved: continue with ${RESUME_OPTION_TERM} (each task's best so far is in ${join(o.outDir, '<task>', 'best')})`, { step, options: { resume: RESUME_OPTION_TERM } });
        }
        if (step >= totalSteps) {
          stopReason = 'max-steps';
          break outer;
        }
        at = next;
        const batch = collate(part.map((d) => (runs[d.task] as TaskRun).data.rows[d.example] as NonNullable<TrainingData['rows'][number]>), base.tokenizer.padId);
        const labels = part.map((d) => ((runs[d.task] as TaskRun).data.labels([d.example]) as readonly MixedLabel[])[0] as MixedLabel);
        const out = await mixed.step(batch, part.map((d) => d.task), labels, { step });
        if (!Number.isFinite(out.loss)) fail('TRAINING_DIVERGED', `the loss became ${out.loss} at step ${step + 1} (learning rate ${lrAt(step)}): training diverged; start again with a lower learning rate (option lr) or a smaller clip norm (option clipNorm)`, { step: step + 1 });
        const lr = lrAt(step);
        const norms: Record<string, number> = {};
        runs.forEach((r, t) => {
          const n = out.taskCounts[t] as number;
          if (n === 0) return; // a task without examples in this batch does not step (as its own run would not)
          const grads = out.grads[t] as Float32Array[];
          norms[r.task.name] = clipByGlobalNorm(grads, clipNorm).norm;
          r.opt.step(grads, lr);
          r.seen += n;
        });
        step++;
        seen += part.length;
        await top.log({ type: 'train', step, epoch, loss: out.loss, lr, batch: part.length, seq: batch.seqLen, counts: Object.fromEntries(runs.map((r, t) => [r.task.name, out.taskCounts[t]])) });
        for (const [t, r] of runs.entries()) {
          const n = out.taskCounts[t] as number;
          if (n > 0) await r.run.log({ type: 'train', step, epoch, loss: (out.taskLossSums[t] as number) / n, lr, grad_norm: norms[r.task.name], batch: n });
        }
        o.onEvent?.({ type: 'step', step, totalSteps, epoch, loss: out.loss, lr, examplesPerSec: seen / ((performance.now() - startedAt) / 1000), counts: out.taskCounts });
        if (o.evalEvery && step % o.evalEvery === 0) {
          await evaluateAll(epoch);
          await save(epoch, b + 1, at);
          if (stopped.size === runs.length) {
            stopReason = 'early-stop';
            break outer;
          }
        }
      }
      if (!o.evalEvery) await evaluateAll(epoch);
      await save(epoch + 1, 0, 0);
      if (stopped.size === runs.length) {
        stopReason = 'early-stop';
        break;
      }
    }
    if (lastEval !== step && step > 0) await evaluateAll(Math.min(epochs - 1, Math.floor((step - 1) / stepsPerEpoch)));
  } finally {
    await mixed.dispose();
  }
  o.onEvent?.({ type: 'stop', reason: stopReason, step });
  const seconds = (performance.now() - t0) / 1000;
  return {
    steps: step, stopReason, seconds, examplesPerSec: seen / Math.max(1e-9, (performance.now() - startedAt) / 1000),
    tasks: runs.map((r) => ({
      name: r.task.name, bestDir: r.run.bestDir, steps: r.opt.stepCount, seen: r.seen, ...(r.stoppedAt !== undefined ? { stoppedAt: r.stoppedAt } : {}),
      ...(r.st.best ? { best: { step: r.st.best.step, epoch: r.st.best.epoch, metrics: r.st.best.metrics } } : {}),
    })),
  };
}
