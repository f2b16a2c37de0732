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
import { accuracy, exactMatch, f1, macroF1, matthews, microF1 } from './classification.js';
import { pearson, spearman } from './correlation.js';

export { accuracy, exactMatch, f1, macroF1, matthews, microF1 } from './classification.js';
export { averageRanks, pearson, spearman } from './correlation.js';

type Single = readonly number[];
type MultiHot = readonly (readonly number[])[];

/** What a metric scores: class indexes, real-valued scores, or multi-hot rows. */
export type MetricInput = 'class' | 'score' | 'multilabel';

/** One metric's declaration. */
export interface MetricSpec {
  readonly input: MetricInput;
  readonly description: string;
  readonly compute: (predictions: Single | MultiHot, labels: Single | MultiHot) => number;
}

const single = (fn: (p: Single, t: Single) => number) => (p: Single | MultiHot, t: Single | MultiHot) => fn(p as Single, t as Single);
const multi = (fn: (p: MultiHot, t: MultiHot) => number) => (p: Single | MultiHot, t: Single | MultiHot) => fn(p as MultiHot, t as MultiHot);

/** Every metric adapterkit computes; higher is better for all of them. */
export const METRICS = {
  accuracy: { input: 'class', description: 'fraction of exact class matches', compute: single(accuracy) },
  f1: { input: 'class', description: 'binary F1 of class 1', compute: single(f1) },
  macro_f1: { input: 'class', description: 'unweighted mean of per-class F1', compute: single(macroF1) },
  matthews: { input: 'class', description: 'Matthews correlation (multi-class R_K as sklearn)', compute: single(matthews) },
  pearson: { input: 'score', description: "Pearson's r (NaN for constant input)", compute: single(pearson) },
  spearman: { input: 'score', description: "Spearman's rho with average ranks for ties (NaN for constant input)", compute: single(spearman) },
  micro_f1: { input: 'multilabel', description: 'micro-averaged F1 over all (row, label) cells', compute: multi(microF1) },
  exact_match: { input: 'multilabel', description: 'fraction of rows whose whole label set is right', compute: multi(exactMatch) },
} as const satisfies Record<string, MetricSpec>;

/** A metric name; see {@link METRICS}. */
export type MetricName = keyof typeof METRICS;

/** Metric values by name. */
export type MetricValues = Partial<Record<MetricName, number>>;

/** True when `name` is a known metric. */
export function isMetricName(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

/**
 * Computes several metrics at once. `predictions` and `labels` are class indexes, scores, or
 * multi-hot rows, whichever the metrics expect.
 *
 * @example
 * ```ts
 * computeMetrics(['pearson', 'spearman'], [1, 2, 3], [1, 2, 2]);
 * // { pearson: 0.8660254037844387, spearman: 0.8660254037844387 }
 * ```
 */
export function computeMetrics(
  names: readonly MetricName[],
  predictions: Single | MultiHot,
  labels: Single | MultiHot,
): MetricValues {
  const out: MetricValues = {};
  for (const name of names) {
    if (!isMetricName(name)) fail('BAD_CONFIG', `unknown metric "${String(name)}"; known: ${Object.keys(METRICS).join(', ')}`);
    const spec: MetricSpec = METRICS[name];
    const wantRows = spec.input === 'multilabel';
    const first = labels[0] ?? predictions[0];
    if (first !== undefined && Array.isArray(first) !== wantRows) {
      fail('BAD_DATA', `${name} expects ${wantRows ? 'multi-hot rows' : 'one number per example'}, got ${Array.isArray(first) ? 'rows' : 'numbers'}`);
    }
    out[name] = spec.compute(predictions, labels);
  }
  return out;
}
