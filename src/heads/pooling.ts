/**
 * What a sentence-level head reads: the encoder's own sentence representation, or a pooling of the
 * last hidden state chosen per head.
 *
 * - `encoder`: the family's `pooled` output (BERT-style poolers: tanh(dense) over the first token
 *   where the checkpoint has a pooler, the first token's hidden state otherwise; USE-lite its masked
 *   mean and projection). The default, and what every head did before heads had a pooling.
 * - `cls`: the first token's last hidden state (no pooler).
 * - `mean`: the mean of the last hidden state over the real tokens of the attention mask, as
 *   sentence-transformers pool (all-mpnet-base-v2, all-MiniLM-L6-v2).
 *
 * Which one a sentence-level head reads ({@link headPoolingFor}): the one asked for (`--pooling`,
 * `HeadConfig.pooling`), else the one a sentence-transformers checkpoint declares in its Pooling
 * module's config.json (models/sentence-transformers.ts: cls or mean; other modes are refused),
 * else `encoder`.
 */
import { cast, div, gather, less, mul, reduceSum, unsqueeze, where, type Value } from '../engine/index.js';
import type { BaseModel } from '../models/base-model.js';
import type { Encoder, EncoderOutputs } from '../models/encoder.js';
import { sentencePooling } from '../models/sentence-transformers/config.js';

/** How a sentence-level head pools the encoder's output. */
export type HeadPooling = 'encoder' | 'cls' | 'mean';

/** Every pooling, default first. */
export const HEAD_POOLINGS: readonly HeadPooling[] = ['encoder', 'cls', 'mean'];

/** One line per pooling, for help texts and docs. */
export const POOLING_HELP: Readonly<Record<HeadPooling, string>> = {
  encoder: 'the base\'s own sentence vector (its pooler over the first token, or the first token when it has none; USE-lite its mean + projection)',
  cls: 'the first token\'s last hidden state, without a pooler',
  mean: 'the mean of the last hidden state over the real (unpadded) tokens, as sentence-transformers pool',
};

/** Mean of `hidden` [B, T, D] over the tokens where `attentionMask` [B, T] is 1: sum(mask * h) / max(count, 1), [B, D]. */
export function maskedMean(hidden: Value, attentionMask: Value): Value {
  const real = unsqueeze(cast(attentionMask, hidden.dtype), [2]); // [B, T, 1]
  const sum = reduceSum(mul(hidden, real), [1]); // [B, D]
  const count = reduceSum(real, [1]); // [B, 1]
  return div(sum, where(less(count, 1), 1, count)); // [B, D]
}

/**
 * The input of a sentence-level head with `pooling` from an encoder's outputs; `inputMask` is the
 * graph's attention mask, used when the encoder does not report the mask its last layer saw.
 */
export function pooledInput(pooling: HeadPooling, out: EncoderOutputs, inputMask: Value): Value {
  if (pooling === 'encoder') return out.pooled;
  if (pooling === 'cls') return gather(out.hidden, out.hidden.graph.literal('int64', 0), 1); // [B, D]
  return maskedMean(out.hidden, out.attentionMask ?? inputMask); // [B, D]
}

/** Width of what a sentence-level head with `pooling` reads on `enc`. */
export function pooledWidth(pooling: HeadPooling, enc: Encoder): number {
  return pooling === 'encoder' ? enc.pooledSize : enc.outputWidth;
}

/** A head pooling and where it was decided, for plans. */
export interface ChosenPooling {
  readonly pooling: HeadPooling;
  /** `--pooling`, the checkpoint's file and field (`1_Pooling/config.json: pooling_mode_mean_tokens`), or `default`. */
  readonly from: string;
}

/**
 * The pooling of a sentence-level head on `base`: `asked` (the --pooling flag) when given, else
 * the pooling the base's sentence-transformers config declares, else `encoder`. A declared mode
 * adapterkit does not have (max, weightedmean, lasttoken, ...) is an UNSUPPORTED_MODEL error that
 * names the field, unless `asked` overrides it.
 */
export function headPoolingFor(asked: HeadPooling | undefined, base: Pick<BaseModel, 'encoder' | 'sentenceTransformers'>): ChosenPooling {
  if (asked !== undefined) return { pooling: asked, from: '--pooling' };
  const declared = sentencePooling(base.sentenceTransformers, base.encoder.outputWidth);
  return declared ?? { pooling: 'encoder', from: 'default' };
}
