/**
 * Extractive-QA model rows: `[CLS] question [SEP] context-chunk [SEP]` windows over a long
 * context, with each context position's character span so predictions map back to the text.
 *
 * Offsets. Our tokenizers return ids, not character offsets, so offsets are approximated: the
 * context is split into words at whitespace (and, with `splitPunctuation`, each punctuation
 * character becomes its own word, as BERT's BasicTokenizer does), each word is tokenized on its
 * own with the `pieces` function, and every piece of a word maps to the WHOLE word's character
 * span. An extracted answer therefore always covers whole words: "1990," when the model points
 * at "1990" without punctuation splitting. For WordPiece, per-word tokenization gives exactly the
 * pieces of tokenizing the whole text (the BasicTokenizer splits at whitespace and punctuation
 * first); for SentencePiece it matches as long as `splitPunctuation` is off (each whitespace word
 * starts with the ▁ boundary either way). A word with no pieces gets one `unkId` position.
 *
 * Windows. Question pieces are cut to `maxQuestionLength`; a window holds up to
 * `budget = maxLength - questionLength - 3` context tokens. `stride` is the OVERLAP between
 * consecutive windows in tokens, as the `stride` argument of Hugging Face tokenizers and
 * `--doc_stride` in HF's run_qa.py; consecutive windows start `budget - stride` tokens apart.
 * (Google's original run_squad.py and HF's older run_squad.py use `doc_stride` as the STEP
 * between window starts instead; their doc_stride d equals our stride `budget - d`.) The last
 * window is the one that reaches the end of the context; it may be shorter. Any answer of at most
 * `stride + 1` tokens lies whole inside some window; a longer one may be split across windows.
 *
 * Training labels: the answer's first and last token positions when the first gold answer lies
 * whole inside the window's context, else position 0 ([CLS]); 0 for unanswerable questions.
 */
import { fail } from '../../errors.js';
import type { QaExample } from './types.js';

/** A half-open character span [start, end) of the context. */
export interface CharSpan {
  start: number;
  end: number;
}

/** One context token: its id and the character span of the word it came from. */
export interface ContextToken extends CharSpan {
  id: number;
  /** Index of the word (span) it belongs to. */
  word: number;
}

/** Options for {@link buildQaWindows}. */
export interface QaWindowOptions {
  /** Token ids of one word, without special tokens. */
  pieces: (word: string) => readonly number[];
  clsId: number;
  sepId: number;
  /** Id for a word with no pieces. */
  unkId: number;
  /** Longest row, specials included (e.g. 384). */
  maxLength: number;
  /** Overlap between consecutive windows in tokens (e.g. 128); must be below the context budget. */
  stride: number;
  /** Question pieces kept (default 64, as run_squad's max_query_length). */
  maxQuestionLength?: number;
  /** Split punctuation characters off words (default true: right for WordPiece; use false for SentencePiece). */
  splitPunctuation?: boolean;
}

/** One window of one example. Shapes: L = row length. */
export interface QaWindow {
  exampleId: string;
  /** 0-based index of the window within its example. */
  index: number;
  /** [L] ids. */
  inputIds: number[];
  /** [L] 0 for `[CLS] question [SEP]`, 1 for `context [SEP]`. */
  tokenTypeIds: number[];
  /** [L] character span of the context word behind each position; null outside the context. */
  offsets: Array<CharSpan | null>;
  /** Row position of the first context token. */
  contextOffset: number;
  /** Index (in the example's whole context token list) of this window's first context token. */
  firstContextToken: number;
  /** Context tokens in this window. */
  contextLength: number;
  /** Training target: first answer token's row position, 0 when the answer is not whole inside (or there is none). */
  startPosition: number;
  /** Training target: last answer token's row position, 0 likewise. */
  endPosition: number;
}

const PUNCT = /[\p{P}!-/:-@[-`{-~]/u;

/**
 * Words of a text with their character spans: runs of non-whitespace, optionally with every
 * punctuation character (Unicode P* or ASCII symbol) split off as its own word.
 *
 * @example
 * ```ts
 * wordSpans('In 1990, it', { splitPunctuation: true });
 * // [{start: 0, end: 2}, {start: 3, end: 7}, {start: 7, end: 8}, {start: 9, end: 11}]
 * ```
 */
export function wordSpans(text: string, opts: { splitPunctuation?: boolean } = {}): CharSpan[] {
  const split = opts.splitPunctuation ?? true;
  const out: CharSpan[] = [];
  for (const m of text.matchAll(/\S+/gu)) {
    const start = m.index;
    const word = m[0];
    if (!split) {
      out.push({ start, end: start + word.length });
      continue;
    }
    let runStart = -1;
    let i = 0;
    for (const ch of word) {
      if (PUNCT.test(ch)) {
        if (runStart >= 0) out.push({ start: start + runStart, end: start + i });
        out.push({ start: start + i, end: start + i + ch.length });
        runStart = -1;
      } else if (runStart < 0) {
        runStart = i;
      }
      i += ch.length;
    }
    if (runStart >= 0) out.push({ start: start + runStart, end: start + i });
  }
  return out;
}

/** Tokenizes a text word by word (see the module comment); every piece carries its word's span. */
export function tokenizeWithSpans(text: string, opts: Pick<QaWindowOptions, 'pieces' | 'unkId' | 'splitPunctuation'>): ContextToken[] {
  const out: ContextToken[] = [];
  wordSpans(text, opts).forEach((span, word) => {
    const ids = opts.pieces(text.slice(span.start, span.end));
    for (const id of ids.length === 0 ? [opts.unkId] : ids) out.push({ id, start: span.start, end: span.end, word });
  });
  return out;
}

/**
 * Token range [first, last] covering the character span [start, end) of the context, or
 * undefined when no token overlaps it.
 */
export function tokenRangeOfSpan(tokens: readonly CharSpan[], start: number, end: number): [number, number] | undefined {
  let first = -1;
  let last = -1;
  tokens.forEach((t, i) => {
    if (t.end > start && t.start < end) {
      if (first < 0) first = i;
      last = i;
    }
  });
  return first < 0 ? undefined : [first, last];
}

/**
 * Builds the windows of one example (see the module comment).
 *
 * @example
 * ```ts
 * const windows = buildQaWindows(example, { pieces, clsId: 101, sepId: 102, unkId: 100, maxLength: 384, stride: 128 });
 * windows[0].inputIds.slice(0, 3); // [101, ...question ids]
 * ```
 */
export function buildQaWindows(example: QaExample, opts: QaWindowOptions): QaWindow[] {
  const maxQuestion = opts.maxQuestionLength ?? 64;
  const question = tokenizeWithSpans(example.question, opts).slice(0, maxQuestion).map((t) => t.id);
  const context = tokenizeWithSpans(example.context, opts);
  const budget = opts.maxLength - question.length - 3;
  if (!Number.isInteger(opts.maxLength) || budget < 1) {
    fail('BAD_CONFIG', `maxLength ${opts.maxLength} leaves no room for context after a ${question.length}-token question and 3 special tokens (question ${example.id})`);
  }
  if (!Number.isInteger(opts.stride) || opts.stride < 0 || opts.stride >= budget) {
    fail('BAD_CONFIG', `stride ${opts.stride} must be an integer in [0, ${budget - 1}]: it is the overlap of windows holding ${budget} context tokens (maxLength ${opts.maxLength}, question ${question.length} tokens)`);
  }
  const answer = example.isImpossible || example.answers.length === 0 ? undefined : example.answers[0];
  const answerTokens = answer === undefined ? undefined : tokenRangeOfSpan(context, answer.start, answer.start + answer.text.length);
  const step = budget - opts.stride;
  const prefix = [opts.clsId, ...question, opts.sepId];
  const out: QaWindow[] = [];
  for (let first = 0; ; first += step) {
    const length = Math.min(budget, context.length - first);
    const chunk = context.slice(first, first + length);
    const inputIds = [...prefix, ...chunk.map((t) => t.id), opts.sepId];
    const tokenTypeIds = inputIds.map((_, i) => (i < prefix.length ? 0 : 1));
    const offsets: Array<CharSpan | null> = inputIds.map(() => null);
    chunk.forEach((t, k) => (offsets[prefix.length + k] = { start: t.start, end: t.end }));
    let startPosition = 0;
    let endPosition = 0;
    if (answerTokens !== undefined && answerTokens[0] >= first && answerTokens[1] < first + length) {
      startPosition = prefix.length + answerTokens[0] - first;
      endPosition = prefix.length + answerTokens[1] - first;
    }
    out.push({
      exampleId: example.id,
      index: out.length,
      inputIds,
      tokenTypeIds,
      offsets,
      contextOffset: prefix.length,
      firstContextToken: first,
      contextLength: length,
      startPosition,
      endPosition,
    });
    if (first + length >= context.length) break;
  }
  return out;
}
