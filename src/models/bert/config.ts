/**
 * Hugging Face `config.json` of the BERT family (bert, roberta, xlm-roberta, distilbert, electra),
 * normalised to one shape. Differences between the families are read from their records
 * (names.ts `FAMILIES`) here once, as data.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import type { GraphActivation } from '../activations.js';
import { FAMILIES, familyRecord, type BertFamily } from './names.js';

export type { BertFamily } from './names.js';
/** Model types this module supports, derived from the family records. */
export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILIES) as readonly BertFamily[];

/** Activation names accepted in `hidden_act` / `activation`, mapped to what the graph uses. */
export const ACTIVATIONS: Readonly<Record<string, GraphActivation>> = {
  gelu: 'gelu',
  gelu_python: 'gelu',
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu_fast: 'gelu_tanh',
  relu: 'relu',
  silu: 'silu',
  swish: 'silu',
  tanh: 'tanh',
};
/** A graph activation. */
export type Activation = GraphActivation;

/** A normalised BERT-family configuration. */
export interface BertConfig {
  readonly modelType: BertFamily;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  /** Width of the embeddings (ELECTRA may differ from hiddenSize and projects up). */
  readonly embeddingSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly activation: Activation;
  /** The name as written in the config (for reports). */
  readonly activationName: string;
  readonly layerNormEps: number;
  readonly maxPositions: number;
  /** Token type vocabulary (0: no token type embeddings, as DistilBERT). */
  readonly typeVocabSize: number;
  readonly padTokenId: number;
  /** RoBERTa counts positions from padding_idx + 1 and skips padding; others count from 0. */
  readonly positions: { readonly kind: 'absolute' } | { readonly kind: 'padding-offset'; readonly paddingIdx: number };
  readonly hasPooler: boolean;
  readonly hiddenDropout: number;
  readonly attentionDropout: number;
  /** Longest input the model accepts. */
  readonly maxLength: number;
}

/**
 * Sane upper bounds of every size field, far above any released BERT-family model (the largest
 * have vocabularies of 250k, widths of 4k, 48 layers and 8k positions). They stop a config.json
 * from asking for billions of layers before the weights are even looked at; `loadBertModel` then
 * checks that the weight files are large enough for what the config implies.
 */
export const CONFIG_LIMITS: Readonly<Record<'vocabSize' | 'hiddenSize' | 'embeddingSize' | 'numLayers' | 'numHeads' | 'intermediateSize' | 'maxPositions' | 'typeVocabSize', number>> = {
  vocabSize: 1 << 22,
  hiddenSize: 1 << 16,
  embeddingSize: 1 << 16,
  numLayers: 1024,
  numHeads: 1024,
  intermediateSize: 1 << 18,
  maxPositions: 1 << 20,
  typeVocabSize: 1 << 16,
};

type Json = Record<string, unknown>;

/** A number field of config.json (`dflt` when absent); UNSUPPORTED_MODEL naming the field otherwise. */
export function num(c: Json, key: string, file: string, dflt?: number): number {
  const v = c[key];
  if (v === undefined || v === null) {
    if (dflt !== undefined) return dflt;
    fail('UNSUPPORTED_MODEL', `${file}: missing "${key}"`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) fail('UNSUPPORTED_MODEL', `${file}: "${key}" must be a number, got ${describeValue(v)}`);
  return v;
}

/** An activation name of config.json mapped to the graph's; UNSUPPORTED_MODEL listing the supported names otherwise. */
export function activation(name: unknown, file: string, key: string): Activation {
  // an own property only: `toString` and `__proto__` are not activations
  const a = typeof name === 'string' && Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined;
  if (!a) fail('UNSUPPORTED_MODEL', `${file}: ${key} ${describeValue(name)} is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
  return a;
}

/** Parses a config.json object; `file` names it in errors. */
export function parseBertConfig(c: Json, file = 'config.json'): BertConfig {
  const type = c.model_type;
  if (typeof type !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(type)) {
    fail('UNSUPPORTED_MODEL', `${file}: model_type ${describeValue(type)} is not supported; supported model types: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  const family = type as BertFamily;
  const rec = familyRecord(family);
  if (rec.configFields === 'distilbert') {
    if (c.sinusoidal_pos_embds === true) fail('UNSUPPORTED_MODEL', `${file}: DistilBERT with sinusoidal_pos_embds is not supported`);
    const hidden = num(c, 'dim', file);
    const maxPositions = num(c, 'max_position_embeddings', file);
    return check({
      modelType: family, vocabSize: num(c, 'vocab_size', file), hiddenSize: hidden, embeddingSize: hidden,
      numLayers: num(c, 'n_layers', file), numHeads: num(c, 'n_heads', file), intermediateSize: num(c, 'hidden_dim', file),
      activation: activation(c.activation ?? 'gelu', file, 'activation'), activationName: String(c.activation ?? 'gelu'),
      layerNormEps: 1e-12, maxPositions, typeVocabSize: 0, padTokenId: num(c, 'pad_token_id', file, rec.defaultPad),
      positions: { kind: 'absolute' }, hasPooler: false,
      hiddenDropout: num(c, 'dropout', file, 0.1), attentionDropout: num(c, 'attention_dropout', file, 0.1), maxLength: maxPositions,
    }, file);
  }
  const posType = c.position_embedding_type ?? 'absolute';
  if (posType !== 'absolute') fail('UNSUPPORTED_MODEL', `${file}: position_embedding_type ${describeValue(posType)} is not supported (only "absolute")`);
  const hidden = num(c, 'hidden_size', file);
  const maxPositions = num(c, 'max_position_embeddings', file);
  const pad = num(c, 'pad_token_id', file, rec.defaultPad);
  const offset = rec.positions === 'padding-offset';
  return check({
    modelType: family, vocabSize: num(c, 'vocab_size', file), hiddenSize: hidden,
    embeddingSize: rec.embeddingSize ? num(c, 'embedding_size', file, hidden) : hidden,
    numLayers: num(c, 'num_hidden_layers', file), numHeads: num(c, 'num_attention_heads', file),
    intermediateSize: num(c, 'intermediate_size', file),
    activation: activation(c.hidden_act ?? 'gelu', file, 'hidden_act'), activationName: String(c.hidden_act ?? 'gelu'),
    layerNormEps: num(c, 'layer_norm_eps', file, 1e-12), maxPositions,
    typeVocabSize: num(c, 'type_vocab_size', file, 2), padTokenId: pad,
    positions: offset ? { kind: 'padding-offset', paddingIdx: pad } : { kind: 'absolute' },
    hasPooler: rec.mayHavePooler,
    hiddenDropout: num(c, 'hidden_dropout_prob', file, 0.1), attentionDropout: num(c, 'attention_probs_dropout_prob', file, 0.1),
    maxLength: offset ? maxPositions - pad - 1 : maxPositions,
  }, file);
}

function check(c: BertConfig, file: string): BertConfig {
  for (const k of ['vocabSize', 'hiddenSize', 'embeddingSize', 'numLayers', 'numHeads', 'intermediateSize', 'maxPositions'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) fail('UNSUPPORTED_MODEL', `${file}: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (!Number.isInteger(c.typeVocabSize) || c.typeVocabSize < 0) fail('UNSUPPORTED_MODEL', `${file}: typeVocabSize must be a non-negative integer, got ${c.typeVocabSize}`);
  for (const [k, limit] of Object.entries(CONFIG_LIMITS) as Array<[keyof typeof CONFIG_LIMITS, number]>) {
    if (c[k] > limit) fail('UNSUPPORTED_MODEL', `${file}: ${k} ${c[k]} is larger than adapterkit supports (at most ${limit})`);
  }
  if (c.hiddenSize % c.numHeads !== 0) {
    fail('UNSUPPORTED_MODEL', `${file}: hidden size ${c.hiddenSize} is not divisible by the number of attention heads ${c.numHeads}`);
  }
  if (!(c.layerNormEps > 0)) fail('UNSUPPORTED_MODEL', `${file}: layer_norm_eps must be positive`);
  if (!Number.isInteger(c.padTokenId) || c.padTokenId < 0 || c.padTokenId >= c.vocabSize) {
    fail('UNSUPPORTED_MODEL', `${file}: pad_token_id ${c.padTokenId} is not a token id of the ${c.vocabSize}-token vocabulary`);
  }
  if (!(c.maxLength >= 1)) fail('UNSUPPORTED_MODEL', `${file}: max_position_embeddings ${c.maxPositions} leaves no room for any token`);
  for (const [k, p] of [['hidden dropout', c.hiddenDropout], ['attention dropout', c.attentionDropout]] as const) {
    if (!(p >= 0 && p < 1)) fail('UNSUPPORTED_MODEL', `${file}: ${k} ${p} must be at least 0 and below 1`);
  }
  return c;
}

