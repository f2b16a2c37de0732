/**
 * Sub-word alignment for tagging: turns a pre-split sentence into one model row and maps
 * per-position predictions back to words.
 *
 * Row layout: `[CLS] pieces(word 0)... pieces(word n-1)... [SEP]` (either special left out when
 * its id is not given, e.g. for USE-lite's SentencePiece which has none). Only the FIRST piece of
 * each word carries the word's label; other pieces and the specials get {@link IGNORE_LABEL}
 * (-100, the index PyTorch's cross-entropy ignores). A word whose piece function returns no ids
 * (e.g. only characters the tokenizer's cleaning removes) still gets one position, `unkId`, so
 * every kept word has a prediction. Words are kept whole and in order: the first word whose
 * pieces do not all fit in `maxLength` and every word after it are dropped and counted.
 *
 * Shapes: L = row length (<= maxLength), W = number of words.
 */
import { fail } from '../../errors.js';

/** Label of positions the loss ignores. */
export const IGNORE_LABEL = -100;

/** Word index of positions that belong to no word (specials). */
export const NO_WORD = -1;

/** Options for {@link alignWords}. */
export interface AlignOptions {
  /** Token ids of one word, without special tokens; generic over the tokenizer. */
  pieces: (word: string) => readonly number[];
  /** Id put first in the row; omit for tokenizers without one. */
  clsId?: number;
  /** Id put last in the row; omit for tokenizers without one. */
  sepId?: number;
  /** Id used for a word that has no pieces. */
  unkId: number;
  /** Longest row, specials included. */
  maxLength: number;
}

/** One aligned row. */
export interface AlignedRow {
  /** [L] token ids. */
  inputIds: number[];
  /** [L] index of the word each position belongs to, {@link NO_WORD} for specials. */
  wordIds: number[];
  /** [L] tag index at the first piece of each word, {@link IGNORE_LABEL} elsewhere; all ignored when no labels were given. */
  labels: number[];
  /** [kept words] position of each kept word's first piece. */
  firstPositions: number[];
  /** Words kept (a prefix of the sentence). */
  keptWords: number;
  /** Words dropped at the end because they did not fit. */
  droppedWords: number;
}

/**
 * Aligns words (and optional per-word tag indexes) to word pieces.
 *
 * @example
 * ```ts
 * // pieces: 'Johanson' -> [7, 8], 'lives' -> [9]
 * alignWords(['Johanson', 'lives'], [1, 0], { pieces, clsId: 101, sepId: 102, unkId: 100, maxLength: 16 });
 * // { inputIds: [101, 7, 8, 9, 102], wordIds: [-1, 0, 0, 1, -1], labels: [-100, 1, -100, 0, -100],
 * //   firstPositions: [1, 3], keptWords: 2, droppedWords: 0 }
 * ```
 */
export function alignWords(words: readonly string[], labels: readonly number[] | undefined, opts: AlignOptions): AlignedRow {
  if (labels !== undefined && labels.length !== words.length) {
    fail('BAD_DATA', `${words.length} words but ${labels.length} labels`);
  }
  const specials = (opts.clsId === undefined ? 0 : 1) + (opts.sepId === undefined ? 0 : 1);
  if (!Number.isInteger(opts.maxLength) || opts.maxLength < specials + 1) {
    fail('BAD_CONFIG', `maxLength must be an integer of at least ${specials + 1} (room for the specials and one piece), got ${opts.maxLength}`);
  }
  const budget = opts.maxLength - specials;
  const inputIds: number[] = [];
  const wordIds: number[] = [];
  const out: number[] = [];
  const firstPositions: number[] = [];
  if (opts.clsId !== undefined) {
    inputIds.push(opts.clsId);
    wordIds.push(NO_WORD);
    out.push(IGNORE_LABEL);
  }
  let used = 0;
  let kept = 0;
  for (; kept < words.length; kept++) {
    const got = opts.pieces(words[kept] as string);
    const ids = got.length === 0 ? [opts.unkId] : got;
    if (used + ids.length > budget) break;
    firstPositions.push(inputIds.length);
    ids.forEach((id, k) => {
      inputIds.push(id);
      wordIds.push(kept);
      out.push(k === 0 && labels !== undefined ? (labels[kept] as number) : IGNORE_LABEL);
    });
    used += ids.length;
  }
  if (opts.sepId !== undefined) {
    inputIds.push(opts.sepId);
    wordIds.push(NO_WORD);
    out.push(IGNORE_LABEL);
  }
  return { inputIds, wordIds, labels: out, firstPositions, keptWords: kept, droppedWords: words.length - kept };
}

/**
 * Per-word predictions from per-position predictions: each word takes the prediction at its
 * first piece. Words beyond the row (dropped by truncation) get `fill`.
 *
 * @param row The aligned row (its `wordIds`).
 * @param positionPredictions [L or more] prediction per position (e.g. argmax tag index); padding past L is ignored.
 * @param numWords Words in the original sentence.
 *
 * @example
 * ```ts
 * wordPredictions({ wordIds: [-1, 0, 0, 1, -1] }, [0, 3, 4, 2, 0], 3); // [3, 2, -1]
 * ```
 */
export function wordPredictions<T = number>(
  row: Pick<AlignedRow, 'wordIds'>,
  positionPredictions: ArrayLike<T>,
  numWords: number,
  fill: T = -1 as T,
): T[] {
  if (positionPredictions.length < row.wordIds.length) {
    fail('BAD_DATA', `${positionPredictions.length} position predictions for a row of ${row.wordIds.length} positions`);
  }
  const out = new Array<T>(numWords).fill(fill);
  const seen = new Array<boolean>(numWords).fill(false);
  row.wordIds.forEach((w, pos) => {
    if (w < 0 || w >= numWords || seen[w]) return;
    seen[w] = true;
    out[w] = positionPredictions[pos] as T;
  });
  return out;
}
