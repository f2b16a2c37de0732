/**
 * Prediction and evaluation: logits -> predictions (argmax, score, or sigmoid threshold),
 * probabilities per label, and GLUE metrics against the labels.
 */
import { fail } from '../errors.js';
import type { HeadConfig } from '../heads/head.js';
import { computeMetrics, type MetricName, type MetricValues } from './metrics/index.js';
import type { Example } from './data/types.js';
import { collate, evalBatches, tokenizeAll, type TokenizedExample } from './batching.js';
import type { TaskModel } from './task-model.js';
import type { SavedTask } from './task-io.js';
import { DEFAULT_MAX_LENGTH, resolveMaxLength } from './max-length.js';
import { windowRows } from './windows.js';

/** A prediction for one example. */
export interface Prediction {
  /** Class index, score, or multi-hot row. */
  readonly value: number | number[];
  /** The predicted label's name (classification), or the names of the predicted labels (multi-label); absent for regression. */
  readonly label?: string | string[];
  /** Probability per label (softmax for classification, sigmoid for multi-label); empty for regression. */
  readonly probs: number[];
  /** The raw outputs. */
  readonly logits: number[];
  readonly truncated: boolean;
  /** With strided windows: how many windows the text was scored in (their logits averaged). */
  readonly windows?: number;
}

function softmax(xs: readonly number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Turns one row of logits into a prediction. */
export function toPrediction(head: HeadConfig, logits: number[], truncated: boolean): Prediction {
  if (head.kind === 'regression') return { value: logits[0] as number, probs: [], logits, truncated };
  if (head.kind === 'classification') {
    const probs = softmax(logits);
    const value = probs.indexOf(Math.max(...probs));
    return { value, label: head.labels[value] as string, probs, logits, truncated };
  }
  const probs = logits.map((z) => 1 / (1 + Math.exp(-z)));
  const value = probs.map((p) => (p >= head.threshold ? 1 : 0));
  return { value, label: head.labels.filter((_, i) => value[i] === 1), probs, logits, truncated };
}

/** Options of {@link predictExamples}. */
export interface PredictExamplesOptions {
  /** Tokens per example (per window with `windowOverlap`), capped to the base's limit. */
  readonly maxLength: number;
  readonly batchSize?: number;
  /** Rows tokenized beforehand (one per example). */
  readonly tokenized?: readonly TokenizedExample[];
  /**
   * Score texts longer than `maxLength` in strided windows that share this many tokens (see
   * windows.ts) and average the windows' logits, instead of truncating them. Single-text tasks.
   */
  readonly windowOverlap?: number;
  readonly onBatch?: (done: number) => void;
}

/** The logits of every row (batched in length order, results in row order). */
async function rowLogits(model: TaskModel, rows: readonly TokenizedExample[], o: { batchSize?: number; onBatch?: (done: number) => void }): Promise<number[][]> {
  const n = model.head.kind === 'regression' ? 1 : model.head.labels.length;
  const out: number[][] = new Array(rows.length);
  let done = 0;
  for (const idx of evalBatches(rows, o.batchSize ?? 64)) {
    const batch = collate(idx.map((i) => rows[i] as TokenizedExample), model.base.tokenizer.padId);
    const logits = await model.predict(batch);
    idx.forEach((i, r) => {
      out[i] = Array.from(logits.subarray(r * n, (r + 1) * n));
    });
    done += idx.length;
    o.onBatch?.(done);
  }
  return out;
}

/**
 * Predicts every example (batched in length order, results in input order). `maxLength` is capped
 * to the base's limit. With `windowOverlap`, long texts are scored in windows (see
 * {@link PredictExamplesOptions.windowOverlap}).
 */
export async function predictExamples(model: TaskModel, examples: readonly Example[], o: PredictExamplesOptions): Promise<Prediction[]> {
  const maxLength = resolveMaxLength(model.base.encoder.maxLength, o.maxLength, { taken: model.positionsTaken });
  if (o.windowOverlap !== undefined) {
    const { rows, owner } = windowRows(model, examples, { maxLength, overlap: o.windowOverlap });
    const logits = await rowLogits(model, rows, o);
    const sums: number[][] = examples.map(() => []);
    const counts = examples.map(() => 0);
    logits.forEach((l, r) => {
      const i = owner[r] as number;
      const sum = sums[i] as number[];
      l.forEach((v, k) => { sum[k] = (sum[k] ?? 0) + v; });
      counts[i] = (counts[i] as number) + 1;
    });
    return sums.map((sum, i) => ({ ...toPrediction(model.head, sum.map((v) => v / (counts[i] as number)), false), windows: counts[i] as number }));
  }
  const rows = o.tokenized ?? tokenizeAll(model.base.tokenizer, examples, model.head.pair, maxLength);
  const logits = await rowLogits(model, rows, o);
  return logits.map((l, i) => toPrediction(model.head, l, (rows[i] as TokenizedExample).truncated));
}

/**
 * Metrics of predictions against the examples' labels. `o.positive` is the class index of the
 * positive class (f1, precision, recall; roc_auc scores its predicted probability); default 1.
 */
export function scorePredictions(metrics: readonly MetricName[], preds: readonly Prediction[], examples: readonly Example[], o: { positive?: number } = {}): MetricValues {
  const labeled = examples.map((e, i) => [e, preds[i] as Prediction] as const).filter(([e]) => e.label !== undefined);
  if (labeled.length === 0) fail('BAD_DATA', 'cannot evaluate: no example has a label');
  const positive = o.positive ?? 1;
  const probs = labeled.map(([, p]) => p.probs[positive]);
  return computeMetrics(
    metrics,
    labeled.map(([, p]) => p.value) as number[],
    labeled.map(([e]) => e.label as number) as number[],
    { positive, ...(probs.every((x) => x !== undefined) ? { scores: probs } : {}) },
  );
}

/** A text to classify, or the two texts of a sentence-pair task. */
export type TextOrPair = string | readonly [string, string];

/** Options of {@link predictTexts}. */
export interface PredictTextsOptions {
  /** Tokens per text (default: the length the task was trained with, else 128), capped to the base's limit. */
  readonly maxLength?: number;
  readonly batchSize?: number;
  /** Score long texts in strided windows sharing this many tokens, instead of truncating them (see {@link predictExamples}). */
  readonly windowOverlap?: number;
}

/**
 * Predicts a list of texts (or text pairs) with a task loaded by `loadSavedTask` (or a
 * {@link TaskModel}), one prediction per text in order, each with its label's name.
 *
 * @example
 * ```ts
 * // the toy sentiment task of test/cli/metric-choice.test.ts (labels neg, pos; 8 steps on tiny-bert)
 * const base = await loadBase('test/fixtures/models/tiny-bert');
 * const task = await loadSavedTask(base, 'run/best');
 * await predictTexts(task, ['the cat is good .', 'the dog is bad .']);
 * // numbers rounded here to 4 significant digits (float32 arithmetic: about 7 are reproducible)
 * // [
 * //   { value: 0, label: 'neg', probs: [0.5238, 0.4762], logits: [0.06842, -0.02689], truncated: false },
 * //   { value: 0, label: 'neg', probs: [0.5428, 0.4572], logits: [0.1443, -0.02748], truncated: false },
 * // ]
 * await task.model.dispose();
 * ```
 */
export async function predictTexts(task: SavedTask | TaskModel, texts: readonly TextOrPair[], o: PredictTextsOptions = {}): Promise<Prediction[]> {
  const model = 'manifest' in task ? task.model : task;
  const trained = 'manifest' in task ? task.manifest.maxLength : undefined;
  if (model.head.kind === 'tagging' || model.head.kind === 'qa') {
    fail('BAD_CONFIG', `predictTexts is for sentence-level tasks; this task is ${model.head.kind} (use ${model.head.kind === 'qa' ? 'predictAnswers' : 'predictTags'})`);
  }
  const examples: Example[] = texts.map((t, i) => {
    const id = String(i);
    if (typeof t === 'string') {
      if (model.head.pair) fail('BAD_DATA', `text ${i}: this task takes sentence pairs; give [text, textPair]`);
      return { id, textA: t };
    }
    if (!model.head.pair) fail('BAD_DATA', `text ${i}: a pair was given but this task takes single texts`);
    return { id, textA: t[0], textB: t[1] };
  });
  const maxLength = resolveMaxLength(model.base.encoder.maxLength, o.maxLength, { fallback: trained ?? DEFAULT_MAX_LENGTH, taken: model.positionsTaken });
  return predictExamples(model, examples, {
    maxLength, ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}), ...(o.windowOverlap !== undefined ? { windowOverlap: o.windowOverlap } : {}),
  });
}
