/**
 * Metrics of one positive class (issue 12: a 6 %-positive task had no positive-class F1, no AUC,
 * and "class 1" was whichever label sorted second): precision, recall and F1 of a chosen class,
 * ROC AUC from probabilities, and the metric choice applied to task data. Expected values are
 * worked out by hand in the comments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeMetrics, f1, precision, recall, rocAuc } from '../../src/train/metrics/index.js';
import { applyMetricChoice, positiveLabelOf } from '../../src/train/data/metric-choice.js';
import type { TaskData } from '../../src/train/data/types.js';

const close = (actual: number | undefined, expected: number, eps = 1e-12) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) < eps, `expected ${expected}, got ${actual}`);

test('precision, recall and F1 of a chosen positive class', () => {
  // labels [0,0,1,1,0,1], preds [0,1,1,0,0,1]
  // positive 0: tp = idx 0,4 -> 2; fp = idx 3 -> 1; fn = idx 1 -> 1: P 2/3, R 2/3, F1 4/6
  // positive 1: tp = idx 2,5 -> 2; fp = idx 1 -> 1; fn = idx 3 -> 1: same counts by symmetry here
  const p = [0, 1, 1, 0, 0, 1];
  const t = [0, 0, 1, 1, 0, 1];
  close(precision(p, t, 0), 2 / 3);
  close(recall(p, t, 0), 2 / 3);
  close(f1(p, t, 0), 2 / 3);
  // an imbalanced case where the two classes differ: labels [1,0,0,0,0], preds [1,1,0,0,0]
  // positive 1: tp 1, fp 1, fn 0 -> P 1/2, R 1, F1 2/3; positive 0: tp 3, fp 0, fn 1 -> P 1, R 3/4, F1 6/7
  close(f1([1, 1, 0, 0, 0], [1, 0, 0, 0, 0], 1), 2 / 3);
  close(f1([1, 1, 0, 0, 0], [1, 0, 0, 0, 0], 0), 6 / 7);
  close(precision([1, 1, 0, 0, 0], [1, 0, 0, 0, 0], 1), 1 / 2);
  close(recall([1, 1, 0, 0, 0], [1, 0, 0, 0, 0], 0), 3 / 4);
  // nothing predicted positive / no positive label: 0 (sklearn's zero_division default)
  assert.equal(precision([0, 0], [1, 0]), 0);
  assert.equal(recall([1, 0], [0, 0]), 0);
});

test('ROC AUC counts the positive-over-negative pairs, ties as a half', () => {
  // positives score 0.9, 0.4; negatives 0.5, 0.1: pairs (0.9>0.5) (0.9>0.1) (0.4<0.5) (0.4>0.1) -> 3/4
  close(rocAuc([0.9, 0.5, 0.4, 0.1], [1, 0, 1, 0]), 3 / 4);
  // a tie between a positive and a negative counts 1/2: positives 0.8, 0.3; negatives 0.3, 0.2
  // pairs: 0.8>0.3 1, 0.8>0.2 1, 0.3=0.3 0.5, 0.3>0.2 1 -> 3.5/4
  close(rocAuc([0.8, 0.3, 0.3, 0.2], [1, 1, 0, 0]), 3.5 / 4);
  // the positive class is class 0: its scores are P(class 0)
  close(rocAuc([0.9, 0.5, 0.4, 0.1], [0, 1, 0, 1], 0), 3 / 4);
  // perfect and reversed rankings
  close(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  close(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  // one class only: undefined (sklearn raises), NaN here
  assert.ok(Number.isNaN(rocAuc([0.2, 0.3], [1, 1])));
});

test('computeMetrics takes the positive class and its probabilities', () => {
  // preds [0,0,1,0] vs labels [0,0,1,1], positive 0: tp 2, fp 1, fn 0 -> F1 4/5
  // P(class 0) [0.9,0.6,0.2,0.7]: positives 0.9, 0.6 vs negatives 0.2, 0.7 -> 3 of 4 pairs
  assert.deepEqual(computeMetrics(['f1', 'roc_auc'], [0, 0, 1, 0], [0, 0, 1, 1], { positive: 0, scores: [0.9, 0.6, 0.2, 0.7] }), { f1: 0.8, roc_auc: 0.75 });
  // default positive is class 1 (GLUE's MRPC and QQP F1): tp 1, fp 0, fn 1 -> 2/3
  close(computeMetrics(['f1'], [0, 0, 1, 0], [0, 0, 1, 1]).f1, 2 / 3);
  assert.throws(() => computeMetrics(['roc_auc'], [0, 1], [0, 1]), /roc_auc scores predicted probabilities: none were given/);
});

const task = (o: Partial<TaskData>): TaskData => ({ name: 't', kind: 'classification', labels: ['neg', 'pos'], pair: false, splits: {}, metrics: ['accuracy', 'macro_f1'], ...o });

test('a metric choice: the selection metric first, the positive label by name, clear refusals', () => {
  const t = applyMetricChoice(task({}), { metrics: ['f1', 'accuracy'], selectOn: 'roc_auc', positiveLabel: 'neg' });
  assert.deepEqual(t.metrics, ['roc_auc', 'f1', 'accuracy']);
  assert.equal(t.positive, 0);
  assert.equal(positiveLabelOf(t), 'neg');
  assert.deepEqual(applyMetricChoice(task({}), { selectOn: 'macro_f1' }).metrics, ['macro_f1', 'accuracy']);
  assert.equal(positiveLabelOf(applyMetricChoice(task({}), { metrics: ['f1'] })), 'pos', 'default: class 1');
  assert.equal(positiveLabelOf(task({})), undefined, 'no metric needs one');
  assert.throws(() => applyMetricChoice(task({}), { positiveLabel: 'spam' }), /positive label "spam" is not one of the labels of task t \(neg, pos\)/);
  assert.throws(() => applyMetricChoice(task({}), { metrics: ['pearson'] }), /metric "pearson" does not apply to task t, a classification task; use one of accuracy, f1, precision, recall, roc_auc, macro_f1, matthews/);
  assert.throws(() => applyMetricChoice(task({}), { metrics: ['auc' as 'f1'] }), /metric "auc" is not a metric/);
  const three = task({ labels: ['a', 'b', 'c'] });
  assert.throws(() => applyMetricChoice(three, { metrics: ['roc_auc'], positiveLabel: 'a' }), /roc_auc is for binary classification; task t has 3 labels \(a, b, c\)/);
  assert.throws(() => applyMetricChoice(three, { metrics: ['f1'] }), /f1 score\(s\) one positive class, but task t has 3 labels: choose it with positiveLabel \(--positive-label on the command line\)/);
  assert.equal(applyMetricChoice(three, { metrics: ['f1'], positiveLabel: 'c' }).positive, 2);
  assert.throws(() => applyMetricChoice(task({ kind: 'regression', labels: [], metrics: ['pearson'] }), { positiveLabel: 'x' }), /a positive label applies to classification; task t is a regression task/);
});
