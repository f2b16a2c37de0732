/**
 * SQuAD exact match and F1, as the official evaluation scripts (v1.1 and v2.0) compute them.
 *
 * Answers are normalised before comparing: lower-cased; ASCII punctuation removed (Python's
 * `string.punctuation`, the 32 characters !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~); the words a, an,
 * the removed; whitespace collapsed. F1 is over the bag of normalised words. A question's score
 * is the maximum over its gold answers. For SQuAD v2 a question with no gold answer is scored
 * against the empty string: an empty prediction gets EM = F1 = 1, anything else 0; an empty
 * prediction for an answerable question gets 0. Scores are fractions in [0, 1] (the official
 * scripts print 100x these).
 */
import { fail } from '../../errors.js';
import type { QaExample } from '../tokens/types.js';

const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/**
 * SQuAD's answer normalisation.
 *
 * @example
 * ```ts
 * normalizeAnswer('The  Eiffel-Tower!'); // 'eiffeltower'
 * ```
 */
export function normalizeAnswer(text: string): string {
  const lower = text.toLowerCase();
  let noPunct = '';
  for (const ch of lower) if (!PUNCTUATION.has(ch)) noPunct += ch;
  // Python's Unicode \b: a word character is a letter, a number or '_' (JavaScript's \b is ASCII-only).
  const noArticles = noPunct.replace(/(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu, ' ');
  return noArticles.split(/\s+/).filter((w) => w !== '').join(' ');
}

function words(text: string): string[] {
  const n = normalizeAnswer(text);
  return n === '' ? [] : n.split(' ');
}

/** 1 when the normalised texts are equal, else 0. */
export function exactMatchScore(prediction: string, gold: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(gold) ? 1 : 0;
}

/** Word-bag F1 of normalised texts; when either side is empty, 1 if both are, else 0 (v2 rule). */
export function f1Score(prediction: string, gold: string): number {
  const p = words(prediction);
  const g = words(gold);
  if (p.length === 0 || g.length === 0) return p.length === g.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const w of g) counts.set(w, (counts.get(w) ?? 0) + 1);
  let same = 0;
  for (const w of p) {
    const c = counts.get(w) ?? 0;
    if (c > 0) {
      same++;
      counts.set(w, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / p.length;
  const recall = same / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/** SQuAD scores over a set of questions. */
export interface SquadScores {
  exact_match: number;
  f1: number;
  total: number;
  /** Over answerable questions only (present when there are some and some unanswerable ones). */
  has_answer?: { exact_match: number; f1: number; total: number };
  /** Over unanswerable questions only (present when there are some). */
  no_answer?: { exact_match: number; f1: number; total: number };
}

/** Gold texts of an example as the official v2 script takes them: answers whose normalised text is non-empty, else ['']. */
export function goldTexts(example: Pick<QaExample, 'answers'>): string[] {
  const texts = example.answers.map((a) => a.text).filter((t) => normalizeAnswer(t) !== '');
  return texts.length > 0 ? texts : [''];
}

/**
 * Scores predictions (question id -> answer text, '' for "no answer") against gold examples.
 * Every example needs a prediction; missing ones throw BAD_DATA listing the first few ids.
 *
 * @example
 * ```ts
 * squadScores([{ id: 'q1', answers: [{ text: 'the Eiffel Tower', start: 0 }] }], { q1: 'Eiffel Tower' });
 * // { exact_match: 1, f1: 1, total: 1 }
 * ```
 */
export function squadScores(examples: ReadonlyArray<Pick<QaExample, 'id' | 'answers'>>, predictions: Readonly<Record<string, string>> | ReadonlyMap<string, string>): SquadScores {
  if (examples.length === 0) fail('BAD_DATA', 'no questions to score');
  const get = (id: string): string | undefined =>
    predictions instanceof Map ? predictions.get(id) : Object.hasOwn(predictions, id) ? (predictions as Record<string, string>)[id] : undefined;
  const missing = examples.filter((e) => get(e.id) === undefined).map((e) => e.id);
  if (missing.length > 0) {
    fail('BAD_DATA', `no prediction for ${missing.length} of ${examples.length} questions, e.g. ${missing.slice(0, 5).join(', ')}`);
  }
  const groups = { all: [0, 0, 0], has: [0, 0, 0], no: [0, 0, 0] };
  for (const e of examples) {
    const prediction = get(e.id) as string;
    const gold = goldTexts(e);
    const em = Math.max(...gold.map((g) => exactMatchScore(prediction, g)));
    const f1 = Math.max(...gold.map((g) => f1Score(prediction, g)));
    for (const key of ['all', gold[0] === '' && gold.length === 1 ? 'no' : 'has'] as const) {
      const g = groups[key];
      g[0] = (g[0] as number) + em;
      g[1] = (g[1] as number) + f1;
      g[2] = (g[2] as number) + 1;
    }
  }
  const summary = ([em, f1, n]: number[]) => ({ exact_match: (em as number) / (n as number), f1: (f1 as number) / (n as number), total: n as number });
  const out: SquadScores = summary(groups.all);
  if ((groups.no[2] as number) > 0) {
    if ((groups.has[2] as number) > 0) out.has_answer = summary(groups.has);
    out.no_answer = summary(groups.no);
  }
  return out;
}
