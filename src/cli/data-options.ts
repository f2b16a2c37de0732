/**
 * The data options shared by `train` and `eval`: a built-in dataset, a GLUE directory, or generic
 * CSV/TSV/JSONL files, turned into a {@link TaskSpec} for `loadTask`.
 */
import { Option, type Command } from 'commander';
import { basename, extname, resolve } from 'node:path';
import { fail } from '../errors.js';
import { listBuiltinDatasets, type TaskSpec } from '../train/data/index.js';
import type { ColumnRef, TabularFormat } from '../train/data/tabular.js';
import { sanitizeTaskName } from './options.js';

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
}

/** Adds the data options to a command. */
export function addDataOptions(cmd: Command, o: { trainRequired: boolean }): Command {
  const names = listBuiltinDatasets().map((d) => d.name).join(', ');
  return cmd
    .option('--dataset <name>', `built-in dataset (${names}; see \`adapterkit datasets\`)`)
    .option('--glue <task>', 'GLUE task name (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI); needs --data')
    .option('--data <dir>', 'directory of the GLUE task (train.tsv, dev.tsv, test.tsv)')
    .option('--train <file>', `training file (CSV, TSV or JSONL)${o.trainRequired ? '' : '; its labels fix the label order'}`)
    .option('--dev <file>', 'dev file, same columns as --train')
    .option('--test <file>', 'test file (the label column may be absent)')
    .option('--text <column>', 'column (header name, JSON key, or 0-based index for header-less files) of the text')
    .option('--text-pair <column>', 'column of the second text of sentence-pair tasks')
    .option('--label <column>', 'column of the label')
    .addOption(new Option('--task-kind <kind>', 'what the label is (default: classification)').choices(['classification', 'regression', 'multilabel']))
    .addOption(new Option('--format <format>', 'file format (default: from the extension: .csv, .tsv/.tab, .jsonl/.ndjson)').choices(['csv', 'tsv', 'jsonl']))
    .option('--skip-bad-rows', 'skip malformed rows (reported) instead of failing (default: fail)');
}

function column(ref: string): ColumnRef {
  return /^\d+$/.test(ref) ? Number(ref) : ref;
}

/** Whether any data option is given. */
export function hasDataFlags(f: DataFlags): boolean {
  return [f.dataset, f.glue, f.data, f.train, f.dev, f.test, f.text, f.textPair, f.label, f.taskKind, f.format].some((v) => v !== undefined);
}

/**
 * Builds the `loadTask` spec from the flags (file paths made absolute); BAD_CONFIG names what is
 * missing or conflicting.
 */
export function taskSpecFromFlags(f: DataFlags): TaskSpec {
  const onBadRow = f.skipBadRows ? 'skip' : 'fail';
  const tabular = [['--train', f.train], ['--dev', f.dev], ['--test', f.test], ['--text', f.text], ['--text-pair', f.textPair], ['--label', f.label], ['--task-kind', f.taskKind], ['--format', f.format]]
    .filter(([, v]) => v !== undefined).map(([k]) => k as string);
  const sources = [f.dataset !== undefined ? '--dataset' : '', f.glue !== undefined || f.data !== undefined ? '--glue/--data' : '', tabular.length ? tabular.join('/') : ''].filter(Boolean);
  if (sources.length === 0) {
    fail('BAD_CONFIG', 'no data given: use --dataset <name>, or --glue <task> --data <dir>, or --train <file> --text <column> --label <column>');
  }
  if (sources.length > 1) fail('BAD_CONFIG', `choose one data source; got ${sources.join(' and ')}`);
  if (f.dataset !== undefined) return { builtin: f.dataset };
  if (f.glue !== undefined || f.data !== undefined) {
    if (f.glue === undefined) fail('BAD_CONFIG', '--data needs --glue <task> (which GLUE task the directory holds)');
    if (f.data === undefined) fail('BAD_CONFIG', `--glue ${f.glue} needs --data <dir> (the directory with train.tsv, dev.tsv...)`);
    return { glue: f.glue, dir: resolve(f.data), onBadRow };
  }
  if (f.train === undefined) fail('BAD_CONFIG', `${tabular.join(', ')} need(s) --train <file>`);
  if (f.text === undefined) fail('BAD_CONFIG', '--train needs --text <column> (the column holding the text)');
  if (f.label === undefined) fail('BAD_CONFIG', '--train needs --label <column> (the column holding the label)');
  return {
    files: { train: resolve(f.train), ...(f.dev !== undefined ? { dev: resolve(f.dev) } : {}), ...(f.test !== undefined ? { test: resolve(f.test) } : {}) },
    columns: { text: column(f.text), ...(f.textPair !== undefined ? { textPair: column(f.textPair) } : {}), label: column(f.label) },
    kind: (f.taskKind ?? 'classification') as 'classification',
    name: sanitizeTaskName(basename(f.train, extname(f.train))),
    ...(f.format !== undefined ? { format: f.format as TabularFormat } : {}),
    onBadRow,
  };
}

/** A short human description of a spec (`dataset spam`, `GLUE SST-2 in dir`, `files train.csv`). */
export function describeSpec(spec: TaskSpec): string {
  if ('builtin' in spec) return `built-in dataset ${spec.builtin}`;
  if ('glue' in spec) return `GLUE ${spec.glue} in ${spec.dir}`;
  if ('files' in spec) return `files ${Object.entries(spec.files).map(([k, v]) => `${k}=${v}`).join(', ')}`;
  return 'unknown';
}
