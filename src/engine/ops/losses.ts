/**
 * Losses, composed from primitive ops (so they need no gradient rules of their own).
 * Each returns a float32 scalar: the mean over examples.
 */
import { fail } from '../../errors.js';
import type { Value } from '../graph.js';
import { fmtShape } from '../shape.js';
import { expectDtype, expectFloat, expectRank } from './check.js';
import { abs, add, exp, log, mul, neg, relu, sub } from './elementwise.js';
import { reduceMean, reduceSum } from './reduce.js';
import { logSoftmax } from './nn.js';
import { oneHot } from './shape.js';

/** Mean softmax cross-entropy of `logits` [N, C] against class indices `labels` [N] (int64). */
export function softmaxCrossEntropy(logits: Value, labels: Value): Value {
  expectFloat('SoftmaxCrossEntropy', 'logits', logits);
  expectRank('SoftmaxCrossEntropy', 'logits', logits, 2);
  expectDtype('SoftmaxCrossEntropy', 'labels', labels, ['int64', 'int32']);
  expectRank('SoftmaxCrossEntropy', 'labels', labels, 1);
  const c = logits.shape[1];
  if (typeof c !== 'number') fail('SHAPE_MISMATCH', `SoftmaxCrossEntropy: the class axis of logits ${fmtShape(logits.shape)} must be static`);
  const onehot = oneHot(labels, c, logits.dtype); // [N, C]
  const nll = neg(reduceSum(mul(onehot, logSoftmax(logits, -1)), [1])); // [N]
  return reduceMean(nll);
}

/** Mean squared error between `pred` and `target` (same shape). */
export function meanSquaredError(pred: Value, target: Value): Value {
  expectFloat('MeanSquaredError', 'pred', pred);
  const d = sub(pred, target);
  return reduceMean(mul(d, d));
}

/**
 * Mean sigmoid binary cross-entropy of `logits` against 0/1 float `targets` (multi-label),
 * in the stable form max(x, 0) - x*y + log(1 + exp(-|x|)).
 */
export function sigmoidBinaryCrossEntropy(logits: Value, targets: Value): Value {
  return reduceMean(sigmoidBinaryCrossEntropyTerms(logits, targets));
}

/** The element-wise terms of {@link sigmoidBinaryCrossEntropy}, before the mean (the shape of `logits`). */
export function sigmoidBinaryCrossEntropyTerms(logits: Value, targets: Value): Value {
  expectFloat('SigmoidBinaryCrossEntropy', 'logits', logits);
  expectFloat('SigmoidBinaryCrossEntropy', 'targets', targets);
  return add(sub(relu(logits), mul(logits, targets)), log(add(exp(neg(abs(logits))), 1)));
}
