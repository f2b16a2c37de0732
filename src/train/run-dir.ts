/**
 * A training run's directory as the trainer keeps it: the checkpoint store, the best task and
 * the metrics log, written so that a kill at any instant (SIGKILL included) leaves a run that
 * `resume` continues.
 *
 * - `checkpoint/` — the latest state: task files + `optimizer.safetensors` + `trainer.json` (with,
 *   for a model whose fusions anneal their temperature, the forward calls each made per layer:
 *   `fusionCalls`, see adapters/fusion-temperature.ts; no task file holds them, as in AdapterHub);
 * - `best/` — task files of the best dev score (or of the last step when there is no dev split);
 * - `metrics.jsonl` — one JSON object per step and per evaluation.
 *
 * Both directories are replaced with {@link writeDirAtomically}: a complete copy exists at every
 * instant, and {@link RunDir.recover} puts it back after a kill and deletes what the killed
 * process left half-written. The log is append-only; on resume the lines after the checkpoint
 * (and a line torn by the kill) are dropped, so each step appears once.
 */
import { appendFile, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AdapterkitError, fail } from '../errors.js';
import { loadTaskFiles } from '../adapters/files.js';
import { writeFileAtomically } from '../models/weights/write-file.js';
import { recoverDir, removeStaleTemps, writeDirAtomically, writerAlive } from '../util/atomic-dir.js';
import { exists, isDir } from '../util/fs.js';
import { jsonType, parseJsonText, readJsonObjectFile } from '../util/json.js';
import { loadAdamWStateFile, saveAdamWState, type AdamW } from './optim/index.js';
import { saveTask, type SaveTaskOptions } from './task-io.js';
import type { TaskModel } from './task-model.js';
import type { TaskMetricValues } from './training-data.js';

/** The trainer's position and bookkeeping, saved in `checkpoint/trainer.json`. */
export interface TrainerState {
  version: 1;
  step: number;
  epoch: number;
  /** Next batch index within `epoch`. */
  batch: number;
  best?: { step: number; epoch: number; metrics: TaskMetricValues; value: number };
  evalsWithoutImprovement: number;
  epochLosses: number[];
  epochLossSum: number;
  epochLossCount: number;
  /** Options that must match on resume. */
  signature: Record<string, unknown>;
}

const STATE_FILE = 'trainer.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';

/** Checks a parsed `trainer.json`; BAD_FILE naming the field otherwise. */
function checkState(raw: Record<string, unknown>, path: string): TrainerState {
  const bad = (what: string): never => fail('BAD_FILE', `${path}: ${what}; the checkpoint cannot be resumed (delete ${basename(path) === STATE_FILE ? 'the checkpoint directory' : path} to start over)`);
  const count = (k: string): number => {
    const v = raw[k];
    if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) bad(`"${k}" must be a non-negative integer, got ${jsonType(v)}`);
    return v as number;
  };
  const num = (v: unknown, k: string): number => {
    if (v === null) return -Infinity; // JSON.stringify wrote -Infinity as null
    if (typeof v !== 'number') bad(`"${k}" must be a number, got ${jsonType(v)}`);
    return v as number;
  };
  if (raw.version !== 1) bad(`unknown version ${jsonType(raw.version)} (expected 1)`);
  const losses = raw.epochLosses;
  if (!Array.isArray(losses) || !losses.every((x) => typeof x === 'number')) bad('"epochLosses" must be an array of numbers');
  const sig = raw.signature;
  if (typeof sig !== 'object' || sig === null || Array.isArray(sig)) bad(`"signature" must be an object, got ${jsonType(sig)}`);
  let best: TrainerState['best'];
  if (raw.best !== undefined) {
    const b = raw.best as Record<string, unknown>;
    if (typeof b !== 'object' || b === null || Array.isArray(b)) bad(`"best" must be an object, got ${jsonType(b)}`);
    const m = b.metrics;
    if (typeof m !== 'object' || m === null || Array.isArray(m) || !Object.values(m).every((x) => typeof x === 'number' || x === null)) bad('"best.metrics" must be an object of numbers');
    if (!(Number.isSafeInteger(b.step) && Number.isSafeInteger(b.epoch))) bad('"best.step" and "best.epoch" must be integers');
    best = { step: b.step as number, epoch: b.epoch as number, metrics: m as TaskMetricValues, value: num(b.value, 'best.value') };
  }
  return {
    version: 1, step: count('step'), epoch: count('epoch'), batch: count('batch'), ...(best ? { best } : {}),
    evalsWithoutImprovement: count('evalsWithoutImprovement'), epochLosses: losses as number[],
    epochLossSum: num(raw.epochLossSum, 'epochLossSum'), epochLossCount: count('epochLossCount'), signature: sig as Record<string, unknown>,
  };
}

/** Whether `dir` holds a task directory whose manifest (written last) is complete. */
async function completeTask(dir: string): Promise<boolean> {
  try {
    await readJsonObjectFile(join(dir, 'adapterkit.json'));
    return true;
  } catch {
    return false;
  }
}

/** The directories and files of one training run; see the module comment. */
export class RunDir {
  readonly checkpointDir: string;
  readonly bestDir: string;
  readonly logPath: string;

  constructor(readonly outDir: string) {
    this.checkpointDir = join(outDir, 'checkpoint');
    this.bestDir = join(outDir, 'best');
    this.logPath = join(outDir, 'metrics.jsonl');
  }

  /**
   * Undoes what a kill left: `checkpoint/` and `best/` come back from their complete previous
   * copies when missing, and temporary files and directories of writers no longer running are
   * deleted. Returns one line per repair, for the user.
   */
  async recover(): Promise<string[]> {
    const notes: string[] = [];
    await this.recoverLegacy(notes);
    for (const [dir, what] of [[this.checkpointDir, 'checkpoint/'], [this.bestDir, 'best/']] as const) {
      const r = await recoverDir(dir);
      if (r.state === 'restored') notes.push(`${what} was missing (the run was killed while replacing it): restored its previous complete copy from ${basename(r.from as string)}`);
      if (r.removed.length) notes.push(`removed ${r.removed.length} half-written cop${r.removed.length > 1 ? 'ies' : 'y'} of ${what} (${r.removed.map((p) => basename(p)).join(', ')})`);
    }
    const temps = [
      ...(await removeStaleTemps(this.outDir, ['best.', 'checkpoint.', 'metrics.jsonl.'])), // the run directory may hold the user's files too
      ...(await removeStaleTemps(this.checkpointDir)),
      ...(await removeStaleTemps(this.bestDir)),
    ];
    if (temps.length) notes.push(`removed ${temps.length} leftover temporary file(s): ${temps.map((p) => basename(p)).join(', ')}`);
    return notes;
  }

  /**
   * Runs written before directories were replaced atomically: a kill between deleting
   * `checkpoint/` and renaming `checkpoint.new`, or between deleting `best/` and renaming
   * `best.tmp-<pid>`, left only the new copy. Take it when complete.
   */
  private async recoverLegacy(notes: string[]): Promise<void> {
    const staged = join(this.outDir, 'checkpoint.new');
    if (await isDir(staged)) {
      const complete = (await exists(join(staged, OPTIMIZER_FILE))) && (await completeTask(staged)) && (await this.readStateOf(staged).then(() => true, () => false));
      if (complete && !(await exists(this.checkpointDir))) {
        await rename(staged, this.checkpointDir);
        notes.push('checkpoint/ was missing (the run was killed while replacing it): restored from the complete checkpoint.new');
      } else {
        await rm(staged, { recursive: true, force: true });
        notes.push('removed checkpoint.new (a half-written or superseded checkpoint)');
      }
    }
    if (await exists(this.bestDir)) return;
    for (const entry of await readdir(this.outDir)) {
      const m = /^best\.tmp-(\d+)$/.exec(entry);
      if (!m || writerAlive(Number(m[1]))) continue;
      const p = join(this.outDir, entry);
      if (await completeTask(p)) {
        await rename(p, this.bestDir);
        notes.push(`best/ was missing (the run was killed while replacing it): restored from the complete ${entry}`);
        return;
      }
    }
  }

  /** Whether a checkpoint exists. */
  hasCheckpoint(): Promise<boolean> {
    return exists(join(this.checkpointDir, STATE_FILE));
  }

  private async readStateOf(dir: string): Promise<TrainerState> {
    const path = join(dir, STATE_FILE);
    return checkState(await readJsonObjectFile(path, { maxBytes: 16 << 20 }), path);
  }

  /** The checkpoint's trainer state, checked; BAD_FILE when it is corrupt. */
  readState(): Promise<TrainerState> {
    return this.readStateOf(this.checkpointDir);
  }

  /** Loads the checkpoint's weights into `model`, its moments into `opt` and its fusions' forward call counts (`fusionCalls`) into `model`. */
  async loadInto(model: TaskModel, opt: AdamW): Promise<void> {
    model.setWeights((await loadTaskFiles(this.checkpointDir, model.base.encoder, model.adapterName)).tensors);
    opt.loadState(await loadAdamWStateFile(join(this.checkpointDir, OPTIMIZER_FILE)));
    const path = join(this.checkpointDir, STATE_FILE);
    const calls = (await readJsonObjectFile(path, { maxBytes: 16 << 20 })).fusionCalls;
    const annealed = Object.keys(model.fusionCallCounts);
    if (calls === undefined && annealed.length === 0) return;
    const why = calls === undefined ? `has no "fusionCalls", the forward calls of the fusion ${annealed[0]}, whose temperature anneals with them` : undefined;
    try {
      if (why) fail('BAD_FILE', why);
      model.setFusionCallCounts(calls as Record<string, number[]>, '"fusionCalls"');
    } catch (e) {
      if (!(e instanceof AdapterkitError)) throw e;
      fail('BAD_FILE', `${path}: ${e.message}; the checkpoint cannot be resumed (delete the checkpoint directory to start over)`);
    }
  }

  /** Replaces `checkpoint/` with the current state (atomically; see the module comment). */
  async saveCheckpoint(model: TaskModel, opt: AdamW, st: TrainerState, save: SaveTaskOptions): Promise<void> {
    await writeDirAtomically(this.checkpointDir, async (tmp) => {
      await saveTask(model, tmp, save);
      await saveAdamWState(opt, join(tmp, OPTIMIZER_FILE));
      // one key order however the state was built (fresh, or read back on resume)
      const { version, step, epoch, batch, best, evalsWithoutImprovement, epochLosses, epochLossSum, epochLossCount, signature } = st;
      const fusionCalls = model.fusionCallCounts; // the model's state, not the trainer's: written from the model, read back by loadInto
      const ordered = { version, step, epoch, batch, best, evalsWithoutImprovement, epochLosses, epochLossSum, epochLossCount, signature, ...(Object.keys(fusionCalls).length ? { fusionCalls } : {}) };
      await writeFile(join(tmp, STATE_FILE), `${JSON.stringify(ordered, null, 2)}\n`);
    }, { overwrite: true });
  }

  /** Replaces `best/` with `model`'s task (atomically); returns saveTask's notes. */
  saveBest(model: TaskModel, save: SaveTaskOptions): Promise<string[]> {
    return writeDirAtomically(this.bestDir, (tmp) => saveTask(model, tmp, save), { overwrite: true });
  }

  /** Starts an empty log. */
  async resetLog(): Promise<void> {
    await writeFile(this.logPath, '');
  }

  /** Appends one record (with the time) to the log. */
  async log(record: Record<string, unknown>): Promise<void> {
    await appendFile(this.logPath, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }

  /**
   * Keeps the log lines up to `step` (those after it ran after the checkpoint and run again) and
   * drops a last line the kill cut short; replaced atomically. BAD_FILE names a corrupt line
   * elsewhere. Returns how many lines were dropped.
   */
  async trimLog(step: number): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.logPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw new AdapterkitError('BAD_FILE', `cannot read ${this.logPath}: ${(e as Error).message}`, undefined, { cause: e });
    }
    const lines = text.split('\n');
    const torn = lines.pop() ?? ''; // after the last newline: empty, or a line the kill cut short
    const kept: string[] = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = parseJsonText(line, `${this.logPath}: line ${i + 1} is not valid JSON`);
      } catch (e) {
        if (e instanceof AdapterkitError) fail('BAD_FILE', `${e.message}; fix or delete that line to resume (the log is not needed to continue training)`);
        throw e;
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('BAD_FILE', `${this.logPath}: line ${i + 1} is ${jsonType(v)}, not a JSON object; fix or delete that line to resume`);
      const s = (v as { step?: unknown }).step;
      if (typeof s === 'number' && s > step) return;
      kept.push(line);
    });
    const dropped = lines.filter((l) => l.trim() !== '').length - kept.length + (torn.trim() !== '' ? 1 : 0);
    if (dropped > 0) await writeFileAtomically(this.logPath, [Buffer.from(kept.map((l) => `${l}\n`).join(''))]);
    return dropped;
  }
}
