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
import type { TaskModel } from '../../train/task-model.js';
import { predictAnswers, predictTags, splitWords, type QaInput } from '../../train/token-tasks/index.js';
import { intArg } from '../options.js';
import { loadTaskDir, readManifest } from '../saved-task.js';

interface PredictFlags {
  input?: string;
  output?: string;
  format?: 'text' | 'jsonl' | 'squad';
  batchSize: number;
  maxLength?: number;
  base?: string;
  revision?: string;
  threads?: number;
  allScores?: boolean;
}

const EXAMPLES = `
Input: plain text, one input per line, or JSONL (--format jsonl, or a .jsonl file) with
{"text": "...", "text_pair": "...", "id"?: ...} per line (text_pair required for sentence-pair
tasks). A plain-text line that is a JSON object is refused: give --format jsonl.
Output, one line per input line, in order, each with the input's "id" (its line number, or the
JSONL object's "id"): {"id": "1", "label": "spam", "score": 0.98, "truncated": false} for
classification; {"id", "label": ["a", "c"], "scores": {...}, ...} for multi-label;
{"id", "score": 3.1, "truncated": false} for regression. A blank line gives {"id", "empty": true}.

Tagging tasks: a text per line (split into words as the tokenizer does), or JSONL with
{"tokens": [...]} or {"text": "..."}; output {"id", "words": [...], "tags": [...], "scores": [...],
"truncated": false}. QA tasks: JSONL {"question": "...", "context": "...", "id"?: "..."} or a
SQuAD JSON file (--format squad, or a .json file); output {"id", "answer", "score", "start",
"end"} with the answer's character span in the context (null for no answer).

Examples:
  $ adapterkit predict runs/spam-adapters/best --input mails.txt
  $ echo "win a free prize now" | adapterkit predict runs/spam-adapters/best
  $ adapterkit predict runs/mrpc/best --input pairs.jsonl --output predictions.jsonl --all-scores
  $ echo "The jury praised the city" | adapterkit predict runs/brown-pos-adapters/best
  $ adapterkit predict runs/squad-adapters/best --input dev-v2.0.json`;

/** Registers `adapterkit predict`. */
export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('Predict labels for texts with a saved task; writes one JSON object per input line, with its id.')
    .argument('<task-dir>', 'task directory written by train (e.g. runs/<task>-<mode>/best)')
    .option('--input <file>', 'input file (default: stdin)')
    .option('--output <file>', 'write predictions to this file (default: stdout)')
    .addOption(new Option('--format <format>', 'input format (default: jsonl for .jsonl/.ndjson files, else text)').choices(['text', 'jsonl', 'squad']))
    .option('--batch-size <n>', 'inputs per batch', intArg(1), 32)
    .option('--max-length <n>', 'tokens per input (default: the length used in training)', intArg(2))
    .option('--all-scores', 'classification: also give the probability of every label')
    .option('--base <source>', 'base model (default: the one recorded in the task\'s adapterkit.json)')
    .option('--revision <rev>', 'hub revision of --base')
    .option('--threads <n>', 'ONNX Runtime threads', intArg(1))
    .addHelpText('after', EXAMPLES)
    .action(async (dir: string, flags: PredictFlags) => {
      await runPredict(dir, flags);
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
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    fail('BAD_DATA', `${at}: this line is a JSON object but the input is read as plain text: give --format jsonl for JSONL input (or name the file .jsonl); to predict on the text itself, wrap it as {"text": ...} in JSONL`);
  }
}

/** The JSON object of each non-blank line (`--format jsonl`), with its id and position. */
function jsonLines(text: string, where: string): Array<InputLine<{ o: Record<string, unknown>; at: string }>> {
  return inputLines(text).map((line, i) => {
    if (line.trim() === '') return { id: String(i + 1) };
    const at = `${where}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      fail('BAD_DATA', `${at}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('BAD_DATA', `${at}: expected a JSON object like {"text": "..."}`);
    const o = v as Record<string, unknown>;
    const id = typeof o.id === 'string' || typeof o.id === 'number' ? String(o.id) : String(i + 1);
    return { id, input: { o, at } };
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

/** Parses the input into examples, one per line (none for a blank line); `where` names the source in messages. */
export function parseInputs(text: string, format: 'text' | 'jsonl', pair: boolean, where: string): InputLine<Example>[] {
  if (format === 'text') {
    return textLines(text, where).map(({ id, input }) => {
      if (!input) return { id };
      if (pair) fail('BAD_DATA', `${input.at}: this task takes sentence pairs; give JSONL input with "text" and "text_pair" (--format jsonl)`);
      return { id, input: { id, textA: input.line } };
    });
  }
  return jsonLines(text, where).map(({ id, input }) => {
    if (!input) return { id };
    const { o, at } = input;
    if (typeof o.text !== 'string') fail('BAD_DATA', `${at}: "text" must be a string`);
    if (pair && typeof o.text_pair !== 'string') fail('BAD_DATA', `${at}: this task takes sentence pairs; "text_pair" must be a string`);
    if (!pair && o.text_pair !== undefined) fail('BAD_DATA', `${at}: "text_pair" given but this task takes single texts`);
    return { id, input: { id, textA: o.text, ...(pair ? { textB: o.text_pair as string } : {}) } };
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
  if (head.kind === 'regression') return { score: p.value, truncated: p.truncated };
  const scores = Object.fromEntries(head.labels.map((l, i) => [l, p.probs[i]]));
  if (head.kind === 'multilabel') {
    return { label: head.labels.filter((_, i) => (p.value as number[])[i] === 1), scores, truncated: p.truncated };
  }
  const i = p.value as number;
  return { label: head.labels[i], score: p.probs[i], ...(allScores ? { scores } : {}), truncated: p.truncated };
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
      (p, words) => ({ words, tags: p.tags, scores: p.scores.map((x) => Number(x.toFixed(6))), truncated: p.truncated }));
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

async function runPredict(dir: string, f: PredictFlags): Promise<void> {
  await readManifest(dir); // fails early on a missing task directory
  const where = f.input ?? 'stdin';
  const ext = f.input ? extname(f.input).toLowerCase() : '';
  const format = f.format ?? (['.jsonl', '.ndjson'].includes(ext) ? 'jsonl' : ext === '.json' ? 'squad' : 'text');
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
  const { saved, maxLength } = await loadTaskDir(dir, f);
  const model = saved.model;
  try {
    if (model.head.kind === 'tagging' || model.head.kind === 'qa') {
      const body = await predictTokenTask(model, text, f, format, where, f.maxLength ?? maxLength);
      if (f.output !== undefined) await writeFile(f.output, body);
      else process.stdout.write(body);
      return;
    }
    if (format === 'squad') fail('BAD_CONFIG', `--format squad is for QA tasks; this task is ${model.head.kind}`);
    const lines = parseInputs(text, format, model.head.pair, where);
    const { body, preds } = await outputLines(lines, (examples) => predictExamples(model, examples, { maxLength: f.maxLength ?? maxLength, batchSize: f.batchSize }),
      (p) => predictionJson(model.head, p, !!f.allScores));
    if (f.output !== undefined) await writeFile(f.output, body);
    else process.stdout.write(body);
    const truncated = preds.filter((p) => p.truncated).length;
    if (truncated) process.stderr.write(`note: ${truncated} of ${preds.length} input(s) were truncated to ${f.maxLength ?? maxLength} tokens\n`);
  } finally {
    await model.dispose();
  }
}
