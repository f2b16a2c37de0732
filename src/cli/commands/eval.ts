/**
 * `adapterkit eval <task-dir>`: scores a saved task on a labeled split.
 */
import type { Command } from 'commander';
import { fail } from '../../errors.js';
import type { HeadConfig } from '../../heads/head.js';
import { devSplitNames, loadTask, type Example, type MetricChoice, type TaskData, type TaskSpec } from '../../train/data/index.js';
import { predictExamples, scorePredictions } from '../../train/evaluate.js';
import type { TaskMetricValues } from '../../train/training-data.js';
import type { TaskModel } from '../../train/task-model.js';
import { evaluateQa, evaluateTagging, isTokenTaskSpec, loadTokenTask, taggingMetricNames, taggingRows, type TokenTaskSpec } from '../../train/token-tasks/index.js';
import { addDataOptions, describeSpec, describeTokenSpec, hasDataFlags, metricChoiceFromFlags, refuseMetricFlags, taskSpecFromFlags, tokenTaskSpecFromFlags, type DataFlags } from '../data-options.js';
import { formatInt, printJson, table } from '../format.js';
import { adapterDropArg, intArg } from '../options.js';
import { addFrozenPrecisionOptions, frozenPrecisionOptions, type FrozenPrecisionFlags } from '../frozen-precision-options.js';
import { frozenRecord } from '../../train/frozen-precision.js';
import { ACTIVE_HELP, applyActive, findRunRecord, loadTaskDir, readManifest, type ActiveFlags } from '../saved-task.js';

interface EvalFlags extends DataFlags, ActiveFlags, FrozenPrecisionFlags {
  split?: string;
  base?: string;
  revision?: string;
  batchSize: number;
  maxLength?: number;
  threads?: number;
  json?: boolean;
  windowStride?: number;
}

const EXAMPLES = `
Examples:
  # score the best checkpoint of a run on the data it was trained on (dev split)
  $ adapterkit eval runs/spam-adapters/best

  # a GLUE task's dev set, metrics as JSON
  $ adapterkit eval runs/sst2/best --glue SST-2 --data glue_data/SST-2 --json

  # a labeled test file of your own (the labels and their order come from the saved task)
  $ adapterkit eval runs/reviews/best --test test.csv --text review --label stars

  # other metrics: positive-class F1 and ROC AUC of the label "spam"
  $ adapterkit eval runs/mail/best --test test.csv --text body --label kind --metrics f1,roc_auc,accuracy --positive-label spam

  # token-level tasks: seqeval metrics (or token accuracy) for tagging, SQuAD EM/F1 for QA
  $ adapterkit eval runs/brown-pos-adapters/best --split test
  $ adapterkit eval runs/ner/best --task-kind tagging --train train.conll --test test.conll --split test`;

/** Registers `adapterkit eval`. */
export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('Evaluate a saved task on a labeled split. Without data options, the data recorded by `train` in the run directory is used.')
    .argument('<task-dir>', 'task directory written by train (e.g. runs/<task>-<mode>/best)');
  addDataOptions(cmd, { trainRequired: false });
  cmd
    .option('--split <name>', 'split to score: dev, test (if labeled), train, or another split name (default: dev; test when the only file is --test)')
    .option('--base <source>', 'base model (default: the one recorded in the task\'s adapterkit.json)')
    .option('--revision <rev>', 'hub revision of --base')
    .option('--batch-size <n>', 'examples per batch', intArg(1), 64)
    .option('--max-length <n>', 'tokens per example (default: the length used in training)', intArg(2))
    .option('--threads <n>', 'ONNX Runtime threads', intArg(1));
  addFrozenPrecisionOptions(cmd, 'scoring');
  cmd
    .option('--active <composition>', ACTIVE_HELP)
    .option('--adapter-drop <n>', 'a task holding several adapters: no adapters in the first n layers (AdapterDrop at inference: faster, usually a little less accurate)', adapterDropArg)
    .option('--window-stride <n>', 'sentence-level single-text tasks: score texts longer than --max-length in strided windows overlapping by n tokens (at most half a window; more is capped), their logits averaged, instead of truncating (default: truncate)', intArg(0))
    .option('--json', 'print the metrics as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (dir: string, flags: EvalFlags) => {
      await runEval(dir, flags);
    });
}

/** Maps the data's label indices onto the head's label order (by name). */
export function alignLabels(examples: readonly Example[], data: TaskData, head: HeadConfig, where: string): Example[] {
  if (data.kind !== head.kind) fail('BAD_CONFIG', `${where} is a ${data.kind} task but the saved task is ${head.kind}`);
  if (data.pair !== head.pair) fail('BAD_CONFIG', `${where} ${data.pair ? 'has' : 'lacks'} sentence pairs but the saved task ${head.pair ? 'takes pairs' : 'takes single texts'}`);
  if (data.kind === 'regression' || data.labels.join('\n') === head.labels.join('\n')) return [...examples];
  const map = data.labels.map((name) => {
    const i = head.labels.indexOf(name);
    if (i < 0) fail('BAD_DATA', `${where}: label "${name}" is not one of the saved task's labels (${head.labels.join(', ')})`);
    return i;
  });
  return examples.map((e) => {
    if (e.label === undefined) return e;
    if (typeof e.label === 'number') return { ...e, label: map[e.label] as number };
    const row = new Array<number>(head.labels.length).fill(0);
    e.label.forEach((v, j) => { if (v) row[map[j] as number] = 1; });
    return { ...e, label: row };
  });
}

function pickSplit(data: TaskData, split: string, where: string): [string, Example[]] {
  let name = split;
  if (split === 'dev' && !data.splits.dev) name = devSplitNames(data)[0] ?? 'dev';
  const rows = data.splits[name];
  if (!rows) fail('NOT_FOUND', `${where} has no split "${split}" (splits: ${Object.keys(data.splits).join(', ')})`);
  if (rows.length === 0) fail('BAD_DATA', `${where}: split "${name}" is empty`);
  if (!rows.some((e) => e.label !== undefined)) fail('BAD_DATA', `${where}: split "${name}" has no labels; use \`adapterkit predict\` for unlabeled data`);
  return [name, rows];
}

function printMetrics(f: EvalFlags, o: { task: string; dir: string; where: string; split: string; examples: number; truncated: number; windowed?: number; metrics: TaskMetricValues; seconds: number; unit: string }): void {
  const windowed = o.windowed !== undefined ? { windowed: o.windowed } : {};
  if (f.json) {
    printJson({ task: o.task, dir: o.dir, data: o.where, split: o.split, examples: o.examples, truncated: o.truncated, ...windowed, metrics: o.metrics, seconds: o.seconds, ...frozenRecord(frozenPrecisionOptions(f, () => undefined)) });
    return;
  }
  const cut = o.windowed !== undefined ? `${o.windowed} scored in several windows` : `${o.truncated} truncated`;
  process.stdout.write(`${o.task} on ${o.where}, split ${o.split}: ${formatInt(o.examples)} labeled ${o.unit} (${cut}), ${o.seconds.toFixed(1)}s\n`);
  process.stdout.write(table(['metric', 'value'], Object.entries(o.metrics).map(([k, v]) => [k, (v as number).toFixed(4)])));
}

async function evalTokenTask(dir: string, f: EvalFlags, spec: TokenTaskSpec): Promise<void> {
  if (f.windowStride !== undefined) fail('BAD_CONFIG', `--window-stride is for sentence-level tasks; ${describeTokenSpec(spec)} is ${spec.tokenTask}`);
  const t = await loadTokenTask(spec);
  const where = describeTokenSpec(spec);
  const splits: Record<string, readonly unknown[]> = t.kind === 'tagging' ? t.data.splits : t.splits;
  const split = f.split ?? 'dev';
  const rows = splits[split];
  if (!rows) fail('NOT_FOUND', `${where} has no split "${split}" (splits: ${Object.keys(splits).join(', ')})`);
  if (rows.length === 0) fail('BAD_DATA', `${where}: split "${split}" is empty`);
  const { saved, maxLength } = await loadTaskDir(dir, { ...f, model: frozenPrecisionOptions(f, logLine), inference: true });
  const model: TaskModel = saved.model;
  try {
    applyActive(model, dir, f);
    if (model.head.kind !== t.kind) fail('BAD_CONFIG', `${where} is a ${t.kind} task but the saved task is ${model.head.kind}`);
    const t0 = performance.now();
    const len = f.maxLength ?? maxLength;
    let metrics: TaskMetricValues;
    let truncated = 0;
    if (t.kind === 'tagging') {
      const sentences = t.data.splits[split] ?? [];
      const tagRows = taggingRows(model, sentences.map((s) => ({ tokens: s.tokens })), len);
      metrics = await evaluateTagging(model, sentences, { maxLength: len, batchSize: f.batchSize, metrics: taggingMetricNames(model), rows: tagRows });
      truncated = tagRows.filter((r) => r.truncated).length;
    } else {
      metrics = await evaluateQa(model, t.splits[split] ?? [], { maxLength: len, batchSize: f.batchSize });
    }
    printMetrics(f, {
      task: saved.manifest.name, dir, where, split, examples: rows.length, truncated, metrics, seconds: (performance.now() - t0) / 1000,
      unit: t.kind === 'tagging' ? 'sentences' : 'questions',
    });
  } finally {
    await model.dispose();
  }
}

/**
 * Files given without --train (eval --test test.csv): the saved task's head supplies the labels,
 * in its class order, and the task kind.
 */
export function withSavedLabels(spec: TaskSpec, head: HeadConfig, dir: string): TaskSpec {
  if (!('files' in spec) || spec.files.train !== undefined) return spec;
  if (head.kind === 'tagging' || head.kind === 'qa') fail('BAD_CONFIG', `${dir} is a ${head.kind} task: give --task-kind ${head.kind} with its files`);
  return { ...spec, kind: spec.kind !== 'classification' ? spec.kind : head.kind, labels: [...head.labels] };
}

/** The positive class of `data` as a class index of the head (whose label order may differ from the data's). */
function headPositive(data: TaskData, head: HeadConfig): { positive?: number } {
  if (data.kind !== 'classification') return {};
  const name = data.labels[data.positive ?? 1];
  const i = name === undefined ? -1 : head.labels.indexOf(name);
  return i >= 0 ? { positive: i } : {};
}

/** The metric choice a run was trained with (from its run record's spec). */
function recordedChoice(spec: TaskSpec): MetricChoice {
  return {
    ...(spec.metrics !== undefined ? { metrics: spec.metrics } : {}),
    ...(spec.selectOn !== undefined ? { selectOn: spec.selectOn } : {}),
    ...(spec.positiveLabel !== undefined ? { positiveLabel: spec.positiveLabel } : {}),
  };
}

/** The split eval scores by default: dev, or test when the only file given is --test. */
function defaultSplit(spec: TaskSpec): string {
  return 'files' in spec && spec.files.dev === undefined && spec.files.train === undefined && spec.files.test !== undefined ? 'test' : 'dev';
}

async function runEval(dir: string, f: EvalFlags): Promise<void> {
  await readManifest(dir); // fails early on a missing task directory
  let spec: TaskSpec;
  if (hasDataFlags(f)) {
    const tokenSpec = tokenTaskSpecFromFlags(f);
    if (tokenSpec) return evalTokenTask(dir, f, tokenSpec);
    // the metrics chosen at training (in the run record) stay, unless the flags choose others
    const rec = await findRunRecord(dir);
    const trained = rec && !isTokenTaskSpec(rec.data) ? recordedChoice(rec.data) : {};
    spec = { ...taskSpecFromFlags(f, { scoringOnly: true }), ...trained, ...metricChoiceFromFlags(f) } as TaskSpec;
  } else {
    const rec = await findRunRecord(dir);
    if (!rec) fail('BAD_CONFIG', `no data given and no run.json next to ${dir}: use --dataset, --glue/--data, --train/--text/--label, or --test/--text/--label`);
    if (isTokenTaskSpec(rec.data)) {
      refuseMetricFlags(f, describeTokenSpec(rec.data));
      return evalTokenTask(dir, f, rec.data);
    }
    spec = { ...rec.data, ...metricChoiceFromFlags(f) } as TaskSpec;
  }
  const scoringOnly = 'files' in spec && spec.files.train === undefined;
  // Without --train the labels come from the saved task: load it first. Otherwise the data first (its errors come fast).
  const loadedFirst = scoringOnly ? await loadTaskDir(dir, { ...f, model: frozenPrecisionOptions(f, logLine), inference: true }) : undefined;
  if (loadedFirst) spec = withSavedLabels(spec, loadedFirst.saved.model.head, dir);
  const data = await loadTask(spec);
  const where = describeSpec(spec);
  const [split, rows] = pickSplit(data, f.split ?? defaultSplit(spec), where);
  const { saved, maxLength } = loadedFirst ?? await loadTaskDir(dir, { ...f, model: frozenPrecisionOptions(f, logLine), inference: true });
  const model = saved.model;
  try {
    applyActive(model, dir, f);
    const examples = alignLabels(rows, data, model.head, where);
    const t0 = performance.now();
    const windows = f.windowStride !== undefined ? { windowOverlap: f.windowStride } : {};
    const preds = await predictExamples(model, examples, { maxLength: f.maxLength ?? maxLength, batchSize: f.batchSize, ...windows });
    const metrics = scorePredictions(data.metrics, preds, examples, headPositive(data, model.head));
    const seconds = (performance.now() - t0) / 1000;
    const labeled = examples.filter((e) => e.label !== undefined).length;
    const truncated = preds.filter((p) => p.truncated).length;
    const windowed = f.windowStride !== undefined ? { windowed: preds.filter((p) => (p.windows ?? 1) > 1).length } : {};
    printMetrics(f, { task: saved.manifest.name, dir, where, split, examples: labeled, truncated, ...windowed, metrics, seconds, unit: 'examples' });
  } finally {
    await model.dispose();
  }
}

/** A log line on stderr (the int8 outlier guard's choices). */
function logLine(line: string): void {
  process.stderr.write(`${line}\n`);
}
