/**
 * Losses of token-level heads, composed from primitive ops (so they need no gradient rules of
 * their own). Shapes: B = batch, T = sequence positions, C = classes.
 */
import { fail } from '../errors.js';
import {
  cast, div, greater, less, logSoftmax, mul, neg, oneHot, reduceMean, reduceSum, where, type Value,
} from '../engine/index.js';

/**
 * Mean token cross-entropy of `logits` [B, T, C] against class indices `labels` [B, T] (int64),
 * ignoring positions labelled -100 (or any negative label): the sum of the kept positions'
 * negative log-likelihoods divided by max(kept positions, 1), as PyTorch's
 * `cross_entropy(ignore_index=-100)` (0 when nothing is kept).
 */
export function maskedTokenCrossEntropy(logits: Value, labels: Value): Value {
  if (logits.rank !== 3) fail('SHAPE_MISMATCH', `maskedTokenCrossEntropy: logits must be [batch, seq, classes], got ${logits.describe()}`);
  if (labels.rank !== 2) fail('SHAPE_MISMATCH', `maskedTokenCrossEntropy: labels must be [batch, seq], got ${labels.describe()}`);
  const c = logits.shape[2];
  if (typeof c !== 'number') fail('SHAPE_MISMATCH', `maskedTokenCrossEntropy: the class axis of ${logits.describe()} must be static`);
  const keep = greater(labels, -1); // [B, T] bool
  const safe = where(keep, labels, 0); // [B, T] int64, ignored positions -> class 0
  const onehot = oneHot(safe, c, logits.dtype); // [B, T, C]
  const nll = neg(reduceSum(mul(onehot, logSoftmax(logits, -1)), [2])); // [B, T]
  const mask = cast(keep, logits.dtype); // [B, T]
  const count = reduceSum(mask); // []
  return div(reduceSum(mul(nll, mask)), where(less(count, 1), 1, count));
}

/**
 * Extractive-QA loss: `logits` [B, T, 2] (start, end) against one-hot `targets` [B, T, 2] of the
 * start and end positions; softmax over positions, the mean of the start and end
 * cross-entropies, averaged over the batch.
 */
export function spanCrossEntropy(logits: Value, targets: Value): Value {
  if (logits.rank !== 3 || logits.shape[2] !== 2) fail('SHAPE_MISMATCH', `spanCrossEntropy: logits must be [batch, seq, 2], got ${logits.describe()}`);
  if (targets.rank !== 3) fail('SHAPE_MISMATCH', `spanCrossEntropy: targets must be [batch, seq, 2], got ${targets.describe()}`);
  const nll = neg(reduceSum(mul(targets, logSoftmax(logits, 1)), [1, 2])); // [B]: start + end
  return mul(reduceMean(nll), 0.5);
}
