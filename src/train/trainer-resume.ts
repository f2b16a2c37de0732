/**
 * Starting a run, or resuming one: the run directory repaired after a kill, then either a fresh
 * {@link TrainerState} and an empty log, or the checkpoint's state, weights and optimizer moments
 * after checking that the run was started with the same settings (its signature).
 *
 * Errors speak of the library's options (`resume: true`); the CLI words them as its flags.
 */
import { mkdir } from 'node:fs/promises';
import { fail } from '../errors.js';
import { exists } from '../util/fs.js';
import { jsonDifferences } from '../util/json-compare.js';
import type { AdamW } from './optim/index.js';
import type { RunDir, TrainerState } from './run-dir.js';
import { freshTrainerState } from './trainer-state.js';
import type { TaskModel } from './task-model.js';
import { RESUME_OPTION_TERM, type ResolvedTrainOptions } from './trainer-options.js';

export { freshTrainerState, runSignature } from './trainer-state.js';


/** Signature keys present only when their setting is on, whose absence on resume is a difference too. */
const BOTH_WAYS = ['cacheFrozenLayers'];

/** Signature keys added after runs were first saved: compared only when the checkpoint has them. */
const ADDED_LATER = new Set(['setup', 'setups', 'optimizer', 'frozenPrecision']);

/** A signature key's difference for the message: the key and, for an object, the fields that changed. */
function describeDifference(k: string, then: unknown, now: unknown): string {
  if (typeof then === 'object' && then !== null && typeof now === 'object' && now !== null) return `${k} (${jsonDifferences(then, now).join('; ')})`;
  return `${k} (${JSON.stringify(then)} then, ${JSON.stringify(now)} now)`;
}

/** The BAD_CONFIG message for a run directory that holds a checkpoint while `resume` is off. */
export function checkpointExistsMessage(outDir: string): string {
  return `${outDir} already holds a checkpoint of an earlier run: continue it with ${RESUME_OPTION_TERM}, or choose another output directory`;
}

/**
 * Prepares `run` for training and returns the state to start from: repairs what a kill left
 * (each repair reported through `note`), then resumes from `checkpoint/` when `o.resume` is set
 * (loading `model` and `opt`), or starts at step 0 with an empty log.
 *
 * @throws AdapterkitError BAD_CONFIG when a checkpoint exists without `o.resume`, or when the
 *   checkpoint was written with other settings (naming each); BAD_FILE for a corrupt checkpoint or log.
 */
export async function startOrResume(
  run: RunDir, model: TaskModel, opt: AdamW, o: Pick<ResolvedTrainOptions, 'outDir' | 'resume'>, signature: Record<string, unknown>, note: (message: string) => void,
): Promise<TrainerState> {
  await mkdir(o.outDir, { recursive: true });
  for (const n of await run.recover()) note(n);
  if (!(await run.hasCheckpoint())) {
    if (o.resume && (await exists(run.logPath))) note(`no checkpoint in ${o.outDir} yet (none was saved before the run stopped): starting at step 0`);
    await run.resetLog();
    return freshTrainerState(signature);
  }
  if (!o.resume) fail('BAD_CONFIG', checkpointExistsMessage(o.outDir), { outDir: o.outDir, options: { resume: RESUME_OPTION_TERM } });
  const st = await run.readState();
  const now: Record<string, unknown> = { pooling: 'encoder', ...signature };
  const then: Record<string, unknown> = { pooling: 'encoder', ...st.signature };
  // a key only written when a setting is on is compared both ways (a run does not resume with it switched off)
  const keys = [...Object.keys(now).filter((k) => !ADDED_LATER.has(k) || k in then), ...BOTH_WAYS.filter((k) => k in then && !(k in now))];
  const diff = keys.filter((k) => JSON.stringify(now[k]) !== JSON.stringify(then[k]));
  if (diff.length) fail('BAD_CONFIG', `cannot resume ${o.outDir}: the run was started with different ${diff.map((k) => describeDifference(k, then[k], now[k])).join(', ')}`);
  await run.loadInto(model, opt);
  // Log lines written after the checkpoint (a kill after it): those steps run again.
  const dropped = await run.trimLog(st.step);
  if (dropped) note(`dropped ${dropped} line(s) of metrics.jsonl written after the checkpoint at step ${st.step}: those steps run again`);
  if (st.best && !(await exists(run.bestDir))) {
    note(`best/ is missing: the next evaluation saves it again`);
    st.best = undefined;
  }
  return st;
}
