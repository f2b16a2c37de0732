/**
 * Hugging Face `config.json` of ModernBERT (Warner et al. 2024), normalised. ModernBERT is a
 * pre-norm encoder without absolute positions or token types: token embeddings -> LayerNorm, then
 * layers `x + Wo(attn(attn_norm(x)))`, `x + mlp.Wo(act(in) * gate)` with `[in | gate] = mlp.Wi(mlp_norm(x))`
 * (GeGLU), then `final_norm`. Queries and keys are rotated (RoPE) with `global_rope_theta` in
 * global layers and `local_rope_theta` in local ones; every `global_attn_every_n_layers`-th layer
 * (0, n, 2n, ...) attends globally, the others within `local_attention / 2` positions either side.
 * Linear layers and norms have biases only when `attention_bias`, `mlp_bias`, `norm_bias` say so.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { CONFIG_LIMITS, activation, num, type Activation } from '../bert/config.js';

/** The pooling ModernBertForSequenceClassification applies before its head. */
export type ModernBertPooling = 'cls' | 'mean';

/** A normalised ModernBERT configuration. */
export interface ModernBertConfig {
  readonly modelType: 'modernbert';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** Width of the GeGLU's inner state (`mlp.Wi` has twice as many outputs). */
  readonly intermediateSize: number;
  readonly activation: Activation;
  readonly activationName: string;
  readonly normEps: number;
  readonly normBias: boolean;
  readonly attentionBias: boolean;
  readonly mlpBias: boolean;
  readonly maxPositions: number;
  /** Total local window (`local_attention`): a local layer's query sees keys at distance <= localAttention / 2 (integer division). */
  readonly localAttention: number;
  readonly globalEvery: number;
  readonly globalRopeTheta: number;
  readonly localRopeTheta: number;
  readonly padTokenId: number;
  readonly embeddingDropout: number;
  readonly attentionDropout: number;
  readonly mlpDropout: number;
  readonly classifierPooling: ModernBertPooling;
  readonly classifierActivation: Activation;
  readonly classifierActivationName: string;
  readonly classifierBias: boolean;
  /** Longest input: max_position_embeddings (positions 0..T-1 index the rotary tables). */
  readonly maxLength: number;
}

type Json = Record<string, unknown>;

function flag(c: Json, key: string, file: string, dflt: boolean): boolean {
  const v = c[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail('UNSUPPORTED_MODEL', `${file}: "${key}" must be true or false, got ${describeValue(v)}`);
  return v;
}

/**
 * The rope theta of one attention kind: `rope_parameters[kind].rope_theta` (transformers' newer
 * configs), else the older top-level field, else ModernBertConfig's default. Scaled RoPE is refused.
 */
function ropeTheta(c: Json, kind: 'full_attention' | 'sliding_attention', legacy: string, dflt: number, file: string): number {
  const all = c.rope_parameters;
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) fail('UNSUPPORTED_MODEL', `${file}: rope_scaling ${describeValue(c.rope_scaling)} is not supported (adapterkit implements ModernBERT's default RoPE only)`);
  if (all !== undefined && all !== null) {
    if (typeof all !== 'object' || Array.isArray(all)) fail('UNSUPPORTED_MODEL', `${file}: rope_parameters must be an object, got ${describeValue(all)}`);
    const p = (all as Json)[kind];
    if (p !== undefined && p !== null) {
      if (typeof p !== 'object' || Array.isArray(p)) fail('UNSUPPORTED_MODEL', `${file}: rope_parameters.${kind} must be an object`);
      const type = (p as Json).rope_type ?? 'default';
      if (type !== 'default') fail('UNSUPPORTED_MODEL', `${file}: rope_parameters.${kind}.rope_type ${describeValue(type)} is not supported (only "default")`);
      if ((p as Json).rope_theta !== undefined) return num(p as Json, 'rope_theta', `${file}: rope_parameters.${kind}`);
    }
  }
  return num(c, legacy, file, dflt);
}

/** Parses a ModernBERT config.json object (ModernBertConfig's defaults for absent fields); `file` names it in errors. */
export function parseModernBertConfig(c: Json, file = 'config.json'): ModernBertConfig {
  if (c.model_type !== 'modernbert') fail('UNSUPPORTED_MODEL', `${file}: model_type ${describeValue(c.model_type)} is not modernbert`);
  const act = c.hidden_activation ?? 'gelu';
  const cact = c.classifier_activation ?? 'gelu';
  const pooling = c.classifier_pooling ?? 'cls';
  if (pooling !== 'cls' && pooling !== 'mean') fail('UNSUPPORTED_MODEL', `${file}: classifier_pooling ${describeValue(pooling)} must be "cls" or "mean"`);
  const maxPositions = num(c, 'max_position_embeddings', file, 8192);
  const numLayers = num(c, 'num_hidden_layers', file, 22);
  const globalEvery = num(c, 'global_attn_every_n_layers', file, 3);
  const cfg: ModernBertConfig = {
    modelType: 'modernbert', vocabSize: num(c, 'vocab_size', file, 50368), hiddenSize: num(c, 'hidden_size', file, 768),
    numLayers, numHeads: num(c, 'num_attention_heads', file, 12), intermediateSize: num(c, 'intermediate_size', file, 1152),
    activation: activation(act, file, 'hidden_activation'), activationName: String(act),
    normEps: num(c, 'norm_eps', file, 1e-5), normBias: flag(c, 'norm_bias', file, false),
    attentionBias: flag(c, 'attention_bias', file, false), mlpBias: flag(c, 'mlp_bias', file, false),
    maxPositions, localAttention: num(c, 'local_attention', file, 128), globalEvery,
    globalRopeTheta: ropeTheta(c, 'full_attention', 'global_rope_theta', 160_000, file),
    localRopeTheta: ropeTheta(c, 'sliding_attention', 'local_rope_theta', 10_000, file),
    padTokenId: num(c, 'pad_token_id', file, 50283),
    embeddingDropout: num(c, 'embedding_dropout', file, 0), attentionDropout: num(c, 'attention_dropout', file, 0), mlpDropout: num(c, 'mlp_dropout', file, 0),
    classifierPooling: pooling, classifierActivation: activation(cact, file, 'classifier_activation'), classifierActivationName: String(cact),
    classifierBias: flag(c, 'classifier_bias', file, false),
    maxLength: maxPositions,
  };
  checkLayerTypes(c, cfg, file);
  return check(cfg, file);
}

/** `layer_types` (newer configs) must say what global_attn_every_n_layers says: adapterkit follows the latter, as ModernBertAttention does. */
function checkLayerTypes(c: Json, cfg: ModernBertConfig, file: string): void {
  const t = c.layer_types;
  if (t === undefined || t === null) return;
  const want = Array.from({ length: cfg.numLayers }, (_, i) => (isGlobalLayer(cfg, i) ? 'full_attention' : 'sliding_attention'));
  if (!Array.isArray(t) || t.length !== want.length || t.some((x, i) => x !== want[i])) {
    fail('UNSUPPORTED_MODEL', `${file}: layer_types ${describeValue(t)} differ from every ${cfg.globalEvery}th layer global (${want.join(', ')}); other patterns are not supported`);
  }
}

function check(c: ModernBertConfig, file: string): ModernBertConfig {
  const sizes = { vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, numHeads: c.numHeads, intermediateSize: c.intermediateSize, maxPositions: c.maxPositions };
  for (const [k, v] of Object.entries({ ...sizes, localAttention: c.localAttention, globalEvery: c.globalEvery })) {
    if (!Number.isInteger(v) || v <= 0) fail('UNSUPPORTED_MODEL', `${file}: ${k} must be a positive integer, got ${v}`);
  }
  for (const [k, v] of Object.entries(sizes)) {
    const limit = CONFIG_LIMITS[k as keyof typeof CONFIG_LIMITS];
    if (v > limit) fail('UNSUPPORTED_MODEL', `${file}: ${k} ${v} is larger than adapterkit supports (at most ${limit})`);
  }
  if (c.hiddenSize % c.numHeads !== 0) fail('UNSUPPORTED_MODEL', `${file}: hidden size ${c.hiddenSize} is not divisible by the number of attention heads ${c.numHeads}`);
  if ((c.hiddenSize / c.numHeads) % 2 !== 0) fail('UNSUPPORTED_MODEL', `${file}: head size ${c.hiddenSize / c.numHeads} must be even for rotary position embeddings`);
  if (!(c.normEps > 0)) fail('UNSUPPORTED_MODEL', `${file}: norm_eps must be positive`);
  for (const [k, v] of [['global_rope_theta', c.globalRopeTheta], ['local_rope_theta', c.localRopeTheta]] as const) {
    if (!(v > 1)) fail('UNSUPPORTED_MODEL', `${file}: ${k} ${v} must be greater than 1`);
  }
  if (!Number.isInteger(c.padTokenId) || c.padTokenId < 0 || c.padTokenId >= c.vocabSize) {
    fail('UNSUPPORTED_MODEL', `${file}: pad_token_id ${c.padTokenId} is not a token id of the ${c.vocabSize}-token vocabulary`);
  }
  for (const [k, p] of [['embedding_dropout', c.embeddingDropout], ['attention_dropout', c.attentionDropout], ['mlp_dropout', c.mlpDropout]] as const) {
    if (!(p >= 0 && p < 1)) fail('UNSUPPORTED_MODEL', `${file}: ${k} ${p} must be at least 0 and below 1`);
  }
  return c;
}

/** Whether layer `i` attends globally (ModernBertAttention: `i % global_attn_every_n_layers == 0`). */
export function isGlobalLayer(c: Pick<ModernBertConfig, 'globalEvery'>, i: number): boolean {
  return i % c.globalEvery === 0;
}
