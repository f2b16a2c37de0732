/**
 * Loader for SQuAD-format JSON (v1.1 and v2.0):
 * `{"version", "data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
 * "answers": [{"text", "answer_start"}], "is_impossible"?, "plausible_answers"?}]}]}]}`.
 *
 * Every answer must sit at its `answer_start` in the context. SQuAD counts offsets in Unicode
 * code points (Python); they are converted to UTF-16 string indexes here. A question whose
 * answers are missing, misplaced, or contradict `is_impossible` is a bad row: it fails the load
 * (BAD_DATA) or, with `onBadRow: 'skip'`, is left out and reported. SQuAD files are usually one
 * line, so the reported line is where the question's id appears in the file and the message
 * names the question id.
 */
import { readFile } from 'node:fs/promises';
import { fail } from '../../errors.js';
import type { QaAnswer, QaExample } from '../tokens/types.js';
import { BadRows, checkOnBadRow } from './bad-rows.js';
import type { LoadReport, OnBadRow } from './types.js';
import { isJsonObject } from '../../util/json-text.js';

/** A loaded SQuAD file. */
export interface SquadData {
  /** The file's `version` field ('1.1', 'v2.0', ...), '' when absent. */
  version: string;
  /** True when any question has `is_impossible` (SQuAD v2 style). */
  hasImpossible: boolean;
  examples: QaExample[];
  report: LoadReport;
}

/**
 * Reads a SQuAD JSON file.
 *
 * @example
 * ```ts
 * const dev = await loadSquad('dev-v2.0.json');
 * dev.examples[0]; // { id: '56ddde6b9a695914005b9628', question: 'In what country is Normandy located?', ... }
 * ```
 */
export async function loadSquad(file: string, options: { onBadRow?: OnBadRow } = {}): Promise<SquadData> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (e) {
    fail('BAD_FILE', `cannot read ${file}: ${(e as Error).message}`);
  }
  return parseSquad(text, file, options);
}

/** Parses SQuAD JSON text (see the module comment). */
export function parseSquad(text: string, file: string, options: { onBadRow?: OnBadRow } = {}): SquadData {
  const bad = new BadRows(checkOnBadRow(options.onBadRow));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail('BAD_FILE', `${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (!isJsonObject(json) || !Array.isArray(json['data'])) fail('BAD_FILE', `${file}: expected an object with a "data" array (SQuAD format)`);
  const lineOf = lineFinder(text);
  const examples: QaExample[] = [];
  let hasImpossible = false;
  json['data'].forEach((article: unknown, a) => {
    if (!isJsonObject(article) || !Array.isArray(article['paragraphs'])) {
      fail('BAD_FILE', `${file}: data[${a}] must be an object with a "paragraphs" array`);
    }
    const title = typeof article['title'] === 'string' ? article['title'] : undefined;
    article['paragraphs'].forEach((paragraph: unknown, p) => {
      const where = `data[${a}].paragraphs[${p}]`;
      if (!isJsonObject(paragraph) || typeof paragraph['context'] !== 'string' || !Array.isArray(paragraph['qas'])) {
        fail('BAD_FILE', `${file}: ${where} must have a "context" string and a "qas" array`);
      }
      const context = paragraph['context'];
      const toIndex = codePointToIndex(context);
      paragraph['qas'].forEach((qa: unknown, q) => {
        const qWhere = `${where}.qas[${q}]`;
        if (!isJsonObject(qa) || (typeof qa['id'] !== 'string' && typeof qa['id'] !== 'number') || typeof qa['question'] !== 'string') {
          bad.bad(file, 1, `${qWhere}: needs an "id" and a "question" string`);
          return;
        }
        const id = String(qa['id']);
        const report = (reason: string) => bad.bad(file, lineOf(JSON.stringify(qa['id'])), `question ${id} (${qWhere}): ${reason}`);
        const impossible = qa['is_impossible'] === true;
        if (qa['is_impossible'] !== undefined && typeof qa['is_impossible'] !== 'boolean') {
          report(`"is_impossible" must be true or false, got ${JSON.stringify(qa['is_impossible'])}`);
          return;
        }
        const answers = readAnswers(qa['answers'] ?? [], context, toIndex, 'answers');
        if (typeof answers === 'string') return report(answers);
        if (impossible && answers.length > 0) return report(`is_impossible is true but it has ${answers.length} answers`);
        if (!impossible && answers.length === 0) return report('no answers (and not marked is_impossible)');
        const example: QaExample = { id, question: qa['question'], context, answers, ...(title === undefined ? {} : { title }) };
        if (qa['is_impossible'] !== undefined) {
          example.isImpossible = impossible;
          hasImpossible = true;
        }
        if (qa['plausible_answers'] !== undefined) {
          const plausible = readAnswers(qa['plausible_answers'], context, toIndex, 'plausible_answers');
          if (typeof plausible === 'string') return report(plausible);
          example.plausibleAnswers = plausible;
        }
        examples.push(example);
      });
    });
  });
  return { version: typeof json['version'] === 'string' ? json['version'] : '', hasImpossible, examples, report: bad.report };
}

/** Reads an answers array; returns an error reason string when malformed. */
function readAnswers(raw: unknown, context: string, toIndex: (cp: number) => number | undefined, key: string): QaAnswer[] | string {
  if (!Array.isArray(raw)) return `"${key}" must be an array`;
  const out: QaAnswer[] = [];
  for (const [k, answer] of raw.entries()) {
    if (!isJsonObject(answer) || typeof answer['text'] !== 'string' || typeof answer['answer_start'] !== 'number') {
      return `${key}[${k}] needs "text" (string) and "answer_start" (number)`;
    }
    const start = toIndex(answer['answer_start']);
    const text = answer['text'];
    if (start === undefined || context.slice(start, start + text.length) !== text) {
      const found = start === undefined ? 'nothing (offset outside the context)' : JSON.stringify(context.slice(start, start + text.length));
      return `${key}[${k}] ${JSON.stringify(text)} is not at answer_start ${answer['answer_start']}; the context has ${found} there`;
    }
    out.push({ text, start });
  }
  return out;
}

/** Maps a code-point offset to a UTF-16 index (identity when the text has no astral characters). */
function codePointToIndex(text: string): (cp: number) => number | undefined {
  const astral = /[\uD800-\uDBFF]/.test(text);
  let table: number[] | undefined;
  return (cp) => {
    if (!Number.isInteger(cp) || cp < 0) return undefined;
    if (!astral) return cp <= text.length ? cp : undefined;
    if (table === undefined) {
      table = [];
      let i = 0;
      for (const ch of text) {
        table.push(i);
        i += ch.length;
      }
      table.push(i);
    }
    return table[cp];
  };
}

/** Line (1-based) of the first occurrence of `needle` in `text`, 1 when absent. */
function lineFinder(text: string): (needle: string) => number {
  const newlines: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) newlines.push(i);
  return (needle) => {
    const at = text.indexOf(needle);
    if (at < 0) return 1;
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((newlines[mid] as number) < at) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}
