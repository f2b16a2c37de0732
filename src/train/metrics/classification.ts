/**
 * Classification metrics over integer class indexes, with the values scikit-learn gives,
 * including its conventions for degenerate inputs (documented on each function).
 */
import { fail } from '../../errors.js';

/** Throws BAD_DATA unless `predictions` and `labels` are non-empty and of equal length. */
export function checkPaired(metric: string, predictions: ArrayLike<unknown>, labels: ArrayLike<unknown>): void {
  if (predictions.length !== labels.length) {
    fail('BAD_DATA', `${metric}: ${predictions.length} predictions but ${labels.length} labels`);
  }
  if (predictions.length === 0) fail('BAD_DATA', `${metric}: no examples to score`);
}

/** Fraction of predictions equal to their label (sklearn `accuracy_score`). */
export function accuracy(predictions: readonly number[], labels: readonly number[]): number {
  checkPaired('accuracy', predictions, labels);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return correct / labels.length;
}

/** F1 of one class from its counts; 0 when tp + fp + fn = 0 (sklearn's `zero_division` default). */
function f1FromCounts(tp: number, fp: number, fn: number): number {
  const denominator = 2 * tp + fp + fn;
  return denominator === 0 ? 0 : (2 * tp) / denominator;
}

/**
 * Binary F1 of the positive class (sklearn `f1_score` with `pos_label=positive`, default 1): 2tp / (2tp + fp + fn).
 * Returns 0 when the positive class appears in neither predictions nor labels.
 */
export function f1(predictions: readonly number[], labels: readonly number[], positive = 1): number {
  checkPaired('f1', predictions, labels);
  const { tp, fp, fn } = positiveCounts(predictions, labels, positive);
  return f1FromCounts(tp, fp, fn);
}

/** Counts of the positive class: true positives, false positives, false negatives. */
function positiveCounts(predictions: readonly number[], labels: readonly number[], positive: number): { tp: number; fp: number; fn: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i] === positive;
    const t = labels[i] === positive;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return { tp, fp, fn };
}

/** Precision of the positive class (sklearn `precision_score`): tp / (tp + fp); 0 when nothing is predicted positive. */
export function precision(predictions: readonly number[], labels: readonly number[], positive = 1): number {
  checkPaired('precision', predictions, labels);
  const { tp, fp } = positiveCounts(predictions, labels, positive);
  return tp + fp === 0 ? 0 : tp / (tp + fp);
}

/** Recall of the positive class (sklearn `recall_score`): tp / (tp + fn); 0 when no label is positive. */
export function recall(predictions: readonly number[], labels: readonly number[], positive = 1): number {
  checkPaired('recall', predictions, labels);
  const { tp, fn } = positiveCounts(predictions, labels, positive);
  return tp + fn === 0 ? 0 : tp / (tp + fn);
}

/**
 * Unweighted mean of per-class F1 (sklearn `f1_score(average='macro')`), over the classes that
 * occur in the labels or the predictions (sklearn's default label set).
 */
export function macroF1(predictions: readonly number[], labels: readonly number[]): number {
  checkPaired('macro_f1', predictions, labels);
  const classes = [...new Set([...labels, ...predictions])];
  let sum = 0;
  for (const c of classes) sum += f1(predictions, labels, c);
  return sum / classes.length;
}

/**
 * Matthews correlation coefficient, binary or multi-class (sklearn `matthews_corrcoef`, the R_K
 * generalisation): with confusion counts, c = correct, s = total, t_k / p_k = true / predicted
 * counts of class k: (c·s − Σ t_k p_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²)).
 * Returns 0 when the denominator is 0 (e.g. constant predictions), as sklearn does.
 */
export function matthews(predictions: readonly number[], labels: readonly number[]): number {
  checkPaired('matthews', predictions, labels);
  const trueCounts = new Map<number, number>();
  const predCounts = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i] as number;
    const p = predictions[i] as number;
    trueCounts.set(t, (trueCounts.get(t) ?? 0) + 1);
    predCounts.set(p, (predCounts.get(p) ?? 0) + 1);
    if (t === p) correct++;
  }
  const s = labels.length;
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (const [k, t] of trueCounts) tp += t * (predCounts.get(k) ?? 0);
  for (const p of predCounts.values()) pp += p * p;
  for (const t of trueCounts.values()) tt += t * t;
  const denominator = Math.sqrt((s * s - pp) * (s * s - tt));
  return denominator === 0 ? 0 : (correct * s - tp) / denominator;
}

/** Checks multi-hot rows are paired and of equal width. */
function checkMultiHot(metric: string, predictions: readonly (readonly number[])[], labels: readonly (readonly number[])[]): void {
  checkPaired(metric, predictions, labels);
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i] as readonly number[];
    const t = labels[i] as readonly number[];
    if (p.length !== t.length) fail('BAD_DATA', `${metric}: row ${i} has ${p.length} predicted and ${t.length} true labels`);
  }
}

/**
 * Micro-averaged F1 over multi-hot 0/1 rows (sklearn `f1_score(average='micro')` on indicator
 * matrices): counts pooled over every (row, label) cell; 0 when there is no positive anywhere.
 */
export function microF1(predictions: readonly (readonly number[])[], labels: readonly (readonly number[])[]): number {
  checkMultiHot('micro_f1', predictions, labels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i] as readonly number[];
    const t = labels[i] as readonly number[];
    for (let j = 0; j < t.length; j++) {
      if (p[j] === 1 && t[j] === 1) tp++;
      else if (p[j] === 1) fp++;
      else if (t[j] === 1) fn++;
    }
  }
  return f1FromCounts(tp, fp, fn);
}

/** Fraction of multi-hot rows predicted exactly (sklearn `accuracy_score` on indicator matrices, "subset accuracy"). */
export function exactMatch(predictions: readonly (readonly number[])[], labels: readonly (readonly number[])[]): number {
  checkMultiHot('exact_match', predictions, labels);
  let exact = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i] as readonly number[];
    const t = labels[i] as readonly number[];
    if (t.every((v, j) => v === p[j])) exact++;
  }
  return exact / labels.length;
}
