/**
 * What the trainer tells its caller: progress events while it runs ({@link TrainEvent}) and the
 * summary it returns ({@link TrainResult}).
 */
import type { TaskMetricValues } from './training-data.js';

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

/** Why a run that returned stopped. */
export type StopReason = 'done' | 'early-stopping' | 'max-steps';

/** What a training run reports. */
export interface TrainResult {
  readonly steps: number;
  /** Epochs trained in, a partial last one included (a stop by maxSteps or early stopping within an epoch). */
  readonly epochsRun: number;
  /** Epochs trained to their end. */
  readonly epochsCompleted: number;
  readonly stopReason: StopReason;
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
