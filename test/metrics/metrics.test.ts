import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracy, averageRanks, computeMetrics, exactMatch, f1, macroF1, matthews, microF1, pearson, spearman,
} from '../../src/train/metrics/index.js';

const close = (actual: number, expected: number, eps = 1e-12) =>
  assert.ok(Math.abs(actual - expected) < eps, `expected ${expected}, got ${actual}`);

test('accuracy counts exact matches', () => {
  // 3 of 4 right
  assert.equal(accuracy([1, 0, 1, 1], [1, 0, 0, 1]), 0.75);
});

test('binary f1 uses class 1 as positive', () => {
  // preds [1,1,0,1,0] vs labels [1,0,0,1,1]: tp=2 (idx 0,3), fp=1 (idx 1), fn=1 (idx 4) -> 2*2/(4+1+1) = 2/3
  close(f1([1, 1, 0, 1, 0], [1, 0, 0, 1, 1]), 2 / 3);
  // no positive anywhere: sklearn's zero_division default gives 0
  assert.equal(f1([0, 0, 0], [0, 0, 0]), 0);
});

test('macro f1 averages per-class f1', () => {
  // labels [0,1,1,2,2,0], preds [0,1,2,2,1,0]
  // class 0: tp 2 fp 0 fn 0 -> 1; class 1: tp 1 fp 1 fn 1 -> 0.5; class 2: tp 1 fp 1 fn 1 -> 0.5; mean = 2/3
  close(macroF1([0, 1, 2, 2, 1, 0], [0, 1, 1, 2, 2, 0]), 2 / 3);
});

test('matthews: binary', () => {
  // tp=2 tn=1 fp=1 fn=1: (2*1 - 1*1) / sqrt(3*3*2*2) = 1/6
  close(matthews([1, 1, 0, 1, 0], [1, 0, 0, 1, 1]), 1 / 6);
  // perfect and inverted
  close(matthews([0, 1, 0, 1], [0, 1, 0, 1]), 1);
  close(matthews([1, 0, 1, 0], [0, 1, 0, 1]), -1);
});

test('matthews: multi-class generalisation as sklearn', () => {
  // labels [0,0,1,1,2,2,2], preds [0,1,1,1,2,0,2]: s=7, correct c=5, true counts t=[2,2,3], predicted p=[2,3,2]
  // (c*s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)) = (35 - 16) / sqrt((49-17)(49-17)) = 19/32
  close(matthews([0, 1, 1, 1, 2, 0, 2], [0, 0, 1, 1, 2, 2, 2]), 19 / 32);
  // labels [0,1,1,2,2,0], preds [0,1,2,2,1,0]: c=4, t=p=[2,2,2]: (24-12)/sqrt(24*24) = 0.5
  close(matthews([0, 1, 2, 2, 1, 0], [0, 1, 1, 2, 2, 0]), 0.5);
});

test('matthews of constant predictions is 0, as sklearn', () => {
  assert.equal(matthews([1, 1, 1, 1], [0, 1, 0, 1]), 0);
  assert.equal(matthews([2, 2, 2], [0, 1, 2]), 0);
});

test('pearson by hand, NaN for constant input as scipy', () => {
  // x=[1,2,3], y=[1,2,2]: dx=[-1,0,1], dy=[-2/3,1/3,1/3]; cov=1, var x=2, var y=2/3 -> 1/sqrt(4/3) = sqrt(3)/2
  close(pearson([1, 2, 3], [1, 2, 2]), Math.sqrt(3) / 2);
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
  assert.ok(Number.isNaN(pearson([1, 2, 3], [4, 4, 4])));
  assert.ok(Number.isNaN(pearson([1], [2])));
});

test('average ranks for ties', () => {
  // three 3s take ranks 3,4,5 -> 4 each
  assert.deepEqual(averageRanks([3, 1, 3, 2, 3]), [4, 1, 4, 2, 4]);
});

test('spearman with ties uses average ranks', () => {
  // x=[10,20,20,40] -> ranks [1,2.5,2.5,4]; y=[1,3,2,4] -> ranks [1,3,2,4]
  // dx=[-1.5,0,0,1.5], dy=[-1.5,0.5,-0.5,1.5]: cov=4.5, var x=4.5, var y=5 -> 4.5/sqrt(22.5) = 0.9486832980505138
  close(spearman([10, 20, 20, 40], [1, 3, 2, 4]), 4.5 / Math.sqrt(22.5));
  // monotone but non-linear -> 1
  close(spearman([1, 2, 3, 4], [1, 4, 9, 100]), 1);
  assert.ok(Number.isNaN(spearman([5, 5, 5], [1, 2, 3])));
});

test('multilabel micro f1 and exact match', () => {
  // cells: row0 tp at 0, fp at 2; row1 tp at 1 -> tp=2 fp=1 fn=0 -> 4/5
  const preds = [[1, 0, 1], [0, 1, 0]];
  const gold = [[1, 0, 0], [0, 1, 0]];
  close(microF1(preds, gold), 0.8);
  assert.equal(exactMatch(preds, gold), 0.5);
  assert.throws(() => microF1([[1, 0]], [[1, 0, 0]]), /row 0 has 2 predicted and 3 true labels/);
});

test('computeMetrics computes each named metric', () => {
  const out = computeMetrics(['f1', 'accuracy', 'matthews'], [1, 0, 1, 1], [1, 0, 0, 1]);
  // tp=2 fp=1 fn=0 -> f1 4/5; acc 3/4; MCC: tp=2 tn=1 fp=1 fn=0 -> (2-0)/sqrt(3*2*1*2) = 2/sqrt(12)
  close(out.f1 as number, 0.8);
  assert.equal(out.accuracy, 0.75);
  close(out.matthews as number, 2 / Math.sqrt(12));
  assert.deepEqual(Object.keys(computeMetrics(['micro_f1', 'exact_match'], [[1]], [[1]])), ['micro_f1', 'exact_match']);
});

test('bad inputs are rejected with a specific message', () => {
  assert.throws(() => accuracy([1, 0], [1]), /accuracy: 2 predictions but 1 labels/);
  assert.throws(() => f1([], []), /f1: no examples to score/);
  assert.throws(() => computeMetrics(['nope' as never], [1], [1]), /unknown metric "nope"/);
  assert.throws(() => computeMetrics(['accuracy'], [[1]], [[1]]), /accuracy expects one number per example, got rows/);
  assert.throws(() => computeMetrics(['micro_f1'], [1], [1]), /micro_f1 expects multi-hot rows/);
});
