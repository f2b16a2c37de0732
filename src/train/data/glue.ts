/**
 * Loader for GLUE task directories laid out as the official distribution (train.tsv, dev.tsv,
 * test.tsv; MNLI with matched/mismatched dev and test files).
 *
 * GLUE TSVs use no quoting: a `"` is literal text, so rows are split on tabs and nothing else.
 * Columns are found by header name where the file has a header; CoLA's train/dev files have none
 * (source, label, original judgement or `*`, sentence). Label names and order follow the standard
 * GLUE processors. A split whose file is absent is left out; train.tsv must exist.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import type { MetricName } from '../metrics/index.js';
import { BadRows, checkOnBadRow } from './bad-rows.js';
import type { Example, LoadedTask, OnBadRow, TaskKind } from './types.js';

/** Canonical GLUE task names. */
export const GLUE_TASK_NAMES = ['CoLA', 'SST-2', 'MRPC', 'STS-B', 'QQP', 'MNLI', 'QNLI', 'RTE', 'WNLI'] as const;

/** A GLUE task name (matching is case-insensitive and ignores '-': 'sst2', 'STS-B', 'mnli' all work). */
export type GlueTaskName = (typeof GLUE_TASK_NAMES)[number];

/** How one GLUE task is laid out and scored. */
export interface GlueTaskSpec {
  readonly name: GlueTaskName;
  readonly kind: TaskKind;
  /** Label names in the standard processors' order; [] for STS-B. */
  readonly labels: readonly string[];
  readonly metrics: readonly MetricName[];
  readonly description: string;
  /** Header names of the first text, the optional second text and the label. */
  readonly columns: { readonly textA: string; readonly textB?: string; readonly label: string };
  /** Layout of labeled files that have no header (CoLA): column count and positions. */
  readonly headerless?: { readonly count: number; readonly textA: number; readonly label: number };
  /** Split name -> file name inside the task directory. */
  readonly files: Readonly<Record<string, string>>;
}

const STANDARD_FILES = { train: 'train.tsv', dev: 'dev.tsv', test: 'test.tsv' };
const BINARY = ['0', '1'];
const NLI2 = ['entailment', 'not_entailment'];

/** Every GLUE task's layout, as data. */
export const GLUE_TASKS: Readonly<Record<GlueTaskName, GlueTaskSpec>> = {
  CoLA: {
    name: 'CoLA', kind: 'classification', labels: BINARY, metrics: ['matthews'],
    description: 'Corpus of Linguistic Acceptability: is the sentence grammatical (1) or not (0)?',
    columns: { textA: 'sentence', label: 'label' },
    headerless: { count: 4, textA: 3, label: 1 },
    files: STANDARD_FILES,
  },
  'SST-2': {
    name: 'SST-2', kind: 'classification', labels: BINARY, metrics: ['accuracy'],
    description: 'Stanford Sentiment Treebank: positive (1) or negative (0) movie-review sentence.',
    columns: { textA: 'sentence', label: 'label' },
    files: STANDARD_FILES,
  },
  MRPC: {
    name: 'MRPC', kind: 'classification', labels: BINARY, metrics: ['f1', 'accuracy'],
    description: 'Microsoft Research Paraphrase Corpus: are the two sentences paraphrases (1)?',
    columns: { textA: '#1 String', textB: '#2 String', label: 'Quality' },
    files: STANDARD_FILES,
  },
  'STS-B': {
    name: 'STS-B', kind: 'regression', labels: [], metrics: ['pearson', 'spearman'],
    description: 'Semantic Textual Similarity Benchmark: similarity score 0-5 of a sentence pair.',
    columns: { textA: 'sentence1', textB: 'sentence2', label: 'score' },
    files: STANDARD_FILES,
  },
  QQP: {
    name: 'QQP', kind: 'classification', labels: BINARY, metrics: ['accuracy', 'f1'],
    description: 'Quora Question Pairs: do the two questions ask the same thing (1)?',
    columns: { textA: 'question1', textB: 'question2', label: 'is_duplicate' },
    files: STANDARD_FILES,
  },
  MNLI: {
    name: 'MNLI', kind: 'classification', labels: ['contradiction', 'entailment', 'neutral'], metrics: ['accuracy'],
    description: 'Multi-Genre NLI: does the premise entail, contradict or stay neutral on the hypothesis? Dev sets: matched and mismatched genres.',
    columns: { textA: 'sentence1', textB: 'sentence2', label: 'gold_label' },
    files: {
      train: 'train.tsv',
      dev_matched: 'dev_matched.tsv',
      dev_mismatched: 'dev_mismatched.tsv',
      test_matched: 'test_matched.tsv',
      test_mismatched: 'test_mismatched.tsv',
    },
  },
  QNLI: {
    name: 'QNLI', kind: 'classification', labels: NLI2, metrics: ['accuracy'],
    description: 'Question NLI: does the sentence contain the answer to the question?',
    columns: { textA: 'question', textB: 'sentence', label: 'label' },
    files: STANDARD_FILES,
  },
  RTE: {
    name: 'RTE', kind: 'classification', labels: NLI2, metrics: ['accuracy'],
    description: 'Recognizing Textual Entailment: does sentence1 entail sentence2?',
    columns: { textA: 'sentence1', textB: 'sentence2', label: 'label' },
    files: STANDARD_FILES,
  },
  WNLI: {
    name: 'WNLI', kind: 'classification', labels: BINARY, metrics: ['accuracy'],
    description: 'Winograd NLI: does the sentence with the pronoun replaced follow (1)?',
    columns: { textA: 'sentence1', textB: 'sentence2', label: 'label' },
    files: STANDARD_FILES,
  },
};

/** Options for {@link loadGlueTask}. */
export interface GlueLoadOptions {
  /** 'fail' (default) throws BAD_DATA at the first malformed row; 'skip' records it in the report. */
  onBadRow?: OnBadRow;
}

/** Finds a GLUE task by name, case-insensitively and ignoring '-' and '_'; throws NOT_FOUND listing the names. */
export function glueTaskSpec(name: string): GlueTaskSpec {
  const key = (s: string) => s.toUpperCase().replace(/[-_]/g, '');
  const found = GLUE_TASK_NAMES.find((n) => key(n) === key(name));
  if (!found) fail('NOT_FOUND', `unknown GLUE task "${name}"; known: ${GLUE_TASK_NAMES.join(', ')}`);
  return GLUE_TASKS[found];
}

/**
 * Loads a GLUE task directory.
 *
 * @example
 * ```ts
 * const task = await loadGlueTask('MRPC', 'glue_data/MRPC');
 * task.labels; // ['0', '1']
 * task.metrics; // ['f1', 'accuracy']
 * Object.keys(task.splits); // ['train', 'dev', 'test']
 * ```
 */
export async function loadGlueTask(name: string, dir: string, options: GlueLoadOptions = {}): Promise<LoadedTask> {
  const spec = glueTaskSpec(name);
  const bad = new BadRows(checkOnBadRow(options.onBadRow));
  const splits: Record<string, Example[]> = {};
  for (const [split, fileName] of Object.entries(spec.files)) {
    const file = join(dir, fileName);
    const text = await readIfExists(file);
    if (text === undefined) {
      if (split === 'train') fail('BAD_FILE', `GLUE ${spec.name}: ${file} not found (a GLUE task directory needs ${Object.values(spec.files).join(', ')})`);
      continue;
    }
    splits[split] = parseGlueFile(spec, split, file, text, bad);
  }
  return {
    name: spec.name,
    kind: spec.kind,
    labels: [...spec.labels],
    pair: spec.columns.textB !== undefined,
    splits,
    metrics: [...spec.metrics],
    description: spec.description,
    report: bad.report,
  };
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    fail('BAD_FILE', `cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Column positions used to read one file. */
interface Layout {
  count: number;
  textA: number;
  textB: number | undefined;
  label: number | undefined;
  id: number | undefined;
}

/** Splits a TSV text into lines without quoting; drops a BOM, `\r` line ends and trailing blank lines. */
export function tsvLines(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function headerLayout(spec: GlueTaskSpec, file: string, header: string[], labeled: boolean): Layout {
  const find = (column: string, required: boolean): number | undefined => {
    const at = header.indexOf(column);
    if (at < 0 && required) fail('BAD_DATA', `${file}:1: header has no "${column}" column (columns: ${header.join(', ')})`);
    return at < 0 ? undefined : at;
  };
  const { textA, textB, label } = spec.columns;
  const idAt = header.indexOf('index') >= 0 ? header.indexOf('index') : header.indexOf('id');
  return {
    count: header.length,
    textA: find(textA, true) as number,
    textB: textB === undefined ? undefined : find(textB, true),
    label: find(label, labeled),
    id: idAt >= 0 ? idAt : undefined,
  };
}

function parseGlueFile(spec: GlueTaskSpec, split: string, file: string, text: string, bad: BadRows): Example[] {
  const lines = tsvLines(text);
  const labeled = !split.startsWith('test');
  let layout: Layout;
  let first: number;
  if (spec.headerless && labeled) {
    layout = { ...spec.headerless, textB: undefined, id: undefined };
    first = 0;
  } else {
    if (lines.length === 0) fail('BAD_DATA', `${file}: empty file, expected a header line`);
    layout = headerLayout(spec, file, (lines[0] as string).split('\t'), labeled);
    first = 1;
  }
  const examples: Example[] = [];
  for (let i = first; i < lines.length; i++) {
    const lineNo = i + 1;
    const fields = (lines[i] as string).split('\t');
    if (fields.length !== layout.count) {
      bad.bad(file, lineNo, `expected ${layout.count} tab-separated columns, found ${fields.length}`);
      continue;
    }
    const example = readRow(spec, split, examples.length, fields, layout, (reason) => void bad.bad(file, lineNo, reason));
    if (example) {
      example.source = { file, line: lineNo };
      examples.push(example);
    }
  }
  return examples;
}

function readRow(
  spec: GlueTaskSpec,
  split: string,
  n: number,
  fields: string[],
  layout: Layout,
  reject: (reason: string) => undefined,
): Example | undefined {
  const textA = fields[layout.textA] as string;
  if (textA.trim() === '') return reject(`empty text in column "${spec.columns.textA}"`);
  const example: Example = { id: layout.id === undefined ? `${split}-${n}` : (fields[layout.id] as string), textA };
  if (layout.textB !== undefined) {
    const textB = fields[layout.textB] as string;
    if (textB.trim() === '') return reject(`empty text in column "${spec.columns.textB}"`);
    example.textB = textB;
  }
  if (layout.label !== undefined) {
    const raw = fields[layout.label] as string;
    if (spec.kind === 'regression') {
      const score = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(score)) return reject(`score "${raw}" is not a number`);
      if (score < 0 || score > 5) return reject(`score ${score} is outside 0-5`);
      example.label = score;
    } else {
      const index = spec.labels.indexOf(raw);
      if (index < 0) return reject(`unknown label "${raw}" (expected one of ${spec.labels.join(', ')})`);
      example.label = index;
    }
  }
  return example;
}
