/**
 * Hugging Face `config.json` of ALBERT (Lan et al. 2019), normalised. What ALBERT adds to BERT:
 * factorised embeddings (`embedding_size` E, projected to `hidden_size` D by
 * `encoder.embedding_hidden_mapping_in`) and cross-layer sharing: `num_hidden_layers` L passes run
 * over `num_hidden_groups` G layer groups (pass i uses group floor(i * G / L)), each group holding
 * `inner_group_num` K layers that every pass runs in turn. The encoder therefore applies
 * L x K layers (its *depth*), built from G x K distinct layer weights.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { CONFIG_LIMITS, activation, num, type Activation } from '../bert/config.js';

/** A normalised ALBERT configuration. */
export interface AlbertConfig {
  readonly modelType: 'albert';
  readonly vocabSize: number;
  /** E: width of the embeddings. */
  readonly embeddingSize: number;
  /** D: width of every layer. */
  readonly hiddenSize: number;
  /** L: passes over the layer groups (`num_hidden_layers`). */
  readonly numHiddenLayers: number;
  /** G: distinct layer groups (`num_hidden_groups`). */
  readonly numHiddenGroups: number;
  /** K: layers per group, run in turn by every pass (`inner_group_num`). */
  readonly innerGroupNum: number;
  /** L x K: the layers the encoder applies, each with its own adapter sites. */
  readonly depth: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly activation: Activation;
  readonly activationName: string;
  readonly layerNormEps: number;
  readonly maxPositions: number;
  readonly typeVocabSize: number;
  readonly padTokenId: number;
  readonly hiddenDropout: number;
  readonly attentionDropout: number;
  readonly maxLength: number;
}

type Json = Record<string, unknown>;

/** Parses an ALBERT config.json object; `file` names it in errors. */
export function parseAlbertConfig(c: Json, file = 'config.json'): AlbertConfig {
  if (c.model_type !== 'albert') fail('UNSUPPORTED_MODEL', `${file}: model_type ${describeValue(c.model_type)} is not albert`);
  const posType = c.position_embedding_type ?? 'absolute';
  if (posType !== 'absolute') fail('UNSUPPORTED_MODEL', `${file}: position_embedding_type ${describeValue(posType)} is not supported (only "absolute")`);
  const L = num(c, 'num_hidden_layers', file, 12);
  const K = num(c, 'inner_group_num', file, 1);
  const maxPositions = num(c, 'max_position_embeddings', file, 512);
  const act = c.hidden_act ?? 'gelu_new';
  const cfg: AlbertConfig = {
    modelType: 'albert', vocabSize: num(c, 'vocab_size', file), embeddingSize: num(c, 'embedding_size', file, 128),
    hiddenSize: num(c, 'hidden_size', file), numHiddenLayers: L, numHiddenGroups: num(c, 'num_hidden_groups', file, 1), innerGroupNum: K,
    depth: L * K, numHeads: num(c, 'num_attention_heads', file), intermediateSize: num(c, 'intermediate_size', file),
    activation: activation(act, file, 'hidden_act'), activationName: String(act), layerNormEps: num(c, 'layer_norm_eps', file, 1e-12),
    maxPositions, typeVocabSize: num(c, 'type_vocab_size', file, 2), padTokenId: num(c, 'pad_token_id', file, 0),
    hiddenDropout: num(c, 'hidden_dropout_prob', file, 0), attentionDropout: num(c, 'attention_probs_dropout_prob', file, 0), maxLength: maxPositions,
  };
  return check(cfg, file);
}

function check(c: AlbertConfig, file: string): AlbertConfig {
  const sizes = {
    vocabSize: c.vocabSize, embeddingSize: c.embeddingSize, hiddenSize: c.hiddenSize, numLayers: c.depth, numHeads: c.numHeads,
    intermediateSize: c.intermediateSize, maxPositions: c.maxPositions,
  };
  for (const [k, v] of Object.entries({ numHiddenLayers: c.numHiddenLayers, numHiddenGroups: c.numHiddenGroups, innerGroupNum: c.innerGroupNum, ...sizes })) {
    if (!Number.isInteger(v) || v <= 0) fail('UNSUPPORTED_MODEL', `${file}: ${k} must be a positive integer, got ${v}`);
  }
  for (const [k, v] of Object.entries({ ...sizes, typeVocabSize: c.typeVocabSize })) {
    const limit = CONFIG_LIMITS[k as keyof typeof CONFIG_LIMITS];
    if (v > limit) fail('UNSUPPORTED_MODEL', `${file}: ${k === 'numLayers' ? 'num_hidden_layers x inner_group_num' : k} ${v} is larger than adapterkit supports (at most ${limit})`);
  }
  if (c.numHiddenGroups > c.numHiddenLayers) fail('UNSUPPORTED_MODEL', `${file}: num_hidden_groups ${c.numHiddenGroups} is more than num_hidden_layers ${c.numHiddenLayers}: some groups would never run`);
  if (!Number.isInteger(c.typeVocabSize) || c.typeVocabSize < 0) fail('UNSUPPORTED_MODEL', `${file}: typeVocabSize must be a non-negative integer, got ${c.typeVocabSize}`);
  if (c.hiddenSize % c.numHeads !== 0) fail('UNSUPPORTED_MODEL', `${file}: hidden size ${c.hiddenSize} is not divisible by the number of attention heads ${c.numHeads}`);
  if (!(c.layerNormEps > 0)) fail('UNSUPPORTED_MODEL', `${file}: layer_norm_eps must be positive`);
  if (!Number.isInteger(c.padTokenId) || c.padTokenId < 0 || c.padTokenId >= c.vocabSize) {
    fail('UNSUPPORTED_MODEL', `${file}: pad_token_id ${c.padTokenId} is not a token id of the ${c.vocabSize}-token vocabulary`);
  }
  for (const [k, p] of [['hidden dropout', c.hiddenDropout], ['attention dropout', c.attentionDropout]] as const) {
    if (!(p >= 0 && p < 1)) fail('UNSUPPORTED_MODEL', `${file}: ${k} ${p} must be at least 0 and below 1`);
  }
  return c;
}

/** The layer group pass `i` (0..L-1) runs: floor(i * G / L), as Hugging Face's `int(i / (L / G))` for G dividing L. */
export function groupOfPass(c: AlbertConfig, i: number): number {
  return Math.floor((i * c.numHiddenGroups) / c.numHiddenLayers);
}
