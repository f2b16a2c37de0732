/**
 * `adapterkit train --multi-task a,b,...`: one run over several sentence-level (classification)
 * and tagging tasks in mixed batches (library: trainMultiTask, src/train/multi-task-trainer.ts).
 * Every task gets the adapter the method flags describe and its own head (a tagging head for
 * a built-in tagging dataset such as brown-pos and for a directory of CoNLL or JSONL tagging files); its best dev checkpoint is saved
 * in `<out>/<task>/best`, an ordinary task directory for eval, predict and serve.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fail } from '../../errors.js';
import type { HeadConfig } from '../../heads/head.js';
import { headPoolingFor, type HeadPooling } from '../../heads/pooling.js';
import { loadBase } from '../../models/base.js';
import { devSplitNames, loadTask, type TaskSpec } from '../../train/data/index.js';
import { isTokenDatasetName, isTokenTaskSpec, loadTokenTask, type TokenTaskSpec } from '../../train/token-tasks/data.js';
import type { TaggedSentence, TaggingData } from '../../train/tokens/types.js';
import type { Example, TaskData } from '../../train/data/types.js';
import { describeMode, type SingleTrainingMode } from '../../train/modes.js';
import { resolveMaxLength } from '../../train/max-length.js';
import { parseSampling, type MultiTaskSampling } from '../../train/multi-task-sampling.js';
import { BUCKET_WINDOW } from '../../train/batching.js';
import { trainMultiTask, type MultiTaskEvent, type MultiTaskTask } from '../../train/multi-task-trainer.js';
import { TaskModel } from '../../train/task-model.js';
import { DEFAULT_LR } from '../../train/trainer.js';
import { columnRef } from '../data-options.js';
import { formatDuration, formatInt, formatPercent, keyValues, printJson, table } from '../format.js';
import { modeFromFlags, promptStart, sanitizeTaskName, type ModeFlags } from '../options.js';
import { withInterrupt } from '../interrupt.js';
import { baseSource, writeRunRecord } from '../saved-task.js';
import { builtinDatasetsHelp, tokenDatasetNames } from '../builtin-datasets.js';
import { cliBaseOptions } from '../download-progress.js';
import { frozenPrecisionOptions, type FrozenPrecisionFlags } from '../frozen-precision-options.js';
import { frozenRecord } from '../../train/frozen-precision.js';
import { makeOutDir } from '../../util/out-dir.js';

/** Help of --multi-task. */
export const MULTI_TASK_HELP = `train several classification and tagging tasks in one run, each example with its own adapter and head in mixed batches: built-in datasets (${builtinDatasetsHelp()}) or name=<dir> holding a classification task's train.csv and dev.csv (columns from --text and --label, default text and label) or a tagging task's train.conll and dev.conll (or .jsonl), comma-separated; each task's best dev checkpoint goes to <out>/<task>/best (the method flags apply to every task; --resume continues an interrupted run; --patience stops each task on its own)`;

/** Help of --sampling. */
export const SAMPLING_HELP = 'with --multi-task: proportional (every example once an epoch, tasks in proportion to their size) or temperature=<T> (task i drawn with p ∝ n_i^(1/T); T > 1 favours small tasks)';

/** Help of --no-length-bucketing. */
export const LENGTH_BUCKETING_HELP = `with --multi-task: cut each epoch's draws into batches in the order drawn, so that every batch mixes the tasks as sampled (default: batches of like lengths, sorted within windows of ${BUCKET_WINDOW} batches as single-task runs are; tasks of very different lengths otherwise pad nearly every batch to the longest)`;

/** The flags a mixed-task run reads (a subset of train's). */
export interface MultiTaskFlags extends ModeFlags, FrozenPrecisionFlags {
  multiTask: string;
  sampling?: string;
  /** false with --no-length-bucketing. */
  lengthBucketing?: boolean;
  base: string;
  revision?: string;
  headLayers?: number;
  pooling?: HeadPooling;
  epochs: number;
  batchSize: number;
  maxLength?: number;
  lr?: number;
  weightDecay: number;
  warmupRatio: number;
  clipNorm: number;
  dropout?: number;
  seed: number;
  evalEvery?: number;
  maxSteps?: number;
  patience?: number;
  resume?: boolean;
  threads?: number;
  out?: string;
  json?: boolean;
  text?: string;
  label?: string;
  [flag: string]: unknown;
}

/** Train flags a mixed-task run does not take, with what to do instead. */
const REFUSED: readonly [string, string, string][] = [
  ['dataset', '--dataset', 'name the tasks in --multi-task'],
  ['glue', '--glue', 'name the tasks in --multi-task'],
  ['data', '--data', 'name the tasks in --multi-task'],
  ['train', '--train', 'give CSV tasks as name=<dir> holding train.csv and dev.csv'],
  ['dev', '--dev', 'give CSV tasks as name=<dir> holding train.csv and dev.csv'],
  ['test', '--test', 'score each task afterwards with adapterkit eval <out>/<task>/best'],
  ['taskKind', '--task-kind', `mixed-task runs train classification tasks and built-in tagging tasks (${tokenDatasetNames()})`],
  ['name', '--name', 'the tasks are named in --multi-task'],
  ['adapter', '--adapter', 'one adapter per task, from the method flags'],
  ['with', '--with', 'one adapter per task, from the method flags'],
  ['compose', '--compose', 'one adapter per task, from the method flags'],
  ['fuse', '--fuse', 'one adapter per task, from the method flags'],
  ['adapterDrop', '--adapter-drop', 'not in mixed-task runs yet'],
  ['cacheFrozenLayers', '--cache-frozen-layers', 'not in mixed-task runs yet (every task\'s adapters run in every layer)'],
  ['cacheMemory', '--cache-memory', 'not in mixed-task runs yet'],
  ['trainPooler', '--train-pooler', 'only adapters, layer norms and heads train per task in a mixed batch'],
];

/** The tagging files a `name=<dir>` entry may hold, `train.<ext>` and `dev.<ext>`. */
const TAGGING_EXTENSIONS = ['conll', 'jsonl'] as const;

/** One entry of --multi-task: a built-in dataset (sentence-level or tagging), or name=<dir> (CSV classification, or CoNLL/JSONL tagging). */
function specOf(entry: string, f: MultiTaskFlags): { name: string; spec: TaskSpec | TokenTaskSpec } {
  const eq = entry.indexOf('=');
  if (eq < 0) return { name: sanitizeTaskName(entry), spec: isTokenDatasetName(entry) ? { tokenTask: 'tagging', builtin: entry } : { builtin: entry } };
  const name = entry.slice(0, eq);
  const dir = entry.slice(eq + 1);
  if (!/^[A-Za-z0-9_-]+$/.test(name)) fail('BAD_CONFIG', `--multi-task ${entry}: the task name ${JSON.stringify(name)} may only contain letters, digits, _ and -`);
  if (!dir) fail('BAD_CONFIG', `--multi-task ${entry}: give the directory holding the task's train and dev files after the =`);
  const noDev = (file: string) => fail('BAD_DATA', `--multi-task ${name} has no dev split (${join(dir, file)} does not exist); each task of a mixed-task run is evaluated on its own dev split`);
  // a tagging task: train.conll and dev.conll, or train.jsonl and dev.jsonl (format from the extension, as --task-kind tagging)
  const tagged = TAGGING_EXTENSIONS.find((ext) => existsSync(join(dir, `train.${ext}`)));
  if (tagged) {
    if (!existsSync(join(dir, `dev.${tagged}`))) noDev(`dev.${tagged}`);
    return { name, spec: { tokenTask: 'tagging', files: { train: resolve(dir, `train.${tagged}`), dev: resolve(dir, `dev.${tagged}`) }, name, onBadRow: f.skipBadRows ? 'skip' : 'fail' } };
  }
  if (!existsSync(join(dir, 'train.csv'))) {
    fail('BAD_CONFIG', `--multi-task ${entry}: ${join(dir, 'train.csv')} does not exist (a CSV classification task is a directory holding train.csv and dev.csv, a tagging task one holding ${TAGGING_EXTENSIONS.map((e) => `train.${e} and dev.${e}`).join(', or ')})`);
  }
  if (!existsSync(join(dir, 'dev.csv'))) noDev('dev.csv');
  return {
    name,
    spec: {
      files: { train: resolve(dir, 'train.csv'), dev: resolve(dir, 'dev.csv') },
      columns: { text: columnRef(f.text ?? 'text'), label: columnRef(f.label ?? 'label') },
      kind: 'classification', name, onBadRow: f.skipBadRows ? 'skip' : 'fail',
    } as TaskSpec,
  };
}

/** A loaded entry of --multi-task: a sentence-level task or a tagging task, with its splits. */
type LoadedEntry =
  | { readonly level: 'sentence'; readonly name: string; readonly spec: TaskSpec; readonly data: TaskData; readonly train: readonly Example[]; readonly dev: readonly Example[] }
  | { readonly level: 'tagging'; readonly name: string; readonly spec: TokenTaskSpec; readonly data: TaggingData; readonly train: readonly TaggedSentence[]; readonly dev: readonly TaggedSentence[] };

/** Loads one entry, checking it has a training and a dev split and a head mixed batches take. */
async function loadEntry(name: string, spec: TaskSpec | TokenTaskSpec): Promise<LoadedEntry> {
  const named = (e: unknown): never => {
    if (e instanceof Error && 'code' in e) fail((e as { code: 'BAD_CONFIG' }).code, `--multi-task ${name}: ${e.message}`);
    throw e;
  };
  const noDev = () => fail('BAD_DATA', `--multi-task ${name} has no dev split; each task of a mixed-task run is evaluated on its own dev split`);
  const noTrain = () => fail('BAD_DATA', `--multi-task ${name}: the training split is empty`);
  if (isTokenTaskSpec(spec)) {
    const t = await loadTokenTask(spec).catch(named);
    if (t.kind !== 'tagging') fail('BAD_CONFIG', `--multi-task ${name}: an extractive-QA task; mixed-task training takes classification and tagging tasks only`);
    const train = t.data.splits.train;
    const dev = t.data.splits.dev;
    if (!dev?.length) noDev();
    if (!train?.length) noTrain();
    return { level: 'tagging', name, spec, data: t.data, train: train as TaggedSentence[], dev: dev as TaggedSentence[] };
  }
  const data = await loadTask(spec).catch(named);
  const devName = devSplitNames(data)[0];
  const dev = devName ? data.splits[devName] : undefined;
  if (!dev?.length) noDev();
  const train = data.splits.train;
  if (!train?.length) noTrain();
  return { level: 'sentence', name, spec, data, train: train as Example[], dev: dev as Example[] };
}

function say(line = ''): void {
  process.stderr.write(`${line}\n`);
}

/** Runs `train --multi-task`. */
export async function runMultiTaskTrain(f: MultiTaskFlags): Promise<void> {
  for (const [key, flag, instead] of REFUSED) if (f[key] !== undefined && f[key] !== false) fail('BAD_CONFIG', `${flag} does not apply with --multi-task: ${instead}`);
  if (f.mode !== undefined && f.mode !== 'adapters') fail('BAD_CONFIG', `--multi-task trains adapters (--mode adapters); the mode is ${String(f.mode)}`);
  const entries = f.multiTask.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length < 2) fail('BAD_CONFIG', `--multi-task needs at least two tasks, comma-separated (got ${JSON.stringify(f.multiTask)})`);
  const sampling: MultiTaskSampling = parseSampling(f.sampling ?? 'proportional');
  const mode = modeFromFlags(f) as SingleTrainingMode;
  const specs = entries.map((e) => specOf(e, f));
  const dup = specs.find((s, i) => specs.findIndex((x) => x.name === s.name) !== i);
  if (dup) fail('BAD_CONFIG', `--multi-task names task ${dup.name} twice`);

  const loaded: LoadedEntry[] = [];
  for (const { name, spec } of specs) loaded.push(await loadEntry(name, spec));

  const out = f.out ?? join('runs', `multi-${specs.map((s) => s.name).join('-')}`);
  const base = await loadBase(await baseSource(f.base), cliBaseOptions(f.revision));
  const maxLength = resolveMaxLength(base.encoder.maxLength, f.maxLength, { fallback: 128, over: 'fail', name: '--max-length' });
  const pooling = headPoolingFor(f.pooling, base).pooling; // --pooling, else the base's sentence-transformers pooling
  const headExtra: Partial<HeadConfig> = { ...(f.headLayers !== undefined ? { layers: f.headLayers as 1 | 2 } : {}), ...(f.dropout !== undefined ? { dropout: f.dropout } : {}) };
  // the pooling is a sentence-level head's; a tagging head reads every position
  const headOf = (t: LoadedEntry): HeadConfig => (t.level === 'tagging'
    ? { ...headExtra, kind: 'tagging', labels: t.data.tagSet, scheme: t.data.scheme } as HeadConfig
    : { ...headExtra, ...(pooling !== 'encoder' ? { pooling } : {}), kind: t.data.kind, labels: t.data.labels, pair: t.data.pair } as HeadConfig);
  // The trainer's guard reports the plan of the training graph; each task's own model (dev scoring) runs a guard of its own, unlogged.
  const frozen = frozenPrecisionOptions(f, say);
  const tasks: MultiTaskTask[] = loaded.map((t, i) => {
    const model = TaskModel.create(base, {
      mode, head: headOf(t), seed: f.seed + i, ...frozen, onFrozenPlan: undefined, ...promptStart(mode, base),
      ...(f.dropout !== undefined ? { dropout: f.dropout } : {}), ...(f.threads !== undefined ? { threads: f.threads } : {}),
    });
    if (t.level === 'tagging') return { name: t.name, model, train: t.train, dev: t.dev, metrics: t.data.metrics };
    return { name: t.name, model, train: t.train, dev: t.dev, metrics: t.data.metrics, ...(t.data.positive !== undefined ? { positive: t.data.positive } : {}) };
  });
  const stats = tasks[0]?.model.stats();
  say(`adapterkit train --multi-task: ${specs.map((s) => s.name).join(', ')} -> ${out}`);
  say(keyValues([
    ['tasks', loaded.map((t) => `${t.name} (${t.level === 'tagging' ? `tagging, ${t.data.tagSet.length} tags; train ${formatInt(t.train.length)} sentences` : `${t.data.kind === 'regression' ? 'regression' : `${t.data.labels.length} classes`}; train ${formatInt(t.train.length)}`}, dev ${formatInt(t.dev.length)}, selection on ${t.data.metrics[0]})`).join('; ')],
    ['base', `${base.id} (${base.encoder.family})`],
    ['mode', `${describeMode(mode, base.encoder)}, one per task`],
    ['trainable', `${formatInt(stats?.trainableParams ?? 0)} parameters per task (${formatPercent(stats?.share ?? 0)} of the base)`],
    ...(frozen.frozenPrecision === 'int8' ? [['frozen base', 'int8 matmuls (outlier guard on the first mixed batch)'] as [string, string]] : []),
    ['sampling', sampling === 'proportional' ? 'proportional to task size' : `temperature ${sampling.temperature} (p ∝ n^(1/${sampling.temperature}))`],
    ['batches', f.lengthBucketing === false ? 'in draw order (every batch mixes the tasks as sampled)' : `length-bucketed (like lengths together, within windows of ${BUCKET_WINDOW} batches)`],
    ['schedule', `${f.epochs} epoch(s), batch ${f.batchSize}, max length ${maxLength}, lr ${f.lr ?? DEFAULT_LR.adapters}, seed ${f.seed}`],
  ]).trimEnd());

  await makeOutDir(out, `--out ${out}`);
  for (const t of loaded) {
    await mkdir(join(out, t.name), { recursive: true });
    await writeRunRecord(join(out, t.name), { data: t.spec, base: base.id, ...(f.revision !== undefined ? { revision: f.revision } : {}), task: t.name, maxLength, ...frozenRecord(frozen) });
  }
  let every = 1;
  const onEvent = (e: MultiTaskEvent) => {
    if (e.type === 'start') {
      every = Math.max(1, Math.floor(e.totalSteps / 20));
      say(`${e.totalSteps} steps; task shares: ${e.tasks.map((t) => `${t.name} ${formatPercent(t.probability)}`).join(', ')}`);
    } else if (e.type === 'step' && (e.step % every === 0 || e.step === e.totalSteps)) {
      say(`step ${e.step}/${e.totalSteps} epoch ${e.epoch + 1} loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} ${e.examplesPerSec.toFixed(1)} ex/s (${tasks.map((t, i) => `${t.name} ${e.counts[i]}`).join(', ')})`);
    } else if (e.type === 'note') {
      say(`note: ${e.message}`);
    } else if (e.type === 'task-stopped') {
      say(`task ${e.task} stops at step ${e.step}: ${e.evals} evaluations without dev improvement (--patience); the other tasks go on`);
    } else if (e.type === 'eval') {
      say(`eval ${e.task} at step ${e.step}: ${Object.entries(e.metrics).map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join(', ')}${e.best ? ' (best so far, saved)' : ''}`);
    }
  };
  let r;
  try {
    r = await withInterrupt({
      message: `interrupt: stopping after this step and saving a checkpoint of every task (continue with --out ${out} --resume)`,
      exitMessage: 'adapterkit: interrupted twice, exiting', log: say,
    }, (signal) => trainMultiTask({
      outDir: out, tasks, sampling, lengthBucketing: f.lengthBucketing !== false, epochs: f.epochs, batchSize: f.batchSize, maxLength,
      ...(f.lr !== undefined ? { lr: f.lr } : {}), weightDecay: f.weightDecay, warmupRatio: f.warmupRatio, clipNorm: f.clipNorm, seed: f.seed,
      ...(f.dropout !== undefined ? { dropout: f.dropout } : {}), ...(f.evalEvery !== undefined ? { evalEvery: f.evalEvery } : {}),
      ...(f.maxSteps !== undefined ? { maxSteps: f.maxSteps } : {}), ...(f.threads !== undefined ? { threads: f.threads } : {}), frozen, signal, onEvent,
      ...(f.patience !== undefined ? { patience: f.patience } : {}), ...(f.resume ? { resume: true } : {}),
    }));
  } finally {
    for (const t of tasks) await t.model.dispose();
  }
  const summary = {
    out, base: base.id, mode: describeMode(mode, base.encoder), ...frozenRecord(frozen), sampling, lengthBucketing: f.lengthBucketing !== false, steps: r.steps, stopReason: r.stopReason, seconds: r.seconds, examplesPerSec: r.examplesPerSec,
    tasks: r.tasks.map((t) => ({ ...t, best: t.best ? { ...t.best, epoch: t.best.epoch + 1 } : null })),
  };
  if (f.json) {
    printJson(summary);
    return;
  }
  const rows: [string, string | number][] = r.tasks.map((t) => [
    t.name, `${Object.entries(t.best?.metrics ?? {}).map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join(', ')}${t.best ? ` at step ${t.best.step}` : ''}; ${t.steps} steps, ${formatInt(t.seen)} examples${t.stoppedAt !== undefined ? `, stopped at step ${t.stoppedAt} (patience)` : ''}; ${t.bestDir}`,
  ]);
  rows.push(['steps', r.steps], ['time', `${formatDuration(r.seconds)} (${r.examplesPerSec.toFixed(1)} examples/s)`]);
  process.stdout.write(`\n${table(['task', 'dev (best)'], rows)}`);
}
