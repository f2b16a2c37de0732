/**
 * The tensors of a USE-lite transformer layer, declared once: for each, where the TF.js graph
 * model holds it, its canonical name, its role and its shape. Everything per layer is derived
 * from {@link USE_LITE_LAYER_TENSORS}: the manifest names and shapes checked on load and the
 * fields of {@link UseLiteLayerWeights} (architecture.ts), the canonical names, the encoder's
 * weight specs and the conversion to canonical weights (encoder-weights.ts), and the names the
 * graph builder looks weights up by (graph-layers.ts). A tensor is added or renamed here only.
 *
 * Shape legend: I = the layer's input width (E = 256 in layer 0, H = 512 in layer 1),
 * A = heads * head width, H = 512 (residual), F = 1536 (feed-forward), E = 256 (embedding).
 * Matrices are `[in, out]`, applied as `y = x @ W + b`.
 */
import type { WeightRole } from '../encoder.js';
import { USE_LITE_CONFIG } from './config.js';

/** Layer indices of USE-lite. */
export type UseLiteLayerIndex = 0 | 1;

/** The widths a layer's shapes are written in (see the module comment). */
export interface LayerWidths {
  readonly I: number;
  readonly A: number;
  readonly H: number;
  readonly F: number;
  readonly E: number;
}

/** The graph scopes tensor names start with: variables, the applied module, its transformer stack. */
const TFJS_ROOTS = {
  vars: 'module/Encoder_en/KonaTransformer/Encode',
  apply: 'module_apply_default/Encoder_en/KonaTransformer/Encode',
  stack: 'module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack',
} as const;

/** One tensor of a layer. */
export interface LayerTensorDeclaration {
  /** Its name in the TF.js manifest: a root scope, then `Layer_<l>/TransformerLayer/<path>`. */
  readonly tfjs: readonly [root: keyof typeof TFJS_ROOTS, path: string];
  /** Its canonical name after `layer.<l>.`. */
  readonly canonical: string;
  readonly role: WeightRole;
  /** Its shape (`[in, out]` for matrices). */
  readonly shape: (w: LayerWidths) => readonly number[];
  /** The graph stores it as a 1x1-convolution kernel, `[1, 1, in, out]` (same bytes as `[in, out]`). */
  readonly conv1x1?: true;
  /** Only layer 0 has it. */
  readonly layer0Only?: true;
}

/** Every tensor of a layer, in forward order (which is the order of the encoder's weight specs). */
export const USE_LITE_LAYER_TENSORS = {
  /** Pre-attention layer norm gain, [I]. */
  attentionNormScale: { tfjs: ['apply', 'layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat'], canonical: 'attention_norm.weight', role: 'norm', shape: (w) => [w.I] },
  /** Pre-attention layer norm bias, [I]. */
  attentionNormBias: { tfjs: ['apply', 'layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat'], canonical: 'attention_norm.bias', role: 'norm', shape: (w) => [w.I] },
  /** Fused Q|K|V projection, [I, 3A]; columns: Q, then K, then V. */
  qkvKernel: { tfjs: ['vars', 'MultiheadAttention/qkv_transform_single/kernel/part_0'], canonical: 'attention.qkv.weight', role: 'linear', shape: (w) => [w.I, 3 * w.A], conv1x1: true },
  /** Fused Q|K|V bias, [3A]. */
  qkvBias: { tfjs: ['apply', 'MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat'], canonical: 'attention.qkv.bias', role: 'bias', shape: (w) => [3 * w.A] },
  /** Attention output projection, [A, H]. */
  outputKernel: { tfjs: ['vars', 'MultiheadAttention/output_transform_single/kernel/part_0'], canonical: 'attention.output.weight', role: 'linear', shape: (w) => [w.A, w.H], conv1x1: true },
  /** Attention output bias, [H]. */
  outputBias: { tfjs: ['apply', 'MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat'], canonical: 'attention.output.bias', role: 'bias', shape: (w) => [w.H] },
  /** Layer 0 only: the dense that widens the residual E -> H, [E, H]. */
  residualKernel: { tfjs: ['apply', 'dense/kernel/ConcatPartitions/concat'], canonical: 'residual.weight', role: 'linear', shape: (w) => [w.E, w.H], layer0Only: true },
  /** Layer 0 only: its bias, [H]. */
  residualBias: { tfjs: ['apply', 'dense/bias/ConcatPartitions/concat'], canonical: 'residual.bias', role: 'bias', shape: (w) => [w.H], layer0Only: true },
  /** Pre-FFN layer norm gain, [H]. */
  ffnNormScale: { tfjs: ['apply', 'FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat'], canonical: 'ffn_norm.weight', role: 'norm', shape: (w) => [w.H] },
  /** Pre-FFN layer norm bias, [H]. */
  ffnNormBias: { tfjs: ['apply', 'FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat'], canonical: 'ffn_norm.bias', role: 'norm', shape: (w) => [w.H] },
  /** FFN first dense (ReLU after), [H, F]. */
  ffnInKernel: { tfjs: ['stack', 'FFN/conv1/Tensordot/Reshape_1'], canonical: 'ffn.intermediate.weight', role: 'linear', shape: (w) => [w.H, w.F] },
  /** FFN first bias, [F]. */
  ffnInBias: { tfjs: ['apply', 'FFN/conv1/bias/ConcatPartitions/concat'], canonical: 'ffn.intermediate.bias', role: 'bias', shape: (w) => [w.F] },
  /** FFN second dense, [F, H]. */
  ffnOutKernel: { tfjs: ['stack', 'FFN/conv2/Tensordot/Reshape_1'], canonical: 'ffn.output.weight', role: 'linear', shape: (w) => [w.F, w.H] },
  /** FFN second bias, [H]. */
  ffnOutBias: { tfjs: ['apply', 'FFN/conv2/bias/ConcatPartitions/concat'], canonical: 'ffn.output.bias', role: 'bias', shape: (w) => [w.H] },
} as const satisfies Record<string, LayerTensorDeclaration>;

/** A declared layer tensor's key (also its field in {@link UseLiteLayerWeights}). */
export type LayerTensorField = keyof typeof USE_LITE_LAYER_TENSORS;

/** The fields only layer 0 has. */
export type Layer0OnlyField = { [K in LayerTensorField]: (typeof USE_LITE_LAYER_TENSORS)[K] extends { readonly layer0Only: true } ? K : never }[LayerTensorField];

/** One value per declared tensor; `undefined` in layer 1 for the layer-0-only ones. */
export type PerLayerTensor<T> = { readonly [K in LayerTensorField]: K extends Layer0OnlyField ? T | undefined : T };

/** The widths of layer `layer`. */
export function layerWidths(layer: UseLiteLayerIndex): LayerWidths {
  const { inputDim, heads, headDim } = USE_LITE_CONFIG.layers[layer];
  return { I: inputDim, A: heads * headDim, H: USE_LITE_CONFIG.hiddenDim, F: USE_LITE_CONFIG.ffnDim, E: USE_LITE_CONFIG.embeddingDim };
}

/** The declared tensors layer `layer` has, in forward order. */
export function layerTensors(layer: UseLiteLayerIndex): [LayerTensorField, LayerTensorDeclaration][] {
  return (Object.entries(USE_LITE_LAYER_TENSORS) as [LayerTensorField, LayerTensorDeclaration][]).filter(([, d]) => layer === 0 || !d.layer0Only);
}

/** A tensor's name in the TF.js manifest. */
export function tfjsTensorName(d: LayerTensorDeclaration, layer: UseLiteLayerIndex): string {
  return `${TFJS_ROOTS[d.tfjs[0]]}/${layerScope(layer)}/${d.tfjs[1]}`;
}

/** A tensor's shape in the TF.js manifest. */
export function tfjsTensorShape(d: LayerTensorDeclaration, layer: UseLiteLayerIndex): readonly number[] {
  const shape = d.shape(layerWidths(layer));
  return d.conv1x1 ? [1, 1, ...shape] : shape;
}

/** A graph constant of the layer (the query scale) by its path inside the transformer stack. */
export function tfjsStackName(layer: UseLiteLayerIndex, path: string): string {
  return `${TFJS_ROOTS.stack}/${layerScope(layer)}/${path}`;
}

/** A tensor's canonical name. */
export function canonicalTensorName(d: LayerTensorDeclaration, layer: UseLiteLayerIndex): string {
  return `layer.${layer}.${d.canonical}`;
}

function layerScope(layer: UseLiteLayerIndex): string {
  return `Layer_${layer}/TransformerLayer`;
}
