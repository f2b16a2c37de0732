/**
 * MPNet's checkpoint key names and hook sites, declared once as data. Canonical names are the
 * checkpoint keys without the `mpnet.` prefix (MPNetForMaskedLM and the task models put it there;
 * sentence-transformers checkpoints such as all-mpnet-base-v2 save the bare MPNetModel, unprefixed).
 *
 * Layer i (Hugging Face `MPNetLayer`): `encoder.layer.{i}.attention.attn.{q,k,v,o}` and the
 * attention's `encoder.layer.{i}.attention.LayerNorm` (MPNetAttention adds the residual itself),
 * `encoder.layer.{i}.intermediate.dense`, `encoder.layer.{i}.output.dense` and
 * `encoder.layer.{i}.output.LayerNorm`. AdapterHub has no MPNet model; bottleneck adapters are kept
 * on the modules that own each block's residual and norm (`encoder.layer.{i}.attention`,
 * `encoder.layer.{i}.output`, as BERT's are on `BertSelfOutput` / `BertOutput`), LoRA on the
 * projections' own paths (what PEFT's keys follow).
 */
import { linearWeightSpecs as linear, normWeightSpecs as norm, type WeightSpec } from '../encoder.js';
import { attentionSite, linearSite, subLayerSite, type AttentionSite, type HookSiteDeclaration, type LinearRole, type LinearSite, type SubLayerSite } from '../sites.js';
import type { LayerNames } from '../bert/names.js';
import type { MpnetConfig } from './config.js';

/** The model prefix of MPNet task checkpoints. */
export const MPNET_PREFIX = 'mpnet.';

/** Embedding, relative-bias and pooler names. */
export const MPNET_NAMES = {
  word: 'embeddings.word_embeddings.weight',
  position: 'embeddings.position_embeddings.weight',
  norm: 'embeddings.LayerNorm',
  /** [relative_attention_num_buckets, heads], shared by every layer. */
  relativeBias: 'encoder.relative_attention_bias.weight',
  pooler: 'pooler.dense',
} as const;

/** Names of layer `i`'s sub-modules. */
export function mpnetLayerNames(i: number): LayerNames {
  const p = `encoder.layer.${i}`;
  return {
    query: `${p}.attention.attn.q`, key: `${p}.attention.attn.k`, value: `${p}.attention.attn.v`,
    attentionOutput: `${p}.attention.attn.o`, attentionNorm: `${p}.attention.LayerNorm`,
    intermediate: `${p}.intermediate.dense`, output: `${p}.output.dense`, outputNorm: `${p}.output.LayerNorm`,
    attentionAdapters: `${p}.attention`, outputAdapters: `${p}.output`,
  };
}

/** Every weight, in checkpoint order. `pooler` says whether the checkpoint has one. */
export function mpnetWeightSpecs(c: MpnetConfig, pooler: boolean): WeightSpec[] {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const specs: WeightSpec[] = [
    { name: MPNET_NAMES.word, shape: [c.vocabSize, D], role: 'embedding' },
    { name: MPNET_NAMES.position, shape: [c.maxPositions, D], role: 'embedding' },
    ...norm(MPNET_NAMES.norm, D),
  ];
  for (let i = 0; i < c.numLayers; i++) {
    const n = mpnetLayerNames(i);
    specs.push(
      ...linear(n.query, D, D, i), ...linear(n.key, D, D, i), ...linear(n.value, D, D, i), ...linear(n.attentionOutput, D, D, i),
      ...norm(n.attentionNorm, D, i), ...linear(n.intermediate, D, F, i), ...linear(n.output, F, D, i), ...norm(n.outputNorm, D, i),
    );
  }
  // an embedding table (not transposed); it serves every layer, so it belongs to none
  specs.push({ name: MPNET_NAMES.relativeBias, shape: [c.relativeBuckets, c.numHeads], role: 'embedding' });
  if (pooler) specs.push(...linear(MPNET_NAMES.pooler, D, D, undefined, 'pooler'));
  return specs;
}

/** The hook sites of a configuration (see models/sites.ts). */
export function mpnetHookSites(c: MpnetConfig): HookSiteDeclaration {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const sublayers: SubLayerSite[] = [];
  const linears: LinearSite[] = [];
  const attentions: AttentionSite[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const n = mpnetLayerNames(i);
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
