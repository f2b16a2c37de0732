/**
 * Hugging Face `config.json` of MPNet (Song et al. 2020), normalised. MPNet is BERT's post-norm
 * layer with two differences in how it sees positions: absolute position embeddings counted as
 * RoBERTa counts them (from padding_idx + 1 over non-padding tokens, padding_idx fixed at 1 as
 * Hugging Face's `MPNetEmbeddings` fixes it), and a T5-style relative position bias
 * (`encoder.relative_attention_bias`, `relative_attention_num_buckets` x heads) computed once from
 * the relative distances and added to every layer's attention scores. It has no token types.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { CONFIG_LIMITS, activation, num, type Activation } from '../bert/config.js';

/**
 * The buckets Hugging Face's `MPNetEncoder.compute_position_bias` uses: it always calls the bucket
 * function with its defaults (32 buckets, max distance 128), whatever `relative_attention_num_buckets`
 * says, and looks them up in the `relative_attention_num_buckets`-row embedding.
 */
export const MPNET_BUCKETS = { buckets: 32, maxDistance: 128 } as const;

/** The padding index MPNet's position ids are counted from (Hugging Face fixes it at 1). */
export const MPNET_PADDING_IDX = 1;

/** A normalised MPNet configuration. */
export interface MpnetConfig {
  readonly modelType: 'mpnet';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly activation: Activation;
  readonly activationName: string;
  readonly layerNormEps: number;
  readonly maxPositions: number;
  /** Rows of `encoder.relative_attention_bias` (`relative_attention_num_buckets`). */
  readonly relativeBuckets: number;
  readonly padTokenId: number;
  readonly hiddenDropout: number;
  readonly attentionDropout: number;
  /** Longest input: max_position_embeddings - padding_idx - 1 (positions start at padding_idx + 1). */
  readonly maxLength: number;
}

type Json = Record<string, unknown>;

/** Parses an MPNet config.json object (MPNetConfig's defaults for absent fields); `file` names it in errors. */
export function parseMpnetConfig(c: Json, file = 'config.json'): MpnetConfig {
  if (c.model_type !== 'mpnet') fail('UNSUPPORTED_MODEL', `${file}: model_type ${describeValue(c.model_type)} is not mpnet`);
  const maxPositions = num(c, 'max_position_embeddings', file, 512);
  const act = c.hidden_act ?? 'gelu';
  return check({
    modelType: 'mpnet', vocabSize: num(c, 'vocab_size', file, 30527), hiddenSize: num(c, 'hidden_size', file, 768),
    numLayers: num(c, 'num_hidden_layers', file, 12), numHeads: num(c, 'num_attention_heads', file, 12),
    intermediateSize: num(c, 'intermediate_size', file, 3072), activation: activation(act, file, 'hidden_act'), activationName: String(act),
    layerNormEps: num(c, 'layer_norm_eps', file, 1e-12), maxPositions, relativeBuckets: num(c, 'relative_attention_num_buckets', file, 32),
    padTokenId: num(c, 'pad_token_id', file, 1),
    hiddenDropout: num(c, 'hidden_dropout_prob', file, 0.1), attentionDropout: num(c, 'attention_probs_dropout_prob', file, 0.1),
    maxLength: maxPositions - MPNET_PADDING_IDX - 1,
  }, file);
}

function check(c: MpnetConfig, file: string): MpnetConfig {
  const sizes = {
    vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, numHeads: c.numHeads, intermediateSize: c.intermediateSize, maxPositions: c.maxPositions,
  };
  for (const [k, v] of Object.entries({ ...sizes, relativeBuckets: c.relativeBuckets })) {
    if (!Number.isInteger(v) || v <= 0) fail('UNSUPPORTED_MODEL', `${file}: ${k} must be a positive integer, got ${v}`);
  }
  for (const [k, v] of Object.entries(sizes)) {
    const limit = CONFIG_LIMITS[k as keyof typeof CONFIG_LIMITS];
    if (v > limit) fail('UNSUPPORTED_MODEL', `${file}: ${k} ${v} is larger than adapterkit supports (at most ${limit})`);
  }
  if (c.relativeBuckets < MPNET_BUCKETS.buckets || c.relativeBuckets > 1 << 16) {
    fail('UNSUPPORTED_MODEL', `${file}: relative_attention_num_buckets ${c.relativeBuckets} must be between ${MPNET_BUCKETS.buckets} and ${1 << 16}: MPNet looks up ${MPNET_BUCKETS.buckets} relative-position buckets in that table`);
  }
  if (c.hiddenSize % c.numHeads !== 0) fail('UNSUPPORTED_MODEL', `${file}: hidden size ${c.hiddenSize} is not divisible by the number of attention heads ${c.numHeads}`);
  if (!(c.layerNormEps > 0)) fail('UNSUPPORTED_MODEL', `${file}: layer_norm_eps must be positive`);
  if (!Number.isInteger(c.padTokenId) || c.padTokenId < 0 || c.padTokenId >= c.vocabSize) {
    fail('UNSUPPORTED_MODEL', `${file}: pad_token_id ${c.padTokenId} is not a token id of the ${c.vocabSize}-token vocabulary`);
  }
  if (MPNET_PADDING_IDX >= c.vocabSize) fail('UNSUPPORTED_MODEL', `${file}: vocab_size ${c.vocabSize} has no token ${MPNET_PADDING_IDX}, MPNet's padding index`);
  if (!(c.maxLength >= 1)) fail('UNSUPPORTED_MODEL', `${file}: max_position_embeddings ${c.maxPositions} leaves no room for any token (positions start at ${MPNET_PADDING_IDX + 1})`);
  for (const [k, p] of [['hidden dropout', c.hiddenDropout], ['attention dropout', c.attentionDropout]] as const) {
    if (!(p >= 0 && p < 1)) fail('UNSUPPORTED_MODEL', `${file}: ${k} ${p} must be at least 0 and below 1`);
  }
  return c;
}

/**
 * The bucket of relative position `r` = key position - query position, as MPNet's (T5's
 * bidirectional) bucketing computes it with its 32 buckets and max distance 128: buckets 0..15 for
 * keys at or before the query, 16..31 for keys after it; distances below 8 get a bucket each, longer
 * ones share logarithmically spaced buckets, `8 + floor(log(n / 8) / log(16) * 8)` capped at 15.
 * That term is `floor(log2(n^2 / 64))`, computed here exactly on integers, so no float rounding
 * decides a bucket (the fixtures check it against PyTorch's float computation for |r| <= 600).
 */
export function relativeBucket(r: number): number {
  const half = MPNET_BUCKETS.buckets / 2; // 16
  const exact = half / 2; // 8
  const n = -r; // query position - key position
  const offset = n < 0 ? half : 0;
  const a = Math.abs(n);
  if (a < exact) return offset + a;
  let k = 0; // the largest k with 2^(k + 6) <= a^2
  while (2 ** (k + 7) <= a * a) k++;
  return offset + Math.min(exact + k, half - 1);
}
