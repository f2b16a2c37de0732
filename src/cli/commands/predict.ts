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
Input: plain text, one input per line (blank lines are skipped), or JSONL with
{"text": "...", "text_pair": "..."} per line (text_pair required for sentence-pair tasks).
Output, one line per input: {"label": "spam", "score": 0.98, "truncated": false} for
classification; {"label": ["a", "c"], "scores": {...}, ...} for multi-label;
{"score": 3.1, "truncated": false} for regression.

Tagging tasks: a text per line (split into words as the tokenizer does), or JSONL with
{"tokens": [...]} or {"text": "..."}; output {"words": [...], "tags": [...], "scores": [...],
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
    .description('Predict labels for texts with a saved task; writes one JSON object per input line.')
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

/** Parses the input into examples; `where` names the source in messages. */
export function parseInputs(text: string, format: 'text' | 'jsonl', pair: boolean, where: string): Example[] {
  const out: Example[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const at = `${where}:${i + 1}`;
    if (format === 'text') {
      if (pair) fail('BAD_DATA', `${at}: this task takes sentence pairs; give JSONL input with "text" and "text_pair" (--format jsonl)`);
      out.push({ id: String(i + 1), textA: line });
      return;
    }
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      fail('BAD_DATA', `${at}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('BAD_DATA', `${at}: expected a JSON object like {"text": "..."}`);
    const o = v as Record<string, unknown>;
    if (typeof o.text !== 'string') fail('BAD_DATA', `${at}: "text" must be a string`);
    if (pair && typeof o.text_pair !== 'string') fail('BAD_DATA', `${at}: this task takes sentence pairs; "text_pair" must be a string`);
    if (!pair && o.text_pair !== undefined) fail('BAD_DATA', `${at}: "text_pair" given but this task takes single texts`);
    out.push({ id: String(i + 1), textA: o.text, ...(pair ? { textB: o.text_pair as string } : {}) });
  });
  return out;
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

function jsonLines(text: string, where: string): Array<[Record<string, unknown>, string]> {
  const out: Array<[Record<string, unknown>, string]> = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const at = `${where}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      fail('BAD_DATA', `${at}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('BAD_DATA', `${at}: expected a JSON object`);
    out.push([v as Record<string, unknown>, at]);
  });
  return out;
}

/** Tagging inputs: words of each text line, or JSONL {"tokens": [...]} / {"text": "..."}. */
export function parseTagInputs(model: TaskModel, text: string, format: 'text' | 'jsonl', where: string): string[][] {
  if (format === 'text') return text.split(/\r?\n/).filter((l) => l.trim() !== '').map((l) => splitWords(model, l).words);
  return jsonLines(text, where).map(([o, at]) => {
    if (Array.isArray(o.tokens)) {
      if (o.tokens.length === 0 || !o.tokens.every((t) => typeof t === 'string' && t.length > 0)) fail('BAD_DATA', `${at}: "tokens" must be a non-empty array of non-empty strings`);
      return o.tokens as string[];
    }
    if (typeof o.text === 'string' && o.text.trim() !== '') return splitWords(model, o.text).words;
    return fail('BAD_DATA', `${at}: expected {"tokens": [...]} or {"text": "..."}`);
  });
}

/** QA inputs: JSONL {"question", "context", "id"?}. */
export function parseQaInputs(text: string, where: string): QaInput[] {
  return jsonLines(text, where).map(([o, at], n) => {
    if (typeof o.question !== 'string' || o.question.trim() === '') fail('BAD_DATA', `${at}: "question" must be a non-empty string`);
    if (typeof o.context !== 'string' || o.context.trim() === '') fail('BAD_DATA', `${at}: "context" must be a non-empty string`);
    const id = typeof o.id === 'string' || typeof o.id === 'number' ? String(o.id) : String(n + 1);
    return { id, question: o.question, context: o.context };
  });
}

async function predictTokenTask(model: TaskModel, text: string, f: PredictFlags, format: 'text' | 'jsonl' | 'squad', where: string, maxLength: number): Promise<string> {
  if (model.head.kind === 'tagging') {
    if (format === 'squad') fail('BAD_CONFIG', '--format squad is for QA tasks; this task tags words');
    const sentences = parseTagInputs(model, text, format, where);
    const preds = await predictTags(model, sentences.map((tokens) => ({ tokens })), { maxLength, batchSize: f.batchSize });
    const truncated = preds.filter((p) => p.truncated).length;
    if (truncated) process.stderr.write(`note: ${truncated} of ${preds.length} input(s) lost words beyond ${maxLength} tokens (tagged ${JSON.stringify(preds[0]?.tags.at(-1) ?? 'O')}-filled)\n`);
    return preds.map((p, i) => JSON.stringify({ words: sentences[i], tags: p.tags, scores: p.scores.map((x) => Number(x.toFixed(6))), truncated: p.truncated })).join('\n') + '\n';
  }
  let inputs: QaInput[];
  if (format === 'squad') {
    if (f.input === undefined) fail('BAD_CONFIG', '--format squad needs --input <file>');
    inputs = (await loadSquad(f.input)).examples.map((e) => ({ id: e.id, question: e.question, context: e.context }));
  } else {
    if (format === 'text') fail('BAD_DATA', `${where}: a QA task takes JSONL {"question": ..., "context": ...} lines (--format jsonl) or a SQuAD JSON file (--format squad)`);
    inputs = parseQaInputs(text, where);
  }
  const preds = await predictAnswers(model, inputs, { maxLength, batchSize: f.batchSize });
  return preds.map((p, i) => JSON.stringify({ id: inputs[i]?.id, answer: p.text, score: p.score, start: p.start ?? null, end: p.end ?? null })).join('\n') + '\n';
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
    const examples = parseInputs(text, format, model.head.pair, where);
    const preds = await predictExamples(model, examples, { maxLength: f.maxLength ?? maxLength, batchSize: f.batchSize });
    const body = preds.map((p) => JSON.stringify(predictionJson(model.head, p, !!f.allScores))).join('\n') + '\n';
    if (f.output !== undefined) await writeFile(f.output, body);
    else process.stdout.write(body);
    const truncated = preds.filter((p) => p.truncated).length;
    if (truncated) process.stderr.write(`note: ${truncated} of ${preds.length} input(s) were truncated to ${f.maxLength ?? maxLength} tokens\n`);
  } finally {
    await model.dispose();
  }
}
