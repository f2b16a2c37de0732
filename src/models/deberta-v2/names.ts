/**
 * DeBERTa-v2's checkpoint key names and hook sites, declared once as data. Canonical names are the
 * checkpoint keys without the `deberta.` prefix; the pooler of DebertaV2ForSequenceClassification
 * (`pooler.dense`, a ContextPooler) sits outside that prefix in Hugging Face checkpoints.
 *
 * Module paths are transformers' (modeling_deberta_v2.py) and AdapterHub's (adapters
 * `models/deberta_v2/`): bottleneck adapters in `encoder.layer.{i}.attention.output` and
 * `encoder.layer.{i}.output` (`….adapters.<name>`), LoRA on `…attention.self.{query_proj,key_proj,value_proj}`,
 * `…intermediate.dense`, `…output.dense`; PEFT keys follow the same module paths.
 */
import { linearWeightSpecs as linear, normWeightSpecs as norm, type WeightSpec } from '../encoder.js';
import { attentionSite, linearSite, subLayerSite, type AttentionSite, type HookSiteDeclaration, type LinearRole, type LinearSite, type SubLayerSite } from '../sites.js';
import type { DebertaV2Config } from './config.js';

/** The model prefix of DeBERTa-v2 task checkpoints. */
export const DEBERTA_PREFIX = 'deberta.';

/** Embedding, relative-position and pooler names. */
export const DEBERTA_NAMES = {
  word: 'embeddings.word_embeddings.weight',
  position: 'embeddings.position_embeddings.weight',
  tokenType: 'embeddings.token_type_embeddings.weight',
  /** E -> D projection, no bias. */
  project: 'embeddings.embed_proj.weight',
  norm: 'embeddings.LayerNorm',
  relative: 'encoder.rel_embeddings.weight',
  relativeNorm: 'encoder.LayerNorm',
  pooler: 'pooler.dense',
  /** The convolution after layer 0 (conv_kernel_size > 0): weight [D, D, K] as PyTorch's Conv1d keeps it, bias [D]. */
  conv: 'encoder.conv.conv',
  convNorm: 'encoder.conv.LayerNorm',
} as const;

/** Key prefixes (without `.weight`/`.bias`) of layer `i`'s sub-modules. */
export interface DebertaLayerNames {
  readonly query: string;
  readonly key: string;
  readonly value: string;
  /** Separate position projections (present when share_att_key is false). */
  readonly posKey: string;
  readonly posQuery: string;
  readonly attentionOutput: string;
  readonly attentionNorm: string;
  readonly intermediate: string;
  readonly output: string;
  readonly outputNorm: string;
  readonly attentionAdapters: string;
  readonly outputAdapters: string;
}

/** Names of layer `i`'s sub-modules. */
export function debertaLayerNames(i: number): DebertaLayerNames {
  const p = `encoder.layer.${i}`;
  const s = `${p}.attention.self`;
  return {
    query: `${s}.query_proj`, key: `${s}.key_proj`, value: `${s}.value_proj`, posKey: `${s}.pos_key_proj`, posQuery: `${s}.pos_query_proj`,
    attentionOutput: `${p}.attention.output.dense`, attentionNorm: `${p}.attention.output.LayerNorm`,
    intermediate: `${p}.intermediate.dense`, output: `${p}.output.dense`, outputNorm: `${p}.output.LayerNorm`,
    attentionAdapters: `${p}.attention.output`, outputAdapters: `${p}.output`,
  };
}

/** Whether layers have their own position projections of kind `term` (relative attention without shared keys). */
export function hasPositionProjection(c: DebertaV2Config, term: 'c2p' | 'p2c'): boolean {
  return c.relativeAttention && !c.shareAttentionKey && c.positionTerms.includes(term);
}

/** Every weight of a configuration, in checkpoint order. `pooler` says whether the checkpoint has one. */
export function debertaWeightSpecs(c: DebertaV2Config, pooler: boolean): WeightSpec[] {
  const E = c.embeddingSize;
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const specs: WeightSpec[] = [{ name: DEBERTA_NAMES.word, shape: [c.vocabSize, E], role: 'embedding' }];
  if (c.positionBiasedInput) specs.push({ name: DEBERTA_NAMES.position, shape: [c.maxPositions, E], role: 'embedding' });
  if (c.typeVocabSize > 0) specs.push({ name: DEBERTA_NAMES.tokenType, shape: [c.typeVocabSize, E], role: 'embedding' });
  if (E !== D) specs.push({ name: DEBERTA_NAMES.project, shape: [E, D], role: 'linear' });
  specs.push(...norm(DEBERTA_NAMES.norm, D));
  for (let i = 0; i < c.numLayers; i++) {
    const n = debertaLayerNames(i);
    specs.push(...linear(n.query, D, D, i), ...linear(n.key, D, D, i), ...linear(n.value, D, D, i));
    if (hasPositionProjection(c, 'c2p')) specs.push(...linear(n.posKey, D, D, i));
    if (hasPositionProjection(c, 'p2c')) specs.push(...linear(n.posQuery, D, D, i));
    specs.push(
      ...linear(n.attentionOutput, D, D, i), ...norm(n.attentionNorm, D, i),
      ...linear(n.intermediate, D, F, i), ...linear(n.output, F, D, i), ...norm(n.outputNorm, D, i),
    );
  }
  if (c.convKernelSize > 0) {
    specs.push(
      { name: `${DEBERTA_NAMES.conv}.weight`, shape: [D, D, c.convKernelSize], role: 'other', layer: 0 },
      { name: `${DEBERTA_NAMES.conv}.bias`, shape: [D], role: 'bias', layer: 0 },
      ...norm(DEBERTA_NAMES.convNorm, D, 0),
    );
  }
  if (c.relativeAttention) {
    specs.push({ name: DEBERTA_NAMES.relative, shape: [2 * c.attentionSpan, D], role: 'embedding' });
    if (c.normRelativeEmbeddings) specs.push(...norm(DEBERTA_NAMES.relativeNorm, D));
  }
  if (pooler) specs.push(...linear(DEBERTA_NAMES.pooler, D, D, undefined, 'pooler'));
  return specs;
}

/** The hook sites: BERT's sub-layers and projections under DeBERTa's module names. */
export function debertaHookSites(c: DebertaV2Config): HookSiteDeclaration {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const sublayers: SubLayerSite[] = [];
  const linears: LinearSite[] = [];
  const attentions: AttentionSite[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const n = debertaLayerNames(i);
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
    attentions.push(attentionSite({ layer: i, heads: c.numHeads, headDim: D / c.numHeads, inputWidth: D }));
  }
  return { sublayers, linears, attentions, embeddings: { kind: 'embeddings', key: 'embeddings', width: D } };
}
