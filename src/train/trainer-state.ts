/**
 * A run's starting state and its signature (the settings a resumed run must share), with no file
 * access: the trainer on disk (trainer-resume.ts) and the in-memory run of the browser build
 * (src/browser/tab-run.ts) both start from here.
 */
import { headPooling } from '../heads/head.js';
import { canonicalJson, type JsonValue } from '../util/json-compare.js';
import { describeMode } from './modes.js';
import type { TrainerState } from './run-dir.js';
import type { TaskModel } from './task-model.js';
import type { ResolvedTrainOptions } from './trainer-options.js';

/** The settings a resumed run must share with the run it continues (saved in `trainer.json`). */
export function runSignature(model: TaskModel, o: ResolvedTrainOptions, trainExamples: number): Record<string, unknown> {
  return {
    mode: describeMode(model.mode, model.base.encoder), head: model.head.kind, labels: model.head.labels, epochs: o.epochs, batchSize: o.batchSize,
    maxLength: o.maxLength, lr: o.peakLr, seed: o.seed, trainExamples, base: model.base.id,
    ...(o.maxSteps !== undefined ? { maxSteps: o.maxSteps } : {}), // it sizes the schedule
    ...(o.cacheFrozenLayers ? { cacheFrozenLayers: true } : {}), // dropout below the cached layer is off
    // the same head weights read another vector: a resumed run must keep it (absent: the encoder's, as before heads had a pooling)
    ...(headPooling(model.head) !== 'encoder' ? { pooling: headPooling(model.head) } : {}),
    setup: runSetup(model), frozenPrecision: model.frozenPrecision,
    optimizer: canonicalJson({ weightDecay: o.weightDecay, warmupRatio: o.warmupRatio, clipNorm: o.clipNorm }),
  };
}

/**
 * The signature's record of what a task model is: every field of its mode (each adapter's and
 * fusion's config, the composition, AdapterDrop) and of its head, for what `mode`'s one-line
 * description leaves out (two custom configs of one size describe alike). Runs saved before
 * this key existed resume without it (see trainer-resume.ts).
 */
export function runSetup(model: TaskModel): JsonValue {
  return canonicalJson({ mode: model.mode, head: model.head });
}

/** The state of a run at step 0. */
export function freshTrainerState(signature: Record<string, unknown>): TrainerState {
  return { version: 1, step: 0, epoch: 0, batch: 0, evalsWithoutImprovement: 0, epochLosses: [], epochLossSum: 0, epochLossCount: 0, signature };
}
