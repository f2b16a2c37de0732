/**
 * Evaluation metrics, declared in one table: each name maps to what it scores and how.
 *
 * Degenerate inputs follow scikit-learn / scipy: MCC is 0 and F1 is 0 when undefined (e.g.
 * constant predictions, or no positive anywhere); Pearson and Spearman are NaN when either side is
 * constant. Empty or unequal-length inputs throw BAD_DATA.
 *
 * @example
 * ```ts
 * computeMetrics(['f1', 'accuracy'], [1, 0, 1, 1], [1, 0, 0, 1]);
 * // { f1: 0.8, accuracy: 0.75 }
 * ```
 */
import { fail } from '../../errors.js';
import { accuracy, exactMatch, f1, macroF1, matthews, microF1, precision, recall } from './classification.js';
import { pearson, spearman } from './correlation.js';
import { rocAuc } from './ranking.js';

export { accuracy, exactMatch, f1, macroF1, matthews, microF1, precision, recall } from './classification.js';
export { averageRanks, pearson, spearman } from './correlation.js';
export { rocAuc } from './ranking.js';

type Single = readonly number[];
type MultiHot = readonly (readonly number[])[];

/**
 * What a metric scores: class indexes, the predicted probability of the positive class
 * (`probability`; the labels are still class indexes), real-valued scores, or multi-hot rows.
 */
export type MetricInput = 'class' | 'probability' | 'score' | 'multilabel';

/** What a metric may need besides predictions and labels. */
export interface MetricContext {
  /** Class index of the positive class of f1, precision, recall and roc_auc (default 1). */
  readonly positive: number;
}

/** One metric's declaration. */
export interface MetricSpec {
  readonly input: MetricInput;
  /** True when the metric scores one positive class (chosen with `positive`, default class 1). */
  readonly positiveClass: boolean;
  readonly description: string;
  readonly compute: (predictions: Single | MultiHot, labels: Single | MultiHot, ctx: MetricContext) => number;
}

const single = (fn: (p: Single, t: Single) => number) => (p: Single | MultiHot, t: Single | MultiHot) => fn(p as Single, t as Single);
const ofPositive = (fn: (p: Single, t: Single, positive: number) => number) => (p: Single | MultiHot, t: Single | MultiHot, ctx: MetricContext) => fn(p as Single, t as Single, ctx.positive);
const multi = (fn: (p: MultiHot, t: MultiHot) => number) => (p: Single | MultiHot, t: Single | MultiHot) => fn(p as MultiHot, t as MultiHot);

/** Every metric adapterkit computes; higher is better for all of them. */
export const METRICS = {
  accuracy: { input: 'class', positiveClass: false, description: 'fraction of exact class matches', compute: single(accuracy) },
  f1: { input: 'class', positiveClass: true, description: 'F1 of the positive class (class 1 unless a positive label is chosen)', compute: ofPositive(f1) },
  precision: { input: 'class', positiveClass: true, description: 'precision of the positive class', compute: ofPositive(precision) },
  recall: { input: 'class', positiveClass: true, description: 'recall of the positive class', compute: ofPositive(recall) },
  roc_auc: { input: 'probability', positiveClass: true, description: 'area under the ROC curve of the positive class\'s probability (binary; NaN with one class only)', compute: ofPositive(rocAuc) },
  macro_f1: { input: 'class', positiveClass: false, description: 'unweighted mean of per-class F1', compute: single(macroF1) },
  matthews: { input: 'class', positiveClass: false, description: 'Matthews correlation (multi-class R_K as sklearn)', compute: single(matthews) },
  pearson: { input: 'score', positiveClass: false, description: "Pearson's r (NaN for constant input)", compute: single(pearson) },
  spearman: { input: 'score', positiveClass: false, description: "Spearman's rho with average ranks for ties (NaN for constant input)", compute: single(spearman) },
  micro_f1: { input: 'multilabel', positiveClass: false, description: 'micro-averaged F1 over all (row, label) cells', compute: multi(microF1) },
  exact_match: { input: 'multilabel', positiveClass: false, description: 'fraction of rows whose whole label set is right', compute: multi(exactMatch) },
} as const satisfies Record<string, MetricSpec>;

/** A metric name: a key of the internal `METRICS` table; docs/datasets.md defines each metric. */
export type MetricName = keyof typeof METRICS;

/** Metric values by name. */
export type MetricValues = Partial<Record<MetricName, number>>;

/** True when `name` is a known metric. */
export function isMetricName(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

/** Options of {@link computeMetrics}. */
export interface ComputeMetricsOptions {
  /** Class index of the positive class (default 1). */
  readonly positive?: number;
  /** Predicted probability of the positive class per example: what `probability` metrics (roc_auc) score. */
  readonly scores?: readonly number[];
}

/**
 * Computes several metrics at once. `predictions` and `labels` are class indexes, scores, or
 * multi-hot rows, whichever the metrics expect; roc_auc scores `o.scores` against the labels.
 *
 * @example
 * ```ts
 * computeMetrics(['pearson', 'spearman'], [1, 2, 3], [1, 2, 2]);
 * // { pearson: 0.8660254037844387, spearman: 0.8660254037844387 }
 * computeMetrics(['f1', 'roc_auc'], [0, 0, 1, 0], [0, 0, 1, 1], { positive: 0, scores: [0.9, 0.6, 0.2, 0.7] });
 * // { f1: 0.8, roc_auc: 0.75 }
 * ```
 */
export function computeMetrics(
  names: readonly MetricName[],
  predictions: Single | MultiHot,
  labels: Single | MultiHot,
  o: ComputeMetricsOptions = {},
): MetricValues {
  const out: MetricValues = {};
  const ctx: MetricContext = { positive: o.positive ?? 1 };
  for (const name of names) {
    if (!isMetricName(name)) fail('BAD_CONFIG', `unknown metric "${String(name)}"; known: ${Object.keys(METRICS).join(', ')}`);
    const spec: MetricSpec = METRICS[name];
    if (spec.input === 'probability') {
      if (!o.scores) fail('BAD_CONFIG', `${name} scores predicted probabilities: none were given`);
      out[name] = spec.compute(o.scores, labels, ctx);
      continue;
    }
    const wantRows = spec.input === 'multilabel';
    const first = labels[0] ?? predictions[0];
    if (first !== undefined && Array.isArray(first) !== wantRows) {
      fail('BAD_DATA', `${name} expects ${wantRows ? 'multi-hot rows' : 'one number per example'}, got ${Array.isArray(first) ? 'rows' : 'numbers'}`);
    }
    out[name] = spec.compute(predictions, labels, ctx);
  }
  return out;
}
