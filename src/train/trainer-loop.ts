/**
 * The step loop: epochs of seeded, length-bucketed batches from the position in
 * {@link TrainerState}; per batch one forward/backward, clipping and an AdamW step at the
 * schedule's learning rate, logged; evaluations and checkpoints at their times; and the stop
 * rules (the step limit, early stopping, and an abort that saves a checkpoint and throws
 * INTERRUPTED).
 */
import { AdapterkitError, fail } from '../errors.js';
import type { AdamW } from './optim/adamw.js';
import { clipByGlobalNorm } from './optim/clip.js';
import { collate, epochBatches, type TokenizedRow } from './batching.js';
import type { RunDir, TrainerState } from './run-dir.js';
import type { TaskModel } from './task-model.js';
import type { TrainingData } from './training-data.js';
import type { TrainerCheckpoints } from './trainer-checkpoints.js';
import type { FrozenLayerCache } from './frozen-cache.js';
import { patienceExhausted, type DevEvaluation } from './trainer-evaluation.js';
import type { StopReason } from './trainer-events.js';
import { RESUME_OPTION_TERM, type ResolvedTrainOptions } from './trainer-options.js';

/**
 * What the loop needs; `st` is advanced in place. The run's log, checkpoints and evaluation are
 * interfaces: {@link RunDir} and {@link TrainerCheckpoints} keep them on disk (trainer.ts), the
 * browser build keeps them in memory (src/browser/).
 */
export interface StepLoopContext {
  readonly model: TaskModel;
  readonly data: TrainingData;
  readonly o: Pick<ResolvedTrainOptions, 'epochs' | 'batchSize' | 'seed' | 'signal' | 'clipNorm' | 'evalEvery' | 'patience' | 'onEvent'>;
  readonly st: TrainerState;
  readonly run: Pick<RunDir, 'log'>;
  readonly opt: AdamW;
  /** Learning rate at an optimizer step count. */
  readonly lrAt: (step: number) => number;
  readonly totalSteps: number;
  readonly checkpoints: Pick<TrainerCheckpoints, 'save' | 'lastGood' | 'dir'>;
  readonly evaluation: Pick<DevEvaluation, 'evaluate'>;
  /** The cached input of the lowest layer that trains, when the run trains from it (train/frozen-cache.ts). */
  readonly frozenCache?: Pick<FrozenLayerCache, 'batch'>;
}

/** How the loop ended. */
export interface StepLoopOutcome {
  readonly stopReason: StopReason;
  /** Loss of the last step run in this call (NaN when none ran). */
  readonly lastLoss: number;
  /** Training examples seen in this call. */
  readonly seen: number;
  /** `performance.now()` when the loop started (for the throughput). */
  readonly startedAt: number;
}

/** Runs steps from `c.st` until the epochs end or a stop rule fires; see the module comment. */
export async function runStepLoop(c: StepLoopContext): Promise<StepLoopOutcome> {
  const { model, data, o, st, run, opt, lrAt, totalSteps, checkpoints, evaluation } = c;
  const rows = data.rows;
  let stopReason: StopReason = 'done';
  let lastLoss = NaN;
  let seen = 0;
  const startedAt = performance.now();
  outer: while (st.epoch < o.epochs) {
    const batches = epochBatches(rows, o.batchSize, o.seed, st.epoch);
    while (st.batch < batches.length) {
      if (o.signal?.aborted) {
        await checkpoints.save(st);
        o.onEvent?.({ type: 'stop', reason: 'interrupted', step: st.step });
        throw new AdapterkitError(
          'INTERRUPTED', `training interrupted at step ${st.step}; checkpoint saved in ${checkpoints.dir}: continue with ${RESUME_OPTION_TERM}`,
          { checkpointDir: checkpoints.dir, step: st.step, options: { resume: RESUME_OPTION_TERM } },
        );
      }
      if (st.step >= totalSteps) {
        stopReason = 'max-steps';
        break outer;
      }
      const idx = batches[st.batch] as number[];
      const batch = collate(idx.map((i) => rows[i] as TokenizedRow), model.base.tokenizer.padId);
      const layerInput = c.frozenCache?.batch(idx, batch.seqLen);
      const out = await model.trainStep(batch, data.labels(idx), { step: st.step, ...(layerInput ? { layerInput } : {}) }); // the step places its dropout masks
      if (!Number.isFinite(out.loss)) {
        const last = await checkpoints.lastGood();
        fail(
          'TRAINING_DIVERGED',
          `the loss became ${out.loss} at step ${st.step + 1} (learning rate ${lrAt(opt.stepCount)}): training diverged; start again with a lower learning rate (option lr) or a smaller clip norm (option clipNorm)${last}`,
          { step: st.step + 1, options: { lr: 'option lr', clipNorm: 'option clipNorm' } },
        );
      }
      const { norm } = clipByGlobalNorm(out.grads, o.clipNorm);
      const lr = lrAt(opt.stepCount);
      opt.step(out.grads, lr);
      st.step++;
      st.batch++;
      seen += idx.length;
      lastLoss = out.loss;
      st.epochLossSum += out.loss;
      st.epochLossCount++;
      const eps = seen / ((performance.now() - startedAt) / 1000);
      await run.log({ type: 'train', step: st.step, epoch: st.epoch, loss: out.loss, lr, grad_norm: norm, batch: idx.length, seq: batch.seqLen });
      o.onEvent?.({ type: 'step', step: st.step, totalSteps, epoch: st.epoch, loss: out.loss, lr, gradNorm: norm, examplesPerSec: eps });
      if (o.evalEvery && st.step % o.evalEvery === 0) {
        await evaluation.evaluate(st);
        await checkpoints.save(st);
        if (patienceExhausted(st, o.patience)) {
          stopReason = 'early-stopping';
          break outer;
        }
      }
    }
    st.epochLosses.push(st.epochLossSum / Math.max(1, st.epochLossCount));
    st.epochLossSum = 0;
    st.epochLossCount = 0;
    let stop = false;
    if (!o.evalEvery) {
      await evaluation.evaluate(st);
      stop = patienceExhausted(st, o.patience);
    }
    st.epoch++;
    st.batch = 0;
    if (stop) {
      stopReason = 'early-stopping';
      break;
    }
    if (st.epoch < o.epochs) await checkpoints.save(st);
  }
  return { stopReason, lastLoss, seen, startedAt };
}
