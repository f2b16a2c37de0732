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

/** A prediction for one example. */
export interface Prediction {
  /** Class index, score, or multi-hot row. */
  readonly value: number | number[];
  /** Probability per label (softmax for classification, sigmoid for multi-label); empty for regression. */
  readonly probs: number[];
  /** The raw outputs. */
  readonly logits: number[];
  readonly truncated: boolean;
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
    return { value: probs.indexOf(Math.max(...probs)), probs, logits, truncated };
  }
  const probs = logits.map((z) => 1 / (1 + Math.exp(-z)));
  return { value: probs.map((p) => (p >= head.threshold ? 1 : 0)), probs, logits, truncated };
}

/** Predicts every example (batched in length order, results in input order). */
export async function predictExamples(
  model: TaskModel,
  examples: readonly Example[],
  o: { maxLength: number; batchSize?: number; tokenized?: readonly TokenizedExample[]; onBatch?: (done: number) => void },
): Promise<Prediction[]> {
  const rows = o.tokenized ?? tokenizeAll(model.base.tokenizer, examples, model.head.pair, o.maxLength);
  const n = model.head.kind === 'regression' ? 1 : model.head.labels.length;
  const out: Prediction[] = new Array(rows.length);
  let done = 0;
  for (const idx of evalBatches(rows, o.batchSize ?? 64)) {
    const batch = collate(idx.map((i) => rows[i] as TokenizedExample), model.base.tokenizer.padId);
    const logits = await model.predict(batch);
    idx.forEach((i, r) => {
      out[i] = toPrediction(model.head, Array.from(logits.subarray(r * n, (r + 1) * n)), (rows[i] as TokenizedExample).truncated);
    });
    done += idx.length;
    o.onBatch?.(done);
  }
  return out;
}

/** Metrics of predictions against the examples' labels. */
export function scorePredictions(metrics: readonly MetricName[], preds: readonly Prediction[], examples: readonly Example[]): MetricValues {
  const labeled = examples.map((e, i) => [e, preds[i]] as const).filter(([e]) => e.label !== undefined);
  if (labeled.length === 0) fail('BAD_DATA', 'cannot evaluate: no example has a label');
  return computeMetrics(
    metrics,
    labeled.map(([, p]) => (p as Prediction).value) as number[],
    labeled.map(([e]) => e.label as number) as number[],
  );
}
