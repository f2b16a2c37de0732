/**
 * Checkpoints of a mixed-task run, and resuming one. Each task keeps an ordinary `checkpoint/`
 * in its own directory (weights, AdamW moments, trainer state: what a single-task run keeps);
 * the run's position and each task's examples seen go to `<outDir>/multi-task-checkpoint.json`,
 * written after every task's checkpoint, so that a run killed while saving is noticed (its tasks'
 * checkpoints then stand at different steps) instead of resumed from mixed steps.
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { exists } from '../util/fs.js';
import { readJsonObjectFile } from '../util/json.js';
import type { AdamW } from './optim/index.js';
import type { RunDir, TrainerState } from './run-dir.js';
import type { TaskModel } from './task-model.js';
import { startOrResume } from './trainer-resume.js';

/**
 * Where a mixed-task run stands: its step, the next batch (`batch` of `epoch`, starting at the
 * epoch's draw `draw`: batches skip the draws of stopped tasks), and whether it evaluated at `step`.
 */
export interface MixedPosition {
  readonly step: number;
  readonly epoch: number;
  readonly batch: number;
  readonly draw: number;
  readonly evaluated: boolean;
}

/** One task as the checkpoints see it. */
export interface CheckpointedTask {
  readonly name: string;
  readonly run: RunDir;
  readonly model: TaskModel;
  readonly opt: AdamW;
  readonly st: TrainerState;
  seen: number;
  /** The run's step at which the task stopped early (patience), if it did. */
  stoppedAt?: number;
}

const RECORD = 'multi-task-checkpoint.json';

/** Saves every task's checkpoint at `pos`, then the run's record. */
export async function saveMixedCheckpoint(outDir: string, tasks: readonly CheckpointedTask[], pos: MixedPosition, maxLength: number): Promise<void> {
  for (const t of tasks) {
    await t.run.saveCheckpoint(t.model, t.opt, { ...t.st, step: pos.step, epoch: pos.epoch, batch: pos.batch }, { name: t.name, maxLength });
  }
  const record = {
    version: 1, ...pos, seen: Object.fromEntries(tasks.map((t) => [t.name, t.seen])),
    stoppedAt: Object.fromEntries(tasks.flatMap((t) => (t.stoppedAt !== undefined ? [[t.name, t.stoppedAt]] : []))),
  };
  const path = join(outDir, RECORD);
  await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/**
 * Prepares each task's directory (see trainer-resume.ts's `startOrResume`: repairs, the
 * checkpoint's weights, moments and state when `resume` is set) and returns the run's position,
 * (undefined for a fresh start), each task's state and, resuming, each task's examples seen and
 * the step it stopped at (patience).
 *
 * @throws AdapterkitError BAD_CONFIG for a checkpoint without `resume` or one written with other
 *   settings (naming them); BAD_FILE when the tasks' checkpoints do not stand at the run's step.
 */
export async function startOrResumeMixed(outDir: string, tasks: readonly Omit<CheckpointedTask, 'st' | 'seen'>[], resume: boolean, signature: Record<string, unknown>, note: (m: string) => void): Promise<{ states: TrainerState[]; position?: MixedPosition; seen?: number[]; stoppedAt?: (number | undefined)[] }> {
  const states: TrainerState[] = [];
  for (const t of tasks) states.push(await startOrResume(t.run, t.model, t.opt, { outDir: t.run.outDir, resume }, signature, note));
  const resumed = states.map((s, i) => (s.step > 0 || s.batch > 0 || s.epoch > 0 ? (tasks[i] as CheckpointedTask).name : undefined)).filter((n): n is string => n !== undefined);
  if (resumed.length === 0) return { states };
  const path = join(outDir, RECORD);
  if (!(await exists(path))) fail('BAD_FILE', `cannot resume ${outDir}: ${resumed.join(', ')} hold checkpoints but ${path} is missing (delete the tasks' checkpoint/ directories to start over)`);
  const r = await readJsonObjectFile(path, { maxBytes: 1 << 20 });
  const int = (k: string) => {
    const v = r[k];
    if (!(Number.isSafeInteger(v) && (v as number) >= 0)) fail('BAD_FILE', `${path}: ${k} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const position: MixedPosition = { step: int('step'), epoch: int('epoch'), batch: int('batch'), draw: int('draw'), evaluated: r.evaluated === true };
  const seenOf = (r.seen ?? {}) as Record<string, unknown>;
  const seen = states.map((s, i) => {
    const t = tasks[i] as Omit<CheckpointedTask, 'st' | 'seen'>;
    if (s.step !== position.step || s.epoch !== position.epoch || s.batch !== position.batch) {
      fail('BAD_FILE', `cannot resume ${outDir}: task ${t.name}'s checkpoint is at step ${s.step}, the run's at step ${position.step} (the run stopped while saving); delete the tasks' checkpoint/ directories and ${RECORD} to start over`);
    }
    const n = seenOf[t.name];
    if (!(Number.isSafeInteger(n) && (n as number) >= 0)) fail('BAD_FILE', `${path}: seen.${t.name} must be a non-negative integer, got ${JSON.stringify(n)}`);
    return n as number;
  });
  const stops = (r.stoppedAt ?? {}) as Record<string, unknown>;
  const stoppedAt = tasks.map((t) => {
    const v = stops[t.name];
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= position.step)) fail('BAD_FILE', `${path}: stoppedAt.${t.name} must be a step from 0 to ${position.step}, got ${JSON.stringify(v)}`);
    return v as number | undefined;
  });
  note(`resuming ${outDir} at step ${position.step} (epoch ${position.epoch + 1}, batch ${position.batch + 1})`);
  return { states, position, seen, stoppedAt };
}
