/**
 * The BERT-family encoder (BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA) built on adapterkit's engine.
 * Post-norm Transformer layers. Adapter methods act through the context's hooks at the sites that
 * `bertHookSites` declares: every projection runs through `ctx.linear`, every block's residual
 * add and LayerNorm through `ctx.sublayer`, every self-attention's keys and values through
 * `ctx.attention`, and the embedding output through `ctx.embeddings`.
 *
 * Shape legend: B batch, T sequence, E embedding width, D hidden, H heads, Dh = D / H, F feed-forward.
 */
import {
  add, cast, concat, cumsum, equal, expand, fill, fillShape, gather, layerNorm, linear, matmul, mul, not, reshape, shapeOf, slice, softmax,
  sub, tanh, transpose, unsqueeze, type Value,
} from '../../engine/index.js';
import { maybeDropout, runLinear, runSubLayer, type AttentionParts, type BuildContext, type Encoder, type EncoderInputs, type EncoderOutputs, type WeightSpec } from '../encoder.js';
import { HookSites, type LinearRole } from '../sites.js';
import { activate } from '../activations.js';
import type { BertConfig } from './config.js';
import { describeCheckpointKeys, type CheckpointKeys } from '../checkpoint-tensors.js';
import { EMBEDDINGS, bertHookSites, bertWeightSpecs, familyRecord, layerNames, type LayerNames } from './names.js';

/** What a post-norm layer needs of a configuration (the BERT family's and ALBERT's configs have it). */
export type LayerGeometry = Pick<BertConfig, 'numHeads' | 'hiddenSize' | 'activation' | 'layerNormEps' | 'hiddenDropout' | 'attentionDropout'>;

/** float32's lowest value: the additive mask Hugging Face uses for padding keys. */
const MASK_VALUE = -3.4028234663852886e38;

/** `x W + b` with the weights `<prefix>.weight` [in, out] and `<prefix>.bias`. */
export function dense(ctx: BuildContext, x: Value, prefix: string): Value {
  return linear(x, ctx.weight(`${prefix}.weight`), ctx.weight(`${prefix}.bias`));
}

/** A layer's projection with `role`, through the linear hook. */
function projection(ctx: BuildContext, sites: HookSites, layer: number, role: LinearRole, x: Value): Value {
  const site = sites.linear(layer, role);
  return runLinear(ctx, site, x, (z) => linear(z, ctx.weight(site.weight), site.bias === undefined ? undefined : ctx.weight(site.bias)));
}

/** LayerNorm with `<prefix>.weight` and `<prefix>.bias` (through the context's override when it has one). */
export function norm(ctx: BuildContext, x: Value, prefix: string, eps: number): Value {
  if (ctx.layerNorm) return ctx.layerNorm(x, prefix, eps, (n) => ctx.weight(n));
  return layerNorm(x, ctx.weight(`${prefix}.weight`), ctx.weight(`${prefix}.bias`), eps);
}

/** Position ids [B, T]: 0..T-1, or RoBERTa's cumsum over non-padding tokens offset by padding_idx. */
function positionIds(c: BertConfig, ids: Value): Value {
  if (c.positions.kind === 'absolute') return sub(cumsum(fill(ids, 1, 'int64'), 1), 1);
  const real = cast(not(equal(ids, c.positions.paddingIdx)), 'int64'); // [B, T] 1 for real tokens
  return add(mul(cumsum(real, 1), real), c.positions.paddingIdx);
}

/** Embeddings: word + position (+ token type) -> LayerNorm -> dropout (-> ELECTRA projection). [B, T, D] ([B, P + T, D] with an input prompt) */
function embeddings(ctx: BuildContext, c: BertConfig, x: EncoderInputs, dropP: number): Value {
  let e = gather(ctx.weight(EMBEDDINGS.word), x.inputIds); // [B, T, E]
  let pos = positionIds(c, x.inputIds); // [B, T]
  let types = c.typeVocabSize > 0 ? (x.tokenTypeIds ?? fill(x.inputIds, 0, 'int64')) : undefined; // [B, T]
  const prompt = ctx.inputPrompt?.(); // [P, E]
  if (prompt) ({ e, pos, types } = withInputPrompt(c, prompt, e, pos, types, x.inputIds));
  e = add(e, gather(ctx.weight(EMBEDDINGS.position), pos)); // [B, T, E]
  if (types) e = add(e, gather(ctx.weight(EMBEDDINGS.tokenType), types));
  e = maybeDropout(ctx, norm(ctx, e, EMBEDDINGS.norm, c.layerNormEps), dropP);
  if (c.embeddingSize !== c.hiddenSize) e = dense(ctx, e, EMBEDDINGS.project); // [B, T, D]
  return e;
}

/**
 * Joins an input prompt [P, E] before the word embeddings, as Hugging Face models given
 * `inputs_embeds` see it (PEFT's prompt tuning): the prompt takes positions 0..P-1 (RoBERTa's
 * padding_idx + 1 …) and token type 0, the input's real tokens are shifted by P.
 */
function withInputPrompt(c: BertConfig, prompt: Value, e: Value, pos: Value, types: Value | undefined, ids: Value): { e: Value; pos: Value; types: Value | undefined } {
  const g = e.graph;
  const [P, E] = [prompt.shape[0] as number, prompt.shape[1] as number];
  const B = e.shape[0] as string | number;
  const first = c.positions.kind === 'absolute' ? 0 : c.positions.paddingIdx + 1;
  const promptPos = expand(reshape(g.literal('int64', Array.from({ length: P }, (_, i) => first + i)), [1, P]), [B, P]); // [B, P]
  const shift = c.positions.kind === 'absolute' ? P : mul(cast(not(equal(ids, c.positions.paddingIdx)), 'int64'), P); // padding keeps padding_idx
  return {
    e: concat([expand(unsqueeze(prompt, [0]), [B, P, E]), e], 1), // [B, P + T, E]
    pos: concat([promptPos, add(pos, shift)], 1), // [B, P + T]
    types: types ? concat([expand(reshape(g.literal('int64', new Array<number>(P).fill(0)), [1, P]), [B, P]), types], 1) : undefined,
  };
}

/** Additive attention mask [B, 1, 1, T]: 0 for real tokens, float32 min for padding. */
export function maskBias(mask: Value): Value {
  const m = cast(mask, 'float32'); // [B, T]
  return unsqueeze(mul(sub(1, m), MASK_VALUE), [1, 2]);
}

/**
 * Self-attention sub-layer with its output projection, dropout, residual and LayerNorm (through the hooks).
 * `positionBias` [1, H, T, T] (MPNet's relative position bias) is added to the scaled scores before the mask.
 */
function attentionBlock(ctx: BuildContext, c: LayerGeometry, sites: HookSites, n: LayerNames, layer: number, x: Value, bias: Value, p: { hidden: number; attn: number }, positionBias?: Value): Value {
  const H = c.numHeads;
  const Dh = c.hiddenSize / H;
  const [B, T] = [x.shape[0] as string | number, x.shape[1] as string | number];
  const heads = (h: Value) => transpose(reshape(h, [B, T, H, Dh]), [0, 2, 1, 3]); // [B, H, T, Dh]
  const q = heads(projection(ctx, sites, layer, 'query', x)); // [B, H, T, Dh]
  const keys = heads(projection(ctx, sites, layer, 'key', x)); // [B, H, T, Dh]
  let kv: AttentionParts = { keys, values: heads(projection(ctx, sites, layer, 'value', x)), maskBias: bias, input: x };
  if (ctx.attention) kv = ctx.attention(sites.attention(layer), kv);
  const kT = transpose(kv.keys, [0, 1, 3, 2]); // [B, H, Dh, T]
  const raw = matmul(mul(q, 1 / Math.sqrt(Dh)), kT); // [B, H, T, T]
  // keys the hook put before the sequence's own (prefix methods, AdapterHub's order) get no position bias
  const rel = positionBias && kv.keys !== keys ? leftPadKeys(positionBias, kv.keys) : positionBias;
  const scores = add(rel ? add(raw, rel) : raw, kv.maskBias); // [B, H, T, T]
  const probs = maybeDropout(ctx, softmax(scores, -1), p.attn); // [B, H, T, T]
  const context = reshape(transpose(matmul(probs, kv.values), [0, 2, 1, 3]), [B, T, c.hiddenSize]); // [B, T, D]
  const o = maybeDropout(ctx, projection(ctx, sites, layer, 'attention_output', context), p.hidden); // [B, T, D]
  return runSubLayer(ctx, sites.sublayer(layer, 'attention'), { input: x, output: o, residual: x, norm: (v) => norm(ctx, v, n.attentionNorm, c.layerNormEps) });
}

/**
 * `bias` [1, H, T, T] widened to the keys [B, H, P + T, Dh] with zeros for the first P (keys an
 * attention hook prepended): [1, H, T, P + T].
 */
export function leftPadKeys(bias: Value, keys: Value): Value {
  const own = shapeOf(bias); // [4]
  const extra = sub(slice(shapeOf(keys), [2], [3], [0]), slice(own, [3], [4], [0])); // [1] P
  const zeros = fillShape(concat([slice(own, [0], [3], [0]), extra], 0), [bias.shape[0] as number, bias.shape[1] as number, bias.shape[2] as string | number, 'prefix'], 0);
  return concat([zeros, bias], 3);
}

/** Feed-forward sub-layer with dropout, residual and LayerNorm (through the hooks). */
function feedForwardBlock(ctx: BuildContext, c: LayerGeometry, sites: HookSites, n: LayerNames, layer: number, h: Value, p: number): Value {
  const inner = activate(projection(ctx, sites, layer, 'intermediate', h), c.activation); // [B, T, F]
  const o = maybeDropout(ctx, projection(ctx, sites, layer, 'output', inner), p); // [B, T, D]
  return runSubLayer(ctx, sites.sublayer(layer, 'ffn'), { input: h, output: o, residual: h, norm: (v) => norm(ctx, v, n.outputNorm, c.layerNormEps) });
}

/** The validated hook sites of a configuration (see names.ts `bertHookSites`). */
export function bertSites(c: BertConfig, hasPooler = false): HookSites {
  return new HookSites(c.modelType, c.numLayers, bertHookSites(c), bertWeightSpecs(c, hasPooler));
}

/**
 * One post-norm Transformer layer: attention block then feed-forward block. [B, T, D] -> [B, T, D]
 * `bias` is the additive attention mask [B, 1, 1, T] from {@link maskBias}; `sites` default to
 * the configuration's.
 */
export function bertLayer(ctx: BuildContext, c: BertConfig, layer: number, h: Value, bias: Value, sites: HookSites = bertSites(c)): Value {
  return postNormLayer(ctx, c, sites, layerNames(c.modelType, layer), layer, h, bias);
}

/**
 * A post-norm Transformer layer whose sub-modules are named by `n` (ALBERT passes the names of
 * the shared layer a depth runs): attention block then feed-forward block. [B, T, D] -> [B, T, D]
 * `positionBias` [1, H, T, T], when given, is added to every head's attention scores (MPNet).
 */
export function postNormLayer(ctx: BuildContext, c: LayerGeometry, sites: HookSites, n: LayerNames, layer: number, h: Value, bias: Value, positionBias?: Value): Value {
  const p = { hidden: ctx.hiddenDropout ?? c.hiddenDropout, attn: ctx.attentionDropout ?? c.attentionDropout };
  return ctx.graph.scope(`layer${layer}`, () => feedForwardBlock(ctx, c, sites, n, layer, attentionBlock(ctx, c, sites, n, layer, h, bias, p, positionBias), p.hidden));
}

/** A BERT-family encoder for `config`; `pooler` says whether the checkpoint has a pooler. */
export class BertEncoder implements Encoder {
  readonly family: string;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly pooledSize: number;
  readonly maxLength: number;
  readonly weightSpecs: readonly WeightSpec[];
  readonly sites: HookSites;
  readonly usesTokenTypes: boolean;
  readonly outputWidth: number;

  /** `keys`: how the checkpoint spelled its keys (shown by `describe`, for `adapterkit info`). */
  constructor(readonly config: BertConfig, readonly hasPooler: boolean, readonly keys?: CheckpointKeys) {
    this.family = config.modelType;
    this.hiddenSize = config.hiddenSize;
    this.numLayers = config.numLayers;
    this.pooledSize = config.hiddenSize;
    this.maxLength = config.maxLength;
    this.usesTokenTypes = config.typeVocabSize > 0;
    this.outputWidth = config.hiddenSize;
    this.weightSpecs = bertWeightSpecs(config, hasPooler);
    this.sites = bertSites(config, hasPooler);
  }

  get checkpointPrefix(): string {
    return familyRecord(this.config.modelType).prefix;
  }

  get adapterHubModelClass(): string {
    return familyRecord(this.config.modelType).adapterModelClass;
  }

  build(ctx: BuildContext, x: EncoderInputs): EncoderOutputs {
    const c = this.config;
    const p = { hidden: ctx.hiddenDropout ?? c.hiddenDropout, attn: ctx.attentionDropout ?? c.attentionDropout };
    let h = embeddings(ctx, c, x, p.hidden); // [B, T, D]
    if (ctx.embeddings) h = ctx.embeddings(this.sites.embeddings, h);
    let bias = maskBias(x.attentionMask); // [B, 1, 1, T]
    const layers = Math.min(ctx.numLayers ?? c.numLayers, c.numLayers);
    let mask = x.attentionMask;
    for (let i = 0; i < layers; i++) {
      if (ctx.layerInput) ({ hidden: h, maskBias: bias, attentionMask: mask } = ctx.layerInput(i, { hidden: h, maskBias: bias, attentionMask: mask }));
      h = bertLayer(ctx, c, i, h, bias, this.sites);
    }
    const cls = gather(h, ctx.graph.literal('int64', 0), 1); // [B, D]
    if (!this.hasPooler) return { hidden: h, pooled: cls, pooling: 'first token hidden state', attentionMask: mask };
    const pooled = tanh(dense(ctx, cls, EMBEDDINGS.pooler)); // [B, D]
    return { hidden: h, pooled, pooling: 'pooler (dense + tanh over the first token)', attentionMask: mask };
  }

  describe(): Record<string, unknown> {
    const c = this.config;
    return {
      family: c.modelType, layers: c.numLayers, hidden: c.hiddenSize, heads: c.numHeads, intermediate: c.intermediateSize,
      embedding: c.embeddingSize, activation: c.activationName, layerNormEps: c.layerNormEps, maxPositions: c.maxPositions,
      typeVocab: c.typeVocabSize, vocab: c.vocabSize, pooler: this.hasPooler,
      positions: c.positions.kind === 'absolute' ? 'absolute' : `offset by padding_idx ${c.positions.paddingIdx} + 1`,
      ...(this.keys ? { checkpoint: describeCheckpointKeys(this.keys) } : {}),
    };
  }
}
