/**
 * Learning-rate schedules: functions from the number of optimiser steps already taken to the
 * learning rate of the next step. With `t` steps done, call `opt.step(grads, schedule(t))`; this
 * matches PyTorch's `LambdaLR`, whose learning rate for the first step is `lambda(0)`.
 *
 * @example
 * ```ts
 * const lrAt = linearWarmupDecay({ peakLr: 1e-3, totalSteps: 10, warmupSteps: 2 });
 * [0, 1, 2, 6, 10, 12].map(lrAt); // [0, 0.0005, 0.001, 0.0005, 0, 0]
 * ```
 */
import { fail } from '../../errors.js';

/** Learning rate for the step after `step` steps already taken. */
export type LrSchedule = (step: number) => number;

/** Options of {@link linearWarmupDecay}: give `warmupSteps` or `warmupRatio`, not both (neither means no warm-up). */
export interface LinearWarmupDecayOptions {
  peakLr: number;
  totalSteps: number;
  warmupSteps?: number;
  /** Fraction of `totalSteps`; warm-up lasts `ceil(totalSteps * warmupRatio)` steps, as transformers' Trainer. */
  warmupRatio?: number;
}

/**
 * Linear warm-up from 0 to `peakLr` over `warmupSteps`, then linear decay to 0 at `totalSteps`,
 * exactly as transformers' `get_linear_schedule_with_warmup`:
 * `peakLr * step / max(1, warmup)` while `step < warmup`, then
 * `peakLr * max(0, (total - step) / max(1, total - warmup))`; 0 from `totalSteps` on.
 * Throws BAD_CONFIG for invalid options, and the schedule throws BAD_CONFIG for a step that is not
 * a non-negative integer.
 */
export function linearWarmupDecay(opts: LinearWarmupDecayOptions): LrSchedule {
  const where = 'linearWarmupDecay';
  const peak = checkLr(opts.peakLr, where, 'peakLr');
  const total = opts.totalSteps;
  if (!Number.isSafeInteger(total) || total <= 0) fail('BAD_CONFIG', `${where}: totalSteps must be a positive integer, got ${String(total)}`);
  if (opts.warmupSteps !== undefined && opts.warmupRatio !== undefined) {
    fail('BAD_CONFIG', `${where}: give warmupSteps or warmupRatio, not both (got ${opts.warmupSteps} and ${opts.warmupRatio})`);
  }
  let warmup = 0;
  if (opts.warmupRatio !== undefined) {
    const r = opts.warmupRatio;
    if (typeof r !== 'number' || !(r >= 0 && r <= 1)) fail('BAD_CONFIG', `${where}: warmupRatio must be in [0, 1], got ${String(r)}`);
    warmup = Math.ceil(total * r);
  } else if (opts.warmupSteps !== undefined) {
    warmup = checkSteps(opts.warmupSteps, where, 'warmupSteps');
    if (warmup > total) fail('BAD_CONFIG', `${where}: warmupSteps (${warmup}) exceeds totalSteps (${total})`);
  }
  return (step: number): number => {
    checkSteps(step, where, 'step');
    if (step < warmup) return (peak * step) / Math.max(1, warmup);
    return peak * Math.max(0, (total - step) / Math.max(1, total - warmup));
  };
}

/**
 * A constant learning rate, optionally after a linear warm-up of `warmupSteps` (transformers'
 * `get_constant_schedule` / `get_constant_schedule_with_warmup`). Throws BAD_CONFIG for invalid
 * arguments or steps.
 */
export function constantSchedule(lr: number, opts: { warmupSteps?: number } = {}): LrSchedule {
  const where = 'constantSchedule';
  const value = checkLr(lr, where, 'lr');
  const warmup = opts.warmupSteps === undefined ? 0 : checkSteps(opts.warmupSteps, where, 'warmupSteps');
  return (step: number): number => {
    checkSteps(step, where, 'step');
    return step < warmup ? (value * step) / Math.max(1, warmup) : value;
  };
}

function checkLr(lr: number, where: string, what: string): number {
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) fail('BAD_CONFIG', `${where}: ${what} must be a finite number >= 0, got ${String(lr)}`);
  return lr;
}

function checkSteps(n: number, where: string, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) fail('BAD_CONFIG', `${where}: ${what} must be a non-negative integer, got ${String(n)}`);
  return n;
}
