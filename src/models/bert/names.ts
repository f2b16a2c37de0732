/**
 * Checkpoint key names of each BERT-family architecture, declared once as data.
 * Canonical names are the checkpoint keys without the model prefix (`bert.`, `roberta.`, ...).
 */
import { linearWeightSpecs as linear, normWeightSpecs as norm, type WeightSpec } from '../encoder.js';
import {
  attentionSite, linearSite, subLayerSite, type AttentionSite, type HookSiteDeclaration, type LinearRole, type LinearSite, type SubLayerSite,
} from '../sites.js';
import type { BertConfig } from './config.js';

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
  /** Module paths where AdapterHub keeps the bottleneck adapters of the two blocks. */
  readonly attentionAdapters: string;
  readonly outputAdapters: string;
}

/** What differs between the BERT-family architectures, one record per family. */
export interface FamilyRecord {
  /** The model prefix each family's task checkpoints put before the canonical names. */
  readonly prefix: string;
  /** AdapterHub's flexible-head model class for this family (written into its config files). */
  readonly adapterModelClass: string;
  /** Hugging Face's sequence-classification class (for PEFT files and exports). */
  readonly classificationClass: string;
  /** Which config.json field names the family uses (DistilBERT has its own: `dim`, `n_layers`, ...). */
  readonly configFields: 'bert' | 'distilbert';
  /**
   * `absolute`: positions 0..T-1. `padding-offset`: RoBERTa's positions, counted from
   * padding_idx + 1 over non-padding tokens (padding gets padding_idx).
   */
  readonly positions: 'absolute' | 'padding-offset';
  /** The default `pad_token_id` when config.json has none. */
  readonly defaultPad: number;
  /** Whether the checkpoint may hold a pooler (`pooler.dense`); it is used when it does. */
  readonly mayHavePooler: boolean;
  /** Whether config.json's `embedding_size` may differ from `hidden_size` (ELECTRA projects up). */
  readonly embeddingSize: boolean;
  /** AdapterHub's location key of the self-attention's prefixes (`PrefixTuningLayer`: `self_prefix`; DistilBERT's `self`). */
  readonly prefixLocation: string;
  /** Names of layer `i`'s sub-modules. */
  layer(i: number): LayerNames;
}

function bertStyleLayer(i: number): LayerNames {
  const p = `encoder.layer.${i}`;
  return {
    query: `${p}.attention.self.query`, key: `${p}.attention.self.key`, value: `${p}.attention.self.value`,
    attentionOutput: `${p}.attention.output.dense`, attentionNorm: `${p}.attention.output.LayerNorm`,
    intermediate: `${p}.intermediate.dense`, output: `${p}.output.dense`, outputNorm: `${p}.output.LayerNorm`,
    attentionAdapters: `${p}.attention.output`, outputAdapters: `${p}.output`,
  };
}

/**
 * The family records. AdapterHub module paths: BERT-style models keep adapters in
 * `BertSelfOutput` / `BertOutput` (`…attention.output.adapters.<name>`, `…output.adapters.<name>`);
 * DistilBERT keeps them on the transformer block (`…attention_adapters.adapters.<name>`,
 * `…output_adapters.adapters.<name>`; adapters `models/distilbert/mixin_distilbert.py`).
 * XLM-RoBERTa is RoBERTa's graph and checkpoint layout (its models' base prefix is `roberta.`)
 * under its own model_type and class names (adapters `models/xlm_roberta/`).
 */
const BERT_STYLE = { configFields: 'bert', prefixLocation: 'self_prefix', layer: bertStyleLayer } as const;
const ROBERTA_STYLE = { ...BERT_STYLE, prefix: 'roberta.', positions: 'padding-offset', defaultPad: 1, mayHavePooler: true, embeddingSize: false } as const;

export const FAMILIES = {
  bert: {
    ...BERT_STYLE, prefix: 'bert.', adapterModelClass: 'BertAdapterModel', classificationClass: 'BertForSequenceClassification',
    positions: 'absolute', defaultPad: 0, mayHavePooler: true, embeddingSize: false,
  },
  roberta: { ...ROBERTA_STYLE, adapterModelClass: 'RobertaAdapterModel', classificationClass: 'RobertaForSequenceClassification' },
  'xlm-roberta': { ...ROBERTA_STYLE, adapterModelClass: 'XLMRobertaAdapterModel', classificationClass: 'XLMRobertaForSequenceClassification' },
  distilbert: {
    prefix: 'distilbert.', adapterModelClass: 'DistilBertAdapterModel', classificationClass: 'DistilBertForSequenceClassification',
    configFields: 'distilbert', positions: 'absolute', defaultPad: 0, mayHavePooler: false, embeddingSize: false, prefixLocation: 'self',
    layer: (i: number): LayerNames => {
      const p = `transformer.layer.${i}`;
      return {
        query: `${p}.attention.q_lin`, key: `${p}.attention.k_lin`, value: `${p}.attention.v_lin`,
        attentionOutput: `${p}.attention.out_lin`, attentionNorm: `${p}.sa_layer_norm`,
        intermediate: `${p}.ffn.lin1`, output: `${p}.ffn.lin2`, outputNorm: `${p}.output_layer_norm`,
        attentionAdapters: `${p}.attention_adapters`, outputAdapters: `${p}.output_adapters`,
      };
    },
  },
  electra: {
    ...BERT_STYLE, prefix: 'electra.', adapterModelClass: 'ElectraAdapterModel', classificationClass: 'ElectraForSequenceClassification',
    positions: 'absolute', defaultPad: 0, mayHavePooler: false, embeddingSize: true,
  },
} as const satisfies Readonly<Record<string, FamilyRecord>>;

/** A BERT-family model_type: a key of {@link FAMILIES}. */
export type BertFamily = keyof typeof FAMILIES;

/** The family record of `family`, typed as the interface. */
export function familyRecord(family: BertFamily): FamilyRecord {
  return FAMILIES[family];
}

/** The model prefix each family's task checkpoints put before the canonical names. */
export const MODEL_PREFIX: Readonly<Record<BertFamily, string>> = Object.fromEntries(
  Object.entries(FAMILIES).map(([k, f]) => [k, f.prefix]),
) as Record<BertFamily, string>;

/** Names of layer `i`'s sub-modules. */
export function layerNames(family: BertFamily, i: number): LayerNames {
  return familyRecord(family).layer(i);
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

/** The hook sites of a configuration, derived from the family record (see models/sites.ts). */
export function bertHookSites(c: BertConfig): HookSiteDeclaration {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const sublayers: SubLayerSite[] = [];
  const linears: LinearSite[] = [];
  const attentions: AttentionSite[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const n = layerNames(c.modelType, i);
    sublayers.push(
      subLayerSite({ layer: i, sublayer: 'attention', width: D, inputWidth: D, norm: 'post', normPrefix: n.attentionNorm, module: n.attentionAdapters }),
      subLayerSite({ layer: i, sublayer: 'ffn', width: D, inputWidth: D, norm: 'post', normPrefix: n.outputNorm, module: n.outputAdapters }),
    );
    const proj: [LinearRole, string, number, number][] = [
      ['query', n.query, D, D], ['key', n.key, D, D], ['value', n.value, D, D], ['attention_output', n.attentionOutput, D, D],
      ['intermediate', n.intermediate, D, F], ['output', n.output, F, D],
    ];
    for (const [role, module, inWidth, outWidth] of proj) {
      linears.push(linearSite({ layer: i, role, weight: `${module}.weight`, bias: `${module}.bias`, inWidth, outWidth, module }));
    }
    attentions.push(attentionSite({ layer: i, heads: c.numHeads, headDim: D / c.numHeads, inputWidth: D, prefixLocation: familyRecord(c.modelType).prefixLocation }));
  }
  return { sublayers, linears, attentions, embeddings: { kind: 'embeddings', key: 'embeddings', width: D } };
}
