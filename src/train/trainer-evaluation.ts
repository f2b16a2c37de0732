/**
 * Evaluation during training: the dev split scored at the trainer's evaluation points, logged to
 * `metrics.jsonl`, compared with the best score so far, `best/` replaced on an improvement, and the
 * count of evaluations without one kept for early stopping.
 *
 * Which score picks the best checkpoint is decided in one place, {@link checkpointSelection}.
 */
import type { RunDir, TrainerState } from './run-dir.js';
import type { TaskModel } from './task-model.js';
import type { TaskMetricValues, TrainingData } from './training-data.js';
import type { TrainerCheckpoints } from './trainer-checkpoints.js';
import type { TrainEvent } from './trainer-events.js';

/** How the best checkpoint is chosen among evaluations. */
export interface CheckpointSelection {
  /** The metric compared. */
  readonly metric: string;
  /** The score of one evaluation; a missing or non-finite value scores -Infinity (never better). */
  score(metrics: TaskMetricValues): number;
  /** Whether an evaluation's score beats the best so far (the first evaluation always does). */
  improves(score: number, best: { readonly value: number } | undefined): boolean;
}

/**
 * The data's main metric (its first), higher is better. An option choosing another metric is
 * resolved in trainer-options.ts and passed here.
 */
export function checkpointSelection(data: Pick<TrainingData, 'metrics'>): CheckpointSelection {
  const metric = data.metrics[0] as string;
  return {
    metric,
    score: (metrics) => {
      const v = metrics[metric] ?? NaN;
      return Number.isFinite(v) ? v : -Infinity;
    },
    improves: (score, best) => !best || score > best.value,
  };
}

/** The dev evaluations of one run; see the module comment. */
export class DevEvaluation {
  /** Step of the last evaluation in this call (-1: none yet). */
  private evaluatedAt = -1;

  constructor(
    private readonly model: TaskModel,
    private readonly data: TrainingData,
    private readonly run: Pick<RunDir, 'log'>,
    private readonly checkpoints: Pick<TrainerCheckpoints, 'saveBest'>,
    private readonly selection: CheckpointSelection,
    private readonly onEvent: ((e: TrainEvent) => void) | undefined,
  ) {}

  /** Whether there is anything to evaluate on (without it, `best/` is the last step's task). */
  get enabled(): boolean {
    return this.data.evaluate !== undefined && (this.data.evalExamples ?? 0) > 0;
  }

  /** Whether the last evaluation of this call was at `step`. */
  evaluatedAtStep(step: number): boolean {
    return this.evaluatedAt === step;
  }

  /**
   * Scores the dev split at `st`'s position, logs it, and updates `st.best` (saving `best/`) or
   * counts an evaluation without improvement. Returns whether it improved; false when disabled.
   */
  async evaluate(st: TrainerState): Promise<boolean> {
    const te = performance.now();
    if (!this.enabled || !this.data.evaluate) return false;
    this.evaluatedAt = st.step;
    const total = this.data.evalExamples ?? 0;
    const metrics = await this.data.evaluate(this.model, { onBatch: (done) => this.onEvent?.({ type: 'eval-progress', done, total }) });
    const score = this.selection.score(metrics);
    const improved = this.selection.improves(score, st.best);
    await this.run.log({ type: 'eval', split: 'dev', step: st.step, epoch: st.epoch, ...metrics });
    if (improved) {
      st.best = { step: st.step, epoch: st.epoch, metrics, value: score };
      st.evalsWithoutImprovement = 0;
      await this.checkpoints.saveBest({ step: st.step, epoch: st.epoch, dev: metrics });
    } else st.evalsWithoutImprovement++;
    this.onEvent?.({ type: 'eval', step: st.step, epoch: st.epoch, metrics, best: improved, seconds: (performance.now() - te) / 1000 });
    return improved;
  }
}

/** Whether early stopping ends the run: `patience` evaluations in a row without improvement. */
export function patienceExhausted(st: TrainerState, patience: number | undefined): boolean {
  return patience !== undefined && st.evalsWithoutImprovement >= patience;
}
