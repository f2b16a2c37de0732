/**
 * Loading a saved task for `eval` and `predict`: read its manifest, load the base it records
 * (or the one given with --base), load the task onto it. Also the run record (`run.json`) that
 * `train` leaves in the run directory so `eval` can find the training data again.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AdapterkitError, fail } from '../errors.js';
import { perInputIssue, type AdapterDrop } from '../adapters/compose.js';
import { formatComposition, parseComposition, type Block, type Composition } from '../adapters/composition.js';
import type { TaskManifest } from '../adapters/files.js';
import { isAdapterSetup } from '../train/modes.js';
import type { TaskModel } from '../train/task-model.js';
import type { FrozenOptions, FrozenRecord } from '../train/frozen-precision.js';
import { loadBase, type BaseModel } from '../models/base.js';
import { loadSavedTask, type SavedTask } from '../train/task-io.js';
import type { TaskSpec } from '../train/data/index.js';
import type { TokenTaskSpec } from '../train/token-tasks/index.js';
import type { SweepJobData } from '../train/experiments/queue/payload.js';
import { resolveMaxLength } from '../train/max-length.js';
import { isFile } from '../util/fs.js';
import { cliBaseOptions } from './download-progress.js';

/** Name of the run record in a run directory. */
export const RUN_RECORD = 'run.json';

/** What `train` records about a run. */
export interface RunRecord extends FrozenRecord {
  /** The data the task was trained on (file paths absolute): a sentence- or token-level spec. */
  data: TaskSpec | TokenTaskSpec;
  base: string;
  revision?: string;
  task: string;
  maxLength: number;
}


/** Base source given on the command line: existing directories become absolute paths. */
export async function baseSource(source: string): Promise<string> {
  try {
    if ((await stat(source)).isDirectory()) return resolve(source);
  } catch {
    // not a local directory: 'use-lite' or a hub id
  }
  return source;
}

/** Reads `<dir>/adapterkit.json`, or undefined for a directory without one (AdapterHub). */
export async function readManifest(dir: string): Promise<TaskManifest | undefined> {
  try {
    if (!(await stat(dir)).isDirectory()) fail('NOT_FOUND', `${dir} is not a directory (expected a task directory such as runs/<task>-<mode>/best)`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') fail('NOT_FOUND', `task directory ${dir} does not exist`);
    throw e;
  }
  const p = join(dir, 'adapterkit.json');
  if (!(await isFile(p))) {
    await refuseRunDir(dir);
    return undefined;
  }
  try {
    return JSON.parse(await readFile(p, 'utf8')) as TaskManifest;
  } catch (e) {
    return fail('BAD_FILE', `${p}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Fails on a training run directory (`runs/x` rather than `runs/x/best`): it holds no task files
 * itself, but `best/` (or `checkpoint/`) and the run record. NOT_FOUND with "did you mean".
 */
async function refuseRunDir(dir: string): Promise<void> {
  const isTask = await Promise.all(['adapter_config.json', 'head_config.json'].map((f) => isFile(join(dir, f))));
  if (isTask.some(Boolean)) return; // AdapterHub's or PEFT's layout
  for (const sub of ['best', 'checkpoint']) {
    if (await isFile(join(dir, sub, 'adapterkit.json'))) {
      fail('NOT_FOUND', `${dir} is a training run directory, not a task directory: did you mean ${join(dir, sub)}?${sub === 'checkpoint' ? ' (the run has no best/ yet)' : ''}`);
    }
  }
  if (await isFile(join(dir, RUN_RECORD))) fail('NOT_FOUND', `${dir} is a training run directory without a saved task yet (no best/ or checkpoint/): train it first`);
}

/** A loaded base and task. */
export interface LoadedTaskDir {
  base: BaseModel;
  saved: SavedTask;
  /** Max length recorded at training time (else 128), capped to the base's limit. */
  maxLength: number;
}

/** Loads the base (recorded one unless `o.base`) and the task in `dir` (`inference`: for a model that only predicts, see loadSavedTask). */
export async function loadTaskDir(dir: string, o: { base?: string; revision?: string; threads?: number; maxLength?: number; model?: FrozenOptions; inference?: boolean }): Promise<LoadedTaskDir> {
  const manifest = await readManifest(dir);
  const source = o.base !== undefined ? await baseSource(o.base) : manifest?.base.id;
  if (source === undefined) fail('BAD_CONFIG', `${dir} has no adapterkit.json (an AdapterHub adapter?): give the base model with --base <source>`);
  let revision = o.revision;
  let id = source;
  const at = source.lastIndexOf('@');
  if (o.base === undefined && at > 0 && !(await baseSourceIsDir(source))) {
    id = source.slice(0, at);
    revision ??= source.slice(at + 1);
  }
  const base = await loadBase(id, cliBaseOptions(revision));
  resolveMaxLength(base.encoder.maxLength, o.maxLength, { over: 'fail', name: '--max-length' });
  const saved = await loadSavedTask(base, dir, { ...(o.threads !== undefined ? { threads: o.threads } : {}), ...o.model, ...(o.inference === true ? { inference: true } : {}) });
  const taken = saved.model.positionsTaken;
  if (taken > 0) resolveMaxLength(base.encoder.maxLength, o.maxLength, { over: 'fail', name: '--max-length', taken });
  return { base, saved, maxLength: resolveMaxLength(base.encoder.maxLength, undefined, { fallback: manifest?.maxLength, taken }) };
}

async function baseSourceIsDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Writes the run record into a run directory. */
export async function writeRunRecord(outDir: string, r: RunRecord): Promise<void> {
  await writeFile(join(outDir, RUN_RECORD), `${JSON.stringify(r, null, 2)}\n`);
}

/** The run record of a queued sweep's run, from its job: what the local sweep records for the same run. */
export function jobRunRecord(d: SweepJobData): RunRecord {
  return { data: d.data, base: d.base, ...(d.revision !== undefined ? { revision: d.revision } : {}), task: d.task, maxLength: d.maxLength, ...d.frozen };
}

/** Finds the run record of a task directory (in it or its parent, e.g. `runs/x/best` -> `runs/x/run.json`). */
export async function findRunRecord(taskDir: string): Promise<RunRecord | undefined> {
  for (const d of [taskDir, dirname(resolve(taskDir))]) {
    const p = join(d, RUN_RECORD);
    if (await isFile(p)) {
      try {
        return JSON.parse(await readFile(p, 'utf8')) as RunRecord;
      } catch (e) {
        return fail('BAD_FILE', `${p}: not valid JSON (${(e as Error).message})`);
      }
    }
  }
  return undefined;
}

/** The setup options of `eval` and `predict`. */
export interface ActiveFlags {
  /** `--active`: a composition of the saved setup's adapters to run instead of its own. */
  active?: string;
  /** `--adapter-drop n`: no adapters in the first n layers at inference. */
  adapterDrop?: AdapterDrop;
}

/** What `--active` says in help texts. */
export const ACTIVE_HELP = 'a task holding several adapters: run this composition of its adapters instead of the saved one, e.g. \'Stack(lang, task)\' or one channel of a Parallel';

/** The compositions that give one channel each of a Parallel block (its children in its place), for messages. */
function channelsOf(c: Block): string[] {
  const par = (c.type === 'Parallel' ? c : c.children.find((k) => typeof k !== 'string' && k.type === 'Parallel')) as Block | undefined;
  if (!par) return [];
  return par.children.map((child) => {
    if (c === par) return formatComposition(child);
    const inline = (k: Composition): Composition[] => (k === par ? (typeof child !== 'string' && child.type === 'Stack' ? [...child.children] : [child]) : [k]);
    return formatComposition({ type: 'Stack', children: c.children.flatMap(inline) });
  });
}

/**
 * Applies `--active` and `--adapter-drop` to a loaded task for eval and predict, and refuses a
 * composition that does not give one output per example (Parallel: one per channel; BatchSplit,
 * Split: by position), naming compositions that do.
 */
export function applyActive(model: TaskModel, dir: string, f: ActiveFlags): void {
  const m = model.mode;
  if (!isAdapterSetup(m)) {
    const given = [...(f.active !== undefined ? ['--active'] : []), ...(f.adapterDrop !== undefined ? ['--adapter-drop'] : [])];
    if (given.length) fail('BAD_CONFIG', `${given.join(' and ')} ${given.length > 1 ? 'apply' : 'applies'} to tasks holding several named adapters; ${dir} is ${m.kind === 'adapters' ? 'a single-adapter task' : `a ${m.kind} task`}`);
    return;
  }
  if (f.active !== undefined || f.adapterDrop !== undefined) {
    let active: Composition = m.active;
    if (f.active !== undefined) {
      try {
        active = parseComposition(f.active);
      } catch (e) {
        if (e instanceof AdapterkitError) fail(e.code, `--active: ${e.message}`);
        throw e;
      }
    }
    if (f.adapterDrop?.kind === 'robust') fail('BAD_CONFIG', '--adapter-drop robust:n drops layers while training only; at inference give a number of layers');
    try {
      model.activate(active, f.adapterDrop ? { adapterDrop: f.adapterDrop } : {});
    } catch (e) {
      if (e instanceof AdapterkitError) fail(e.code, `${f.active !== undefined ? '--active' : '--adapter-drop'}: ${e.message}`);
      throw e;
    }
  }
  const now = model.mode as typeof m;
  const issue = perInputIssue(now.active);
  if (issue) {
    const channels = channelsOf(now.active as Block);
    fail('BAD_CONFIG', `${dir} runs ${formatComposition(now.active)}: ${issue}, and eval and predict give one output per example; choose a composition with --active${channels.length ? ` (its channels: ${channels.map((c) => `'${c}'`).join(', ')})` : ` (its adapters: ${now.adapters.map((a) => a.name).join(', ')})`}`);
  }
}
