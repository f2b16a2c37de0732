// Learning-rate schedules, as transformers' get_linear_schedule_with_warmup / get_constant_schedule*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constantSchedule, linearWarmupDecay } from '../../src/train/optim/index.js';
import { throwsCoded } from './helpers.js';

test('linear warm-up then decay, at the boundary steps', () => {
  const lrAt = linearWarmupDecay({ peakLr: 1, totalSteps: 10, warmupSteps: 4 });
  // warm-up: step / 4; from step 4: (10 - step) / 6; 0 from step 10 on
  assert.deepEqual([0, 1, 3, 4, 5, 9, 10, 11, 1000].map(lrAt), [0, 0.25, 0.75, 1, 5 / 6, 1 / 6, 0, 0, 0]);
  const scaled = linearWarmupDecay({ peakLr: 2e-5, totalSteps: 10, warmupSteps: 4 });
  assert.equal(scaled(2), 2e-5 * 2 / 4);
  assert.equal(scaled(7), 2e-5 * (3 / 6));
});

test('no warm-up starts at the peak; warm-up over every step never decays', () => {
  const none = linearWarmupDecay({ peakLr: 0.1, totalSteps: 4 });
  assert.deepEqual([0, 1, 2, 3, 4].map(none), [0.1, 0.1 * 0.75, 0.1 * 0.5, 0.1 * 0.25, 0]);
  const all = linearWarmupDecay({ peakLr: 1, totalSteps: 4, warmupSteps: 4 });
  assert.deepEqual([0, 1, 3, 4, 5].map(all), [0, 0.25, 0.75, 0, 0]);
});

test('warmupRatio rounds the warm-up length up, as the transformers Trainer', () => {
  // ceil(10 * 0.06) = 1 warm-up step
  const lrAt = linearWarmupDecay({ peakLr: 1, totalSteps: 10, warmupRatio: 0.06 });
  assert.deepEqual([0, 1, 2].map(lrAt), [0, 1, 8 / 9]);
  const tenth = linearWarmupDecay({ peakLr: 1, totalSteps: 100, warmupRatio: 0.1 });
  assert.deepEqual([5, 10, 55].map(tenth), [0.5, 1, 0.5]);
});

test('constant schedule, with and without warm-up', () => {
  assert.deepEqual([0, 1, 99].map(constantSchedule(3e-4)), [3e-4, 3e-4, 3e-4]);
  assert.deepEqual([0, 1, 2, 50].map(constantSchedule(1, { warmupSteps: 2 })), [0, 0.5, 1, 1]);
});

test('schedules validate their arguments', () => {
  throwsCoded(() => linearWarmupDecay({ peakLr: -1, totalSteps: 10 }), 'BAD_CONFIG', /linearWarmupDecay: peakLr must be a finite number >= 0, got -1/);
  throwsCoded(() => linearWarmupDecay({ peakLr: 1, totalSteps: 0 }), 'BAD_CONFIG', /totalSteps must be a positive integer, got 0/);
  throwsCoded(() => linearWarmupDecay({ peakLr: 1, totalSteps: 2.5 }), 'BAD_CONFIG', /totalSteps must be a positive integer, got 2\.5/);
  throwsCoded(() => linearWarmupDecay({ peakLr: 1, totalSteps: 10, warmupSteps: 11 }), 'BAD_CONFIG', /warmupSteps \(11\) exceeds totalSteps \(10\)/);
  throwsCoded(() => linearWarmupDecay({ peakLr: 1, totalSteps: 10, warmupSteps: -1 }), 'BAD_CONFIG', /warmupSteps must be a non-negative integer, got -1/);
  throwsCoded(() => linearWarmupDecay({ peakLr: 1, totalSteps: 10, warmupRatio: 1.5 }), 'BAD_CONFIG', /warmupRatio must be in \[0, 1\], got 1\.5/);
  throwsCoded(() => linearWarmupDecay({ peakLr: 1, totalSteps: 10, warmupSteps: 1, warmupRatio: 0.1 }), 'BAD_CONFIG', /give warmupSteps or warmupRatio, not both/);
  const lrAt = linearWarmupDecay({ peakLr: 1, totalSteps: 10 });
  throwsCoded(() => lrAt(-1), 'BAD_CONFIG', /linearWarmupDecay: step must be a non-negative integer, got -1/);
  throwsCoded(() => lrAt(1.5), 'BAD_CONFIG', /step must be a non-negative integer, got 1\.5/);
  throwsCoded(() => constantSchedule(NaN), 'BAD_CONFIG', /constantSchedule: lr must be a finite number >= 0, got NaN/);
  throwsCoded(() => constantSchedule(1, { warmupSteps: 0.5 }), 'BAD_CONFIG', /constantSchedule: warmupSteps must be a non-negative integer, got 0\.5/);
  throwsCoded(() => constantSchedule(1)(NaN), 'BAD_CONFIG', /constantSchedule: step must be a non-negative integer, got NaN/);
});
