/**
 * Loader for generic task files: CSV (RFC 4180 quoting, parsed by csv-parse), TSV (tab-separated,
 * no quoting, like GLUE) and JSONL (one JSON object per line).
 *
 * Columns are named by header (CSV/TSV with a header row, JSONL keys) or given as 0-based indexes
 * for header-less CSV/TSV files (and JSONL lines that are arrays). Class label names are collected
 * from the training split and sorted (numerically when every name is a number) unless `labels` is
 * given. A test file may lack the label column; its examples are then unlabeled.
 *
 * The files' text comes through a reader: from disk in Node (tabular.ts, loadTabularTask),
 * from a dropped file in the browser page, so this module runs in both.
 */
import { parse } from 'csv-parse/sync';
import { fail } from '../../errors.js';
import type { MetricName } from '../metrics/index.js';
import { applyMetricChoice, type MetricChoice } from './metric-choice.js';
import { BadRows, checkOnBadRow } from './bad-rows.js';
import type { Example, LoadedTask, OnBadRow, TaskKind } from './types.js';

/** A column: a header name / JSON key, or a 0-based index for header-less files. */
export type ColumnRef = string | number;

/** Which columns hold what. */
export interface TabularColumns {
  text: ColumnRef;
  textPair?: ColumnRef;
  label?: ColumnRef;
  /** Column holding an example id (default: `<split>-<n>`). */
  id?: ColumnRef;
  /** How to read the label; must agree with the task kind (class = classification, score = regression). */
  labelType?: 'class' | 'score' | 'multilabel';
  /** Field delimiter for CSV/TSV (default ',' for CSV, tab for TSV). */
  delimiter?: string;
}

/** File format; by default taken from the extension (.csv, .tsv/.tab, .jsonl/.ndjson). */
export type TabularFormat = 'csv' | 'tsv' | 'jsonl';

/** Options of `loadTabularTask` (and of the internal `tabularTaskFromTexts` the browser page uses). */
export interface TabularTaskOptions extends MetricChoice {
  /** The files of each split; `train` may be left out when `labels` is given (or for regression): scoring only. */
  files: { train?: string; dev?: string; test?: string };
  /** Which columns hold the text(s), label and id. */
  columns: TabularColumns;
  /** What the label is: a class, a score (regression) or a set of classes (multilabel). */
  kind: TaskKind;
  /** The task's name. Default `custom`. */
  name?: string;
  /** Label names in class-index order; default: sorted names found in the training split. */
  labels?: string[];
  /**
   * Metrics, main first (it selects the best checkpoint, unless `selectOn` names another); default
   * by kind (accuracy+macro_f1, pearson+spearman, micro_f1+exact_match).
   */
  metrics?: readonly MetricName[];
  /** File format; by default from each file's extension. */
  format?: TabularFormat;
  /** What a malformed row does: `fail` (default, BAD_DATA naming file and line) or `skip` it (listed in the report). */
  onBadRow?: OnBadRow;
  /** Free text kept in the task data. */
  description?: string;
}

/** A row after the first pass: texts checked, label still raw. */
interface RawRow {
  id: string;
  textA: string;
  textB?: string;
  /** Raw class/score text, multilabel names, or undefined when unlabeled. */
  label: string | string[] | undefined;
  file: string;
  line: number;
}

/** One record as read from a file: its line and a column getter (undefined = absent). */
export interface FileRecord {
  line: number;
  get: (column: ColumnRef) => unknown;
}

const LABEL_TYPE_OF_KIND: Record<TaskKind, 'class' | 'score' | 'multilabel'> = {
  classification: 'class',
  regression: 'score',
  multilabel: 'multilabel',
};

const DEFAULT_METRICS: Record<TaskKind, MetricName[]> = {
  classification: ['accuracy', 'macro_f1'],
  regression: ['pearson', 'spearman'],
  multilabel: ['micro_f1', 'exact_match'],
};

/** Reads a task file's text (without a byte order mark); BAD_FILE when it cannot. */
export type TaskTextReader = (file: string) => Promise<string>;

/**
 * Loads a task from CSV, TSV or JSONL files, whose text `readText` gives (see
 * loadTabularTask in tabular.ts for files on disk).
 *
 * @example
 * ```ts
 * const task = await tabularTaskFromTexts({
 *   files: { train: 'train.csv', dev: 'dev.csv' },
 *   columns: { text: 'review', label: 'stars' },
 *   kind: 'classification',
 * }, async (file) => texts[file]);
 * task.labels; // ['1', '2', '3', '4', '5'] (sorted names seen in train.csv)
 * ```
 */
export async function tabularTaskFromTexts(options: TabularTaskOptions, readText: TaskTextReader): Promise<LoadedTask> {
  const { columns, kind } = options;
  const labelType = LABEL_TYPE_OF_KIND[kind];
  if (!labelType) fail('BAD_CONFIG', `unknown task kind "${String(kind)}" (use classification, regression or multilabel)`);
  if (columns.labelType !== undefined && columns.labelType !== labelType) {
    fail('BAD_CONFIG', `labelType "${columns.labelType}" does not fit kind "${kind}" (expects "${labelType}")`);
  }
  if (columns.label === undefined) fail('BAD_CONFIG', 'columns.label is required to train a task');
  if (options.files.train === undefined && options.labels === undefined && labelType !== 'score') {
    fail('BAD_CONFIG', 'files.train is needed to find the labels: give a training file, or the labels in class order (labels: [...])');
  }
  const bad = new BadRows(checkOnBadRow(options.onBadRow));

  const raw: Record<string, RawRow[]> = {};
  for (const [split, file] of Object.entries(options.files)) {
    if (file === undefined) continue;
    const format = options.format ?? formatOf(file);
    const text = await readText(file);
    const records = format === 'jsonl' ? jsonlRecords(file, text, bad) : delimitedRecords(file, text, format, columns, split !== 'test', bad);
    raw[split] = firstPass(split, file, records, columns, labelType, bad);
    // an empty file given for a split is a mistake (a dev split would select nothing; a train split would name no labels)
    if (raw[split].length === 0) fail('BAD_DATA', `${file}: the ${split} split is empty (no data rows)`);
  }

  const labels = labelType === 'score' ? [] : (options.labels ?? collectLabels(raw.train ?? []));
  const splits: Record<string, Example[]> = {};
  for (const [split, rows] of Object.entries(raw)) {
    splits[split] = rows.flatMap((row) => {
      const example = secondPass(row, labelType, labels, (reason) => void bad.bad(row.file, row.line, reason));
      return example ? [example] : [];
    });
  }
  const task: LoadedTask = {
    name: options.name ?? 'custom',
    kind,
    labels,
    pair: columns.textPair !== undefined,
    splits,
    metrics: [...DEFAULT_METRICS[kind]],
    ...(options.description === undefined ? {} : { description: options.description }),
    report: bad.report,
  };
  return applyMetricChoice(task, options);
}

function formatOf(file: string): TabularFormat {
  const base = file.slice(file.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot).toLowerCase() : '';
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  fail('BAD_CONFIG', `${file}: cannot tell the format from the extension "${ext}"; pass format: 'csv', 'tsv' or 'jsonl'`, { options: { format: 'format:' } });
}

/**
 * The records of CSV or TSV text with the same column rules as {@link tabularTaskFromTexts} (names from
 * a header row, or 0-based indexes for header-less text): for inputs without labels, such as
 * `adapterkit predict`'s. A missing column or a row of the wrong width is BAD_DATA naming
 * `file` and the line.
 */
export function readDelimitedRecords(file: string, text: string, format: 'csv' | 'tsv', columns: Omit<TabularColumns, 'label' | 'labelType'>): FileRecord[] {
  return delimitedRecords(file, text.replace(/^\uFEFF/, ''), format, columns, false, new BadRows('fail'));
}

/** Reads CSV (quoted per RFC 4180) or TSV (no quoting) into records with their start lines. */
function delimitedRecords(
  file: string,
  text: string,
  format: 'csv' | 'tsv',
  columns: TabularColumns,
  labelRequired: boolean,
  bad: BadRows,
): FileRecord[] {
  const refs = [columns.text, columns.textPair, columns.label, columns.id].filter((c): c is ColumnRef => c !== undefined);
  const byIndex = refs.every((c) => typeof c === 'number');
  if (!byIndex && refs.some((c) => typeof c === 'number')) {
    fail('BAD_CONFIG', `${file}: columns mix names and indexes; use names (header row) or indexes (no header), not both`);
  }
  let lastEnd = 0;
  let rows: Array<{ fields: string[]; line: number }>;
  try {
    rows = parse(text, {
      delimiter: columns.delimiter ?? (format === 'csv' ? ',' : '\t'),
      quote: format === 'csv' ? '"' : false,
      relax_column_count: true,
      skip_empty_lines: false,
      on_record: (record: string[], context) => {
        const row = { fields: record, line: lastEnd + 1 };
        lastEnd = context.lines;
        return row;
      },
    }) as Array<{ fields: string[]; line: number }>;
  } catch (e) {
    fail('BAD_DATA', `${file}:${lastEnd + 1}: cannot parse ${format.toUpperCase()} from this line on: ${(e as Error).message}`, { file, line: lastEnd + 1 });
  }
  rows = rows.filter((r) => !(r.fields.length === 1 && r.fields[0] === ''));
  if (rows.length === 0) return [];
  let header: string[] | undefined;
  let width: number;
  if (byIndex) {
    width = (rows[0] as { fields: string[] }).fields.length;
  } else {
    header = (rows.shift() as { fields: string[] }).fields;
    width = header.length;
  }
  checkColumnsExist(file, header, width, columns, labelRequired);
  const records: FileRecord[] = [];
  for (const { fields, line } of rows) {
    if (fields.length !== width) {
      bad.bad(file, line, `expected ${width} columns, found ${fields.length}`);
      continue;
    }
    records.push({
      line,
      get: (column) => {
        const at = typeof column === 'number' ? column : (header as string[]).indexOf(column);
        return at >= 0 && at < fields.length ? fields[at] : undefined;
      },
    });
  }
  return records;
}

/** Fails early when a named column is not in the header (the label may be absent from a test file). */
function checkColumnsExist(file: string, header: string[] | undefined, width: number, columns: TabularColumns, labelRequired: boolean): void {
  const required = [columns.text, columns.textPair, columns.id, labelRequired ? columns.label : undefined].filter((c): c is ColumnRef => c !== undefined);
  for (const column of required) {
    const present = typeof column === 'number' ? column >= 0 && column < width : (header ?? []).includes(column);
    if (!present) {
      fail('BAD_DATA', `${file}:1: no column ${JSON.stringify(column)} (${header ? `header: ${header.join(', ')}` : `${width} columns`})`);
    }
  }
}

/** Reads JSONL: one JSON object (or array, for index columns) per non-blank line. */
function jsonlRecords(file: string, text: string, bad: BadRows): FileRecord[] {
  const records: FileRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const source = (lines[i] as string).trim();
    if (source === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (e) {
      bad.bad(file, i + 1, `invalid JSON: ${(e as Error).message}`);
      continue;
    }
    if (typeof value !== 'object' || value === null) {
      bad.bad(file, i + 1, `expected a JSON object, got ${JSON.stringify(value)}`);
      continue;
    }
    const row = value as Record<string | number, unknown>;
    records.push({ line: i + 1, get: (column) => (Object.hasOwn(row, column) ? row[column] : undefined) });
  }
  return records;
}

/** A cell as text (numbers and booleans as written), or undefined when absent or not a scalar. */
export function cellText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function firstPass(
  split: string,
  file: string,
  records: FileRecord[],
  columns: TabularColumns,
  labelType: 'class' | 'score' | 'multilabel',
  bad: BadRows,
): RawRow[] {
  const unlabeledOk = split === 'test';
  const rows: RawRow[] = [];
  for (const record of records) {
    const reject = (reason: string) => bad.bad(file, record.line, reason);
    const textA = cellText(record.get(columns.text));
    if (textA === undefined || textA.trim() === '') {
      reject(`empty or missing text in column ${JSON.stringify(columns.text)}`);
      continue;
    }
    let textB: string | undefined;
    if (columns.textPair !== undefined) {
      textB = cellText(record.get(columns.textPair));
      if (textB === undefined || textB.trim() === '') {
        reject(`empty or missing text in column ${JSON.stringify(columns.textPair)}`);
        continue;
      }
    }
    const rawLabel = record.get(columns.label as ColumnRef);
    let label: string | string[] | undefined;
    if (labelType === 'multilabel') {
      const names = multilabelNames(rawLabel);
      if (typeof names === 'string') {
        if (!(unlabeledOk && rawLabel === undefined)) {
          reject(names);
          continue;
        }
      } else {
        label = names;
      }
    } else {
      const text = cellText(rawLabel)?.trim();
      if (text === undefined || text === '') {
        if (!unlabeledOk) {
          reject(`empty or missing label in column ${JSON.stringify(columns.label)}`);
          continue;
        }
      } else {
        label = text;
      }
    }
    const id = columns.id === undefined ? undefined : cellText(record.get(columns.id));
    rows.push({
      id: id ?? `${split}-${rows.length}`,
      textA,
      ...(textB === undefined ? {} : { textB }),
      label,
      file,
      line: record.line,
    });
  }
  return rows;
}

/** Parses a multilabel cell: a JSON array, a '["a","b"]' string or "a,b"; returns an error text on failure. */
function multilabelNames(value: unknown): string[] | string {
  if (value === undefined || value === null) return 'missing multilabel column';
  let items: unknown[];
  if (Array.isArray(value)) {
    items = value;
  } else if (typeof value === 'string' && value.trim().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (!Array.isArray(parsed)) return `multilabel value ${value} is not a JSON array`;
      items = parsed;
    } catch {
      return `multilabel value ${value} is not valid JSON`;
    }
  } else if (typeof value === 'string') {
    items = value.split(',');
  } else {
    return `multilabel value ${JSON.stringify(value)} is neither a list nor a string`;
  }
  const names: string[] = [];
  for (const item of items) {
    const name = cellText(item)?.trim();
    if (name === undefined) return `multilabel item ${JSON.stringify(item)} is not a string`;
    if (name !== '' && !names.includes(name)) names.push(name);
  }
  return names;
}

/** Sorted unique label names of the training rows (numeric order when all are numbers). */
function collectLabels(rows: RawRow[]): string[] {
  const names = new Set<string>();
  for (const row of rows) {
    if (Array.isArray(row.label)) row.label.forEach((n) => names.add(n));
    else if (row.label !== undefined) names.add(row.label);
  }
  const list = [...names];
  const numeric = list.length > 0 && list.every((n) => Number.isFinite(Number(n)));
  return numeric ? list.sort((a, b) => Number(a) - Number(b)) : list.sort();
}

function secondPass(
  row: RawRow,
  labelType: 'class' | 'score' | 'multilabel',
  labels: string[],
  reject: (reason: string) => undefined,
): Example | undefined {
  const example: Example = { id: row.id, textA: row.textA, source: { file: row.file, line: row.line } };
  if (row.textB !== undefined) example.textB = row.textB;
  if (row.label === undefined) return example;
  const known = () => `known labels: ${labels.join(', ')}`;
  if (labelType === 'score') {
    const score = Number(row.label);
    if (!Number.isFinite(score)) return reject(`score "${String(row.label)}" is not a number`);
    example.label = score;
  } else if (labelType === 'class') {
    const index = labels.indexOf(row.label as string);
    if (index < 0) return reject(`unknown label "${String(row.label)}" (${known()})`);
    example.label = index;
  } else {
    const hot = new Array<number>(labels.length).fill(0);
    for (const name of row.label as string[]) {
      const index = labels.indexOf(name);
      if (index < 0) return reject(`unknown label "${name}" (${known()})`);
      hot[index] = 1;
    }
    example.label = hot;
  }
  return example;
}
