/**
 * Optimisation for the trainer: AdamW over float32 parameters, global-norm gradient clipping and
 * learning-rate schedules, each matching its PyTorch / transformers counterpart.
 *
 * @example
 * ```ts
 * const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0.01 });
 * const lrAt = linearWarmupDecay({ peakLr: 1e-4, totalSteps: 1000, warmupRatio: 0.1 });
 * // each step:
 * const { norm } = clipByGlobalNorm(grads, 1.0);
 * if (Number.isFinite(norm)) opt.step(grads, lrAt(opt.stepCount));
 * ```
 */
export { AdamW, defaultDecayRule, type AdamWHyper, type AdamWOptions, type AdamWState, type Gradients, type NamedParameter } from './adamw.js';
export { ADAMW_STATE_FORMAT, loadAdamWStateFile, saveAdamWState } from './adamw-state-file.js';
export { clipByGlobalNorm, globalNorm, type ClipResult } from './clip.js';
export { constantSchedule, linearWarmupDecay, type LinearWarmupDecayOptions, type LrSchedule } from './schedule.js';
