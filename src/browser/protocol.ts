/**
 * The messages between the ui page and its training worker (train-worker.ts). One declaration,
 * used by both sides.
 */
import type { Example } from '../train/data/types.js';
import type { MetricName } from '../train/metrics/index.js';
import type { TrainEvent } from '../train/trainer-events.js';
import type { TaskUpload } from './task-upload.js';
import type { FrozenPrecision } from '../train/frozen-precision.js';

/** The name the embedded base (USE-lite) goes by in the page's base picker and in task uploads. */
export const EMBEDDED_BASE_NAME = 'use-lite';

/** A local BERT-family base the ui server offers (`GET /api/bases`; see served-bases.ts). */
export interface ServedBase {
  /** What the page's base picker and the task upload call it. */
  readonly name: string;
  /** config.json's model_type. */
  readonly family: string;
  /** The files the worker fetches from `/assets/bases/<name>/`. */
  readonly files: readonly string[];
}

/** A task as the page hands it to the worker. */
export interface BrowserTask {
  readonly name: string;
  readonly labels: readonly string[];
  readonly train: readonly Example[];
  readonly dev: readonly Example[];
  readonly metrics: readonly MetricName[];
}

/** Training settings the page sets. */
export interface BrowserTrainConfig {
  /** Bottleneck size m of the Houlsby adapter. */
  readonly adapterSize: number;
  readonly lr: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly maxLength: number;
  /** Stop after this many steps (undefined: the epochs' end). */
  readonly maxSteps?: number;
  /** Evaluate on the dev split every N steps (undefined: every epoch). */
  readonly evalEvery?: number;
  readonly seed: number;
  /** The base to train on: {@link EMBEDDED_BASE_NAME} (default) or a served base's name. */
  readonly base?: string;
  /**
   * The frozen base's matmuls (default fp32): int8 quantises them once under the outlier guard,
   * as `--frozen-precision int8` does (in wasm the int8 step takes 0.51-0.70 of the fp32 one's time:
   * docs/browser.md). The adapter, head, layer norms and optimizer stay fp32.
   */
  readonly frozenPrecision?: FrozenPrecision;
}

/** Page -> worker. */
export type ToWorker =
  | { readonly type: 'init'; readonly threads?: number; readonly assetsUrl: string; readonly ortUrl: string; readonly basesUrl?: string; readonly bases?: readonly ServedBase[] }
  | { readonly type: 'train'; readonly task: BrowserTask; readonly config: BrowserTrainConfig }
  | { readonly type: 'stop' }
  | { readonly type: 'resume' }
  /**
   * Classify `texts` with the model trained in the tab (no `model`: at the precision it trains
   * with) or with the opened task `model`, whose frozen base (and adapter) run in
   * `frozenPrecision` (default fp32; int8 under the outlier guard, measured on the first texts).
   */
  | { readonly type: 'predict'; readonly id: number; readonly texts: readonly string[]; readonly model?: string; readonly frozenPrecision?: FrozenPrecision }
  | { readonly type: 'load-task'; readonly upload: TaskUpload }
  | { readonly type: 'export' };

/** One text's prediction, as the page shows it. */
export interface BrowserPrediction {
  readonly label: string;
  readonly probs: readonly number[];
  readonly logits: readonly number[];
}

/** Worker -> page. */
export type FromWorker =
  | { readonly type: 'ready'; readonly threads: number; readonly isolated: boolean; readonly runtime: string }
  | { readonly type: 'status'; readonly text: string }
  /**
   * The int8 outlier guard's summary (summarizeFrozenPlan), once it has run on the first batch:
   * of the tab's run, or (with `task`) of the opened task predicting with an int8 base.
   */
  | { readonly type: 'frozen-plan'; readonly summary: string; readonly task?: string }
  | { readonly type: 'event'; readonly event: TrainEvent }
  | { readonly type: 'stopped'; readonly step: number; readonly totalSteps: number }
  | { readonly type: 'finished'; readonly step: number; readonly reason: string; readonly best?: { readonly step: number; readonly metrics: Record<string, number | null> } }
  | { readonly type: 'predictions'; readonly id: number; readonly predictions: readonly BrowserPrediction[]; readonly labels: readonly string[] }
  | { readonly type: 'exported'; readonly upload: TaskUpload }
  /** A saved task opened for Predict (`base`: the served base it is on; absent: the embedded one). */
  | { readonly type: 'task-loaded'; readonly name: string; readonly labels: readonly string[]; readonly base?: string }
  | { readonly type: 'error'; readonly code: string; readonly message: string; readonly during: 'init' | 'train' | 'predict' | 'export' | 'load' };
