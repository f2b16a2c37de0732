/**
 * `adapterkit predict <task-dir>`: predictions for texts from a file or stdin, one JSON object per
 * line.
 */
import { Option, type Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fail } from '../../errors.js';
import type { HeadConfig } from '../../heads/head.js';
import type { Example } from '../../train/data/index.js';
import { predictExamples, type Prediction } from '../../train/evaluate.js';
import { loadSquad } from '../../train/data/squad.js';
import { cellText, readDelimitedRecords, type ColumnRef } from '../../train/data/tabular.js';
import type { TaskModel } from '../../train/task-model.js';
import { predictAnswers, predictTags, splitWords, type QaInput, type TagPrediction } from '../../train/token-tasks/index.js';
import { columnRef } from '../data-options.js';
import { adapterDropArg, intArg } from '../options.js';
import { addFrozenPrecisionOptions, frozenPrecisionOptions, type FrozenPrecisionFlags } from '../frozen-precision-options.js';
import { ACTIVE_HELP, applyActive, loadTaskDir, readManifest, type ActiveFlags } from '../saved-task.js';
import { predictMany } from './predict-many.js';
import { isJsonObject } from '../../util/json-text.js';
import { checkOutputFile } from '../../util/out-dir.js';

interface PredictFlags extends ActiveFlags, FrozenPrecisionFlags {
  input?: string;
  output?: string;
  format?: InputFormat;
  text?: string;
  textPair?: string;
  id?: string;
  batchSize: number;
  maxLength?: number;
  base?: string;
  revision?: string;
  threads?: number;
  allScores?: boolean;
  windowStride?: number;
}

/** What predict reads. */
type InputFormat = 'text' | 'jsonl' | 'csv' | 'tsv' | 'squad';

/** The columns given with --text, --text-pair and --id. */
export interface InputColumns {
  readonly text?: ColumnRef;
  readonly textPair?: ColumnRef;
  readonly id?: ColumnRef;
}

const EXAMPLES = `
Input: plain text, one input per line, or JSONL (--format jsonl, or a .jsonl file) with
{"text": "...", "text_pair": "...", "id"?: ...} per line (text_pair required for sentence-pair
tasks), or CSV/TSV (--format csv|tsv, or a .csv/.tsv file) with --text <column> (and
--text-pair <column>): header names, or 0-based indexes for header-less files, as for train.
--text, --text-pair and --id also choose the keys of JSONL input. A plain-text line that is a
JSON object is refused: give --format jsonl. CSV/TSV rows carry their line number as id
(or the --id column); a row or JSONL object with an empty text gives {"id", "empty": true}.
A JSONL "id" must be a string or a number; with --id <key>, every object must have that key.
Output, one line per input line, in order, each with the input's "id" (its line number, or the
JSONL object's "id"): {"id": "1", "label": "spam", "score": 0.98, "truncated": false} for
classification; {"id", "label": ["a", "c"], "scores": {...}, ...} for multi-label;
{"id", "score": 3.1, "truncated": false} for regression. A blank line gives {"id", "empty": true}.
With --window-stride, each output also says in how many "windows" its text was scored.

Tagging tasks: a text per line (split into words as the tokenizer does), or JSONL with
{"tokens": [...]} or {"text": "..."}; output {"id", "words": [...], "tags": [...], "scores": [...],
"truncated": false}. QA tasks: JSONL {"question": "...", "context": "...", "id"?: "..."} or a
SQuAD JSON file (--format squad, or a .json file); output {"id", "answer", "score", "start",
"end"} with the answer's character span in the context (null for no answer).

Examples:
  $ adapterkit predict runs/spam-adapters/best --input mails.txt
  $ echo "win a free prize now" | adapterkit predict runs/spam-adapters/best
  $ adapterkit predict runs/mrpc/best --input pairs.jsonl --output predictions.jsonl --all-scores
  $ adapterkit predict runs/reviews/best --input test.csv --text review --id review_id
  $ echo "The jury praised the city" | adapterkit predict runs/brown-pos-adapters/best
  $ adapterkit predict runs/squad-adapters/best --input dev-v2.0.json

Several task directories (sentence-level and tagging tasks on one base): every input answered by
every task in one pass, the base's layers below the tasks' lowest adapter layer run once per
input; output {"id", "tasks": {"spam": {"label": ..., "score": ...}, "pos": {"words": [...],
"tags": [...], ...}}} per line, each task's object what predict gives it alone. Each input is one
text (plain, JSONL "text" or a --text column) that every task reads, a tagging task splitting it
into words (pre-split "tokens" are for a tagging task alone); sentence pairs only when every task
takes pairs. QA tasks are predicted on their own.
  $ adapterkit predict runs/spam-adapters/best runs/sotu-adapters/best --input mails.txt
  $ adapterkit predict runs/spam-adapters/best runs/brown-pos-adapters/best --input mails.txt`;

/** Registers `adapterkit predict`. */
export function registerPredict(program: Command): void {
  const cmd = program
    .command('predict')
    .description('Predict labels (or tags, or answers) for texts with a saved task, or with several sentence-level and tagging tasks at once; writes one JSON object per input line, with its id.')
    .argument('<task-dir...>', 'task directory written by train (e.g. runs/<task>-<mode>/best); several (sentence-level and tagging tasks): each input answered by every task in one pass')
    .option('--input <file>', 'input file (default: stdin)')
    .option('--output <file>', 'write predictions to this file (default: stdout)')
    .addOption(new Option('--format <format>', 'input format (default: jsonl for .jsonl/.ndjson files, csv for .csv, tsv for .tsv/.tab, squad for .json, else text)').choices(['text', 'jsonl', 'csv', 'tsv', 'squad']))
    .option('--text <column>', 'CSV/TSV/JSONL input: column (header name, JSON key, or 0-based index for header-less files) of the text (JSONL default: "text")')
    .option('--text-pair <column>', 'CSV/TSV/JSONL input: column of the second text of sentence-pair tasks (JSONL default: "text_pair")')
    .option('--id <column>', 'CSV/TSV/JSONL input: column of each input\'s id (default: the line number; JSONL: "id" when present)')
    .option('--batch-size <n>', 'inputs per batch', intArg(1), 32)
    .option('--max-length <n>', 'tokens per input (default: the length used in training)', intArg(2))
    .option('--all-scores', 'classification: also give the probability of every label')
    .option('--window-stride <n>', 'texts longer than --max-length: score strided windows that overlap by n tokens (at most half a window; more is capped; as QA\'s --doc-stride) and average their logits, instead of truncating (default: truncate)', intArg(0))
    .option('--base <source>', 'base model (default: the one recorded in the task\'s adapterkit.json)')
    .option('--revision <rev>', 'hub revision of --base')
    .option('--threads <n>', 'ONNX Runtime threads', intArg(1));
  addFrozenPrecisionOptions(cmd, 'prediction');
  cmd
    .option('--active <composition>', ACTIVE_HELP)
    .option('--adapter-drop <n>', 'a task holding several adapters: no adapters in the first n layers (AdapterDrop at inference: faster, usually a little less accurate)', adapterDropArg)
    .addHelpText('after', EXAMPLES)
    .action(async (dirs: string[], flags: PredictFlags) => {
      await runPredict(dirs, flags);
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** One line of input: its id (the line number, or a JSONL object's "id") and what it holds (nothing for a blank line). */
export interface InputLine<T> {
  readonly id: string;
  readonly input?: T;
}

/** The lines of `text`; the newline that ends the last line does not start another. */
function inputLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Refuses a plain-text line that is a JSON object: JSONL given without --format jsonl. */
function refuseJsonLine(line: string, at: string): void {
  const t = line.trim();
  if (!(t.startsWith('{') && t.endsWith('}'))) return;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return; // text that happens to be in braces
  }
  if (isJsonObject(v)) {
    fail('BAD_DATA', `${at}: this line is a JSON object but the input is read as plain text: give --format jsonl for JSONL input (or name the file .jsonl); to predict on the text itself, wrap it as {"text": ...} in JSONL`);
  }
}

/**
 * The JSON object of each non-blank line (`--format jsonl`), with its id (the `idKey` member, a
 * string or a number; without one, the line number, unless `idKey` was given with --id) and position.
 */
function jsonLines(text: string, where: string, idKey?: string): Array<InputLine<{ o: Record<string, unknown>; at: string }>> {
  return inputLines(text).map((line, i) => {
    if (line.trim() === '') return { id: String(i + 1) };
    const at = `${where}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      fail('BAD_DATA', `${at}: not valid JSON (${(e as Error).message})`);
    }
    if (!isJsonObject(v)) fail('BAD_DATA', `${at}: expected a JSON object like {"text": "..."}`);
    const key = idKey ?? 'id';
    const own = Object.hasOwn(v, key) ? v[key] : undefined;
    if (own === undefined && idKey !== undefined) fail('BAD_DATA', `${at}: no ${JSON.stringify(key)} member (--id ${key})`);
    if (own !== undefined && typeof own !== 'string' && typeof own !== 'number') fail('BAD_DATA', `${at}: ${JSON.stringify(key)} must be a string or a number, got ${JSON.stringify(own)}`);
    const id = own !== undefined ? String(own) : String(i + 1);
    return { id, input: { o: v, at } };
  });
}

/** The text of each non-blank line (plain-text input), with its id (the line number). */
function textLines(text: string, where: string): Array<InputLine<{ line: string; at: string }>> {
  return inputLines(text).map((line, i) => {
    if (line.trim() === '') return { id: String(i + 1) };
    const at = `${where}:${i + 1}`;
    refuseJsonLine(line, at);
    return { id: String(i + 1), input: { line, at } };
  });
}

/** The --text, --text-pair and --id flags as columns. */
export function inputColumns(f: { text?: string; textPair?: string; id?: string }): InputColumns {
  return {
    ...(f.text !== undefined ? { text: columnRef(f.text) } : {}),
    ...(f.textPair !== undefined ? { textPair: columnRef(f.textPair) } : {}),
    ...(f.id !== undefined ? { id: columnRef(f.id) } : {}),
  };
}

/** Refuses column flags for input that has no columns. */
function refuseColumns(c: InputColumns, why: string): void {
  const given = [['--text', c.text], ['--text-pair', c.textPair], ['--id', c.id]].filter(([, v]) => v !== undefined).map(([k]) => k);
  if (given.length) fail('BAD_CONFIG', `${given.join(', ')} name(s) columns of CSV, TSV or JSONL input; ${why}`);
}

/**
 * CSV/TSV input: one example per record, with the column rules of train's data options; a record
 * whose text is empty gives an empty line (so that every record has its output).
 */
function tableInputs(text: string, format: 'csv' | 'tsv', pair: boolean, where: string, c: InputColumns, singleTexts: string): InputLine<Example>[] {
  if (c.text === undefined) fail('BAD_CONFIG', `${format.toUpperCase()} input needs --text <column> (a header name, or a 0-based index for a header-less file)`);
  if (pair && c.textPair === undefined) fail('BAD_CONFIG', 'this task takes sentence pairs: give --text-pair <column> as well');
  if (!pair && c.textPair !== undefined) fail('BAD_CONFIG', `--text-pair given but ${singleTexts}`);
  const records = readDelimitedRecords(where, text, format, { text: c.text, ...(c.textPair !== undefined ? { textPair: c.textPair } : {}), ...(c.id !== undefined ? { id: c.id } : {}) });
  return records.map((r) => {
    const id = (c.id !== undefined ? cellText(r.get(c.id)) : undefined) ?? String(r.line);
    const a = cellText(r.get(c.text as ColumnRef));
    const b = c.textPair !== undefined ? cellText(r.get(c.textPair)) : undefined;
    if (a === undefined || a.trim() === '' || (pair && (b === undefined || b.trim() === ''))) return { id };
    return { id, input: { id, textA: a, ...(pair ? { textB: b as string } : {}) } };
  });
}

/** What {@link parseInputs} says and checks beyond one task's rules (for several tasks at once). */
export interface ParseOptions {
  /** Why a second text is refused when `pair` is false (default: "this task takes single texts"). */
  readonly singleTexts?: string;
  /** Called with each JSONL object and its position (`where:line`) before it is read; may refuse it. */
  readonly checkObject?: (o: Readonly<Record<string, unknown>>, at: string) => void;
}

/**
 * Parses the input into examples, one per line or record (none for a blank line or an empty
 * text); `where` names the source in messages; `c` chooses the columns of CSV/TSV/JSONL input.
 */
export function parseInputs(text: string, format: 'text' | 'jsonl' | 'csv' | 'tsv', pair: boolean, where: string, c: InputColumns = {}, opts: ParseOptions = {}): InputLine<Example>[] {
  const singleTexts = opts.singleTexts ?? 'this task takes single texts';
  if (format === 'csv' || format === 'tsv') return tableInputs(text, format, pair, where, c, singleTexts);
  if (format === 'text') {
    refuseColumns(c, 'plain-text input has one text per line (give --format csv, tsv or jsonl)');
    return textLines(text, where).map(({ id, input }) => {
      if (!input) return { id };
      if (pair) fail('BAD_DATA', `${input.at}: this task takes sentence pairs; give JSONL input with "text" and "text_pair" (--format jsonl)`);
      return { id, input: { id, textA: input.line } };
    });
  }
  if (!pair && c.textPair !== undefined) fail('BAD_CONFIG', `--text-pair given but ${singleTexts}`);
  const [textKey, pairKey] = [String(c.text ?? 'text'), String(c.textPair ?? 'text_pair')];
  return jsonLines(text, where, c.id !== undefined ? String(c.id) : undefined).map(({ id, input }) => {
    if (!input) return { id };
    const { o, at } = input;
    opts.checkObject?.(o, at);
    if (typeof o[textKey] !== 'string') fail('BAD_DATA', `${at}: ${JSON.stringify(textKey)} must be a string`);
    if (pair && typeof o[pairKey] !== 'string') fail('BAD_DATA', `${at}: this task takes sentence pairs; ${JSON.stringify(pairKey)} must be a string`);
    if (!pair && o[pairKey] !== undefined) fail('BAD_DATA', `${at}: ${JSON.stringify(pairKey)} given but ${singleTexts}`);
    // an empty text gives an empty line, as a blank line and an empty CSV cell do
    if ((o[textKey] as string).trim() === '' || (pair && (o[pairKey] as string).trim() === '')) return { id };
    return { id, input: { id, textA: o[textKey] as string, ...(pair ? { textB: o[pairKey] as string } : {}) } };
  });
}

/**
 * One output line per input line, in order: `{id, ...json(prediction)}`, or `{id, empty: true}`
 * for a blank line; `run` predicts the non-blank inputs in one go.
 */
async function outputLines<T, P>(lines: readonly InputLine<T>[], run: (inputs: T[]) => Promise<P[]>, json: (p: P, input: T) => Record<string, unknown>): Promise<{ body: string; preds: P[] }> {
  const inputs = lines.flatMap((l) => (l.input === undefined ? [] : [l.input]));
  const preds = await run(inputs);
  let k = 0;
  const out = lines.map((l) => {
    if (l.input === undefined) return JSON.stringify({ id: l.id, empty: true });
    return JSON.stringify({ id: l.id, ...json(preds[k++] as P, l.input) });
  });
  return { body: `${out.join('\n')}\n`, preds };
}

/** One output object for a prediction. */
export function predictionJson(head: HeadConfig, p: Prediction, allScores: boolean): Record<string, unknown> {
  const windows = p.windows !== undefined ? { windows: p.windows } : {};
  if (head.kind === 'regression') return { score: p.value, truncated: p.truncated, ...windows };
  const scores = Object.fromEntries(head.labels.map((l, i) => [l, p.probs[i]]));
  if (head.kind === 'multilabel') {
    return { label: head.labels.filter((_, i) => (p.value as number[])[i] === 1), scores, truncated: p.truncated, ...windows };
  }
  const i = p.value as number;
  return { label: head.labels[i], score: p.probs[i], ...(allScores ? { scores } : {}), truncated: p.truncated, ...windows };
}

/** A tagging task's output object for one input: its words, each word's tag and score (6 decimals). */
export function tagsJson(words: readonly string[], p: Pick<TagPrediction, 'tags' | 'scores' | 'truncated'>): Record<string, unknown> {
  return { words, tags: p.tags, scores: p.scores.map((x) => Number(x.toFixed(6))), truncated: p.truncated };
}

/** Tagging inputs, one per line: the words of a text line, or JSONL {"tokens": [...]} / {"text": "..."}. */
export function parseTagInputs(model: TaskModel, text: string, format: 'text' | 'jsonl', where: string): InputLine<string[]>[] {
  if (format === 'text') return textLines(text, where).map(({ id, input }) => (input ? { id, input: splitWords(model, input.line).words } : { id }));
  return jsonLines(text, where).map(({ id, input }) => {
    if (!input) return { id };
    const { o, at } = input;
    if (Array.isArray(o.tokens)) {
      if (o.tokens.length === 0 || !o.tokens.every((t) => typeof t === 'string' && t.length > 0)) fail('BAD_DATA', `${at}: "tokens" must be a non-empty array of non-empty strings`);
      return { id, input: o.tokens as string[] };
    }
    if (typeof o.text === 'string' && o.text.trim() !== '') return { id, input: splitWords(model, o.text).words };
    return fail('BAD_DATA', `${at}: expected {"tokens": [...]} or {"text": "..."}`);
  });
}

/** QA inputs: JSONL {"question", "context", "id"?}, one per line. */
export function parseQaInputs(text: string, where: string): InputLine<QaInput>[] {
  return jsonLines(text, where).map(({ id, input }) => {
    if (!input) return { id };
    const { o, at } = input;
    if (typeof o.question !== 'string' || o.question.trim() === '') fail('BAD_DATA', `${at}: "question" must be a non-empty string`);
    if (typeof o.context !== 'string' || o.context.trim() === '') fail('BAD_DATA', `${at}: "context" must be a non-empty string`);
    return { id, input: { id, question: o.question, context: o.context } };
  });
}

async function predictTokenTask(model: TaskModel, text: string, f: PredictFlags, format: 'text' | 'jsonl' | 'squad', where: string, maxLength: number): Promise<string> {
  if (model.head.kind === 'tagging') {
    if (format === 'squad') fail('BAD_CONFIG', '--format squad is for QA tasks; this task tags words');
    const lines = parseTagInputs(model, text, format, where);
    const { body, preds } = await outputLines(lines, (sentences) => predictTags(model, sentences.map((tokens) => ({ tokens })), { maxLength, batchSize: f.batchSize }),
      (p, words) => tagsJson(words, p));
    const truncated = preds.filter((p) => p.truncated).length;
    if (truncated) process.stderr.write(`note: ${truncated} of ${preds.length} input(s) lost words beyond ${maxLength} tokens (tagged ${JSON.stringify(preds[0]?.tags.at(-1) ?? 'O')}-filled)\n`);
    return body;
  }
  let lines: InputLine<QaInput>[];
  if (format === 'squad') {
    if (f.input === undefined) fail('BAD_CONFIG', '--format squad needs --input <file>');
    lines = (await loadSquad(f.input)).examples.map((e) => ({ id: e.id, input: { id: e.id, question: e.question, context: e.context } }));
  } else {
    if (format === 'text') fail('BAD_DATA', `${where}: a QA task takes JSONL {"question": ..., "context": ...} lines (--format jsonl) or a SQuAD JSON file (--format squad)`);
    lines = parseQaInputs(text, where);
  }
  const { body } = await outputLines(lines, (inputs) => predictAnswers(model, inputs, { maxLength, batchSize: f.batchSize }),
    (p) => ({ answer: p.text, score: p.score, start: p.start ?? null, end: p.end ?? null }));
  return body;
}

/** Input formats by file extension. */
const FORMAT_OF_EXTENSION: Readonly<Record<string, InputFormat>> = { '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.json': 'squad', '.csv': 'csv', '.tsv': 'tsv', '.tab': 'tsv' };

async function runPredict(dirs: readonly string[], f: PredictFlags): Promise<void> {
  for (const d of dirs) await readManifest(d); // fails early on a missing task directory
  if (f.output !== undefined) await checkOutputFile(f.output, `--output ${f.output}`); // and on an --output that cannot be written
  const dir = dirs[0] as string;
  const where = f.input ?? 'stdin';
  const ext = f.input ? extname(f.input).toLowerCase() : '';
  const format: InputFormat = f.format ?? FORMAT_OF_EXTENSION[ext] ?? 'text';
  const columns = inputColumns(f);
  let text: string;
  if (f.input !== undefined) {
    try {
      text = await readFile(f.input, 'utf8');
    } catch (e) {
      fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_FILE', `cannot read --input ${f.input}: ${(e as Error).message}`);
    }
  } else {
    if (process.stdin.isTTY) process.stderr.write('reading inputs from stdin, one per line (Ctrl-D to end)...\n');
    text = await readStdin();
  }
  if (text.trim() === '') fail('BAD_DATA', `no input: ${where} is empty (give one text per line, or JSONL {"text": ...} lines)`);
  if (dirs.length > 1) {
    if (format === 'squad') fail('BAD_CONFIG', '--format squad is for one QA task; several task directories take sentence-level and tagging tasks (QA tasks are predicted on their own)');
    const singleTaskFlags = [['--active', f.active], ['--adapter-drop', f.adapterDrop], ['--window-stride', f.windowStride]].filter(([, v]) => v !== undefined).map(([k]) => k as string);
    await predictMany(dirs, text, format, where, columns, { ...f, singleTaskFlags, model: frozenPrecisionOptions(f, logLine) });
    return;
  }
  const { saved, maxLength } = await loadTaskDir(dir, { ...f, model: frozenPrecisionOptions(f, logLine), inference: true });
  const model = saved.model;
  try {
    applyActive(model, dir, f);
    if (model.head.kind === 'tagging' || model.head.kind === 'qa') {
      refuseColumns(columns, `this task is ${model.head.kind} (give plain text or JSONL as its help says)`);
      if (f.windowStride !== undefined) fail('BAD_CONFIG', `--window-stride is for sentence-level tasks; ${model.head.kind === 'qa' ? 'QA windows its contexts itself (the stride is set at training)' : 'tagging tasks truncate'}`);
      if (format === 'csv' || format === 'tsv') fail('BAD_CONFIG', `--format ${format} is for sentence-level tasks; this task is ${model.head.kind}`);
      const body = await predictTokenTask(model, text, f, format, where, f.maxLength ?? maxLength);
      if (f.output !== undefined) await writeFile(f.output, body);
      else process.stdout.write(body);
      return;
    }
    if (format === 'squad') fail('BAD_CONFIG', `--format squad is for QA tasks; this task is ${model.head.kind}`);
    const lines = parseInputs(text, format, model.head.pair, where, columns);
    const windows = f.windowStride !== undefined ? { windowOverlap: f.windowStride } : {};
    const { body, preds } = await outputLines(lines, (examples) => predictExamples(model, examples, { maxLength: f.maxLength ?? maxLength, batchSize: f.batchSize, ...windows }),
      (p) => predictionJson(model.head, p, !!f.allScores));
    if (f.output !== undefined) await writeFile(f.output, body);
    else process.stdout.write(body);
    const truncated = preds.filter((p) => p.truncated).length;
    if (truncated) process.stderr.write(`note: ${truncated} of ${preds.length} input(s) were truncated to ${f.maxLength ?? maxLength} tokens\n`);
  } finally {
    await model.dispose();
  }
}

/** A log line on stderr (the int8 outlier guard's choices). */
function logLine(line: string): void {
  process.stderr.write(`${line}\n`);
}
