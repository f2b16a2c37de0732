/**
 * Correlation metrics for regression tasks, matching scipy.stats: a constant input (zero
 * variance) or fewer than two points gives NaN, as `pearsonr` / `spearmanr` do.
 */
import { checkPaired } from './classification.js';

/** Pearson's r (scipy `pearsonr`); NaN when either side is constant or has fewer than 2 values. */
export function pearson(predictions: readonly number[], labels: readonly number[]): number {
  checkPaired('pearson', predictions, labels);
  const n = labels.length;
  if (n < 2) return NaN;
  let meanP = 0;
  let meanT = 0;
  for (let i = 0; i < n; i++) {
    meanP += predictions[i] as number;
    meanT += labels[i] as number;
  }
  meanP /= n;
  meanT /= n;
  let cov = 0;
  let varP = 0;
  let varT = 0;
  for (let i = 0; i < n; i++) {
    const dp = (predictions[i] as number) - meanP;
    const dt = (labels[i] as number) - meanT;
    cov += dp * dt;
    varP += dp * dp;
    varT += dt * dt;
  }
  if (varP === 0 || varT === 0) return NaN;
  const r = cov / Math.sqrt(varP * varT);
  return Math.max(-1, Math.min(1, r));
}

/** 1-based ranks where tied values share the average of the ranks they span (scipy `rankdata` 'average'). */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start;
    while (end + 1 < order.length && (order[end + 1] as { v: number }).v === (order[start] as { v: number }).v) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[(order[k] as { i: number }).i] = rank;
    start = end + 1;
  }
  return ranks;
}

/** Spearman's rho (scipy `spearmanr`): Pearson's r of average ranks; NaN for constant input. */
export function spearman(predictions: readonly number[], labels: readonly number[]): number {
  checkPaired('spearman', predictions, labels);
  return pearson(averageRanks(predictions), averageRanks(labels));
}
