/**
 * The trainer's options: what a caller may pass ({@link TrainOptions}), their defaults, and the
 * checks run before any file is touched ({@link resolveTrainOptions}). A new option belongs here:
 * declared on {@link TrainOptions}, defaulted and checked in {@link resolveTrainOptions}, and read
 * by the module that uses it from {@link ResolvedTrainOptions}.
 */
import { fail } from '../errors.js';
import type { MetricName } from './metrics/index.js';
import { DEFAULT_LR } from './modes.js';
import { DEFAULT_MAX_LENGTH, resolveMaxLength } from './max-length.js';
import { checkCacheMemory } from './frozen-cache-options.js';
import type { TaskModel } from './task-model.js';
import type { TrainingData } from './training-data.js';
import type { TrainEvent } from './trainer-events.js';

/** Options of {@link train}. */
export interface TrainOptions {
  /** Run directory (see the module comment of trainer.ts). */
  outDir: string;
  /** Task name used in the saved files. */
  taskName: string;
  /** Metrics to report; the first selects the best checkpoint. */
  metrics: readonly MetricName[];
  /** Passes over the training split. Default 3. */
  epochs?: number;
  /** Examples per optimizer step. Default 32. */
  batchSize?: number;
  /** Tokens per example, recorded in the saved task. Default 128, capped to the base's limit; more than the limit is BAD_CONFIG. */
  maxLength?: number;
  /** Peak learning rate (default per mode, {@link DEFAULT_LR}). */
  lr?: number;
  /** AdamW weight decay. Default 0.01. */
  weightDecay?: number;
  /** Share of the steps of linear warm-up before the linear decay. Default 0.1. */
  warmupRatio?: number;
  /** The gradient is clipped at this global norm. Default 1. */
  clipNorm?: number;
  /** Seed of the data order (default 42) (the model has its own for initialisation and dropout). */
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
  /**
   * Compute the input of the lowest layer that trains once per training row and train from it
   * (train/frozen-cache.ts): for AdapterDrop, `leave_out` of the lowest layers, top-k. Dropout below
   * that layer is off (it changes the training, hence opt-in). BAD_CONFIG when something trains in
   * the embeddings or layer 0 (nothing to cache).
   */
  cacheFrozenLayers?: boolean;
  /** The cache's memory budget in bytes (default 2 GiB); rows over it go to a file in `outDir`. */
  cacheMemoryBytes?: number;
}

/** Options of {@link trainOn}: those of {@link train} except the metrics, which the data names. */
export type TrainDataOptions = Omit<TrainOptions, 'metrics'>;

/**
 * How library messages name the resume option. Errors that name options list them in
 * `details.options` (option name -> the words used in the message), so that the CLI can put its
 * own flag in their place (`--resume`) while the library speaks of its options.
 */
export const RESUME_OPTION_TERM = 'the option resume: true';

export { DEFAULT_MAX_LENGTH };

/** {@link TrainDataOptions} with every default filled in and every value checked. */
export interface ResolvedTrainOptions {
  readonly outDir: string;
  readonly taskName: string;
  readonly epochs: number;
  readonly batchSize: number;
  readonly maxLength: number;
  /** Peak learning rate: the option, or the mode's default. */
  readonly peakLr: number;
  readonly weightDecay: number;
  readonly warmupRatio: number;
  readonly clipNorm: number;
  readonly seed: number;
  /** Evaluate every N steps; undefined or 0: at the end of each epoch. */
  readonly evalEvery: number | undefined;
  readonly patience: number | undefined;
  readonly maxSteps: number | undefined;
  readonly resume: boolean;
  readonly signal: AbortSignal | undefined;
  readonly onEvent: ((e: TrainEvent) => void) | undefined;
  readonly cacheFrozenLayers: boolean;
  readonly cacheMemoryBytes: number | undefined;
}

/**
 * The tokens per example to train with: the option, or the default 128 capped to the base's limit.
 * BAD_CONFIG when an explicit value is not an integer of at least 2 or exceeds the limit.
 */
export function checkMaxLength(model: TaskModel, maxLength: number | undefined): number {
  return resolveMaxLength(model.base.encoder.maxLength, maxLength, { over: 'fail', name: 'max length', taken: model.positionsTaken });
}

/**
 * Fills in the defaults (3 epochs, batches of 32, 128 tokens, the mode's learning rate, seed 42,
 * weight decay 0.01, 10 % warm-up, clipping at 1.0) and checks the options and the data: BAD_CONFIG
 * or BAD_DATA naming the first value that cannot work.
 */
export function resolveTrainOptions(model: TaskModel, data: TrainingData, o: TrainDataOptions): ResolvedTrainOptions {
  const epochs = o.epochs ?? 3;
  const batchSize = o.batchSize ?? 32;
  const maxLength = checkMaxLength(model, o.maxLength);
  const peakLr = o.lr ?? (DEFAULT_LR[model.mode.kind] as number);
  if (!(Number.isInteger(epochs) && epochs >= 1)) fail('BAD_CONFIG', `epochs must be a positive integer, got ${epochs}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) fail('BAD_CONFIG', `batch size must be a positive integer, got ${batchSize}`);
  if (!(peakLr > 0)) fail('BAD_CONFIG', `learning rate must be positive, got ${peakLr}`);
  if (data.rows.length === 0) fail('BAD_DATA', 'the training split is empty');
  if (data.metrics.length === 0) fail('BAD_CONFIG', 'no metrics to evaluate');
  if (o.cacheMemoryBytes !== undefined) {
    if (!o.cacheFrozenLayers) fail('BAD_CONFIG', 'cacheMemoryBytes is the budget of the frozen-layer cache: it needs cacheFrozenLayers: true');
    checkCacheMemory(o.cacheMemoryBytes);
  }
  return {
    outDir: o.outDir, taskName: o.taskName, epochs, batchSize, maxLength, peakLr,
    weightDecay: o.weightDecay ?? 0.01, warmupRatio: o.warmupRatio ?? 0.1, clipNorm: o.clipNorm ?? 1.0, seed: o.seed ?? 42,
    evalEvery: o.evalEvery, patience: o.patience, maxSteps: o.maxSteps, resume: Boolean(o.resume), signal: o.signal, onEvent: o.onEvent,
    cacheFrozenLayers: Boolean(o.cacheFrozenLayers), cacheMemoryBytes: o.cacheMemoryBytes,
  };
}
