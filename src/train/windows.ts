/**
 * Strided windows over long texts for sentence-level tasks (classification, regression,
 * multi-label), as the QA path windows its contexts: a text longer than the max length is cut
 * into windows of at most max-length tokens, each sharing `overlap` tokens with the one before,
 * every window is scored, and the text's prediction is made from the mean of its windows' logits.
 * A text that fits is one window, scored exactly as without windows.
 *
 * A window is the base's own encoding of a span of the text's word pieces: the ids its tokenizer
 * puts before and after a text (BERT: [CLS] and [SEP]; USE-lite: none), around the pieces.
 */
import { fail } from '../errors.js';
import type { TaskModel } from './task-model.js';
import type { Example } from './data/types.js';
import { tokenizeAll, type TokenizedExample } from './batching.js';
import { wordPieces } from './token-tasks/pieces.js';
import { wordSpans } from './tokens/qa-windows.js';

/** Token rows of windows, and which text each row belongs to. */
export interface WindowRows {
  /** One row per window, `index` numbering the rows. */
  readonly rows: readonly TokenizedExample[];
  /** `owner[r]`: the index of the text of row `r`. */
  readonly owner: readonly number[];
}

/** The ids a base's tokenizer puts before and after a single text, found by encoding one word. */
function wrapping(model: TaskModel): { prefix: number[]; suffix: number[] } {
  const wp = wordPieces(model.base);
  const probe = 'the';
  const pieces = wp.pieces(probe);
  const b = model.base.tokenizer.encode([probe], Math.min(16, model.base.encoder.maxLength));
  const row = Array.from(b.inputIds.subarray(0, b.lengths[0] ?? 0));
  for (let at = 0; at + pieces.length <= row.length; at++) {
    if (pieces.every((id, k) => row[at + k] === id)) return { prefix: row.slice(0, at), suffix: row.slice(at + pieces.length) };
  }
  return fail('UNSUPPORTED_MODEL', `the tokenizer of base ${model.base.id} encodes a word other than as its word pieces, so long texts cannot be windowed`);
}

/**
 * The window rows of single-text examples: texts that fit give their usual row; longer ones give
 * windows of `maxLength` tokens overlapping by `overlap` tokens (capped at half a window's pieces).
 */
export function windowRows(model: TaskModel, examples: readonly Example[], o: { maxLength: number; overlap: number }): WindowRows {
  if (model.head.pair) fail('BAD_CONFIG', 'strided windows apply to single-text tasks; this task takes sentence pairs');
  if (!(Number.isInteger(o.overlap) && o.overlap >= 0)) fail('BAD_CONFIG', `window overlap must be a non-negative integer, got ${o.overlap}`);
  const plain = tokenizeAll(model.base.tokenizer, examples, false, o.maxLength);
  if (!plain.some((r) => r.truncated)) return { rows: plain.map((r, i) => ({ ...r, index: i })), owner: plain.map((_, i) => i) };
  const wp = wordPieces(model.base);
  const { prefix, suffix } = wrapping(model);
  const budget = o.maxLength - prefix.length - suffix.length;
  if (budget < 2) fail('BAD_CONFIG', `max length ${o.maxLength} leaves ${budget} token(s) per window after the base's special tokens`);
  const step = budget - Math.min(o.overlap, Math.floor(budget / 2));
  const rows: TokenizedExample[] = [];
  const owner: number[] = [];
  plain.forEach((row, i) => {
    if (!row.truncated) {
      rows.push({ ...row, index: rows.length });
      owner.push(i);
      return;
    }
    const text = (examples[i] as Example).textA;
    const pieces = wordSpans(text, { splitPunctuation: wp.splitPunctuation }).flatMap((s) => [...wp.pieces(text.slice(s.start, s.end))]);
    // the first window must be the tokenizer's own truncated encoding, else windows would not be what the model was trained on
    const head = Array.from(row.ids.subarray(prefix.length, row.ids.length - suffix.length));
    if (!head.every((id, k) => pieces[k] === id)) {
      fail('UNSUPPORTED_MODEL', `the tokenizer of base ${model.base.id} encodes example ${(examples[i] as Example).id} other than as its word pieces, so it cannot be windowed`);
    }
    for (let start = 0; ; start += step) {
      const ids = Int32Array.from([...prefix, ...pieces.slice(start, start + budget), ...suffix]);
      rows.push({ index: rows.length, ids, types: new Int32Array(ids.length), truncated: false });
      owner.push(i);
      if (start + budget >= pieces.length) break;
    }
  });
  return { rows, owner };
}
