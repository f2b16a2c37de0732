/**
 * USE-lite's forward pass as engine builder functions, one per step of docs/use-lite.md: layer-0
 * input (embeddings and position signal), the additive padding mask, self-attention, the pre-norm
 * transformer layer with its adapter hook points, masked mean pooling and L2 normalisation.
 *
 * Shape legend: B batch, T tokens (<= 128), E = 256 embedding width, H = 512 residual width,
 * F = 1536 feed-forward width, Hh heads, Dh head width, A = Hh * Dh, I = a layer's input width
 * (E for layer 0, H for layer 1), P = 128 timescales.
 */
import {
  add, cast, cumsum, fill, gather, layerNorm, linear, less, matmul, mul, reduceSum, relu, reshape, slice,
  softmax, sqrt, div, sub, tanh, transpose, unsqueeze, where, f32, type Dim, type Graph, type HostTensor, type Value,
} from '../../engine/index.js';
import { maybeDropout, runLinear, runSubLayer, type AttentionParts, type BuildContext } from '../encoder.js';
import type { HookSites, LinearRole } from '../sites.js';
import { USE_LITE_CONFIG } from './architecture.js';
import type { UseLiteLayerNames } from './encoder-weights.js';

/** Checked lookup of a weight's graph value by canonical name. */
export type WeightLookup = (name: string) => Value;

/** Attention geometry of one layer. */
export interface AttentionGeometry {
  readonly heads: number;
  readonly headDim: number;
}

/**
 * The sinusoidal position signal for every position the model reads, `[maxTokens, E]`:
 * row t = `[sin(t * w_0..w_{P-1}) | cos(t * w_0..w_{P-1})]`, `w_i = exp(-ln(1e4) * i / (P - 1))`
 * rounded to float32 as in the graph; the angle is rounded to float32 too (the graph multiplies in float32).
 */
export function positionSignalTable(): HostTensor<'float32'> {
  const { maxTokens, timescales: P, maxTimescale, embeddingDim: E } = USE_LITE_CONFIG;
  const data = new Float32Array(maxTokens * E);
  for (let i = 0; i < P; i++) {
    const w = Math.fround(Math.exp((-Math.log(maxTimescale) * i) / (P - 1)));
    for (let t = 0; t < maxTokens; t++) {
      const angle = Math.fround(t * w);
      data[t * E + i] = Math.sin(angle);
      data[t * E + P + i] = Math.cos(angle);
    }
  }
  return f32([maxTokens, E], data);
}

/**
 * Position signal for the run-time length T: positions 0..T-1 come from a cumulative sum of
 * ones over the first row of `inputIds`, and index a constant `[128, E]` table (so T <= 128).
 */
export function positionSignal(g: Graph, inputIds: Value): Value {
  const table = g.constant(g.freshName('use_lite.position_signal'), positionSignalTable()); // [128, E]
  const firstRow = slice(inputIds, [0], [1], [0]); // [1, T] int64
  const positions = sub(cumsum(fill(firstRow, 1, 'int64'), 1), 1); // [1, T] int64: 0..T-1
  return gather(table, positions, 0); // [1, T, E]
}

/** Layer-0 input: `2 * Embeddings[id] + position signal` (the graph adds the embedding twice). */
export function layer0Input(g: Graph, inputIds: Value, embeddings: Value): Value {
  const e = gather(embeddings, inputIds, 0); // [B, T, E]
  return add(mul(e, 2), positionSignal(g, inputIds)); // [B, T, E]
}

/** Additive attention bias: `-1e9` for padding keys, 0 for real ones, `[B, 1, 1, T]`. */
export function attentionMaskBias(attentionMask: Value): Value {
  const real = cast(attentionMask, 'float32'); // [B, T]
  const bias = mul(sub(1, real), USE_LITE_CONFIG.attentionMaskValue); // [B, T]
  return unsqueeze(bias, [1, 2]); // [B, 1, 1, T]
}

/**
 * Pre-norm layer normalisation (eps 1e-6) with the weights `<prefix>.weight` / `<prefix>.bias`,
 * or the context's override (per-task layer norms).
 */
export function prenorm(ctx: BuildContext, x: Value, prefix: string, weight: WeightLookup): Value {
  const eps = USE_LITE_CONFIG.layerNormEpsilon;
  if (ctx.layerNorm) return ctx.layerNorm(x, prefix, eps, weight);
  return layerNorm(x, weight(`${prefix}.weight`), weight(`${prefix}.bias`), eps);
}

/** [B, T, A] -> [B, Hh, T, Dh] */
function splitHeads(x: Value, B: Dim, T: Dim, a: AttentionGeometry): Value {
  return transpose(reshape(x, [B, T, a.heads, a.headDim]), [0, 2, 1, 3]);
}

/** [B, Hh, T, Dh] -> [B, T, A] */
function mergeHeads(x: Value, B: Dim, T: Dim, a: AttentionGeometry): Value {
  return reshape(transpose(x, [0, 2, 1, 3]), [B, T, a.heads * a.headDim]);
}

/**
 * Multi-head self-attention on the normalised input `n` `[B, T, I]`, before the output
 * projection: returns the merged heads `[B, T, A]`. Q, K, V are column blocks of the fused kernel,
 * each through the linear hook of its site; queries are scaled by `1/sqrt(Dh)`; padding keys get
 * `maskBias`; keys and values pass the attention hook; attention-probability dropout with
 * `ctx.attentionDropout ?? 0.1` while training.
 */
export function selfAttention(ctx: BuildContext, sites: HookSites, layer: number, n: Value, maskBias: Value, weight: WeightLookup, a: AttentionGeometry): Value {
  const B = n.shape[0] as Dim;
  const T = n.shape[1] as Dim;
  const fused = new Map<Value, Value>(); // input -> [B, T, 3A], computed once per input
  const block = (role: 'query' | 'key' | 'value'): Value => {
    const site = sites.linear(layer, role);
    const [from, to] = site.columns as readonly [number, number];
    const apply = (z: Value): Value => {
      let qkv = fused.get(z);
      if (!qkv) {
        qkv = linear(z, weight(site.weight), site.bias === undefined ? undefined : weight(site.bias)); // [B, T, 3A]
        fused.set(z, qkv);
      }
      return slice(qkv, [from], [to], [2]); // [B, T, A]
    };
    return runLinear(ctx, site, n, apply);
  };
  const q = splitHeads(mul(block('query'), 1 / Math.sqrt(a.headDim)), B, T, a); // [B, Hh, T, Dh]
  let kv: AttentionParts = { keys: splitHeads(block('key'), B, T, a), values: splitHeads(block('value'), B, T, a), maskBias, input: n }; // [B, Hh, T, Dh] x 2
  if (ctx.attention) kv = ctx.attention(sites.attention(layer), kv);
  const logits = add(matmul(q, transpose(kv.keys, [0, 1, 3, 2])), kv.maskBias); // [B, Hh, T, T]
  const probs = maybeDropout(ctx, softmax(logits, -1), ctx.attentionDropout ?? 0.1); // [B, Hh, T, T]
  return mergeHeads(matmul(probs, kv.values), B, T, a); // [B, T, A]
}

/**
 * One pre-norm transformer layer; the residual adds and every projection run through the
 * context's hooks at the layer's sites:
 *
 *     o   = dropout(Attn(LN1(x)) @ Wo + bo);  h   = sublayer(attention: o + r)
 *     f   = dropout(relu(LN2(h) @ W1 + b1) @ W2 + b2);  out = sublayer(ffn: f + h)
 *
 * with `r = x @ Wr + br` in layer 0 (widening E -> H) and `r = x` in layer 1.
 * `x` is `[B, T, I]`; returns `[B, T, H]`.
 */
export function transformerLayer(
  ctx: BuildContext, sites: HookSites, layer: number, x: Value, maskBias: Value, names: UseLiteLayerNames, weight: WeightLookup, a: AttentionGeometry,
): Value {
  const hiddenDropout = ctx.hiddenDropout ?? 0.1;
  const dense = (role: LinearRole, z: Value): Value => {
    const site = sites.linear(layer, role);
    return runLinear(ctx, site, z, (v) => linear(v, weight(site.weight), site.bias === undefined ? undefined : weight(site.bias)));
  };
  const n = prenorm(ctx, x, names.attentionNorm, weight); // [B, T, I]
  const c = selfAttention(ctx, sites, layer, n, maskBias, weight, a); // [B, T, A]
  const o = maybeDropout(ctx, dense('attention_output', c), hiddenDropout); // [B, T, H]
  const widen = names.residualKernel !== undefined && names.residualBias !== undefined;
  const r = widen ? linear(x, weight(names.residualKernel as string), weight(names.residualBias as string)) : x; // [B, T, H]
  const h = runSubLayer(ctx, sites.sublayer(layer, 'attention'), { input: x, output: o, residual: r, norm: (v) => v }); // [B, T, H]
  const m = prenorm(ctx, h, names.ffnNorm, weight); // [B, T, H]
  const inner = relu(dense('intermediate', m)); // [B, T, F]
  const f = maybeDropout(ctx, dense('output', inner), hiddenDropout); // [B, T, H]
  return runSubLayer(ctx, sites.sublayer(layer, 'ffn'), { input: h, output: f, residual: h, norm: (v) => v }); // [B, T, H]
}

/** Mean of `hidden` `[B, T, H]` over real tokens: `sum(mask * hidden) / max(len, 1)`, `[B, H]`. */
export function maskedMeanPool(hidden: Value, attentionMask: Value): Value {
  const real = unsqueeze(cast(attentionMask, hidden.dtype), [2]); // [B, T, 1]
  const sum = reduceSum(mul(hidden, real), [1]); // [B, H]
  const count = reduceSum(real, [1]); // [B, 1]
  return div(sum, where(less(count, 1), 1, count)); // [B, H]
}

/**
 * L2 normalisation as in the original graph: `v * rsqrt(max(sum(v^2), 1e-12))` over the last
 * axis. Applied to the encoder's `pooled` output `[B, H]` it gives the USE-lite embedding.
 */
export function l2Normalize(v: Value): Value {
  const eps = USE_LITE_CONFIG.l2Epsilon;
  const squares = reduceSum(mul(v, v), [-1], true); // [B, 1]
  return div(v, sqrt(where(less(squares, eps), eps, squares))); // [B, H]
}

/** The pooler head `tanh(mean @ Wf + bf)`, `[B, H]` -> `[B, H]`. */
export function poolerHead(mean: Value, kernel: Value, bias: Value): Value {
  return tanh(linear(mean, kernel, bias)); // [B, H]
}
