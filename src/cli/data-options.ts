/**
 * The data options shared by `train` and `eval`: a built-in dataset, a GLUE directory, or generic
 * CSV/TSV/JSONL files, turned into a {@link TaskSpec} for `loadTask`; or, for token-level tasks,
 * a built-in tagging dataset, CoNLL/JSONL tagging files (`--task-kind tagging`) or SQuAD JSON
 * files (`--task-kind qa`), turned into a {@link TokenTaskSpec} for `loadTokenTask`.
 */
import { Option, type Command } from 'commander';
import { homedir } from 'node:os';
import { basename, dirname, extname, resolve } from 'node:path';
import { fail } from '../errors.js';
import type { TaskSpec } from '../train/data/index.js';
import { isTokenDatasetName, isTokenTaskSpec, type TokenTaskSpec } from '../train/token-tasks/data.js';
import type { ColumnRef, TabularFormat } from '../train/data/tabular.js';
import type { MetricChoice } from '../train/data/metric-choice.js';
import { isMetricName, METRICS, type MetricName } from '../train/metrics/index.js';
import { sanitizeTaskName } from './options.js';
import { builtinDatasetsHelp } from './builtin-datasets.js';

/** Data flags as commander parses them. */
export interface DataFlags {
  dataset?: string;
  glue?: string;
  data?: string;
  train?: string;
  dev?: string;
  test?: string;
  text?: string;
  textPair?: string;
  label?: string;
  taskKind?: string;
  format?: string;
  skipBadRows?: boolean;
  metrics?: MetricName[];
  selectOn?: MetricName;
  positiveLabel?: string;
}

/** Parses a --metrics list (comma-separated metric names). */
function metricListArg(v: string): MetricName[] {
  const names = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (names.length === 0) fail('BAD_CONFIG', '--metrics needs at least one metric name');
  return names.map((n) => metricArg(n, '--metrics'));
}

function metricArg(v: string, flag = '--select-on'): MetricName {
  if (!isMetricName(v)) fail('BAD_CONFIG', `${flag}: "${v}" is not a metric (metrics: ${Object.keys(METRICS).join(', ')})`);
  return v;
}

/** The metric choice of the flags (applied by `loadTask`); `{}` when none is given. */
export function metricChoiceFromFlags(f: DataFlags): MetricChoice {
  return {
    ...(f.metrics !== undefined ? { metrics: f.metrics } : {}),
    ...(f.selectOn !== undefined ? { selectOn: f.selectOn } : {}),
    ...(f.positiveLabel !== undefined ? { positiveLabel: f.positiveLabel } : {}),
  };
}

/** Adds the data options to a command. */
export function addDataOptions(cmd: Command, o: { trainRequired: boolean }): Command {
  return cmd
    .option('--dataset <name>', `built-in dataset (${builtinDatasetsHelp()}; see \`adapterkit datasets\`)`)
    .option('--glue <task>', 'GLUE task name (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI); needs --data')
    .option('--data <dir>', 'directory of the GLUE task (train.tsv, dev.tsv, test.tsv)')
    .option('--train <file>', `training file (CSV, TSV or JSONL; CoNLL or JSONL with --task-kind tagging; SQuAD JSON with --task-kind qa)${o.trainRequired ? '' : '; its labels fix the label order'}`)
    .option('--dev <file>', 'dev file, same columns as --train')
    .option('--test <file>', 'test file (the label column may be absent)')
    .option('--text <column>', 'column (header name, JSON key, or 0-based index for header-less files) of the text')
    .option('--text-pair <column>', 'column of the second text of sentence-pair tasks')
    .option('--label <column>', 'column of the label')
    .addOption(new Option('--task-kind <kind>', 'what the label is (default: classification); tagging: one tag per word; qa: extractive question answering').choices(['classification', 'regression', 'multilabel', 'tagging', 'qa']))
    .addOption(new Option('--format <format>', 'file format (default: from the extension: .csv, .tsv/.tab, .jsonl/.ndjson; tagging: .jsonl/.ndjson, else CoNLL)').choices(['csv', 'tsv', 'jsonl', 'conll']))
    .option('--skip-bad-rows', 'skip malformed rows (reported) instead of failing (default: fail)')
    .option('--metrics <list>', `sentence-level tasks: metrics to report, comma-separated, from ${Object.keys(METRICS).join(', ')} (default: the dataset's own; files: accuracy,macro_f1 for classification)`, metricListArg)
    .option('--select-on <metric>', 'metric that selects the best checkpoint (default: the first of --metrics)', (v: string) => metricArg(v))
    .option('--positive-label <label>', 'classification: the positive class of f1, precision, recall and roc_auc (default: the second of the sorted labels)');
}

/** File names that name a split rather than a task: train.csv, dev.tsv, test-v2.0.json, data.jsonl... */
const SPLIT_FILE = /^(train|training|trn|dev|devel|development|valid|validation|val|eval|test|testing|tst|data|dataset|all|full)([-_.]?v?\d+(\.\d+)*)?$/i;
/** Directory names that say nothing about the task. */
const GENERIC_DIR = /^(|\.|data|datasets?|tmp|temp|files|inputs?|raw|splits?|csv|tsv|jsonl|corpus|corpora|downloads?|desktop|documents|home)$/i;
/** Label column names that say nothing about the task. */
const GENERIC_LABEL = /^(label|labels|class|classes|target|y|tag|tags|category|output)$/i;

/** Where {@link defaultTaskName} took the name from, as `train`'s plan says it. */
export type TaskNameSource = 'file name' | 'directory name' | 'label column' | 'task kind';

/**
 * The task name of files given without --name: the training file's name (reviews.csv ->
 * `reviews`) unless it names a split (train.csv, dev.tsv...), then the directory holding it
 * (data/imdb/train.csv -> `imdb`) unless that is generic (data, tmp, your home...), then the label
 * column (`--label sentiment` -> `sentiment`) unless it is generic (label, class...), else the
 * task kind.
 */
export function defaultTaskName(train: string, o: { label?: string; kind: string }): { name: string; from: TaskNameSource } {
  const stem = basename(train, extname(train));
  if (!SPLIT_FILE.test(stem)) return { name: sanitizeTaskName(stem), from: 'file name' };
  const dir = dirname(resolve(train));
  if (!GENERIC_DIR.test(basename(dir)) && dir !== homedir() && dir !== dirname(dir)) return { name: sanitizeTaskName(basename(dir)), from: 'directory name' };
  if (o.label !== undefined && !/^\d+$/.test(o.label) && !GENERIC_LABEL.test(o.label)) return { name: sanitizeTaskName(o.label), from: 'label column' };
  return { name: o.kind, from: 'task kind' };
}

/** What `--name` defaults to, for the help of commands that train. */
export const TASK_NAME_HELP = 'task name stored with the adapter (default: the dataset\'s name; for files, the training file\'s name, or when that names a split (train.csv...) its directory (data/imdb/train.csv: imdb), else the label column)';

/** A column flag as a column: a 0-based index when it is all digits (header-less files), else a name. */
export function columnRef(ref: string): ColumnRef {
  return /^\d+$/.test(ref) ? Number(ref) : ref;
}

/** Whether any data option is given. */
export function hasDataFlags(f: DataFlags): boolean {
  return [f.dataset, f.glue, f.data, f.train, f.dev, f.test, f.text, f.textPair, f.label, f.taskKind, f.format].some((v) => v !== undefined);
}

/**
 * Builds the `loadTokenTask` spec when the flags name a token-level task (a built-in tagging
 * dataset, or `--task-kind tagging|qa` with files); undefined for sentence-level tasks.
 */
export function tokenTaskSpecFromFlags(f: DataFlags): TokenTaskSpec | undefined {
  const spec = tokenSpecOf(f);
  if (spec) refuseMetricFlags(f, describeTokenSpec(spec));
  return spec;
}

/** Fails when metric flags are given for a token-level task (`what` names it). */
export function refuseMetricFlags(f: DataFlags, what: string): void {
  const given = [['--metrics', f.metrics], ['--select-on', f.selectOn], ['--positive-label', f.positiveLabel]].filter(([, v]) => v !== undefined).map(([k]) => k);
  if (given.length) fail('BAD_CONFIG', `${given.join(', ')} appl(y) to sentence-level tasks; ${what} is scored with its own metrics`);
}

function tokenSpecOf(f: DataFlags): TokenTaskSpec | undefined {
  const onBadRow = f.skipBadRows ? 'skip' : 'fail';
  if (f.dataset !== undefined && isTokenDatasetName(f.dataset)) {
    const extra = [['--glue', f.glue], ['--data', f.data], ['--train', f.train], ['--text', f.text], ['--label', f.label], ['--task-kind', f.taskKind]].filter(([, v]) => v !== undefined).map(([k]) => k);
    if (extra.length) fail('BAD_CONFIG', `choose one data source; got --dataset ${f.dataset} and ${extra.join(', ')}`);
    return { tokenTask: 'tagging', builtin: f.dataset };
  }
  if (f.taskKind !== 'tagging' && f.taskKind !== 'qa') return undefined;
  const kind = f.taskKind;
  const extra = [['--dataset', f.dataset], ['--glue', f.glue], ['--data', f.data], ['--text', f.text], ['--text-pair', f.textPair], ['--label', f.label]]
    .filter(([, v]) => v !== undefined).map(([k]) => k);
  if (extra.length) fail('BAD_CONFIG', `--task-kind ${kind} reads ${kind === 'qa' ? 'SQuAD JSON' : 'CoNLL or JSONL'} files given with --train/--dev/--test; ${extra.join(', ')} do(es) not apply`);
  if (f.train === undefined) fail('BAD_CONFIG', `--task-kind ${kind} needs --train <file> (${kind === 'qa' ? 'SQuAD v1.1/v2.0 JSON' : 'CoNLL, or JSONL with "tokens" and "tags"'})`);
  const files = { train: resolve(f.train), ...(f.dev !== undefined ? { dev: resolve(f.dev) } : {}), ...(f.test !== undefined ? { test: resolve(f.test) } : {}) };
  const { name } = defaultTaskName(f.train, { kind });
  if (kind === 'qa') {
    if (f.format !== undefined) fail('BAD_CONFIG', `--format ${f.format} does not apply to --task-kind qa (SQuAD JSON)`);
    return { tokenTask: 'qa', files, name, onBadRow };
  }
  if (f.format !== undefined && f.format !== 'conll' && f.format !== 'jsonl') fail('BAD_CONFIG', `--format ${f.format} does not apply to --task-kind tagging (conll or jsonl)`);
  return { tokenTask: 'tagging', files, name, onBadRow, ...(f.format !== undefined ? { format: f.format as 'conll' | 'jsonl' } : {}) };
}

/** A short human description of a token-level spec. */
export function describeTokenSpec(spec: TokenTaskSpec): string {
  if ('builtin' in spec) return `built-in dataset ${spec.builtin}`;
  return `${spec.tokenTask === 'qa' ? 'SQuAD' : 'tagging'} files ${Object.entries(spec.files).map(([k, v]) => `${k}=${v}`).join(', ')}`;
}

/**
 * Builds the `loadTask` spec from the flags (file paths made absolute); BAD_CONFIG names what is
 * missing or conflicting. With `o.scoringOnly` (eval), files need no --train: the caller supplies
 * the labels (the saved task's) before loading.
 */
export function taskSpecFromFlags(f: DataFlags, o: { scoringOnly?: boolean } = {}): TaskSpec {
  const onBadRow = f.skipBadRows ? 'skip' : 'fail';
  const tabular = [['--train', f.train], ['--dev', f.dev], ['--test', f.test], ['--text', f.text], ['--text-pair', f.textPair], ['--label', f.label], ['--task-kind', f.taskKind], ['--format', f.format]]
    .filter(([, v]) => v !== undefined).map(([k]) => k as string);
  const sources = [f.dataset !== undefined ? '--dataset' : '', f.glue !== undefined || f.data !== undefined ? '--glue/--data' : '', tabular.length ? tabular.join('/') : ''].filter(Boolean);
  if (sources.length === 0) {
    fail('BAD_CONFIG', 'no data given: use --dataset <name>, or --glue <task> --data <dir>, or --train <file> --text <column> --label <column>');
  }
  if (sources.length > 1) fail('BAD_CONFIG', `choose one data source; got ${sources.join(' and ')}`);
  if (f.format === 'conll') fail('BAD_CONFIG', '--format conll reads tagging files: add --task-kind tagging');
  const choice = metricChoiceFromFlags(f);
  if (f.dataset !== undefined) return { builtin: f.dataset, ...choice };
  if (f.glue !== undefined || f.data !== undefined) {
    if (f.glue === undefined) fail('BAD_CONFIG', '--data needs --glue <task> (which GLUE task the directory holds)');
    if (f.data === undefined) fail('BAD_CONFIG', `--glue ${f.glue} needs --data <dir> (the directory with train.tsv, dev.tsv...)`);
    return { glue: f.glue, dir: resolve(f.data), onBadRow, ...choice };
  }
  const scoreFile = f.test ?? f.dev;
  if (f.train === undefined && !(o.scoringOnly && scoreFile !== undefined)) fail('BAD_CONFIG', `${tabular.join(', ')} need(s) --train <file>`);
  const first = f.train !== undefined ? '--train' : f.test !== undefined ? '--test' : '--dev';
  if (f.text === undefined) fail('BAD_CONFIG', `${first} needs --text <column> (the column holding the text)`);
  if (f.label === undefined) fail('BAD_CONFIG', `${first} needs --label <column> (the column holding the label)`);
  return {
    files: {
      ...(f.train !== undefined ? { train: resolve(f.train) } : {}), ...(f.dev !== undefined ? { dev: resolve(f.dev) } : {}), ...(f.test !== undefined ? { test: resolve(f.test) } : {}),
    },
    columns: { text: columnRef(f.text), ...(f.textPair !== undefined ? { textPair: columnRef(f.textPair) } : {}), label: columnRef(f.label) },
    kind: (f.taskKind ?? 'classification') as 'classification',
    name: defaultTaskName(f.train ?? scoreFile as string, { label: f.label, kind: f.taskKind ?? 'classification' }).name,
    ...(f.format !== undefined ? { format: f.format as TabularFormat } : {}),
    onBadRow,
    ...choice,
  };
}

/** A short human description of a spec (`dataset spam`, `GLUE SST-2 in dir`, `files train.csv`). */
export function describeSpec(spec: TaskSpec): string {
  if ('builtin' in spec) return `built-in dataset ${spec.builtin}`;
  if ('glue' in spec) return `GLUE ${spec.glue} in ${spec.dir}`;
  if ('files' in spec) return `files ${Object.entries(spec.files).map(([k, v]) => `${k}=${v}`).join(', ')}`;
  return 'unknown';
}

/** The data flags as a token-level spec when they name one (see {@link tokenTaskSpecFromFlags}), else a sentence-level spec. */
export function dataSpecFromFlags(f: DataFlags): TaskSpec | TokenTaskSpec {
  return tokenTaskSpecFromFlags(f) ?? taskSpecFromFlags(f);
}

/** A one-line description of either kind of spec. */
export function describeDataSpec(spec: TaskSpec | TokenTaskSpec): string {
  return isTokenTaskSpec(spec) ? describeTokenSpec(spec) : describeSpec(spec);
}
