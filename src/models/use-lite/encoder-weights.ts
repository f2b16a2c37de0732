/**
 * USE-lite weights under canonical names, as one table: each entry gives the name, the shape, the
 * role and where the tensor comes from in {@link UseLiteWeights}. The encoder's `weightSpecs` and
 * the conversion of loaded weights into {@link EncoderWeights} are both derived from this table; its
 * per-layer rows, the layer names and the hook sites' weight names come from the one declaration
 * of a layer's tensors, `USE_LITE_LAYER_TENSORS` (layer-tensors.ts).
 *
 * Canonical names (l = 0, 1; layer 0 only for `residual`):
 * `embeddings.weight`, `layer.l.attention_norm.{weight,bias}`, `layer.l.attention.qkv.{weight,bias}`,
 * `layer.l.attention.output.{weight,bias}`, `layer.0.residual.{weight,bias}` (the dense that widens
 * the residual 256 -> 512), `layer.l.ffn_norm.{weight,bias}`, `layer.l.ffn.intermediate.{weight,bias}`,
 * `layer.l.ffn.output.{weight,bias}`, `pooler.dense.{weight,bias}` (the final tanh dense).
 *
 * Shape legend: V = 8002 embedding rows, E = 256, H = 512, F = 1536, A = heads * head width of a layer.
 * Matrices are `[in, out]`, applied as `y = x @ W + b`.
 */
import type { HostTensor } from '../../engine/index.js';
import { fail } from '../../errors.js';
import type { EncoderWeights, WeightSpec } from '../encoder.js';
import {
  attentionSite, linearSite, subLayerSite, type AttentionSite, type HookSiteDeclaration, type LinearSite, type SubLayerSite,
} from '../sites.js';
import { USE_LITE_CONFIG, type UseLiteLayerWeights, type UseLiteTensor, type UseLiteWeights } from './architecture.js';
import {
  canonicalTensorName, layerTensors, layerWidths, type LayerTensorField, type PerLayerTensor, type UseLiteLayerIndex,
} from './layer-tensors.js';

export type { UseLiteLayerIndex } from './layer-tensors.js';

/** One row of the weight table: a {@link WeightSpec} plus where its data comes from. */
interface WeightEntry extends WeightSpec {
  pick(w: UseLiteWeights): UseLiteTensor | undefined;
}

/**
 * Canonical weight names of one layer, by the field of each declared tensor (layer-tensors.ts;
 * `residual*` undefined in layer 1), and the layer-norm prefixes (`<prefix>.weight` is the gain,
 * `<prefix>.bias` the bias).
 */
export type UseLiteLayerNames = PerLayerTensor<string> & {
  readonly attentionNorm: string;
  readonly ffnNorm: string;
};

/** Canonical weight names of one layer. */
export function useLiteLayerNames(layer: UseLiteLayerIndex): UseLiteLayerNames {
  const names: Partial<Record<LayerTensorField, string>> = {};
  for (const [field, d] of layerTensors(layer)) names[field] = canonicalTensorName(d, layer);
  const n = names as PerLayerTensor<string>;
  const prefix = (gain: string) => gain.replace(/\.weight$/, '');
  return { ...n, attentionNorm: prefix(n.attentionNormScale), ffnNorm: prefix(n.ffnNormScale) };
}

/** Canonical names of the model-wide weights. */
export const USE_LITE_WEIGHT_NAMES = {
  embeddings: 'embeddings.weight',
  poolerKernel: 'pooler.dense.weight',
  poolerBias: 'pooler.dense.bias',
} as const;

function layerEntries(layer: UseLiteLayerIndex): WeightEntry[] {
  const widths = layerWidths(layer);
  return layerTensors(layer).map(([field, d]) => ({
    name: canonicalTensorName(d, layer),
    shape: d.shape(widths),
    role: d.role,
    layer,
    pick: (w: UseLiteWeights) => (w.layers[layer] as UseLiteLayerWeights)[field],
  }));
}

/** The whole table, in forward order. */
function weightTable(): WeightEntry[] {
  const { embeddingRows: V, embeddingDim: E, hiddenDim: H } = USE_LITE_CONFIG;
  const n = USE_LITE_WEIGHT_NAMES;
  return [
    { name: n.embeddings, shape: [V, E], role: 'embedding', pick: (w) => w.embeddings },
    ...layerEntries(0),
    ...layerEntries(1),
    { name: n.poolerKernel, shape: [H, H], role: 'pooler', pick: (w) => w.finalKernel },
    { name: n.poolerBias, shape: [H], role: 'pooler', pick: (w) => w.finalBias },
  ];
}

/** Every weight of the USE-lite encoder (29 tensors, 6,975,744 values), in forward order. */
export function useLiteWeightSpecs(): WeightSpec[] {
  return weightTable().map(({ name, shape, role, layer }) => (layer === undefined ? { name, shape, role } : { name, shape, role, layer }));
}

/**
 * Puts loaded USE-lite weights under their canonical names, float32 `[in, out]` (no copy: the
 * tensors share the loaded buffers).
 *
 * @throws AdapterkitError BAD_WEIGHTS naming the canonical name and source field of a tensor that
 *   is missing or has another shape than declared.
 *
 * @example
 * ```ts
 * const w = useLiteEncoderWeights(await loadUseLiteWeights());
 * w.get('layer.1.attention.qkv.weight')?.shape; // [512, 1536]
 * ```
 */
export function useLiteEncoderWeights(w: UseLiteWeights): EncoderWeights {
  const out = new Map<string, HostTensor<'float32'>>();
  for (const e of weightTable()) {
    const t = e.pick(w);
    if (t === undefined) fail('BAD_WEIGHTS', `USE-lite weights: tensor for "${e.name}" is missing`);
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      fail('BAD_WEIGHTS', `USE-lite weights: "${e.name}" has shape [${t.shape.join(', ')}], expected [${e.shape.join(', ')}]`);
    }
    out.set(e.name, { dtype: 'float32', shape: [...e.shape], data: t.data });
  }
  return out;
}

/**
 * USE-lite's hook sites, derived from the same names: both blocks of each layer are pre-norm and
 * write the 512-wide residual (layer 0's attention block reads 256 and adds its output to the
 * widened residual); Q, K and V are column blocks of the fused `qkv` kernel. Module paths (for
 * adapter files) are the weight names without `.weight`; Q, K and V get virtual modules
 * `layer.l.attention.{query,key,value}`.
 */
export function useLiteHookSites(): HookSiteDeclaration {
  const { hiddenDim: H, ffnDim: F } = USE_LITE_CONFIG;
  const sublayers: SubLayerSite[] = [];
  const linears: LinearSite[] = [];
  const attentions: AttentionSite[] = [];
  USE_LITE_CONFIG.layers.forEach(({ inputDim: I, heads, headDim }, layer) => {
    const n = useLiteLayerNames(layer as UseLiteLayerIndex);
    const A = heads * headDim;
    const module = (w: string) => w.replace(/\.weight$/, '');
    sublayers.push(
      subLayerSite({ layer, sublayer: 'attention', width: H, inputWidth: I, norm: 'pre', normPrefix: n.attentionNorm, module: module(n.outputKernel) }),
      subLayerSite({ layer, sublayer: 'ffn', width: H, inputWidth: H, norm: 'pre', normPrefix: n.ffnNorm, module: module(n.ffnOutKernel) }),
    );
    (['query', 'key', 'value'] as const).forEach((role, k) => {
      linears.push(linearSite({ layer, role, weight: n.qkvKernel, bias: n.qkvBias, inWidth: I, outWidth: A, columns: [k * A, (k + 1) * A], module: `layer.${layer}.attention.${role}` }));
    });
    linears.push(
      linearSite({ layer, role: 'attention_output', weight: n.outputKernel, bias: n.outputBias, inWidth: A, outWidth: H, module: module(n.outputKernel) }),
      linearSite({ layer, role: 'intermediate', weight: n.ffnInKernel, bias: n.ffnInBias, inWidth: H, outWidth: F, module: module(n.ffnInKernel) }),
      linearSite({ layer, role: 'output', weight: n.ffnOutKernel, bias: n.ffnOutBias, inWidth: F, outWidth: H, module: module(n.ffnOutKernel) }),
    );
    attentions.push(attentionSite({ layer, heads, headDim, inputWidth: I }));
  });
  return { sublayers, linears, attentions, embeddings: { kind: 'embeddings', key: 'embeddings', width: USE_LITE_CONFIG.embeddingDim } };
}
