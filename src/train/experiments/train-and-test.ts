/**
 * One experiment run: train a mode on a task (resuming its checkpoint when there is one), then
 * score the best dev checkpoint on the test split. Shared by `compareModes` and `runSweep`.
 */
import { headConfig } from '../../heads/head.js';
import type { BaseModel } from '../../models/base.js';
import type { Example, TaskData } from '../data/types.js';
import { predictExamples, scorePredictions } from '../evaluate.js';
import type { MetricValues } from '../metrics/index.js';
import { describeMode, type TrainingMode } from '../modes.js';
import { loadSavedTask } from '../task-io.js';
import { TaskModel } from '../task-model.js';
import { train, type TrainOptions } from '../trainer.js';

/** What {@link trainAndTest} reports. */
export interface TrainAndTestResult {
  readonly dev: MetricValues | null;
  readonly test: MetricValues | null;
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
  /** Supplies the head (kind, labels, pair), the metrics and the task name. */
  readonly task: TaskData;
  readonly splits: { readonly train: readonly Example[]; readonly dev?: readonly Example[]; readonly test?: readonly Example[] };
  readonly mode: TrainingMode;
  readonly outDir: string;
  readonly seed: number;
  readonly threads?: number;
  readonly train: Omit<TrainOptions, 'outDir' | 'taskName' | 'metrics' | 'seed' | 'resume'>;
}

/** Trains one mode and tests its best dev checkpoint; see the module comment. */
export async function trainAndTest(o: TrainAndTestOptions): Promise<TrainAndTestResult> {
  const head = headConfig({ kind: o.task.kind, labels: o.task.labels, pair: o.task.pair });
  const threads = o.threads !== undefined ? { threads: o.threads } : {};
  const model = TaskModel.create(o.base, { mode: o.mode, head, seed: o.seed, ...threads });
  const stats = model.stats();
  const t0 = performance.now();
  let r;
  try {
    r = await train(model, o.splits.train, o.splits.dev, {
      ...o.train, outDir: o.outDir, taskName: o.task.name.replace(/[^A-Za-z0-9_-]/g, '_'), metrics: o.task.metrics, seed: o.seed, resume: true,
    });
  } finally {
    await model.dispose();
  }
  let test: MetricValues | null = null;
  if (o.splits.test) {
    const best = await loadSavedTask(o.base, r.bestDir, threads);
    try {
      const preds = await predictExamples(best.model, o.splits.test, { maxLength: o.train.maxLength ?? 128 });
      test = scorePredictions(o.task.metrics, preds, o.splits.test);
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
