/**
 * The MPNet encoder on adapterkit's engine: word + position embeddings (positions counted from
 * padding_idx + 1 over non-padding tokens, as RoBERTa's) -> LayerNorm -> dropout, then post-norm
 * layers (BERT's, `postNormLayer`) whose attention scores all get one relative position bias,
 * computed once from the sequence length: bucket(key position - query position) (config.ts
 * `relativeBucket`) looked up in `encoder.relative_attention_bias` [buckets, H]. The buckets are a
 * function of integer positions only (a constant table gathered by index), so no new gradient rule
 * is needed: the bias table's gradient is Gather's. Pooler: tanh(dense) over the first token.
 *
 * The bias is [1, H, T, T] and independent of the batch, so batch-replicating hooks (parallel
 * compositions) leave it alone; the attention hook still sees the [B, 1, 1, T] padding mask only,
 * and keys it prepends (prefix methods, in AdapterHub's order) get a zero bias.
 *
 * Shape legend: B batch, T sequence, D hidden, H heads.
 */
import { add, cast, cumsum, equal, fill, gather, i64, mul, not, sub, tanh, transpose, unsqueeze, type Value } from '../../engine/index.js';
import { describeCheckpointKeys, type CheckpointKeys } from '../checkpoint.js';
import { maybeDropout, type BuildContext, type Encoder, type EncoderInputs, type EncoderOutputs, type WeightSpec } from '../encoder.js';
import { HookSites } from '../sites.js';
import { dense, maskBias, norm, postNormLayer } from '../bert/encoder.js';
import { MPNET_BUCKETS, MPNET_PADDING_IDX, relativeBucket, type MpnetConfig } from './config.js';
import { MPNET_NAMES, MPNET_PREFIX, mpnetHookSites, mpnetLayerNames, mpnetWeightSpecs } from './names.js';

/** Embeddings: word + position (offset by padding_idx) -> LayerNorm -> dropout. [B, T, D] */
function embeddings(ctx: BuildContext, c: MpnetConfig, ids: Value, dropP: number): Value {
  const real = cast(not(equal(ids, MPNET_PADDING_IDX)), 'int64'); // [B, T] 1 for real tokens
  const positions = add(mul(cumsum(real, 1), real), MPNET_PADDING_IDX); // [B, T]
  const e = add(gather(ctx.weight(MPNET_NAMES.word), ids), gather(ctx.weight(MPNET_NAMES.position), positions)); // [B, T, D]
  return maybeDropout(ctx, norm(ctx, e, MPNET_NAMES.norm, c.layerNormEps), dropP);
}

/**
 * The bucket of every relative position `r` in [-(n - 1), n - 1], at index r + n - 1: the table
 * the graph gathers from for sequences of up to `n` tokens.
 */
export function relativeBucketTable(n: number): BigInt64Array {
  const t = new BigInt64Array(2 * n - 1);
  for (let r = -(n - 1); r <= n - 1; r++) t[r + n - 1] = BigInt(relativeBucket(r));
  return t;
}

/** The relative position bias [1, H, T, T] of the sequences in `ids` [B, T]. */
function positionBias(ctx: BuildContext, c: MpnetConfig, ids: Value): Value {
  const g = ctx.graph;
  const n = c.maxPositions; // T never exceeds the position table
  const table = g.constant('mpnet_relative_buckets', i64([2 * n - 1], relativeBucketTable(n))); // [2n - 1]
  const pos = gather(sub(cumsum(fill(ids, 1, 'int64'), 1), 1), g.literal('int64', 0), 0); // [T] 0..T-1
  const rel = sub(unsqueeze(pos, [0]), unsqueeze(pos, [1])); // [T, T] key - query
  const buckets = gather(table, add(rel, n - 1)); // [T, T]
  const values = gather(ctx.weight(MPNET_NAMES.relativeBias), buckets); // [T, T, H]
  return unsqueeze(transpose(values, [2, 0, 1]), [0]); // [1, H, T, T]
}

/** An MPNet encoder for `config`; `pooler` says whether the checkpoint has one. */
export class MpnetEncoder implements Encoder {
  readonly family = 'mpnet';
  readonly checkpointPrefix = MPNET_PREFIX;
  readonly usesTokenTypes = false;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly pooledSize: number;
  readonly outputWidth: number;
  readonly maxLength: number;
  readonly weightSpecs: readonly WeightSpec[];
  readonly sites: HookSites;
  /** AdapterHub (adapters 1.2) has no MPNet model: saved adapters carry AdapterHub-style keys for adapterkit only. */
  readonly adapterHubIssue = 'AdapterHub has no MPNet model';
  readonly positionLimits = { promptTokens: 'its relative position bias is bucketed over the input tokens only, and prompt tokens have no positions in it' };

  /** `keys`: how the checkpoint spelled its keys (shown by `describe`). */
  constructor(readonly config: MpnetConfig, readonly hasPooler: boolean, readonly keys?: CheckpointKeys) {
    this.hiddenSize = config.hiddenSize;
    this.numLayers = config.numLayers;
    this.pooledSize = config.hiddenSize;
    this.outputWidth = config.hiddenSize;
    this.maxLength = config.maxLength;
    this.weightSpecs = mpnetWeightSpecs(config, hasPooler);
    this.sites = new HookSites('mpnet', config.numLayers, mpnetHookSites(config), this.weightSpecs);
  }

  build(ctx: BuildContext, x: EncoderInputs): EncoderOutputs {
    const c = this.config;
    let h = embeddings(ctx, c, x.inputIds, ctx.hiddenDropout ?? c.hiddenDropout); // [B, T, D]
    if (ctx.embeddings) h = ctx.embeddings(this.sites.embeddings, h);
    const rel = ctx.graph.scope('relative_bias', () => positionBias(ctx, c, x.inputIds)); // [1, H, T, T]
    let bias = maskBias(x.attentionMask); // [B, 1, 1, T]
    let mask = x.attentionMask;
    const layers = Math.min(ctx.numLayers ?? c.numLayers, c.numLayers);
    for (let i = 0; i < layers; i++) {
      if (ctx.layerInput) ({ hidden: h, maskBias: bias, attentionMask: mask } = ctx.layerInput(i, { hidden: h, maskBias: bias, attentionMask: mask }));
      h = postNormLayer(ctx, c, this.sites, mpnetLayerNames(i), i, h, bias, rel); // [B, T, D]
    }
    const cls = gather(h, ctx.graph.literal('int64', 0), 1); // [B, D]
    if (!this.hasPooler) return { hidden: h, pooled: cls, pooling: 'first token hidden state', attentionMask: mask };
    return { hidden: h, pooled: tanh(dense(ctx, cls, MPNET_NAMES.pooler)), pooling: 'pooler (dense + tanh over the first token)', attentionMask: mask };
  }

  describe(): Record<string, unknown> {
    const c = this.config;
    return {
      family: 'mpnet', layers: c.numLayers, hidden: c.hiddenSize, heads: c.numHeads, intermediate: c.intermediateSize,
      activation: c.activationName, layerNormEps: c.layerNormEps, maxPositions: c.maxPositions, typeVocab: 0, vocab: c.vocabSize,
      pooler: this.hasPooler, positions: `offset by padding_idx ${MPNET_PADDING_IDX} + 1`,
      relativeBias: `${MPNET_BUCKETS.buckets} buckets (max distance ${MPNET_BUCKETS.maxDistance}) of a ${c.relativeBuckets} x ${c.numHeads} table, shared by every layer`,
      ...(this.keys ? { checkpoint: describeCheckpointKeys(this.keys) } : {}),
    };
  }
}
