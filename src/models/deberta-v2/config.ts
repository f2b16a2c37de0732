/**
 * Hugging Face `config.json` of DeBERTa-v2 / DeBERTa-v3 (He et al. 2021, model_type `deberta-v2`),
 * normalised. What DeBERTa changes in BERT's post-norm layer is the attention score: besides
 * content-to-content it adds content-to-position (`c2p`) and position-to-content (`p2c`) terms
 * over relative-position embeddings `encoder.rel_embeddings` (2k rows, k = the attention span),
 * indexed by the (log-bucketed) distance between query and key; the scores are scaled by
 * 1 / sqrt(Dh · (1 + number of position terms)). DeBERTa-v3 checkpoints use the same model type
 * with `position_biased_input: false` (no absolute positions), `share_att_key: true` (the
 * positions are projected by the layer's own query/key projections), `position_buckets: 256` and
 * `norm_rel_ebd: "layer_norm"`.
 *
 * Fields and defaults as transformers' DebertaV2Config and modeling_deberta_v2.py read them.
 * DeBERTa-v2-xlarge / xxlarge add a convolution after layer 0 (`conv_kernel_size` > 0, `conv_act`).
 * Unsupported values (an even kernel, `conv_groups` other than 1, `p2p`, a head size other than
 * hidden / heads) are errors naming the field.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { CONFIG_LIMITS, activation, num, type Activation } from '../bert/config.js';

/** The relative-position terms of the attention score. */
export type PositionTerm = 'c2p' | 'p2c';

/** A normalised DeBERTa-v2 configuration. */
export interface DebertaV2Config {
  readonly modelType: 'deberta-v2';
  readonly vocabSize: number;
  /** D */
  readonly hiddenSize: number;
  /** E: width of the embeddings (projected to D by `embeddings.embed_proj`, no bias, when E != D). */
  readonly embeddingSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly activation: Activation;
  readonly activationName: string;
  readonly layerNormEps: number;
  readonly maxPositions: number;
  /** Token type vocabulary (0: none, DeBERTa's default). */
  readonly typeVocabSize: number;
  readonly padTokenId: number;
  /** Whether absolute position embeddings are added to the word embeddings (`position_biased_input`). */
  readonly positionBiasedInput: boolean;
  /** Whether the relative-position terms are computed (`relative_attention`). */
  readonly relativeAttention: boolean;
  /** The position terms named by `pos_att_type` (they count in the scale even without relative attention). */
  readonly positionTerms: readonly PositionTerm[];
  /** `max_relative_positions` (the config's `max_position_embeddings` when below 1). */
  readonly maxRelativePositions: number;
  /** `position_buckets` (<= 0: no log buckets, distances are clamped to the span). */
  readonly positionBuckets: number;
  /** k: half the number of relative embeddings; `position_buckets` when > 0, else `max_relative_positions`. */
  readonly attentionSpan: number;
  /** Whether the positions are projected by the layer's query/key projections (`share_att_key`). */
  readonly shareAttentionKey: boolean;
  /** Whether the relative embeddings pass through `encoder.LayerNorm` (`norm_rel_ebd` contains "layer_norm"). */
  readonly normRelativeEmbeddings: boolean;
  /** Width K of the convolution after layer 0 (`conv_kernel_size`; 0: none). */
  readonly convKernelSize: number;
  /** Its nonlinearity (`conv_act`, default tanh). */
  readonly convActivation: Activation;
  readonly convActivationName: string;
  readonly poolerHiddenSize: number;
  readonly poolerActivation: Activation;
  readonly poolerActivationName: string;
  readonly poolerDropout: number;
  readonly hiddenDropout: number;
  readonly attentionDropout: number;
  /** Longest input the model accepts (max_position_embeddings). */
  readonly maxLength: number;
}

type Json = Record<string, unknown>;

function bool(c: Json, key: string, file: string, dflt: boolean): boolean {
  const v = c[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail('UNSUPPORTED_MODEL', `${file}: "${key}" must be true or false, got ${describeValue(v)}`);
  return v;
}

/** `pos_att_type`: a list (["p2c", "c2p"]) or a "|"-separated string ("c2p|p2c"), as DebertaV2Config accepts. */
function positionTerms(v: unknown, file: string): PositionTerm[] {
  if (v === undefined || v === null) return [];
  const items = typeof v === 'string' ? v.toLowerCase().split('|').map((s) => s.trim()) : v;
  if (!Array.isArray(items) || items.some((x) => typeof x !== 'string')) fail('UNSUPPORTED_MODEL', `${file}: "pos_att_type" must be a list of "c2p" / "p2c" or a "|"-separated string, got ${describeValue(v)}`);
  const out: PositionTerm[] = [];
  for (const t of items as string[]) {
    if (t === '' ) continue;
    if (t !== 'c2p' && t !== 'p2c') fail('UNSUPPORTED_MODEL', `${file}: pos_att_type ${describeValue(t)} is not supported (supported: c2p, p2c)`);
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

/** Parses a DeBERTa-v2 config.json object; `file` names it in errors. */
export function parseDebertaV2Config(c: Json, file = 'config.json'): DebertaV2Config {
  if (c.model_type !== 'deberta-v2') fail('UNSUPPORTED_MODEL', `${file}: model_type ${describeValue(c.model_type)} is not deberta-v2`);
  const conv = num(c, 'conv_kernel_size', file, 0);
  if (conv > 0 && (!Number.isInteger(conv) || conv % 2 === 0)) fail('UNSUPPORTED_MODEL', `${file}: conv_kernel_size ${conv} is not supported; only odd kernel sizes (the convolution keeps the sequence length), or 0 for none`);
  const groups = num(c, 'conv_groups', file, 1);
  if (conv > 0 && groups !== 1) fail('UNSUPPORTED_MODEL', `${file}: conv_groups ${groups} is not supported; only 1`);
  const convAct = c.conv_act ?? 'tanh';
  const hidden = num(c, 'hidden_size', file);
  const heads = num(c, 'num_attention_heads', file);
  const headSize = c.attention_head_size;
  if (headSize !== undefined && headSize !== null && headSize !== hidden / heads) {
    fail('UNSUPPORTED_MODEL', `${file}: attention_head_size ${describeValue(headSize)} is not supported; only hidden_size / num_attention_heads (${hidden / heads})`);
  }
  const maxPositions = num(c, 'max_position_embeddings', file, 512);
  const relativeAttention = bool(c, 'relative_attention', file, false);
  const rawMaxRel = num(c, 'max_relative_positions', file, -1);
  const maxRelativePositions = rawMaxRel < 1 ? maxPositions : rawMaxRel;
  const positionBuckets = num(c, 'position_buckets', file, -1);
  const normRel = c.norm_rel_ebd ?? 'none';
  if (typeof normRel !== 'string') fail('UNSUPPORTED_MODEL', `${file}: "norm_rel_ebd" must be a string such as "layer_norm" or "none", got ${describeValue(normRel)}`);
  const norms = normRel.toLowerCase().split('|').map((s) => s.trim());
  for (const n of norms) if (n !== 'layer_norm' && n !== 'none' && n !== '') fail('UNSUPPORTED_MODEL', `${file}: norm_rel_ebd ${describeValue(n)} is not supported (supported: layer_norm, none)`);
  const poolerAct = c.pooler_hidden_act ?? 'gelu';
  return check({
    modelType: 'deberta-v2', vocabSize: num(c, 'vocab_size', file), hiddenSize: hidden, embeddingSize: num(c, 'embedding_size', file, hidden),
    numLayers: num(c, 'num_hidden_layers', file), numHeads: heads, intermediateSize: num(c, 'intermediate_size', file),
    activation: activation(c.hidden_act ?? 'gelu', file, 'hidden_act'), activationName: String(c.hidden_act ?? 'gelu'),
    layerNormEps: num(c, 'layer_norm_eps', file, 1e-7), maxPositions, typeVocabSize: num(c, 'type_vocab_size', file, 0),
    padTokenId: num(c, 'pad_token_id', file, 0), positionBiasedInput: bool(c, 'position_biased_input', file, true),
    relativeAttention, positionTerms: positionTerms(c.pos_att_type, file), maxRelativePositions, positionBuckets,
    attentionSpan: positionBuckets > 0 ? positionBuckets : maxRelativePositions,
    shareAttentionKey: bool(c, 'share_att_key', file, false), normRelativeEmbeddings: norms.includes('layer_norm'),
    convKernelSize: conv > 0 ? conv : 0, convActivation: activation(convAct, file, 'conv_act'), convActivationName: String(convAct),
    poolerHiddenSize: num(c, 'pooler_hidden_size', file, hidden),
    poolerActivation: activation(poolerAct, file, 'pooler_hidden_act'), poolerActivationName: String(poolerAct),
    poolerDropout: num(c, 'pooler_dropout', file, 0),
    hiddenDropout: num(c, 'hidden_dropout_prob', file, 0.1), attentionDropout: num(c, 'attention_probs_dropout_prob', file, 0.1),
    maxLength: maxPositions,
  }, file);
}

function check(c: DebertaV2Config, file: string): DebertaV2Config {
  for (const k of ['vocabSize', 'hiddenSize', 'embeddingSize', 'numLayers', 'numHeads', 'intermediateSize', 'maxPositions', 'maxRelativePositions', 'attentionSpan'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) fail('UNSUPPORTED_MODEL', `${file}: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (!Number.isInteger(c.positionBuckets)) fail('UNSUPPORTED_MODEL', `${file}: position_buckets must be an integer, got ${c.positionBuckets}`);
  if (!Number.isInteger(c.typeVocabSize) || c.typeVocabSize < 0) fail('UNSUPPORTED_MODEL', `${file}: typeVocabSize must be a non-negative integer, got ${c.typeVocabSize}`);
  for (const [k, limit] of Object.entries(CONFIG_LIMITS) as Array<[keyof typeof CONFIG_LIMITS, number]>) {
    if (c[k] > limit) fail('UNSUPPORTED_MODEL', `${file}: ${k} ${c[k]} is larger than adapterkit supports (at most ${limit})`);
  }
  if (c.maxRelativePositions > CONFIG_LIMITS.maxPositions) fail('UNSUPPORTED_MODEL', `${file}: max_relative_positions ${c.maxRelativePositions} is larger than adapterkit supports (at most ${CONFIG_LIMITS.maxPositions})`);
  if (c.positionBuckets > CONFIG_LIMITS.maxPositions) fail('UNSUPPORTED_MODEL', `${file}: position_buckets ${c.positionBuckets} is larger than adapterkit supports (at most ${CONFIG_LIMITS.maxPositions})`);
  if (c.relativeAttention && c.positionBuckets > 0 && c.positionBuckets < 2) fail('UNSUPPORTED_MODEL', `${file}: position_buckets ${c.positionBuckets} must be at least 2 (or <= 0 for no buckets)`);
  if (c.relativeAttention && c.positionBuckets > 0 && c.maxRelativePositions <= Math.floor(c.positionBuckets / 2) + 1) {
    fail('UNSUPPORTED_MODEL', `${file}: max_relative_positions ${c.maxRelativePositions} must be larger than position_buckets / 2 + 1 (${Math.floor(c.positionBuckets / 2) + 1}) for log buckets`);
  }
  if (c.hiddenSize % c.numHeads !== 0) fail('UNSUPPORTED_MODEL', `${file}: hidden size ${c.hiddenSize} is not divisible by the number of attention heads ${c.numHeads}`);
  if (c.poolerHiddenSize !== c.hiddenSize) fail('UNSUPPORTED_MODEL', `${file}: pooler_hidden_size ${c.poolerHiddenSize} is not supported; only hidden_size (${c.hiddenSize})`);
  if (!(c.layerNormEps > 0)) fail('UNSUPPORTED_MODEL', `${file}: layer_norm_eps must be positive`);
  if (!Number.isInteger(c.padTokenId) || c.padTokenId < 0 || c.padTokenId >= c.vocabSize) {
    fail('UNSUPPORTED_MODEL', `${file}: pad_token_id ${c.padTokenId} is not a token id of the ${c.vocabSize}-token vocabulary`);
  }
  for (const [k, p] of [['hidden dropout', c.hiddenDropout], ['attention dropout', c.attentionDropout], ['pooler dropout', c.poolerDropout]] as const) {
    if (!(p >= 0 && p < 1)) fail('UNSUPPORTED_MODEL', `${file}: ${k} ${p} must be at least 0 and below 1`);
  }
  return c;
}
