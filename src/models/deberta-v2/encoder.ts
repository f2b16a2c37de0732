/**
 * The DeBERTa-v2 / v3 encoder on adapterkit's engine: BERT's post-norm layers with disentangled
 * attention (He et al. 2021; config.ts says which fields choose what). Per layer, with content
 * projections q, k, v [B, H, T, Dh], relative embeddings R [2k, D] (`encoder.rel_embeddings`,
 * optionally layer-normed by `encoder.LayerNorm`), their key and query projections
 * Kr = R Wk' + bk', Qr = R Wq' + bq' [H, 2k, Dh] (the layer's own key/query projections when
 * `share_att_key`, else `pos_key_proj` / `pos_query_proj`) and s = 1 / sqrt(Dh · (1 + #terms)):
 *
 *     score[i, j] = s · ( q_i · k_j                       content -> content
 *                       + q_i · Kr[c2p(i - j)]            content -> position ("c2p")
 *                       + k_j · Qr[p2c(j - i)] )          position -> content ("p2c")
 *
 * with the row indices of relative-positions.ts. The c2p term is the [T, 2k] table q Krᵀ read
 * with GatherElements along its last axis; p2c likewise from k Qrᵀ, then transposed. Probabilities
 * are softmax over real keys and zero for padding queries (DeBERTa masks both); embeddings are
 * multiplied by the attention mask after their LayerNorm.
 *
 * Adapter methods act through the context's hooks at the sites names.ts declares. With
 * `share_att_key` the query and key projections also project R, so their linear hooks (LoRA, IA³)
 * see R too, as in AdapterHub and PEFT (which wrap the modules); R is then given one row block per
 * example ([B, 2k, D]) so that batch-splitting compositions stay exact.
 *
 * Shape legend: B batch, T sequence, E embedding width, D hidden, H heads, Dh = D / H, F
 * feed-forward, k attention span (2k relative embeddings), L longest input.
 */
import {
  add, cast, concat, cumsum, expand, fill, fillShape, gather, gatherElements, linear, matmul, mul, reshape, shapeOf, slice, softmax,
  sub, transpose, unsqueeze, type Value,
} from '../../engine/index.js';
import { fail } from '../../errors.js';
import { activate } from '../activations.js';
import { describeCheckpointKeys, type CheckpointKeys } from '../checkpoint.js';
import { maybeDropout, runLinear, runSubLayer, type BuildContext, type Encoder, type EncoderInputs, type EncoderOutputs, type WeightSpec } from '../encoder.js';
import { HookSites, type LinearRole } from '../sites.js';
import { dense, maskBias, norm } from '../bert/encoder.js';
import type { DebertaV2Config } from './config.js';
import { DEBERTA_NAMES, DEBERTA_PREFIX, debertaHookSites, debertaLayerNames, debertaWeightSpecs, type DebertaLayerNames } from './names.js';
import { relativeIndexTables, type RelativeIndexTables } from './relative-positions.js';

/** What one layer's attention reads besides its input: relative embeddings and index tables. */
interface RelativeInputs {
  /** R after its LayerNorm: [2k, D]. */
  readonly embeddings: Value;
  /** Row of R for the c2p term of (query i, key j): [T, T] int64. */
  readonly c2p: Value;
  /** Row of R for the p2c term of (key a, query b): [T, T] int64. */
  readonly p2c: Value;
}

/** Positions 0..T-1 of the inputs: [B, T] int64. */
function positions(ids: Value): Value {
  return sub(cumsum(fill(ids, 1, 'int64'), 1), 1);
}

/** Embeddings: word (+ absolute position) (+ token type) (-> E x D projection) -> LayerNorm -> x mask -> dropout. [B, T, D] */
function embeddings(ctx: BuildContext, c: DebertaV2Config, x: EncoderInputs, dropP: number): Value {
  let e = gather(ctx.weight(DEBERTA_NAMES.word), x.inputIds); // [B, T, E]
  if (c.positionBiasedInput) e = add(e, gather(ctx.weight(DEBERTA_NAMES.position), positions(x.inputIds)));
  if (c.typeVocabSize > 0) e = add(e, gather(ctx.weight(DEBERTA_NAMES.tokenType), x.tokenTypeIds ?? fill(x.inputIds, 0, 'int64')));
  // through `linear`, as every frozen projection, so that an int8 base quantises it too
  if (c.embeddingSize !== c.hiddenSize) e = linear(e, ctx.weight(DEBERTA_NAMES.project)); // [B, T, D]
  e = norm(ctx, e, DEBERTA_NAMES.norm, c.layerNormEps); // [B, T, D]
  e = mul(e, unsqueeze(cast(x.attentionMask, 'float32'), [2])); // padding rows are zero
  return maybeDropout(ctx, e, dropP);
}

/** The index tables gathered for this input length: δ[i, j] = i - j, rows table[δ + L - 1]. */
function relativeInputs(ctx: BuildContext, c: DebertaV2Config, tables: RelativeIndexTables, ids: Value): RelativeInputs {
  const g = ctx.graph;
  const pos = gather(positions(ids), g.literal('int64', 0), 0); // [T]
  const delta = add(sub(unsqueeze(pos, [1]), unsqueeze(pos, [0])), tables.length - 1); // [T, T] i - j + L - 1
  let r = ctx.weight(DEBERTA_NAMES.relative); // [2k, D]
  if (c.normRelativeEmbeddings) r = norm(ctx, r, DEBERTA_NAMES.relativeNorm, c.layerNormEps);
  return { embeddings: r, c2p: gather(g.literal('int64', tables.c2p), delta), p2c: gather(g.literal('int64', tables.p2c), delta) };
}

/** A layer's projection with `role`, through the linear hook. */
function projection(ctx: BuildContext, sites: HookSites, layer: number, role: LinearRole, x: Value): Value {
  const site = sites.linear(layer, role);
  return runLinear(ctx, site, x, (z) => linear(z, ctx.weight(site.weight), site.bias === undefined ? undefined : ctx.weight(site.bias)));
}

/** Disentangled self-attention with its output projection, dropout, residual and LayerNorm (through the hooks). */
function attentionBlock(
  ctx: BuildContext, c: DebertaV2Config, sites: HookSites, n: DebertaLayerNames, layer: number,
  x: Value, bias: Value, mask: Value, rel: RelativeInputs | undefined, p: { hidden: number; attn: number },
): Value {
  const H = c.numHeads;
  const D = c.hiddenSize;
  const Dh = D / H;
  const [B, T] = [x.shape[0] as string | number, x.shape[1] as string | number];
  const heads = (h: Value, rows: string | number, batch: string | number) => transpose(reshape(h, [batch, rows, H, Dh]), [0, 2, 1, 3]); // [B, H, rows, Dh]
  const s = 1 / Math.sqrt(Dh * (1 + c.positionTerms.length));
  const q = heads(projection(ctx, sites, layer, 'query', x), T, B); // [B, H, T, Dh]
  const k = heads(projection(ctx, sites, layer, 'key', x), T, B); // [B, H, T, Dh]
  let kv = { keys: k, values: heads(projection(ctx, sites, layer, 'value', x), T, B), maskBias: bias };
  if (ctx.attention) {
    kv = ctx.attention(sites.attention(layer), kv);
    if (kv.keys.shape[2] !== k.shape[2]) fail('GRAPH_ERROR', `deberta-v2 layer ${layer}: attention hooks that add keys (prefix methods) are not supported: the relative-position terms have no positions for them`);
  }
  let scores = matmul(mul(q, s), transpose(kv.keys, [0, 1, 3, 2])); // [B, H, T, T] content -> content
  if (c.relativeAttention && rel) {
    const k2 = 2 * c.attentionSpan;
    let r = maybeDropout(ctx, rel.embeddings, p.hidden); // [2k, D]
    if (c.shareAttentionKey && ctx.linear && ctx.linearPerExample) {
      // one row block per example, for hooks that cut the batch (BatchSplit, Parallel)
      r = mul(unsqueeze(r, [0]), fill(slice(x, [0, 0], [1, 1], [1, 2]), 1)); // [B, 2k, D]
    } else r = unsqueeze(r, [0]); // [1, 2k, D]; per-example hooks (mixed-task batches) broadcast it to [B, 2k, D]
    const posProjection = (role: 'key' | 'query') => (c.shareAttentionKey
      ? projection(ctx, sites, layer, role, r)
      : dense(ctx, r, role === 'key' ? n.posKey : n.posQuery)); // [1 or B, 2k, D]
    if (c.positionTerms.includes('c2p')) {
      const kr = heads(posProjection('key'), k2, -1); // [1 or B, H, 2k, Dh]
      const table = matmul(mul(q, s), transpose(kr, [0, 1, 3, 2])); // [B, H, T, 2k]
      scores = add(scores, gatherElements(table, expand(rel.c2p, scores), -1)); // [B, H, T, T]
    }
    if (c.positionTerms.includes('p2c')) {
      const qr = heads(posProjection('query'), k2, -1); // [1 or B, H, 2k, Dh]
      const table = matmul(mul(k, s), transpose(qr, [0, 1, 3, 2])); // [B, H, T(keys), 2k]
      const byKey = gatherElements(table, expand(rel.p2c, scores), -1); // [B, H, T(keys), T(queries)]
      scores = add(scores, transpose(byKey, [0, 1, 3, 2])); // [B, H, T, T]
    }
  }
  const queryMask = unsqueeze(cast(mask, 'float32'), [1, 3]); // [B, 1, T, 1]
  const probs = maybeDropout(ctx, mul(softmax(add(scores, kv.maskBias), -1), queryMask), p.attn); // [B, H, T, T]
  const context = reshape(transpose(matmul(probs, kv.values), [0, 2, 1, 3]), [B, T, D]); // [B, T, D]
  const o = maybeDropout(ctx, projection(ctx, sites, layer, 'attention_output', context), p.hidden); // [B, T, D]
  return runSubLayer(ctx, sites.sublayer(layer, 'attention'), { input: x, output: o, residual: x, norm: (v) => norm(ctx, v, n.attentionNorm, c.layerNormEps) });
}

/**
 * The convolution after layer 0 (DeBERTa-v2-xlarge / xxlarge): `x` is what entered layer 0, `h`
 * what it gave. With the Conv1d weight W [D, D, K] and p = (K - 1) / 2,
 *     c_t = Σ_k W[:, :, k] x_{t + k - p} + b   (zero outside the sequence; zero at padding positions)
 *     out = LN(h + act(dropout(c))) · mask
 * The K shifted copies of x are gathered from x with p zero rows joined on each side. [B, T, D]
 */
function convLayer(ctx: BuildContext, c: DebertaV2Config, x: Value, h: Value, mask: Value, dropP: number): Value {
  const g = ctx.graph;
  const K = c.convKernelSize;
  const pad = (K - 1) / 2;
  const [B, D] = [x.shape[0] as string | number, c.hiddenSize];
  const zeros = fillShape(concat([gather(shapeOf(x), g.literal('int64', [0]), 0), g.literal('int64', [pad, D])], 0), [B, pad, D], 0); // [B, p, D]
  const padded = concat([zeros, x, zeros], 1); // [B, T + 2p, D]
  const pos = gather(positions(mask), g.literal('int64', 0), 0); // [T]
  const w = ctx.weight(`${DEBERTA_NAMES.conv}.weight`); // [D(out), D(in), K]
  let conv: Value | undefined;
  for (let k = 0; k < K; k++) {
    const shifted = gather(padded, add(pos, k), 1); // [B, T, D]: x_{t + k - p}
    const wk = transpose(gather(w, g.literal('int64', k), 2), [1, 0]); // [D(in), D(out)]
    const term = matmul(shifted, wk); // [B, T, D]
    conv = conv ? add(conv, term) : term;
  }
  const m = unsqueeze(cast(mask, 'float32'), [2]); // [B, T, 1]
  const out = mul(add(conv as Value, ctx.weight(`${DEBERTA_NAMES.conv}.bias`)), m); // [B, T, D] zero at padding
  const act = activate(maybeDropout(ctx, out, dropP), c.convActivation);
  return mul(norm(ctx, add(h, act), DEBERTA_NAMES.convNorm, c.layerNormEps), m); // [B, T, D]
}

/** Feed-forward sub-layer with dropout, residual and LayerNorm (through the hooks). */
function feedForwardBlock(ctx: BuildContext, c: DebertaV2Config, sites: HookSites, n: DebertaLayerNames, layer: number, h: Value, p: number): Value {
  const inner = activate(projection(ctx, sites, layer, 'intermediate', h), c.activation); // [B, T, F]
  const o = maybeDropout(ctx, projection(ctx, sites, layer, 'output', inner), p); // [B, T, D]
  return runSubLayer(ctx, sites.sublayer(layer, 'ffn'), { input: h, output: o, residual: h, norm: (v) => norm(ctx, v, n.outputNorm, c.layerNormEps) });
}

/** A DeBERTa-v2 encoder for `config`; `pooler` says whether the checkpoint has a ContextPooler (`pooler.dense`). */
export class DebertaV2Encoder implements Encoder {
  readonly family = 'deberta-v2';
  readonly checkpointPrefix = DEBERTA_PREFIX;
  readonly adapterHubModelClass = 'DebertaV2AdapterModel';
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly pooledSize: number;
  readonly maxLength: number;
  readonly weightSpecs: readonly WeightSpec[];
  readonly sites: HookSites;
  readonly usesTokenTypes: boolean;
  readonly positionLimits = {
    prefixKeys: 'its disentangled attention scores every key by its relative position, and prefix keys have none',
    promptTokens: 'its relative position tables are built for the input tokens only, and prompt tokens have no positions in them',
  };
  readonly outputWidth: number;
  private tables: RelativeIndexTables | undefined;

  /** `keys`: how the checkpoint spelled its keys (shown by `describe`). */
  constructor(readonly config: DebertaV2Config, readonly hasPooler: boolean, readonly keys?: CheckpointKeys) {
    this.hiddenSize = config.hiddenSize;
    this.numLayers = config.numLayers;
    this.pooledSize = config.hiddenSize;
    this.outputWidth = config.hiddenSize;
    this.maxLength = config.maxLength;
    this.usesTokenTypes = config.typeVocabSize > 0;
    this.weightSpecs = debertaWeightSpecs(config, hasPooler);
    this.sites = new HookSites('deberta-v2', config.numLayers, debertaHookSites(config), this.weightSpecs);
  }

  build(ctx: BuildContext, x: EncoderInputs): EncoderOutputs {
    const c = this.config;
    const p = { hidden: ctx.hiddenDropout ?? c.hiddenDropout, attn: ctx.attentionDropout ?? c.attentionDropout };
    let h = embeddings(ctx, c, x, p.hidden); // [B, T, D]
    if (ctx.embeddings) h = ctx.embeddings(this.sites.embeddings, h);
    const rel = c.relativeAttention ? relativeInputs(ctx, c, (this.tables ??= relativeIndexTables(c)), x.inputIds) : undefined;
    let bias = maskBias(x.attentionMask); // [B, 1, 1, T]
    let mask = x.attentionMask;
    const layers = Math.min(ctx.numLayers ?? c.numLayers, c.numLayers);
    for (let i = 0; i < layers; i++) {
      if (ctx.layerInput) ({ hidden: h, maskBias: bias, attentionMask: mask } = ctx.layerInput(i, { hidden: h, maskBias: bias, attentionMask: mask }));
      const n = debertaLayerNames(i);
      const [hIn, bIn, mIn] = [h, bias, mask];
      const out = ctx.graph.scope(`layer${i}`, () => feedForwardBlock(ctx, c, this.sites, n, i, attentionBlock(ctx, c, this.sites, n, i, hIn, bIn, mIn, rel, p), p.hidden));
      h = i === 0 && c.convKernelSize > 0 ? ctx.graph.scope('conv', () => convLayer(ctx, c, hIn, out, mIn, p.hidden)) : out;
    }
    const cls = gather(h, ctx.graph.literal('int64', 0), 1); // [B, D]
    if (!this.hasPooler) return { hidden: h, pooled: cls, pooling: 'first token hidden state' };
    const pooled = activate(dense(ctx, maybeDropout(ctx, cls, c.poolerDropout), DEBERTA_NAMES.pooler), c.poolerActivation); // [B, D]
    return { hidden: h, pooled, pooling: `context pooler (dense + ${c.poolerActivationName} over the first token)` };
  }

  describe(): Record<string, unknown> {
    const c = this.config;
    return {
      family: 'deberta-v2', layers: c.numLayers, hidden: c.hiddenSize, heads: c.numHeads, intermediate: c.intermediateSize,
      embedding: c.embeddingSize, activation: c.activationName, layerNormEps: c.layerNormEps, maxPositions: c.maxPositions,
      typeVocab: c.typeVocabSize, vocab: c.vocabSize, pooler: this.hasPooler,
      positions: c.positionBiasedInput ? 'absolute + relative' : 'relative only',
      ...(c.convKernelSize > 0 ? { convolution: `kernel ${c.convKernelSize}, ${c.convActivationName}, after layer 0` } : {}),
      relativeAttention: c.relativeAttention
        ? `${c.positionTerms.join('+') || 'no position terms'}, span ${c.attentionSpan}${c.positionBuckets > 0 ? ` (${c.positionBuckets} log buckets up to ${c.maxRelativePositions})` : ''}, ${c.shareAttentionKey ? 'shared' : 'separate'} position projections${c.normRelativeEmbeddings ? ', layer-normed relative embeddings' : ''}`
        : 'off',
      ...(this.keys ? { checkpoint: describeCheckpointKeys(this.keys) } : {}),
    };
  }
}
