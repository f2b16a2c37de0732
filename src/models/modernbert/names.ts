/**
 * ModernBERT's checkpoint key names and hook sites, declared once as data. Canonical names are the
 * checkpoint keys without `model.` (ModernBertForMaskedLM and the task models put the encoder
 * there; a bare ModernBertModel saves it unprefixed). The prediction head the task models share
 * (`head.dense`, `head.norm`, no model prefix) is kept as `prediction_head.*`, so it cannot be
 * mistaken for adapterkit's own task head tensors (`head.*`).
 *
 * Layer i (`ModernBertEncoderLayer`): `layers.{i}.attn_norm` (absent in layer 0, where it is the
 * identity), `layers.{i}.attn.Wqkv` (Q | K | V, each hidden wide, heads contiguous),
 * `layers.{i}.attn.Wo`, `layers.{i}.mlp_norm`, `layers.{i}.mlp.Wi` (input | gate, each
 * intermediate wide), `layers.{i}.mlp.Wo`. Biases exist only where the config says so.
 * AdapterHub has no ModernBERT model: bottleneck adapters are kept on `layers.{i}.attn` and
 * `layers.{i}.mlp` (the modules whose outputs the residual adds), LoRA on the projections' paths,
 * with virtual modules `layers.{i}.attn.{query,key,value}` for the column blocks of Wqkv.
 */
import type { WeightSpec } from '../encoder.js';
import { attentionSite, linearSite, subLayerSite, type AttentionSite, type HookSiteDeclaration, type LinearRole, type LinearSite, type SubLayerSite } from '../sites.js';
import type { ModernBertConfig } from './config.js';

/** The model prefix of ModernBERT task checkpoints. */
export const MODERNBERT_PREFIX = 'model.';

/** Embedding, final norm and prediction-head names. */
export const MODERNBERT_NAMES = {
  word: 'embeddings.tok_embeddings.weight',
  norm: 'embeddings.norm',
  finalNorm: 'final_norm',
  headDense: 'prediction_head.dense',
  headNorm: 'prediction_head.norm',
} as const;

/** Checkpoint spelling of the prediction head's canonical names (`prediction_head.` -> `head.`). */
export function checkpointHeadName(canonical: string): string {
  return canonical.replace(/^prediction_head\./, 'head.');
}

/** Names of layer `i`'s sub-modules. */
export function modernBertLayerNames(i: number) {
  const p = `layers.${i}`;
  return {
    attentionNorm: i === 0 ? undefined : `${p}.attn_norm`, qkv: `${p}.attn.Wqkv`, attentionOutput: `${p}.attn.Wo`,
    mlpNorm: `${p}.mlp_norm`, wi: `${p}.mlp.Wi`, wo: `${p}.mlp.Wo`, attentionModule: `${p}.attn`, mlpModule: `${p}.mlp`,
  };
}

function linear(prefix: string, nIn: number, nOut: number, bias: boolean, layer?: number, role: 'linear' | 'pooler' = 'linear'): WeightSpec[] {
  const w: WeightSpec = { name: `${prefix}.weight`, shape: [nIn, nOut], role, layer };
  return bias ? [w, { name: `${prefix}.bias`, shape: [nOut], role: role === 'pooler' ? 'pooler' : 'bias', layer }] : [w];
}

function norm(prefix: string, n: number, bias: boolean, layer?: number, role: 'norm' | 'pooler' = 'norm'): WeightSpec[] {
  const w: WeightSpec = { name: `${prefix}.weight`, shape: [n], role, layer };
  return bias ? [w, { name: `${prefix}.bias`, shape: [n], role, layer }] : [w];
}

/** Every weight, in checkpoint order. `head` says whether the checkpoint has the prediction head. */
export function modernBertWeightSpecs(c: ModernBertConfig, head: boolean): WeightSpec[] {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const specs: WeightSpec[] = [{ name: MODERNBERT_NAMES.word, shape: [c.vocabSize, D], role: 'embedding' }, ...norm(MODERNBERT_NAMES.norm, D, c.normBias)];
  for (let i = 0; i < c.numLayers; i++) {
    const n = modernBertLayerNames(i);
    if (n.attentionNorm) specs.push(...norm(n.attentionNorm, D, c.normBias, i));
    specs.push(
      ...linear(n.qkv, D, 3 * D, c.attentionBias, i), ...linear(n.attentionOutput, D, D, c.attentionBias, i),
      ...norm(n.mlpNorm, D, c.normBias, i), ...linear(n.wi, D, 2 * F, c.mlpBias, i), ...linear(n.wo, F, D, c.mlpBias, i),
    );
  }
  specs.push(...norm(MODERNBERT_NAMES.finalNorm, D, c.normBias));
  if (head) specs.push(...linear(MODERNBERT_NAMES.headDense, D, D, c.classifierBias, undefined, 'pooler'), ...norm(MODERNBERT_NAMES.headNorm, D, c.normBias, undefined, 'pooler'));
  return specs;
}

/** The hook sites of a configuration (see models/sites.ts). */
export function modernBertHookSites(c: ModernBertConfig): HookSiteDeclaration {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const sublayers: SubLayerSite[] = [];
  const linears: LinearSite[] = [];
  const attentions: AttentionSite[] = [];
  const bias = (module: string, has: boolean) => (has ? { bias: `${module}.bias` } : {});
  for (let i = 0; i < c.numLayers; i++) {
    const n = modernBertLayerNames(i);
    sublayers.push(
      subLayerSite({ layer: i, sublayer: 'attention', width: D, inputWidth: D, norm: 'pre', ...(n.attentionNorm ? { normPrefix: n.attentionNorm } : {}), normBias: c.normBias, module: n.attentionModule }),
      subLayerSite({ layer: i, sublayer: 'ffn', width: D, inputWidth: D, norm: 'pre', normPrefix: n.mlpNorm, normBias: c.normBias, module: n.mlpModule }),
    );
    (['query', 'key', 'value'] as const).forEach((role, k) => {
      linears.push(linearSite({ layer: i, role, weight: `${n.qkv}.weight`, ...bias(n.qkv, c.attentionBias), inWidth: D, outWidth: D, columns: [k * D, (k + 1) * D], module: `${n.attentionModule}.${role}` }));
    });
    const proj: [LinearRole, string, number, number, boolean][] = [
      ['attention_output', n.attentionOutput, D, D, c.attentionBias], ['intermediate', n.wi, D, 2 * F, c.mlpBias], ['output', n.wo, F, D, c.mlpBias],
    ];
    for (const [role, module, inWidth, outWidth, has] of proj) linears.push(linearSite({ layer: i, role, weight: `${module}.weight`, ...bias(module, has), inWidth, outWidth, module }));
    attentions.push(attentionSite({ layer: i, heads: c.numHeads, headDim: D / c.numHeads, inputWidth: D }));
  }
  return { sublayers, linears, attentions, embeddings: { kind: 'embeddings', key: 'embeddings', width: D } };
}
