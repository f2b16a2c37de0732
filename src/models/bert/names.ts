/**
 * Checkpoint key names of each BERT-family architecture, declared once as data.
 * Canonical names are the checkpoint keys without the model prefix (`bert.`, `roberta.`, ...).
 */
import type { WeightSpec } from '../encoder.js';
import type { BertConfig, BertFamily } from './config.js';

/** Key prefixes (without `.weight`/`.bias`) of one layer's sub-modules. */
export interface LayerNames {
  readonly query: string;
  readonly key: string;
  readonly value: string;
  readonly attentionOutput: string;
  readonly attentionNorm: string;
  readonly intermediate: string;
  readonly output: string;
  readonly outputNorm: string;
}

/** The model prefix each family's task checkpoints put before the canonical names. */
export const MODEL_PREFIX: Readonly<Record<BertFamily, string>> = {
  bert: 'bert.', roberta: 'roberta.', distilbert: 'distilbert.', electra: 'electra.',
};

/** Names of layer `i`'s sub-modules. */
export function layerNames(family: BertFamily, i: number): LayerNames {
  if (family === 'distilbert') {
    const p = `transformer.layer.${i}`;
    return {
      query: `${p}.attention.q_lin`, key: `${p}.attention.k_lin`, value: `${p}.attention.v_lin`,
      attentionOutput: `${p}.attention.out_lin`, attentionNorm: `${p}.sa_layer_norm`,
      intermediate: `${p}.ffn.lin1`, output: `${p}.ffn.lin2`, outputNorm: `${p}.output_layer_norm`,
    };
  }
  const p = `encoder.layer.${i}`;
  return {
    query: `${p}.attention.self.query`, key: `${p}.attention.self.key`, value: `${p}.attention.self.value`,
    attentionOutput: `${p}.attention.output.dense`, attentionNorm: `${p}.attention.output.LayerNorm`,
    intermediate: `${p}.intermediate.dense`, output: `${p}.output.dense`, outputNorm: `${p}.output.LayerNorm`,
  };
}

/** Embedding names. */
export const EMBEDDINGS = {
  word: 'embeddings.word_embeddings.weight',
  position: 'embeddings.position_embeddings.weight',
  tokenType: 'embeddings.token_type_embeddings.weight',
  norm: 'embeddings.LayerNorm',
  project: 'embeddings_project',
  pooler: 'pooler.dense',
} as const;

function linear(prefix: string, nIn: number, nOut: number, layer?: number, role: 'linear' | 'pooler' = 'linear'): WeightSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [nIn, nOut], role, layer },
    { name: `${prefix}.bias`, shape: [nOut], role: role === 'pooler' ? 'pooler' : 'bias', layer },
  ];
}

function norm(prefix: string, n: number, layer?: number): WeightSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [n], role: 'norm', layer },
    { name: `${prefix}.bias`, shape: [n], role: 'norm', layer },
  ];
}

/** Every weight of a configuration, in checkpoint order. `pooler` says whether the checkpoint has one. */
export function bertWeightSpecs(c: BertConfig, pooler: boolean): WeightSpec[] {
  const E = c.embeddingSize;
  const D = c.hiddenSize;
  const specs: WeightSpec[] = [
    { name: EMBEDDINGS.word, shape: [c.vocabSize, E], role: 'embedding' },
    { name: EMBEDDINGS.position, shape: [c.maxPositions, E], role: 'embedding' },
  ];
  if (c.typeVocabSize > 0) specs.push({ name: EMBEDDINGS.tokenType, shape: [c.typeVocabSize, E], role: 'embedding' });
  specs.push(...norm(EMBEDDINGS.norm, E));
  if (E !== D) specs.push(...linear(EMBEDDINGS.project, E, D));
  for (let i = 0; i < c.numLayers; i++) {
    const n = layerNames(c.modelType, i);
    specs.push(
      ...linear(n.query, D, D, i), ...linear(n.key, D, D, i), ...linear(n.value, D, D, i),
      ...linear(n.attentionOutput, D, D, i), ...norm(n.attentionNorm, D, i),
      ...linear(n.intermediate, D, c.intermediateSize, i), ...linear(n.output, c.intermediateSize, D, i),
      ...norm(n.outputNorm, D, i),
    );
  }
  if (pooler) specs.push(...linear(EMBEDDINGS.pooler, D, D, undefined, 'pooler'));
  return specs;
}
