/**
 * One experiment run: train a mode on a task (resuming its checkpoint when there is one), then
 * score the best dev checkpoint on the test split. Shared by `compareModes` and `runSweep`.
 */
import type { BaseModel } from '../../models/base.js';
import type { FrozenOptions } from '../frozen-precision.js';
import { describeMode, type TrainingMode } from '../modes.js';
import { loadSavedTask } from '../task-io.js';
import { TaskModel } from '../task-model.js';
import type { TaskMetricValues } from '../training-data.js';
import type { TrainDataOptions } from '../trainer.js';
import type { ExperimentTask } from './experiment-task.js';

/** What {@link trainAndTest} reports. */
export interface TrainAndTestResult {
  readonly dev: TaskMetricValues | null;
  readonly test: TaskMetricValues | null;
  readonly trainableParams: number;
  readonly baseParams: number;
  readonly share: number;
  readonly bytes: number;
  /** Wall time of the whole run: training, dev evaluations and the test evaluation. */
  readonly seconds: number;
  /** Wall time of the training call alone (as the trainer reports it). */
  readonly trainSeconds: number;
  readonly steps: number;
  readonly description: string;
  readonly bestDir: string;
}

/** Options of {@link trainAndTest}. */
export interface TrainAndTestOptions {
  readonly base: BaseModel;
  /** Supplies the head, the training and dev data, the test split and the task name. */
  readonly task: ExperimentTask;
  readonly mode: TrainingMode;
  readonly outDir: string;
  readonly seed: number;
  readonly threads?: number;
  /** Precision of the frozen base's matmuls in training and in the test scoring (default fp32); the guard's plan is reported once, for the training model. */
  readonly frozen?: FrozenOptions;
  readonly train: Omit<TrainDataOptions, 'outDir' | 'taskName' | 'seed' | 'resume'>;
}

/** Trains one mode and tests its best dev checkpoint; see the module comment. */
export async function trainAndTest(o: TrainAndTestOptions): Promise<TrainAndTestResult> {
  const head = o.task.head();
  const threads = o.threads !== undefined ? { threads: o.threads } : {};
  const model = TaskModel.create(o.base, { mode: o.mode, head, seed: o.seed, ...threads, ...o.frozen });
  const stats = model.stats();
  const t0 = performance.now();
  let r;
  try {
    r = await o.task.train(model, {
      ...o.train, outDir: o.outDir, taskName: o.task.name.replace(/[^A-Za-z0-9_-]/g, '_'), seed: o.seed, resume: true,
    });
  } finally {
    await model.dispose();
  }
  let test: TaskMetricValues | null = null;
  if (o.task.scoredSplits.includes('test')) {
    const best = await loadSavedTask(o.base, r.bestDir, { ...threads, ...o.frozen, onFrozenPlan: undefined, inference: true });
    try {
      test = await o.task.score(best.model, 'test', { maxLength: o.train.maxLength ?? o.task.defaultMaxLength });
    } finally {
      await best.model.dispose();
    }
  }
  return {
    dev: r.best?.metrics ?? null, test, trainableParams: stats.trainableParams, baseParams: stats.baseParams, share: stats.share,
    bytes: stats.bytesPerTask, seconds: (performance.now() - t0) / 1000, trainSeconds: r.seconds, steps: r.steps,
    description: describeMode(o.mode), bestDir: r.bestDir,
  };
}
