/**
 * Universal Sentence Encoder-lite: the weights the encoder needs, and a loader that checks them
 * against the TF.js manifest. Each layer's tensors are declared once in layer-tensors.ts; the
 * model-wide ones and the graph constants in {@link USE_LITE_GLOBAL_SPECS}. The forward computation
 * is described step by step in docs/use-lite.md.
 *
 * Shape legend: V = 8002 embedding rows, E = 256 (embedding width), H = 512 (residual width after
 * layer 0), F = 1536 (feed-forward width), P = 128 (timescales, E / 2).
 *
 * All matrices are stored `[in, out]` and applied as `y = x @ W + b` (TensorFlow layout; PyTorch
 * `Linear` stores the transpose). The 1x1-convolution kernels `[1, 1, in, out]` of the graph are
 * given here as `[in, out]` (same bytes).
 */

import { fail } from '../../errors.js';
import { USE_LITE_CONFIG } from './config.js';
import {
  layerTensors, layerWidths, tfjsStackName, tfjsTensorName, tfjsTensorShape, type LayerTensorField, type PerLayerTensor, type UseLiteLayerIndex,
} from './layer-tensors.js';
import type { TfjsWeightMap } from './tfjs-weights.js';

export { USE_LITE_CONFIG } from './config.js';

/** A dense float tensor, row-major. */
export interface UseLiteTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * Weights of one transformer layer: a field per tensor declared in `USE_LITE_LAYER_TENSORS`
 * (layer-tensors.ts; the layer-0-only `residualKernel` and `residualBias` are undefined in layer 1),
 * the Q, K and V blocks of the fused projection, and the query scale.
 */
export type UseLiteLayerWeights = PerLayerTensor<UseLiteTensor> & UseLiteAttentionBlocks & {
  /** The graph's query scale, 1 / sqrt(headDim) (0.125 and 0.08838835). */
  readonly queryScale: number;
};

/** Q, K and V: column blocks of the fused kernel `qkvKernel` (and of its bias), A = heads * headDim. */
export interface UseLiteAttentionBlocks {
  /** Query projection (columns 0..A-1 of the fused kernel), [in, A]. */
  readonly queryKernel: UseLiteTensor;
  /** Query bias, [A]. */
  readonly queryBias: UseLiteTensor;
  /** Key projection (columns A..2A-1), [in, A]. */
  readonly keyKernel: UseLiteTensor;
  /** Key bias, [A]. */
  readonly keyBias: UseLiteTensor;
  /** Value projection (columns 2A..3A-1), [in, A]. */
  readonly valueKernel: UseLiteTensor;
  /** Value bias, [A]. */
  readonly valueBias: UseLiteTensor;
}

/** Everything the USE-lite encoder consumes. */
export interface UseLiteWeights {
  /** Token embeddings, [V, E]; row = token id. */
  readonly embeddings: UseLiteTensor;
  /** Inverse timescales of the position signal, [P] (graph constant, equals the formula). */
  readonly inverseTimescales: UseLiteTensor;
  /** The two transformer layers. */
  readonly layers: readonly [UseLiteLayerWeights, UseLiteLayerWeights];
  /** Final dense before tanh, [H, H]. */
  readonly finalKernel: UseLiteTensor;
  /** Its bias, [H]. */
  readonly finalBias: UseLiteTensor;
  /** Manifest name of every tensor used, by field path (e.g. `layers.0.qkvKernel`). */
  readonly sources: Readonly<Record<string, string>>;
}

const STACK = 'module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack';

/** One declared tensor: its manifest name and the shape it must have there. */
export interface UseLiteTensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** The manifest name of a layer's query scale (a graph constant). */
function queryScaleSpec(layer: UseLiteLayerIndex): UseLiteTensorSpec {
  return { name: tfjsStackName(layer, 'MultiheadAttention/mul/y'), shape: [] };
}

/** Manifest names and shapes of one layer's tensors (from layer-tensors.ts) and of its query scale. */
export function useLiteLayerSpecs(layer: UseLiteLayerIndex): Readonly<Record<string, UseLiteTensorSpec>> {
  const specs: Record<string, UseLiteTensorSpec> = {};
  for (const [field, d] of layerTensors(layer)) specs[field] = { name: tfjsTensorName(d, layer), shape: tfjsTensorShape(d, layer) };
  specs.queryScale = queryScaleSpec(layer);
  return specs;
}

/** Manifest names and shapes of the model-wide tensors and the scalar constants checked on load. */
export const USE_LITE_GLOBAL_SPECS = {
  embeddings: { name: 'module/Embeddings_en', shape: [USE_LITE_CONFIG.embeddingRows, USE_LITE_CONFIG.embeddingDim] },
  inverseTimescales: { name: `${STACK}/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`, shape: [1, USE_LITE_CONFIG.timescales] },
  finalKernel: { name: 'module/Encoder_en/hidden_layers/tanh_layer_0/weights', shape: [USE_LITE_CONFIG.hiddenDim, USE_LITE_CONFIG.hiddenDim] },
  finalBias: { name: 'module/Encoder_en/hidden_layers/tanh_layer_0/bias', shape: [USE_LITE_CONFIG.hiddenDim] },
  layerNormEpsilon: { name: tfjsStackName(1, 'FFN/layer_prepostprocess/layer_norm/Cast/x'), shape: [] },
  attentionMaskValue: { name: tfjsStackName(1, 'MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y'), shape: [] },
  l2Epsilon: { name: 'module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y', shape: [] },
  maxTokens: { name: 'module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y', shape: [] },
} as const satisfies Record<string, UseLiteTensorSpec>;

function take(weights: TfjsWeightMap, spec: UseLiteTensorSpec, field: string, sources: Record<string, string>): UseLiteTensor {
  const t = weights.get(spec.name);
  if (t === undefined) fail('BAD_WEIGHTS', `USE-lite weights: tensor "${spec.name}" (${field}) is missing`);
  if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
    fail('BAD_WEIGHTS', `USE-lite weights: tensor "${spec.name}" (${field}) has shape [${t.shape.join(', ')}], expected [${spec.shape.join(', ')}]`);
  }
  sources[field] = spec.name;
  return t;
}

function scalar(weights: TfjsWeightMap, spec: UseLiteTensorSpec, field: string, expected: number, sources: Record<string, string>): number {
  const value = take(weights, spec, field, sources).data[0] as number;
  if (Math.abs(value - expected) > 1e-6 * Math.abs(expected)) {
    fail('BAD_WEIGHTS', `USE-lite weights: constant "${spec.name}" (${field}) is ${value}, expected ${expected}`);
  }
  return value;
}

/** `[rows, cols]` matrix -> its columns `from..to-1` as a new `[rows, to - from]` matrix. */
function columns(m: UseLiteTensor, from: number, to: number): UseLiteTensor {
  const rows = m.shape[m.shape.length - 2] as number;
  const cols = m.shape[m.shape.length - 1] as number;
  const out = new Float32Array(rows * (to - from));
  for (let r = 0; r < rows; r++) out.set(m.data.subarray(r * cols + from, r * cols + to), r * (to - from));
  return { shape: [rows, to - from], data: out };
}

function asMatrix(t: UseLiteTensor): UseLiteTensor {
  return { shape: t.shape.slice(-2), data: t.data };
}

function buildLayer(weights: TfjsWeightMap, layer: UseLiteLayerIndex, sources: Record<string, string>): UseLiteLayerWeights {
  const { headDim } = USE_LITE_CONFIG.layers[layer];
  const { A } = layerWidths(layer);
  const tensors: Partial<Record<LayerTensorField, UseLiteTensor>> = {};
  for (const [field, d] of layerTensors(layer)) {
    const t = take(weights, { name: tfjsTensorName(d, layer), shape: tfjsTensorShape(d, layer) }, `layers.${layer}.${field}`, sources);
    tensors[field] = d.conv1x1 ? asMatrix(t) : t;
  }
  const { qkvKernel, qkvBias } = tensors as PerLayerTensor<UseLiteTensor>;
  const slice = (t: UseLiteTensor, k: number): UseLiteTensor => ({ shape: [A], data: t.data.slice(k * A, (k + 1) * A) });
  return {
    ...(tensors as PerLayerTensor<UseLiteTensor>),
    residualKernel: tensors.residualKernel,
    residualBias: tensors.residualBias,
    queryKernel: columns(qkvKernel, 0, A),
    queryBias: slice(qkvBias, 0),
    keyKernel: columns(qkvKernel, A, 2 * A),
    keyBias: slice(qkvBias, 1),
    valueKernel: columns(qkvKernel, 2 * A, 3 * A),
    valueBias: slice(qkvBias, 2),
    queryScale: scalar(weights, queryScaleSpec(layer), `layers.${layer}.queryScale`, 1 / Math.sqrt(headDim), sources),
  };
}

/**
 * Picks and checks the USE-lite tensors from a TF.js weight map.
 *
 * @throws AdapterkitError BAD_WEIGHTS naming the missing tensor, the wrong shape, or a graph
 *   constant (epsilon, mask value, query scale, max length, timescales) that differs from
 *   {@link USE_LITE_CONFIG}.
 */
export function useLiteWeightsFrom(weights: TfjsWeightMap): UseLiteWeights {
  const sources: Record<string, string> = {};
  const g = USE_LITE_GLOBAL_SPECS;
  const c = USE_LITE_CONFIG;
  scalar(weights, g.layerNormEpsilon, 'layerNormEpsilon', c.layerNormEpsilon, sources);
  scalar(weights, g.attentionMaskValue, 'attentionMaskValue', c.attentionMaskValue, sources);
  scalar(weights, g.l2Epsilon, 'l2Epsilon', c.l2Epsilon, sources);
  scalar(weights, g.maxTokens, 'maxTokens', c.maxTokens, sources);
  const timing = take(weights, g.inverseTimescales, 'inverseTimescales', sources);
  timing.data.forEach((v, i) => {
    const expected = Math.exp((-Math.log(c.maxTimescale) * i) / (c.timescales - 1));
    if (Math.abs(v - expected) > 1e-6 * expected) {
      fail('BAD_WEIGHTS', `USE-lite weights: inverse timescale ${i} in "${g.inverseTimescales.name}" is ${v}, expected ${expected}`);
    }
  });
  return {
    embeddings: take(weights, g.embeddings, 'embeddings', sources),
    inverseTimescales: { shape: [c.timescales], data: timing.data },
    layers: [buildLayer(weights, 0, sources), buildLayer(weights, 1, sources)],
    finalKernel: take(weights, g.finalKernel, 'finalKernel', sources),
    finalBias: take(weights, g.finalBias, 'finalBias', sources),
    sources,
  };
}
