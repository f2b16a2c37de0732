/**
 * SentencePiece (unigram) tokenizer for Universal Sentence Encoder-lite, producing the same ids as
 * the tokenizer that ships with the TF.js USE model (tensorflow/tfjs-models
 * `universal-sentence-encoder`), quirks included, so that our encoder sees exactly the ids the
 * original graph was fed.
 *
 * Ids are positions in `vocab.json` (8,000 `[piece, score]` pairs) and index the embedding matrix
 * directly. Id 0 (`"�"`) is the unknown token; ids 1–5 (`<s>`, `</s>`, `extra_token_id_1..3`) are
 * reserved and never produced. The embedding matrix has 8,002 rows: rows 8000 and 8001 are trained
 * rows with no vocabulary piece (out-of-vocabulary buckets of the original TF Hub module); this
 * tokenizer never produces them.
 *
 * The algorithm (see docs/use-lite.md for the full description):
 * 1. NFKC-normalise; an empty result encodes to `[]`.
 * 2. Prefix `"▁"` (U+2581) and replace every ASCII space U+0020 with `"▁"` (no trimming, no
 *    collapsing of runs; tabs and newlines stay and become unknowns).
 * 3. Split into code points; at each position list every vocabulary piece (ids ≥ 6) that starts
 *    there; when none does, a one-code-point unknown (id 0, score 0) is used.
 * 4. Viterbi over end positions, ascending; the candidates ending at a position are visited by
 *    ascending start; a candidate replaces the current best when the best is still exactly 0 or the
 *    candidate's total score is `>=` the best (later ties win). Scores are the pieces' log
 *    probabilities, so 0 also means "unset" — a quirk kept on purpose. A position no edge reaches
 *    keeps best 0, so an edge leaving it scores as if the text so far were free.
 * 5. Walk back from the end by each chosen piece's length; merge runs of unknowns into one id 0.
 * When a piece string appears twice in the vocabulary, the later id wins (`"”5"` is ids 230, 238
 * and 4464 in USE-lite; only 4464 is ever produced). A `null` score counts as 0 (see
 * {@link parseSentencePieceVocabulary}).
 */

import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';

/** A SentencePiece vocabulary: `[piece, log-probability score]`, position = id. */
export type SentencePieceVocabulary = ReadonlyArray<readonly [string, number]>;

/** Id of the unknown piece. */
export const UNKNOWN_ID = 0;
/** Ids below this are reserved (unknown, control and user-defined symbols) and never matched. */
export const RESERVED_IDS = 6;
/** Longest token sequence the USE-lite graph reads; later tokens are dropped. */
export const USE_LITE_MAX_TOKENS = 128;
/** Id written into padding slots of {@link UseLiteBatch.inputIds} (masked out by `attentionMask`). */
export const PAD_ID = 0;
/** The word-boundary marker, U+2581 LOWER ONE EIGHTH BLOCK. */
export const WORD_BOUNDARY = '\u2581';

/** A padded batch of token ids, ready for the encoder. */
export interface UseLiteBatch {
  /** Number of rows (texts). */
  readonly batchSize: number;
  /** Padded length: the longest row after truncation, at least 1. */
  readonly seqLen: number;
  /** Row-major `[batchSize, seqLen]` ids; padding slots hold {@link PAD_ID}. */
  readonly inputIds: Int32Array;
  /** Row-major `[batchSize, seqLen]`: 1 for a real token, 0 for padding. */
  readonly attentionMask: Int32Array;
  /** Real tokens per row after truncation (may be 0 for an empty text). */
  readonly lengths: number[];
  /** Whether each row was cut to `maxTokens`. */
  readonly truncated: boolean[];
}

/** Options of {@link SentencePieceTokenizer.encodeBatch}. */
export interface EncodeBatchOptions {
  /** Keep at most this many leading tokens per row (default {@link USE_LITE_MAX_TOKENS}). */
  readonly maxTokens?: number;
}

/** A trie node over code points; `id` is set where a piece ends. */
interface TrieNode {
  children: Map<string, TrieNode>;
  id: number;
  score: number;
}

function newNode(): TrieNode {
  return { children: new Map(), id: -1, score: 0 };
}

/**
 * Validates a parsed `vocab.json` value and returns it with every score a number.
 *
 * A `null` score is read as 0: the USE-lite `vocab.json` has `null` for the seven pieces that
 * contain ":" (`":"`, `"://"`, `"▁:"`, `"▁:)"`, `"▁:("`, `"):"`, `"▁:-)"`), and the original
 * JavaScript tokenizer adds that `null` to a number, which counts it as 0 — so these pieces get
 * the best possible score. Keeping that is what makes our ids equal the original's.
 *
 * @param source file name used in error messages.
 * @throws AdapterkitError BAD_FILE naming the entry that is not a `[string, number | null]` pair.
 */
export function parseSentencePieceVocabulary(json: unknown, source: string): SentencePieceVocabulary {
  if (!Array.isArray(json) || json.length <= RESERVED_IDS) {
    fail('BAD_FILE', `${source}: expected an array of more than ${RESERVED_IDS} [piece, score] pairs`);
  }
  return json.map((entry: unknown, i): readonly [string, number] => {
    if (
      !Array.isArray(entry) ||
      entry.length !== 2 ||
      typeof entry[0] !== 'string' ||
      entry[0] === '' ||
      !(entry[1] === null || (typeof entry[1] === 'number' && Number.isFinite(entry[1])))
    ) {
      fail('BAD_FILE', `${source}: entry ${i} must be [non-empty string, finite number or null], got ${describeValue(entry)}`);
    }
    return [entry[0], entry[1] ?? 0];
  });
}

/**
 * Unigram SentencePiece tokenizer with the exact behaviour of the TF.js USE tokenizer.
 *
 * @example
 * ```ts
 * const tok = await loadSentencePieceTokenizer(); // package-files.ts (Node), or new SentencePieceTokenizer(vocabulary)
 * tok.encode('Hello world.'); // [341, 4125, 311, 6]  (▁H, ello, ▁world, .)
 * ```
 */
export class SentencePieceTokenizer {
  /** Number of vocabulary entries (8,000 for USE-lite). */
  readonly vocabSize: number;
  private readonly pieces: readonly string[];
  private readonly root: TrieNode = newNode();

  /** Builds the matcher; ids below {@link RESERVED_IDS} are never matched. */
  constructor(vocabulary: SentencePieceVocabulary) {
    this.vocabSize = vocabulary.length;
    this.pieces = vocabulary.map(([piece]) => piece);
    for (let id = RESERVED_IDS; id < vocabulary.length; id++) {
      const [piece, score] = vocabulary[id] as readonly [string, number];
      let node = this.root;
      for (const ch of piece) {
        let child = node.children.get(ch);
        if (child === undefined) {
          child = newNode();
          node.children.set(ch, child);
        }
        node = child;
      }
      node.id = id; // a repeated piece: the later id wins
      node.score = score;
    }
  }

  /** The piece string of an id (`"�"` for the unknown id 0). */
  piece(id: number): string {
    const p = this.pieces[id];
    if (p === undefined) fail('BAD_DATA', `token id ${id} is outside the vocabulary of ${this.vocabSize} pieces`);
    return p;
  }

  /** Encodes one text to ids, not truncated (the model reads only the first 128). */
  encode(text: string): number[] {
    const normalized = text.normalize('NFKC');
    if (normalized.length === 0) return [];
    const symbols = Array.from(WORD_BOUNDARY + normalized.replaceAll(' ', WORD_BOUNDARY));
    const n = symbols.length;

    // Candidate pieces by end position, in ascending start order: [start, id, score] triples.
    const ending: number[][] = Array.from({ length: n + 1 }, () => []);
    for (let start = 0; start < n; start++) {
      let node: TrieNode | undefined = this.root;
      let found = false;
      for (let end = start; end < n && node !== undefined; end++) {
        node = node.children.get(symbols[end] as string);
        if (node !== undefined && node.id >= 0) {
          (ending[end + 1] as number[]).push(start, node.id, node.score);
          found = true;
        }
      }
      if (!found) (ending[start + 1] as number[]).push(start, UNKNOWN_ID, 0);
    }

    // Viterbi, keeping the original's tie and "0 means unset" rules.
    const best = new Float64Array(n + 1);
    const chosen = new Int32Array(n + 1);
    for (let end = 1; end <= n; end++) {
      const cands = ending[end] as number[];
      for (let c = 0; c < cands.length; c += 3) {
        const score = (cands[c + 2] as number) + (best[cands[c] as number] as number);
        if (best[end] === 0 || score >= (best[end] as number)) {
          best[end] = score;
          chosen[end] = cands[c + 1] as number;
        }
      }
    }

    // Backward pass: step back by the chosen piece's length (UTF-16 length, as the original).
    const reversed: number[] = [];
    for (let pos = n; pos > 0; ) {
      const id = chosen[pos] as number;
      if (!(id === UNKNOWN_ID && reversed[reversed.length - 1] === UNKNOWN_ID)) reversed.push(id);
      pos -= (this.pieces[id] as string).length;
    }
    return reversed.reverse();
  }

  /**
   * Encodes texts into one padded batch: rows cut to `maxTokens` (keeping the first tokens, as
   * the USE graph does), padded with {@link PAD_ID} to the longest row (at least 1 column).
   *
   * @throws AdapterkitError BAD_CONFIG when `maxTokens` is not a positive integer.
   */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): UseLiteBatch {
    const maxTokens = options.maxTokens ?? USE_LITE_MAX_TOKENS;
    if (!Number.isInteger(maxTokens) || maxTokens < 1) fail('BAD_CONFIG', `maxTokens must be a positive integer, got ${maxTokens}`);
    const rows = texts.map((t) => this.encode(t));
    const lengths = rows.map((r) => Math.min(r.length, maxTokens));
    const truncated = rows.map((r) => r.length > maxTokens);
    const seqLen = Math.max(1, ...lengths);
    const inputIds = new Int32Array(texts.length * seqLen).fill(PAD_ID);
    const attentionMask = new Int32Array(texts.length * seqLen);
    rows.forEach((row, b) => {
      const len = lengths[b] as number;
      inputIds.set(row.slice(0, len), b * seqLen);
      attentionMask.fill(1, b * seqLen, b * seqLen + len);
    });
    return { batchSize: texts.length, seqLen, inputIds, attentionMask, lengths, truncated };
  }
}
