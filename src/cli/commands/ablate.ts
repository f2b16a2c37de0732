/**
 * `adapterkit ablate <dir>`: removes the adapters of every span of layers of a trained adapter task
 * and scores it on dev and test (the paper's ablation heat map). `<dir>` is a task directory
 * (`.../best`), a run directory holding `best/`, or a sweep output directory: then the best adapter
 * run on dev is ablated and the result saved as `<dir>/ablation-<task>.json` for `adapterkit report`.
 */
import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { devSplitNames, loadTask, type Example, type TaskData, type TaskSpec } from '../../train/data/index.js';
import { ablateLayers, saveAblation, type AblationResult } from '../../train/experiments/ablation.js';
import { readSweepResults, RESULTS_FILE, summarizeSweep } from '../../train/experiments/sweep-results.js';
import { addDataOptions, describeSpec, hasDataFlags, taskSpecFromFlags, type DataFlags } from '../data-options.js';
import { printJson, table } from '../format.js';
import { intArg, sanitizeTaskName } from '../options.js';
import { findRunRecord, loadTaskDir, readManifest } from '../saved-task.js';
import { alignLabels } from './eval.js';
import { SWEEP_RECORD, type SweepTaskRecord } from './sweep.js';
import { exists } from '../../util/fs.js';

interface AblateFlags extends DataFlags {
  base?: string;
  revision?: string;
  task?: string;
  save?: string;
  batchSize: number;
  maxLength?: number;
  threads?: number;
  json?: boolean;
}

const EXAMPLES = `
Examples:
  # the best adapter of a sweep (data and base recorded by the sweep); saves <dir>/ablation-spam.json
  $ adapterkit ablate runs/sweep-spam

  # a trained task directory, scores as JSON
  $ adapterkit ablate runs/spam-adapters/best --json`;

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
    .option('--threads <n>', 'ONNX Runtime threads', intArg(1))
    .option('--json', 'print the result as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (dir: string, flags: AblateFlags) => {
      await runAblate(dir, flags);
    });
}

/** Where to ablate: the task directory, the data spec and task name, and where to save. */
interface Target {
  taskDir: string;
  spec: TaskSpec;
  task?: string;
  saveDir?: string;
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
  let spec: TaskSpec | undefined;
  if (hasDataFlags(f)) {
    spec = taskSpecFromFlags(f);
    task ??= sanitizeTaskName((await loadTask(spec)).name);
  }
  if (task === undefined) {
    if (tasks.length !== 1) fail('BAD_CONFIG', `${dir} holds sweeps of ${tasks.length ? tasks.join(', ') : 'no task'}: choose one with --task <name>`);
    task = tasks[0] as string;
  }
  if (!tasks.includes(task)) fail('NOT_FOUND', `${dir} has no result for task ${task} (tasks: ${tasks.join(', ') || 'none'})`);
  spec ??= rec.tasks?.[task]?.data;
  if (!spec) fail('BAD_CONFIG', `${dir} has no ${SWEEP_RECORD} entry for ${task}: give the data with --dataset, --glue/--data or --train/--text/--label`);
  const best = summarizeSweep(results.filter((r) => r.task === task && r.kind === 'adapters'))
    .reduce<ReturnType<typeof summarizeSweep>[number] | undefined>((b, r) => (!b || (r.devScore ?? -Infinity) > (b.devScore ?? -Infinity) ? r : b), undefined);
  if (!best) fail('NOT_FOUND', `${dir} has no finished adapter run of task ${task}`);
  return { taskDir: join(dir, best.runDir, 'best'), spec, task, saveDir: dir };
}

async function taskTarget(dir: string, f: AblateFlags): Promise<Target> {
  const taskDir = !(await exists(join(dir, 'adapterkit.json'))) && (await exists(join(dir, 'best', 'adapterkit.json'))) ? join(dir, 'best') : dir;
  await readManifest(taskDir); // fails early on a missing directory
  if (hasDataFlags(f)) return { taskDir, spec: taskSpecFromFlags(f) };
  const rec = await findRunRecord(taskDir);
  if (!rec) fail('BAD_CONFIG', `no data given and no run.json next to ${taskDir}: use --dataset, --glue/--data or --train/--text/--label`);
  return { taskDir, spec: rec.data, task: rec.task };
}

function labeledSplits(data: TaskData): Record<string, Example[]> {
  const out: Record<string, Example[]> = {};
  const dev = devSplitNames(data)[0];
  for (const name of [dev, 'test']) {
    const rows = name !== undefined ? data.splits[name] : undefined;
    if (name !== undefined && rows?.some((e) => e.label !== undefined)) out[name] = rows;
  }
  return out;
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
  const target = (await exists(join(dir, RESULTS_FILE))) ? await sweepTarget(dir, f) : await taskTarget(dir, f);
  const data = await loadTask(target.spec);
  const where = describeSpec(target.spec);
  const { saved, maxLength } = await loadTaskDir(target.taskDir, f);
  const model = saved.model;
  let a: AblationResult;
  try {
    const splits = Object.fromEntries(Object.entries(labeledSplits(data)).map(([k, v]) => [k, alignLabels(v, data, model.head, where)]));
    if (Object.keys(splits).length === 0) fail('BAD_DATA', `${where} has no labeled dev or test split to score the ablation on`);
    const layers = model.base.encoder.numLayers;
    process.stderr.write(`adapterkit ablate: ${target.taskDir} on ${where}: ${(layers * (layers + 1)) / 2} spans of ${layers} layers, splits ${Object.keys(splits).join(', ')}\n`);
    a = await ablateLayers(model, {
      splits, metrics: data.metrics, maxLength: f.maxLength ?? maxLength, batchSize: f.batchSize,
      task: target.task ?? saved.manifest.name, source: target.taskDir,
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
  if (f.json) {
    printJson(a);
    return;
  }
  process.stdout.write(Object.keys(a.splits).map((s) => ablationTable(a, s)).join('\n'));
}
