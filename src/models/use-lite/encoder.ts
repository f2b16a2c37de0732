/**
 * Universal Sentence Encoder-lite as an adapterkit {@link Encoder} on the engine: weights declared
 * as data under canonical names (see `encoder-weights.ts`), the forward graph built from the
 * explicit {@link BuildContext} (frozen or trainable weights, dropout, adapter hooks).
 *
 * Outputs: `hidden` is the last layer's output `[B, T, 512]` (padding positions hold values that
 * nothing reads); `pooled` is `tanh(maskedMean(hidden) @ Wf + bf)` `[B, 512]`, the representation
 * the original model L2-normalises. `l2Normalize(pooled)` is the original USE-lite embedding
 * (cosine >= 0.9999 with the TF.js graph on every reference sentence).
 *
 * Hook sites (see `useLiteHookSites`): both pre-norm blocks of each layer (512 wide), every
 * projection (Q, K, V as column blocks of the fused kernel), both attentions and the embeddings;
 * module paths are the weight names without `.weight`, and there is no checkpoint prefix.
 * `ctx.layerNorm` overrides receive the prefixes `layer.l.attention_norm` and `layer.l.ffn_norm`.
 *
 * Shape legend: B batch, T tokens (<= 128), E = 256, H = 512.
 */
import { i64, type HostTensor } from '../../engine/index.js';
import { fail } from '../../errors.js';
import type { BuildContext, Encoder, EncoderInputs, EncoderOutputs, WeightSpec } from '../encoder.js';
import { HookSites } from '../sites.js';
import { USE_LITE_CONFIG } from './architecture.js';
import { USE_LITE_WEIGHT_NAMES, useLiteHookSites, useLiteLayerNames, useLiteWeightSpecs, type UseLiteLayerIndex } from './encoder-weights.js';
import { attentionMaskBias, layer0Input, maskedMeanPool, poolerHead, transformerLayer, type WeightLookup } from './graph-layers.js';
import type { UseLiteBatch } from './sentencepiece.js';

export { l2Normalize } from './graph-layers.js';

/** How `pooled` is made (reported by `Encoder.build` and `describe()`). */
export const USE_LITE_POOLING = 'masked mean over real tokens, then tanh(x @ Wf + bf) (512-d; the USE-lite embedding before L2 normalisation)';

/** A lookup that reads weights through the context and checks each value's declared shape. */
function checkedWeights(ctx: BuildContext, specs: ReadonlyMap<string, WeightSpec>): WeightLookup {
  return (name) => {
    const spec = specs.get(name);
    if (!spec) fail('GRAPH_ERROR', `USE-lite: no weight named "${name}" is declared`);
    const v = ctx.weight(name);
    if (v.dtype !== 'float32' || v.rank !== spec.shape.length || v.shape.some((d, i) => d !== spec.shape[i])) {
      fail('BAD_WEIGHTS', `USE-lite: weight "${name}" is ${v.describe()}, expected float32[${spec.shape.join(', ')}]`);
    }
    return v;
  };
}

function checkInputs(x: EncoderInputs): void {
  for (const [name, v] of [['inputIds', x.inputIds], ['attentionMask', x.attentionMask]] as const) {
    if (v.dtype !== 'int64' || v.rank !== 2) fail('DTYPE_MISMATCH', `USE-lite: ${name} (${v.describe()}) must be int64 [batch, seq]`);
  }
}

function layersToRun(ctx: BuildContext): number {
  const n = ctx.numLayers ?? USE_LITE_CONFIG.layers.length;
  if (!Number.isInteger(n) || n < 1 || n > USE_LITE_CONFIG.layers.length) {
    fail('BAD_CONFIG', `USE-lite: numLayers must be 1 or 2, got ${n}`);
  }
  return n;
}

/** Builds the forward graph (see the module comment for the outputs). */
function buildUseLite(ctx: BuildContext, x: EncoderInputs, specs: ReadonlyMap<string, WeightSpec>, sites: HookSites): EncoderOutputs {
  checkInputs(x);
  const g = ctx.graph;
  const n = layersToRun(ctx);
  const weight = checkedWeights(ctx, specs);
  const names = USE_LITE_WEIGHT_NAMES;
  let h = g.scope('embeddings', () => layer0Input(g, x.inputIds, weight(names.embeddings))); // [B, T, E]
  if (ctx.embeddings) h = ctx.embeddings(sites.embeddings, h);
  let maskBias = g.scope('mask', () => attentionMaskBias(x.attentionMask)); // [B, 1, 1, T]
  let mask = x.attentionMask;
  for (let l = 0; l < n; l++) {
    const layer = l as UseLiteLayerIndex;
    if (ctx.layerInput) ({ hidden: h, maskBias, attentionMask: mask } = ctx.layerInput(l, { hidden: h, maskBias, attentionMask: mask }));
    const input = h;
    const bias = maskBias;
    h = g.scope(`layer.${l}`, () => transformerLayer(ctx, sites, l, input, bias, useLiteLayerNames(layer), weight, USE_LITE_CONFIG.layers[layer])); // [B, T, H]
  }
  const hidden = h;
  const poolMask = mask;
  const pooled = g.scope('pooler', () => poolerHead(maskedMeanPool(hidden, poolMask), weight(names.poolerKernel), weight(names.poolerBias))); // [B, H]
  return { hidden, pooled, pooling: USE_LITE_POOLING, attentionMask: poolMask };
}

/**
 * The USE-lite encoder: 2 pre-norm layers (4 heads x 64, then 4 heads x 128), residual widened
 * 256 -> 512 in layer 0, adapters attach at 512 in both layers.
 *
 * @example
 * ```ts
 * const { encoder, weights, tokenizer } = await loadUseLite();
 * const g = new Graph('use-lite');
 * const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
 * const mask = g.input('attention_mask', 'int64', ['batch', 'seq']);
 * const ctx = { graph: g, weight: (n: string) => g.constant(n, weights.get(n)!), nextSeed: () => 0 };
 * const { pooled } = encoder.build(ctx, { inputIds: ids, attentionMask: mask });
 * const emb = l2Normalize(pooled); // [batch, 512], the original USE-lite embedding
 * ```
 */
export function createUseLiteEncoder(): Encoder {
  const weightSpecs = useLiteWeightSpecs();
  const byName = new Map(weightSpecs.map((s) => [s.name, s]));
  const sites = new HookSites('use-lite', USE_LITE_CONFIG.layers.length, useLiteHookSites(), weightSpecs);
  const c = USE_LITE_CONFIG;
  const params = weightSpecs.reduce((sum, s) => sum + s.shape.reduce((p, d) => p * d, 1), 0);
  return {
    family: 'use-lite',
    hiddenSize: c.hiddenDim,
    numLayers: c.layers.length,
    pooledSize: c.hiddenDim,
    maxLength: c.maxTokens,
    weightSpecs,
    sites,
    usesTokenTypes: false,
    outputWidth: c.hiddenDim,
    checkpointPrefix: '',
    build: (ctx, x) => buildUseLite(ctx, x, byName, sites),
    describe: () => ({
      family: 'use-lite',
      layers: c.layers.length,
      heads: c.layers.map((l) => l.heads),
      headDims: c.layers.map((l) => l.headDim),
      embeddingDim: c.embeddingDim,
      hiddenSize: c.hiddenDim,
      ffnDim: c.ffnDim,
      vocabRows: c.embeddingRows,
      maxLength: c.maxTokens,
      preNorm: true,
      pooling: USE_LITE_POOLING,
      weights: weightSpecs.length,
      params,
    }),
  };
}

/** The int64 `[batch, seq]` feeds of a tokenizer batch: ids and attention mask. */
export function useLiteBatchTensors(batch: UseLiteBatch): { inputIds: HostTensor<'int64'>; attentionMask: HostTensor<'int64'> } {
  const shape = [batch.batchSize, batch.seqLen];
  return {
    inputIds: i64(shape, BigInt64Array.from(batch.inputIds, (v) => BigInt(v))),
    attentionMask: i64(shape, BigInt64Array.from(batch.attentionMask, (v) => BigInt(v))),
  };
}
