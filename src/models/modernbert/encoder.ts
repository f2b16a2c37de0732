/**
 * The ModernBERT encoder on adapterkit's engine:
 *
 *     x = dropout(LN(tok_embeddings[ids]))                        (no positions, no token types)
 *     layer i:  a = attn_norm(x) (the identity in layer 0);  [q | k | v] = a Wqkv
 *               q, k rotated: q cos + rotate_half(q) sin, with the rope theta of the layer's kind
 *               x = x + Wo(softmax(q kᵀ / sqrt(Dh) + mask) v)
 *               [u | g] = mlp_norm(x) Wi;  x = x + Wo(dropout(act(u) * g))
 *     hidden = final_norm(x)
 *
 * Layers i with i % global_attn_every_n_layers == 0 attend to every real key; the others only to
 * keys at distance <= local_attention / 2, as ModernBERT's sliding-window mask (keys outside the
 * window get float32's lowest value in place of the padding mask, as masked_fill does). Rotary
 * tables (cos, sin [max_position_embeddings, Dh], float32 as ModernBertRotaryEmbedding computes them)
 * and the window's relative-position table are constants gathered by position: no new gradient rule.
 *
 * Pooled output: with the checkpoint's prediction head (`head.dense`, `head.norm`, what
 * ModernBertForSequenceClassification applies), head.norm(act(head.dense(p))) with p the first token
 * (`classifier_pooling` "cls") or the masked mean ("mean"); without it, the first token's hidden state.
 *
 * Shape legend: B batch, T sequence, D hidden, H heads, Dh head size, F intermediate.
 */
import {
  add, cast, cumsum, div, f32, fill, gather, layerNorm, less, linear, matmul, mul, reduceSum, reshape, slice, softmax, sub,
  transpose, unsqueeze, where, concat, type Value,
} from '../../engine/index.js';
import { activate } from '../activations.js';
import { leftPadKeys, maskBias } from '../bert/encoder.js';
import { describeCheckpointKeys, type CheckpointKeys } from '../checkpoint.js';
import { maybeDropout, runLinear, runSubLayer, type AttentionParts, type BuildContext, type Encoder, type EncoderInputs, type EncoderOutputs, type WeightSpec } from '../encoder.js';
import { HookSites } from '../sites.js';
import { isGlobalLayer, type ModernBertConfig } from './config.js';
import { MODERNBERT_NAMES, MODERNBERT_PREFIX, modernBertHookSites, modernBertLayerNames, modernBertWeightSpecs } from './names.js';

/** float32's lowest value: the additive mask of padding keys and of keys outside a local window. */
const MASK_VALUE = -3.4028234663852886e38;

/**
 * cos and sin [n, Dh] of rotary position embeddings with base `theta`: angle(p, j) = p / theta^(2(j mod Dh/2) / Dh),
 * the frequencies repeated over both halves; float32 at every step, as ModernBertRotaryEmbedding.
 */
export function rotaryTables(n: number, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const inv = Array.from({ length: half }, (_, j) => Math.fround(1 / Math.fround(theta ** Math.fround((2 * j) / headDim))));
  const cos = new Float32Array(n * headDim);
  const sin = new Float32Array(n * headDim);
  for (let p = 0; p < n; p++) {
    for (let j = 0; j < half; j++) {
      const a = Math.fround(inv[j]! * p);
      const c = Math.cos(a);
      const s = Math.sin(a);
      cos[p * headDim + j] = c;
      cos[p * headDim + j + half] = c;
      sin[p * headDim + j] = s;
      sin[p * headDim + j + half] = s;
    }
  }
  return { cos, sin };
}

/** LayerNorm with `<prefix>.weight` (and `<prefix>.bias` when the config has norm biases), through the context's override. */
function norm(ctx: BuildContext, c: ModernBertConfig, x: Value, prefix: string): Value {
  if (ctx.layerNorm) return ctx.layerNorm(x, prefix, c.normEps, (n) => ctx.weight(n));
  return layerNorm(x, ctx.weight(`${prefix}.weight`), c.normBias ? ctx.weight(`${prefix}.bias`) : undefined, c.normEps);
}

/** x · cos + rotate_half(x) · sin, rotate_half(x) = [-x2, x1] over the head dimension. x [B, H, T, Dh], tables [T, Dh]. */
function rotate(x: Value, cos: Value, sin: Value, headDim: number): Value {
  const half = headDim / 2;
  const x1 = slice(x, [0], [half], [3]);
  const x2 = slice(x, [half], [headDim], [3]);
  return add(mul(x, cos), mul(concat([mul(x2, -1), x1], 3), sin));
}

/**
 * The local window's additive bias of every relative position r in [-(n - 1), n - 1], at index
 * r + n - 1: 0 for |r| <= localAttention / 2 (integer division), float32's lowest value beyond.
 */
export function windowTable(n: number, localAttention: number): Float32Array {
  const half = Math.floor(localAttention / 2);
  const t = new Float32Array(2 * n - 1);
  for (let r = -(n - 1); r <= n - 1; r++) t[r + n - 1] = Math.abs(r) <= half ? 0 : MASK_VALUE;
  return t;
}

interface Positions {
  readonly cos: { global: Value; local: Value };
  readonly sin: { global: Value; local: Value };
  /** [1, 1, T, T]: 0 inside the local window, MASK_VALUE outside. */
  readonly window: Value;
}

/** A ModernBERT encoder for `config`; `head` says whether the checkpoint has its prediction head. */
export class ModernBertEncoder implements Encoder {
  readonly family = 'modernbert';
  readonly checkpointPrefix = MODERNBERT_PREFIX;
  readonly usesTokenTypes = false;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly pooledSize: number;
  readonly outputWidth: number;
  readonly maxLength: number;
  readonly weightSpecs: readonly WeightSpec[];
  readonly sites: HookSites;
  /** AdapterHub (adapters 1.2) has no ModernBERT model: saved adapters carry AdapterHub-style keys for adapterkit only. */
  readonly adapterHubIssue = 'AdapterHub has no ModernBERT model';
  readonly positionLimits = { promptTokens: 'its rotary tables and local attention windows are built for the input tokens only, and prompt tokens have no positions in them' };

  /** `keys`: how the checkpoint spelled its keys (shown by `describe`). */
  constructor(readonly config: ModernBertConfig, readonly hasHead: boolean, readonly keys?: CheckpointKeys) {
    this.hiddenSize = config.hiddenSize;
    this.numLayers = config.numLayers;
    this.pooledSize = config.hiddenSize;
    this.outputWidth = config.hiddenSize;
    this.maxLength = config.maxLength;
    this.weightSpecs = modernBertWeightSpecs(config, hasHead);
    this.sites = new HookSites('modernbert', config.numLayers, modernBertHookSites(config), this.weightSpecs);
  }

  private positions(ctx: BuildContext, ids: Value): Positions {
    const g = ctx.graph;
    const c = this.config;
    const n = c.maxPositions;
    const Dh = c.hiddenSize / c.numHeads;
    const pos = gather(sub(cumsum(fill(ids, 1, 'int64'), 1), 1), g.literal('int64', 0), 0); // [T] 0..T-1
    const rope = (name: string, theta: number) => {
      const t = rotaryTables(n, Dh, theta);
      return { cos: gather(g.constant(`${name}_cos`, f32([n, Dh], t.cos)), pos), sin: gather(g.constant(`${name}_sin`, f32([n, Dh], t.sin)), pos) }; // [T, Dh]
    };
    const glob = rope('modernbert_rope_global', c.globalRopeTheta);
    const loc = c.numLayers > 1 ? rope('modernbert_rope_local', c.localRopeTheta) : glob;
    const rel = sub(unsqueeze(pos, [0]), unsqueeze(pos, [1])); // [T, T] key - query
    const table = g.constant('modernbert_window', f32([2 * n - 1], windowTable(n, c.localAttention))); // [2n - 1]
    const window = unsqueeze(gather(table, add(rel, n - 1)), [0, 1]); // [1, 1, T, T]
    return { cos: { global: glob.cos, local: loc.cos }, sin: { global: glob.sin, local: loc.sin }, window };
  }

  private layer(ctx: BuildContext, i: number, h: Value, bias: Value, pos: Positions): Value {
    const c = this.config;
    const sites = this.sites;
    const n = modernBertLayerNames(i);
    const H = c.numHeads;
    const D = c.hiddenSize;
    const Dh = D / H;
    const F = c.intermediateSize;
    const [B, T] = [h.shape[0] as string | number, h.shape[1] as string | number];
    const global = isGlobalLayer(c, i);
    const drop = ctx.attentionDropout ?? c.attentionDropout;
    const w = (name: string | undefined) => (name === undefined ? undefined : ctx.weight(name));
    // attention
    const a = n.attentionNorm ? norm(ctx, c, h, n.attentionNorm) : h; // [B, T, D]
    const fused = new Map<Value, Value>(); // input -> [B, T, 3D], once per input
    const block = (role: 'query' | 'key' | 'value'): Value => {
      const site = sites.linear(i, role);
      const [from, to] = site.columns as readonly [number, number];
      return runLinear(ctx, site, a, (z) => {
        let qkv = fused.get(z);
        if (!qkv) fused.set(z, (qkv = linear(z, ctx.weight(site.weight), w(site.bias)))); // [B, T, 3D]
        return slice(qkv, [from], [to], [2]); // [B, T, D]
      });
    };
    const heads = (x: Value) => transpose(reshape(x, [B, T, H, Dh]), [0, 2, 1, 3]); // [B, H, T, Dh]
    const cos = global ? pos.cos.global : pos.cos.local;
    const sin = global ? pos.sin.global : pos.sin.local;
    const q = rotate(heads(block('query')), cos, sin, Dh);
    const keys = rotate(heads(block('key')), cos, sin, Dh);
    let kv: AttentionParts = { keys, values: heads(block('value')), maskBias: bias, input: a }; // input: what the attention reads (after its pre-norm)
    if (ctx.attention) kv = ctx.attention(sites.attention(i), kv);
    const raw = matmul(mul(q, 1 / Math.sqrt(Dh)), transpose(kv.keys, [0, 1, 3, 2])); // [B, H, T, T']
    let mask = kv.maskBias; // [B, 1, 1, T']
    if (!global) {
      // keys an attention hook prepended (prefix methods) lie inside every window
      const win = kv.keys !== keys ? leftPadKeys(pos.window, kv.keys) : pos.window; // [1, 1, T, T']
      mask = where(less(win, 0), win, mask); // [B, 1, T, T']
    }
    const probs = maybeDropout(ctx, softmax(add(raw, mask), -1), drop);
    const context = reshape(transpose(matmul(probs, kv.values), [0, 2, 1, 3]), [B, T, D]); // [B, T, D]
    const attnOut = runLinear(ctx, sites.linear(i, 'attention_output'), context, (z) => linear(z, ctx.weight(`${n.attentionOutput}.weight`), w(sites.linear(i, 'attention_output').bias)));
    const o = maybeDropout(ctx, attnOut, drop); // ModernBertAttention's out_drop uses attention_dropout
    const x = runSubLayer(ctx, sites.sublayer(i, 'attention'), { input: h, output: o, residual: h, norm: (v) => v });
    // GeGLU feed-forward
    const m = norm(ctx, c, x, n.mlpNorm);
    const wiSite = sites.linear(i, 'intermediate');
    const wi = runLinear(ctx, wiSite, m, (z) => linear(z, ctx.weight(wiSite.weight), w(wiSite.bias))); // [B, T, 2F]
    const inner = maybeDropout(ctx, mul(activate(slice(wi, [0], [F], [2]), c.activation), slice(wi, [F], [2 * F], [2])), ctx.hiddenDropout ?? c.mlpDropout); // [B, T, F]
    const woSite = sites.linear(i, 'output');
    const f = runLinear(ctx, woSite, inner, (z) => linear(z, ctx.weight(woSite.weight), w(woSite.bias))); // [B, T, D]
    return runSubLayer(ctx, sites.sublayer(i, 'ffn'), { input: x, output: f, residual: x, norm: (v) => v });
  }

  build(ctx: BuildContext, x: EncoderInputs): EncoderOutputs {
    const c = this.config;
    let h = maybeDropout(ctx, norm(ctx, c, gather(ctx.weight(MODERNBERT_NAMES.word), x.inputIds), MODERNBERT_NAMES.norm), ctx.hiddenDropout ?? c.embeddingDropout); // [B, T, D]
    if (ctx.embeddings) h = ctx.embeddings(this.sites.embeddings, h);
    const pos = ctx.graph.scope('positions', () => this.positions(ctx, x.inputIds));
    let bias = maskBias(x.attentionMask); // [B, 1, 1, T]
    let mask = x.attentionMask;
    const layers = Math.min(ctx.numLayers ?? c.numLayers, c.numLayers);
    for (let i = 0; i < layers; i++) {
      if (ctx.layerInput) ({ hidden: h, maskBias: bias, attentionMask: mask } = ctx.layerInput(i, { hidden: h, maskBias: bias, attentionMask: mask }));
      const input = h;
      const b = bias;
      h = ctx.graph.scope(`layer${i}`, () => this.layer(ctx, i, input, b, pos)); // [B, T, D]
    }
    h = norm(ctx, c, h, MODERNBERT_NAMES.finalNorm);
    const cls = gather(h, ctx.graph.literal('int64', 0), 1); // [B, D]
    if (!this.hasHead) return { hidden: h, pooled: cls, pooling: 'first token hidden state', attentionMask: mask };
    let p = cls;
    if (c.classifierPooling === 'mean') {
      const m = cast(mask, 'float32'); // [B, T]
      p = div(reduceSum(mul(h, unsqueeze(m, [2])), [1]), reduceSum(m, [1], true)); // [B, D]
    }
    const dense = linear(p, ctx.weight(`${MODERNBERT_NAMES.headDense}.weight`), c.classifierBias ? ctx.weight(`${MODERNBERT_NAMES.headDense}.bias`) : undefined);
    const pooled = norm(ctx, c, activate(dense, c.classifierActivation), MODERNBERT_NAMES.headNorm);
    return { hidden: h, pooled, pooling: `prediction head (head.dense + ${c.classifierActivationName} + head.norm) over the ${c.classifierPooling === 'cls' ? 'first token' : 'masked mean'}`, attentionMask: mask };
  }

  describe(): Record<string, unknown> {
    const c = this.config;
    return {
      family: 'modernbert', layers: c.numLayers, hidden: c.hiddenSize, heads: c.numHeads, intermediate: c.intermediateSize,
      activation: c.activationName, normEps: c.normEps, maxPositions: c.maxPositions, typeVocab: 0, vocab: c.vocabSize,
      pooler: this.hasHead, classifierPooling: c.classifierPooling,
      attention: `global every ${c.globalEvery} layers (rope theta ${c.globalRopeTheta}), local ±${Math.floor(c.localAttention / 2)} otherwise (rope theta ${c.localRopeTheta})`,
      biases: { attention: c.attentionBias, mlp: c.mlpBias, norm: c.normBias },
      ...(this.keys ? { checkpoint: describeCheckpointKeys(this.keys) } : {}),
    };
  }
}

