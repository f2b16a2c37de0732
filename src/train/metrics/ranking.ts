/**
 * Ranking metrics over predicted probabilities (not class decisions), with scikit-learn's values.
 */
import { checkPaired } from './classification.js';
import { averageRanks } from './correlation.js';

/**
 * Area under the ROC curve of the positive class (sklearn `roc_auc_score` on binary labels):
 * the probability that a random positive example scores above a random negative one, ties
 * counting a half (the Mann-Whitney U statistic over average ranks). `scores` are the predicted
 * probabilities of the positive class. NaN when the labels hold only one class (sklearn raises).
 */
export function rocAuc(scores: readonly number[], labels: readonly number[], positive = 1): number {
  checkPaired('roc_auc', scores, labels);
  const ranks = averageRanks(scores);
  let nPos = 0;
  let rankSum = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === positive) {
      nPos++;
      rankSum += ranks[i] as number;
    }
  }
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
