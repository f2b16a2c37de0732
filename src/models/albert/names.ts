/**
 * ALBERT's checkpoint key names and hook sites, declared once as data. Canonical names are the
 * checkpoint keys without the `albert.` prefix.
 *
 * Weights are shared across depth, adapters are not: every depth d (pass i = floor(d / K), inner
 * layer j = d mod K, group g) declares its own sites over the shared weights of
 * `encoder.albert_layer_groups.{g}.albert_layers.{j}`. AdapterHub (adapters `models/albert/`) keeps
 * its adapters inside those shared modules, so one adapter per shared layer:
 * `…albert_layers.{j}.attention.attention_adapters.adapters.<name>`, `…albert_layers.{j}.output_adapters.adapters.<name>`,
 * LoRA on `…attention.{query,key,value}`, `…ffn`, `…ffn_output`. A site's `module` is that path when
 * its layer runs at one depth only (G = L, K = 1); when the layer runs at several depths the path
 * gets `.depth.<d>` so each depth's adapter has keys of its own (files AdapterHub cannot load).
 */
import { linearWeightSpecs as linear, normWeightSpecs as norm, type WeightSpec } from '../encoder.js';
import { attentionSite, linearSite, subLayerSite, type AttentionSite, type HookSiteDeclaration, type LinearRole, type LinearSite, type SubLayerSite } from '../sites.js';
import type { LayerNames } from '../bert/names.js';
import { groupOfPass, type AlbertConfig } from './config.js';

/** The model prefix of ALBERT task checkpoints. */
export const ALBERT_PREFIX = 'albert.';

/** Embedding, projection and pooler names. */
export const ALBERT_NAMES = {
  word: 'embeddings.word_embeddings.weight',
  position: 'embeddings.position_embeddings.weight',
  tokenType: 'embeddings.token_type_embeddings.weight',
  norm: 'embeddings.LayerNorm',
  project: 'encoder.embedding_hidden_mapping_in',
  pooler: 'pooler',
} as const;

/** Where depth `d` runs: pass i, group g and inner layer j. */
export function depthPlace(c: AlbertConfig, d: number): { pass: number; group: number; inner: number } {
  const pass = Math.floor(d / c.innerGroupNum);
  return { pass, group: groupOfPass(c, pass), inner: d % c.innerGroupNum };
}

/** The shared layer module that depth `d` runs. */
export function sharedLayer(c: AlbertConfig, d: number): string {
  const { group, inner } = depthPlace(c, d);
  return `encoder.albert_layer_groups.${group}.albert_layers.${inner}`;
}

/** Whether a layer module runs at more than one depth. */
export function sharesLayers(c: AlbertConfig): boolean {
  return c.numHiddenGroups < c.numHiddenLayers;
}

/** Names of depth `d`'s sub-modules: the shared layer's weights, and the depth's own adapter module paths. */
export function albertLayerNames(c: AlbertConfig, d: number): LayerNames {
  const p = sharedLayer(c, d);
  const own = (module: string) => (sharesLayers(c) ? `${module}.depth.${d}` : module);
  return {
    query: `${p}.attention.query`, key: `${p}.attention.key`, value: `${p}.attention.value`,
    attentionOutput: `${p}.attention.dense`, attentionNorm: `${p}.attention.LayerNorm`,
    intermediate: `${p}.ffn`, output: `${p}.ffn_output`, outputNorm: `${p}.full_layer_layer_norm`,
    attentionAdapters: own(`${p}.attention.attention_adapters`), outputAdapters: own(`${p}.output_adapters`),
  };
}

/**
 * Every weight, in checkpoint order; each shared layer once, its `layer` the last depth that runs
 * it (so top-k fine-tuning trains the layers the top depths use).
 */
export function albertWeightSpecs(c: AlbertConfig, pooler: boolean): WeightSpec[] {
  const E = c.embeddingSize;
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const specs: WeightSpec[] = [
    { name: ALBERT_NAMES.word, shape: [c.vocabSize, E], role: 'embedding' },
    { name: ALBERT_NAMES.position, shape: [c.maxPositions, E], role: 'embedding' },
  ];
  if (c.typeVocabSize > 0) specs.push({ name: ALBERT_NAMES.tokenType, shape: [c.typeVocabSize, E], role: 'embedding' });
  specs.push(...norm(ALBERT_NAMES.norm, E), ...linear(ALBERT_NAMES.project, E, D));
  const lastDepth = new Map<string, number>();
  for (let d = 0; d < c.depth; d++) lastDepth.set(sharedLayer(c, d), d);
  for (let g = 0; g < c.numHiddenGroups; g++) {
    for (let j = 0; j < c.innerGroupNum; j++) {
      const p = `encoder.albert_layer_groups.${g}.albert_layers.${j}`;
      const d = lastDepth.get(p);
      specs.push(
        ...linear(`${p}.attention.query`, D, D, d), ...linear(`${p}.attention.key`, D, D, d), ...linear(`${p}.attention.value`, D, D, d),
        ...linear(`${p}.attention.dense`, D, D, d), ...norm(`${p}.attention.LayerNorm`, D, d),
        ...linear(`${p}.ffn`, D, F, d), ...linear(`${p}.ffn_output`, F, D, d), ...norm(`${p}.full_layer_layer_norm`, D, d),
      );
    }
  }
  if (pooler) specs.push(...linear(ALBERT_NAMES.pooler, D, D, undefined, 'pooler'));
  return specs;
}

/** The hook sites: one set per depth, over the shared weights (see the module comment). */
export function albertHookSites(c: AlbertConfig): HookSiteDeclaration {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const sublayers: SubLayerSite[] = [];
  const linears: LinearSite[] = [];
  const attentions: AttentionSite[] = [];
  const shared = sharesLayers(c);
  const depthsOf = new Map<string, number[]>();
  for (let d = 0; d < c.depth; d++) depthsOf.set(sharedLayer(c, d), [...(depthsOf.get(sharedLayer(c, d)) ?? []), d]);
  for (let d = 0; d < c.depth; d++) {
    const n = albertLayerNames(c, d);
    const others = (depthsOf.get(sharedLayer(c, d)) ?? []).filter((x) => x !== d);
    const sharing = others.length ? { sharedWith: Object.freeze(others) } : {};
    sublayers.push(
      subLayerSite({ layer: d, sublayer: 'attention', width: D, inputWidth: D, norm: 'post', normPrefix: n.attentionNorm, module: n.attentionAdapters, ...sharing }),
      subLayerSite({ layer: d, sublayer: 'ffn', width: D, inputWidth: D, norm: 'post', normPrefix: n.outputNorm, module: n.outputAdapters, ...sharing }),
    );
    const proj: [LinearRole, string, number, number][] = [
      ['query', n.query, D, D], ['key', n.key, D, D], ['value', n.value, D, D], ['attention_output', n.attentionOutput, D, D],
      ['intermediate', n.intermediate, D, F], ['output', n.output, F, D],
    ];
    for (const [role, module, inWidth, outWidth] of proj) {
      linears.push(linearSite({ layer: d, role, weight: `${module}.weight`, bias: `${module}.bias`, inWidth, outWidth, module: shared ? `${module}.depth.${d}` : module, ...sharing }));
    }
    attentions.push(attentionSite({ layer: d, heads: c.numHeads, headDim: D / c.numHeads, inputWidth: D }));
  }
  return { sublayers, linears, attentions, embeddings: { kind: 'embeddings', key: 'embeddings', width: D } };
}
