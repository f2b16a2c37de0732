/**
 * What a base model is, independent of where it was loaded from: the {@link BaseModel} record,
 * the tokenizer interface the task model sees, the adapter from a Hugging Face tokenizer, and the
 * base's fingerprint and size. No file access, so it runs in Node and in a browser; loading a
 * base from disk or the hub is base.ts.
 */
import { sha256 } from '../util/sha256-node.js';
import type { EncoderWeights, Encoder } from './encoder.js';
import type { SentenceTransformersConfig } from './sentence-transformers/config.js';
import type { EncodedBatch, Tokenizer } from './tokenizers/types.js';

/** One input: a text or a text pair. */
export type TextInput = string | readonly [string, string];

/** What a base's tokenizer gives the task model. */
export interface BaseTokenizer {
  /** Encodes a batch, truncating each row to `maxLength` tokens and padding to the longest row. */
  encode(inputs: readonly TextInput[], maxLength: number): EncodedBatch;
  /** Summary for `adapterkit info`. */
  summary(): Record<string, unknown>;
  /** Id used for padding. */
  readonly padId: number;
  /**
   * Token ids of one pre-split word, without special tokens (for token-level tasks, which align
   * labels and character spans to words). Optional: tokenizers without it cannot serve tagging or QA.
   */
  pieceIds?(word: string): readonly number[];
  /** Special token ids for token-level tasks: `cls`/`sep` where the model has them (BERT), else `bos`/`eos` pieces; `unk` always. */
  readonly specialIds?: SpecialIds;
  /** Whether words split at punctuation before sub-word tokenization (WordPiece: true; SentencePiece: false). */
  readonly splitsPunctuation?: boolean;
}

/** Special token ids a token-level task needs; see {@link BaseTokenizer.specialIds}. */
export interface SpecialIds {
  readonly cls?: number;
  readonly sep?: number;
  /** Sequence-start / end pieces of tokenizers without CLS/SEP (USE-lite's `<s>`, `</s>`). */
  readonly bos?: number;
  readonly eos?: number;
  readonly unk: number;
}

/** A loaded base model. */
export interface BaseModel {
  /** Where it came from: `use-lite`, a path or a hub id (with revision). */
  readonly id: string;
  readonly encoder: Encoder;
  readonly weights: EncoderWeights;
  readonly tokenizer: BaseTokenizer;
  /** Files or packages read. */
  readonly sources: readonly string[];
  /**
   * The sentence-transformers pipeline of a checkpoint directory with a modules.json (its Pooling
   * and Normalize modules); absent for plain checkpoints. Sentence-level heads take their pooling
   * from it when none is chosen (heads/pooling.ts).
   */
  readonly sentenceTransformers?: SentenceTransformersConfig;
}

/** Ids of one text encoded alone, specials included (cut to the tokenizer's model_max_length). */
function encodeOne(tok: Tokenizer, text: string): number[] {
  const b = tok.encode([text], { maxLength: tok.modelMaxLength ?? 1 << 20, padding: 'longest', truncation: true });
  return Array.from(b.inputIds.subarray(0, b.lengths[0] ?? 0));
}

/**
 * Adapts a Hugging Face tokenizer to {@link BaseTokenizer}. `pieceIds` encodes the word alone
 * and strips the specials the tokenizer adds around a single text (found by encoding the empty
 * text: e.g. `[CLS]` before and `[SEP]` after); results are cached per word.
 */
export function hfBaseTokenizer(tok: Tokenizer): BaseTokenizer {
  let specials: { before: number; after: number; ids: SpecialIds } | undefined;
  const cache = new Map<string, readonly number[]>();
  const layout = () => {
    if (specials) return specials;
    const empty = encodeOne(tok, '');
    const probe = encodeOne(tok, 'a');
    let before = 0;
    while (before < empty.length && empty[before] === probe[before]) before++;
    const after = empty.length - before;
    const unkToken = tok.specialTokens['unk'];
    const unkIds = unkToken === undefined ? [] : encodeOne(tok, unkToken).slice(before, after > 0 ? -after : undefined);
    const unk = unkIds.length === 1 ? (unkIds[0] as number) : tok.padId;
    specials = {
      before, after,
      ids: { ...(before > 0 ? { cls: empty[0] as number } : {}), ...(after > 0 ? { sep: empty[empty.length - 1] as number } : {}), unk },
    };
    return specials;
  };
  return {
    encode: (inputs, maxLength) => tok.encode(inputs.map((x) => (typeof x === 'string' ? x : [x[0], x[1]])), { maxLength, padding: 'longest', truncation: true }),
    summary: () => tok.summary(),
    padId: tok.padId,
    pieceIds(word: string): readonly number[] {
      let hit = cache.get(word);
      if (!hit) {
        const { before, after } = layout();
        const ids = encodeOne(tok, word);
        hit = ids.slice(before, ids.length - after);
        if (cache.size < 200_000) cache.set(word, hit);
      }
      return hit;
    },
    get specialIds(): SpecialIds {
      return layout().ids;
    },
    // SentencePiece (Unigram) tokenizers keep punctuation inside words; WordPiece and byte-level BPE split it off.
    splitsPunctuation: tok.kind !== 'hf-unigram',
  };
}

const fingerprints = new WeakMap<BaseModel, string>();

/**
 * A fingerprint of a base: SHA-256 over the family, every weight's name and shape, and every
 * weight's bytes. Adapters record it; loading one onto a different base is refused.
 */
export function baseFingerprint(base: BaseModel): string {
  const hit = fingerprints.get(base);
  if (hit) return hit;
  const h = sha256();
  h.update(`${base.encoder.family}\n`);
  for (const s of base.encoder.weightSpecs) {
    const t = base.weights.get(s.name);
    h.update(`${s.name}:${s.shape.join('x')}\n`);
    if (t) h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  const fp = `sha256:${h.digestHex()}`;
  fingerprints.set(base, fp);
  return fp;
}

/** Parameter count of a base's weights. */
export function baseParamCount(base: BaseModel): number {
  let n = 0;
  for (const s of base.encoder.weightSpecs) n += s.shape.reduce((a, b) => a * b, 1);
  return n;
}
