/**
 * `adapterkit ablate <dir>`: removes the adapters of every span of layers of a trained adapter task
 * and scores it on dev and test (the paper's ablation heat map). `<dir>` is a task directory
 * (`.../best`), a run directory holding `best/`, or a sweep output directory: then the best adapter
 * run on dev is ablated and the result saved as `<dir>/ablation-<task>.json` for `adapterkit report`.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import type { TaskSpec } from '../../train/data/index.js';
import type { HeadConfig } from '../../heads/head.js';
import { loadExperimentTask, sentenceTask, tokenTask, type ExperimentTask, type LoadedExperimentTask } from '../../train/experiments/experiment-task.js';
import type { TokenTaskSpec } from '../../train/token-tasks/index.js';
import { ablateLayers, INIT_SCALE_FILE, initScaleRobustness, saveAblation, type AblationResult } from '../../train/experiments/ablation.js';
import { shortNumber } from '../../train/experiments/sweep-grid.js';
import { loadBase } from '../../models/base.js';
import { cliBaseOptions } from '../download-progress.js';
import { readSweepResults, RESULTS_FILE, summarizeSweep, type SweepResult } from '../../train/experiments/sweep-results.js';
import { addDataOptions, dataSpecFromFlags, describeDataSpec, hasDataFlags, type DataFlags } from '../data-options.js';
import { printJson, table } from '../format.js';
import { intArg, sanitizeTaskName } from '../options.js';
import { baseSource, findRunRecord, loadTaskDir, readManifest } from '../saved-task.js';
import { alignLabels } from './eval.js';
import { intListFrom, positiveListArg, runInterruptible, SWEEP_RECORD, sweepReporter, type SweepTaskRecord } from './sweep.js';
import { exists } from '../../util/fs.js';
import { addFrozenPrecisionOptions, frozenPrecisionOptions, type FrozenPrecisionFlags } from '../frozen-precision-options.js';
import { frozenRecord, type FrozenOptions } from '../../train/frozen-precision.js';

interface AblateFlags extends DataFlags, FrozenPrecisionFlags {
  base?: string;
  revision?: string;
  task?: string;
  save?: string;
  batchSize: number;
  maxLength?: number;
  threads?: number;
  json?: boolean;
  initStds?: number[];
  initSeeds?: number[];
}

const EXAMPLES = `
Examples:
  # the best adapter of a sweep (data and base recorded by the sweep); saves <dir>/ablation-spam.json
  $ adapterkit ablate runs/sweep-spam

  # a trained task directory, scores as JSON
  $ adapterkit ablate runs/spam-adapters/best --json

  # also the robustness to the initialisation scale: the sweep's best adapter configuration trained
  # again with each std (the paper's figure), results in runs/sweep-spam/init-scale.jsonl
  $ adapterkit ablate runs/sweep-spam --init-stds 1e-4,1e-3,1e-2,1e-1,0.5 --init-seeds 1,2

The init-scale runs resume like a sweep: run the same command again to continue.`;

/** Registers `adapterkit ablate`. */
export function registerAblate(program: Command): void {
  const cmd = program
    .command('ablate')
    .description('Remove the adapters of every span of layers [i..j] at inference and score dev/test: the ablation heat map of the paper.')
    .argument('<dir>', 'task directory (runs/<task>-adapters/best), run directory, or sweep output directory');
  addDataOptions(cmd, { trainRequired: false });
  cmd
    .option('--task <name>', 'in a sweep directory holding several tasks: which one')
    .option('--base <source>', 'base model (default: the one recorded with the task)')
    .option('--revision <rev>', 'hub revision of --base')
    .option('--save <file>', 'also write the result as JSON to this file (a sweep directory: saved there by default)')
    .option('--batch-size <n>', 'examples per batch', intArg(1), 64)
    .option('--max-length <n>', 'tokens per example (default: the length used in training)', intArg(2))
    .option('--threads <n>', 'ONNX Runtime threads', intArg(1));
  addFrozenPrecisionOptions(cmd, 'scoring every span (and in the --init-stds runs); recorded in the saved ablation');
  cmd
    .option('--init-stds <list>', 'sweep directories only: also retrain the best adapter configuration with each of these initialisation stds, each in (0, 1) (results in <dir>/init-scale.jsonl)', stdListArg)
    .option('--init-seeds <list>', 'seeds of the --init-stds runs (default: the best run\'s seed)', intListFrom(0))
    .option('--json', 'print the result as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (dir: string, flags: AblateFlags) => {
      await runAblate(dir, flags);
    });
}

/** Where to ablate: the task directory, the data spec and task name, and where to save. */
interface Target {
  taskDir: string;
  spec: TaskSpec | TokenTaskSpec;
  task?: string;
  saveDir?: string;
  /** For a sweep directory: what the sweep recorded for the task, and its best adapter run. */
  sweep?: { record?: SweepTaskRecord; best: SweepResult };
  /** The data, when finding the target already loaded it. */
  loaded?: LoadedExperimentTask;
}

async function sweepTarget(dir: string, f: AblateFlags): Promise<Target> {
  let rec: { tasks?: Record<string, SweepTaskRecord> } = {};
  try {
    rec = JSON.parse(await readFile(join(dir, SWEEP_RECORD), 'utf8')) as typeof rec;
  } catch {
    // no record: the data must be given with flags
  }
  const results = await readSweepResults(join(dir, RESULTS_FILE));
  const tasks = [...new Set(results.map((r) => r.task))];
  let task = f.task;
  let spec: TaskSpec | TokenTaskSpec | undefined;
  let loaded: LoadedExperimentTask | undefined;
  if (hasDataFlags(f)) {
    spec = dataSpecFromFlags(f);
    loaded = await loadExperimentTask(spec, SCORING_ONLY);
    task ??= sanitizeTaskName(loaded.task.name);
  }
  if (task === undefined) {
    if (tasks.length !== 1) fail('BAD_CONFIG', `${dir} holds sweeps of ${tasks.length ? tasks.join(', ') : 'no task'}: choose one with --task <name>`);
    task = tasks[0] as string;
  }
  if (!tasks.includes(task)) fail('NOT_FOUND', `${dir} has no result for task ${task} (tasks: ${tasks.join(', ') || 'none'})`);
  spec ??= rec.tasks?.[task]?.data;
  if (!spec) fail('BAD_CONFIG', `${dir} has no ${SWEEP_RECORD} entry for ${task}: give the data with --dataset, --glue/--data or --train/--text/--label`);
  // The best run at the precision asked for: fp32 and int8 runs of one sweep directory are ranked apart.
  const precision = f.frozenPrecision === 'int8' ? 'int8' : undefined;
  const best = summarizeSweep(results.filter((r) => r.task === task && r.kind === 'adapters' && r.frozenPrecision === precision))
    .reduce<ReturnType<typeof summarizeSweep>[number] | undefined>((b, r) => (!b || (r.devScore ?? -Infinity) > (b.devScore ?? -Infinity) ? r : b), undefined);
  if (!best) fail('NOT_FOUND', `${dir} has no finished adapter run of task ${task}${precision ? ' with --frozen-precision int8' : ''}`);
  const bestResult = results.find((r) => r.task === task && r.method === best.method && r.run === best.run && r.frozenPrecision === precision) as SweepResult;
  const record = rec.tasks?.[task];
  return {
    taskDir: join(dir, best.runDir, 'best'), spec, task, saveDir: dir, sweep: { best: bestResult, ...(record ? { record } : {}) },
    ...(loaded ? { loaded } : {}),
  };
}

async function taskTarget(dir: string, f: AblateFlags): Promise<Target> {
  const taskDir = !(await exists(join(dir, 'adapterkit.json'))) && (await exists(join(dir, 'best', 'adapterkit.json'))) ? join(dir, 'best') : dir;
  await readManifest(taskDir); // fails early on a missing directory
  if (hasDataFlags(f)) return { taskDir, spec: dataSpecFromFlags(f) };
  const rec = await findRunRecord(taskDir);
  if (!rec) fail('BAD_CONFIG', `no data given and no run.json next to ${taskDir}: use --dataset, --glue/--data or --train/--text/--label`);
  return { taskDir, spec: rec.data, task: rec.task };
}

/** Ablation scores splits only: no training split is needed, and dev or test will do. */
const SCORING_ONLY = { requireTrain: false, requireDev: false } as const;

/**
 * The task to score a saved model on: a sentence-level task's labels put in the saved head's
 * order (a file may list them differently); a token-level task as it is (tags are matched by name).
 */
function scoringTask(loaded: LoadedExperimentTask, head: HeadConfig, where: string): ExperimentTask {
  if (loaded.level === 'token') {
    if (head.kind !== loaded.task.kind) fail('BAD_CONFIG', `${where} is a ${loaded.task.kind} task but the saved task is ${head.kind}`);
    return loaded.task;
  }
  const data = loaded.data;
  const splits = Object.fromEntries(Object.entries(data.splits).filter(([k]) => k !== 'train').map(([k, v]) => [k, alignLabels(v, data, head, where)]));
  return sentenceTask({ ...data, labels: [...head.labels], splits }, SCORING_ONLY);
}

/** The ablation grid of one split as a text table: rows = first removed layer, columns = last. */
export function ablationTable(a: AblationResult, split: string): string {
  const s = a.splits[split];
  if (!s) return '';
  const cols = Array.from({ length: a.layers }, (_, j) => `to ${j}`);
  const rows = s.values.map((row, i) => [`from ${i}`, ...row.map((v) => (v === null ? '' : v.toFixed(4)))]);
  return `${split} ${a.metric}, adapters of layers [from..to] removed (baseline ${s.baseline.toFixed(4)}):\n${table(['', ...cols], rows)}`;
}

async function runAblate(dir: string, f: AblateFlags): Promise<void> {
  const isSweep = await exists(join(dir, RESULTS_FILE));
  if (f.initSeeds && !f.initStds) fail('BAD_CONFIG', '--init-seeds is given without --init-stds');
  if (f.initStds && !isSweep) fail('BAD_CONFIG', `--init-stds needs a sweep output directory (with ${RESULTS_FILE}); ${dir} is not one`);
  const target = isSweep ? await sweepTarget(dir, f) : await taskTarget(dir, f);
  const loaded = target.loaded ?? await loadExperimentTask(target.spec, SCORING_ONLY);
  const where = describeDataSpec(target.spec);
  const frozen = frozenPrecisionOptions(f, (line) => process.stderr.write(`${line}\n`));
  const { saved, maxLength } = await loadTaskDir(target.taskDir, { ...f, model: frozen });
  const model = saved.model;
  let a: AblationResult;
  try {
    const task = scoringTask(loaded, model.head, where);
    if (task.scoredSplits.length === 0) fail('BAD_DATA', `${where} has no labeled dev or test split to score the ablation on`);
    const layers = model.base.encoder.numLayers;
    process.stderr.write(`adapterkit ablate: ${target.taskDir} on ${where}: ${(layers * (layers + 1)) / 2} spans of ${layers} layers, splits ${task.scoredSplits.join(', ')}\n`);
    a = await ablateLayers(model, {
      task, maxLength: f.maxLength ?? maxLength, batchSize: f.batchSize,
      name: target.task ?? saved.manifest.name, source: target.taskDir, frozen,
      ...(f.threads !== undefined ? { threads: f.threads } : {}),
    });
  } finally {
    await model.dispose();
  }
  const savedTo: string[] = [];
  if (target.saveDir) savedTo.push(await saveAblation(target.saveDir, a));
  if (f.save) {
    await writeFile(f.save, `${JSON.stringify(a, null, 2)}\n`);
    savedTo.push(f.save);
  }
  for (const p of savedTo) process.stderr.write(`saved ${p}\n`);
  const initScale = f.initStds && target.sweep ? await runInitScale(dir, target, loaded, f.initStds, f, frozen) : undefined;
  if (f.json) {
    printJson(initScale ? { ...a, initScale } : a);
    return;
  }
  process.stdout.write(Object.keys(a.splits).map((s) => ablationTable(a, s)).join('\n'));
  if (initScale) process.stdout.write(`\n${initScaleTable(initScale, a.metric)}`);
}

/** One row of the init-scale study as printed and in --json. */
interface InitScaleSummary {
  initStd: number;
  runs: number;
  dev: number | null;
  test: number | null;
}

/** The init-scale study as a text table. */
export function initScaleTable(rows: readonly InitScaleSummary[], metric: string): string {
  const fmt = (x: number | null) => (x === null ? '–' : x.toFixed(4));
  return `${metric} by adapter initialisation std (mean over seeds):\n${table(['init std', 'runs', 'dev', 'test'], rows.map((r) => [r.initStd, r.runs, fmt(r.dev), fmt(r.test)]))}`;
}

/**
 * Retrains the sweep's best adapter configuration (size, lr, epochs, batch, length) with each
 * initialisation std; results go to `<dir>/init-scale.jsonl` for `adapterkit report`.
 */
async function runInitScale(dir: string, target: Target, loaded: LoadedExperimentTask, stds: number[], f: AblateFlags, frozen: FrozenOptions): Promise<InitScaleSummary[]> {
  const sweep = target.sweep as NonNullable<Target['sweep']>;
  const best = sweep.best;
  const record = sweep.record;
  if (best.preset !== undefined) fail('BAD_CONFIG', `the init-scale study retrains the paper's bottleneck adapter; ${dir}'s best adapter run is ${best.method}`);
  if (!record) fail('BAD_CONFIG', `${dir} has no ${SWEEP_RECORD} entry for ${best.task}, so the base it was trained on is unknown`);
  const seeds = f.initSeeds ?? [best.seed];
  // The same data, now as a task to train: it needs the train and dev splits.
  const task = loaded.level === 'token' ? tokenTask(loaded.data) : sentenceTask(loaded.data);
  const base = await loadBase(await baseSource(record.base), cliBaseOptions(record.revision));
  process.stderr.write(`adapterkit ablate: initialisation scale of ${best.method} (lr ${shortNumber(best.lr)}, ${best.epochs} epoch(s)): ` +
    `stds ${stds.map(shortNumber).join(', ')}, seeds ${seeds.join(', ')} -> ${join(dir, INIT_SCALE_FILE)}\n`);
  const reporter = sweepReporter({ data: target.spec, base: record.base, ...(record.revision !== undefined ? { revision: record.revision } : {}), task: best.task, maxLength: best.maxLength, ...frozenRecord(frozen) });
  const rows = await runInterruptible(reporter, (signal) => initScaleRobustness({
    base, task: { ...task, name: best.task }, outDir: dir, stds, seeds, size: best.size ?? 64, lr: best.lr, epochs: best.epochs,
    batchSize: best.batchSize, maxLength: best.maxLength, signal, ...reporter.callbacks, frozen: { ...frozen, onFrozenPlan: undefined },
    ...(f.threads !== undefined ? { threads: f.threads } : {}),
  }));
  return rows.map((r) => ({ initStd: r.initStd, runs: r.runs, dev: r.devMean, test: r.testMean }));
}

/** Parses a comma-separated list of init stds, each in (0, 1). */
function stdListArg(value: string): number[] {
  const xs = positiveListArg(value);
  for (const x of xs) if (!(x < 1)) throw new InvalidArgumentError(`"${x}" is not below 1 (an init std must be in (0, 1)).`);
  return xs;
}
