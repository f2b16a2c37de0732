/**
 * The ALBERT encoder on adapterkit's engine: factorised embeddings projected to the hidden width,
 * then `depth` = L x K post-norm layers (BERT's layer, `postNormLayer`) over G x K shared layer
 * weights, with adapter sites per depth (names.ts). Pooler: tanh(dense) over the first token.
 *
 * Shape legend: B batch, T sequence, E embedding width, D hidden.
 */
import { add, cumsum, fill, gather, sub, tanh, type Value } from '../../engine/index.js';
import { describeCheckpointKeys, type CheckpointKeys } from '../checkpoint-tensors.js';
import { maybeDropout, type BuildContext, type Encoder, type EncoderInputs, type EncoderOutputs, type WeightSpec } from '../encoder.js';
import { HookSites } from '../sites.js';
import { dense, maskBias, norm, postNormLayer } from '../bert/encoder.js';
import type { AlbertConfig } from './config.js';
import { ALBERT_NAMES, ALBERT_PREFIX, albertHookSites, albertLayerNames, albertWeightSpecs, depthPlace } from './names.js';

/** Embeddings: word + position + token type -> LayerNorm (E) -> dropout -> projection E -> D. [B, T, D] */
function embeddings(ctx: BuildContext, c: AlbertConfig, x: EncoderInputs, dropP: number): Value {
  const positions = sub(cumsum(fill(x.inputIds, 1, 'int64'), 1), 1); // [B, T] 0..T-1
  let e = add(gather(ctx.weight(ALBERT_NAMES.word), x.inputIds), gather(ctx.weight(ALBERT_NAMES.position), positions)); // [B, T, E]
  if (c.typeVocabSize > 0) e = add(e, gather(ctx.weight(ALBERT_NAMES.tokenType), x.tokenTypeIds ?? fill(x.inputIds, 0, 'int64')));
  e = maybeDropout(ctx, norm(ctx, e, ALBERT_NAMES.norm, c.layerNormEps), dropP); // [B, T, E]
  return dense(ctx, e, ALBERT_NAMES.project); // [B, T, D]
}

/** An ALBERT encoder for `config`; `pooler` says whether the checkpoint has one. */
export class AlbertEncoder implements Encoder {
  readonly family = 'albert';
  readonly checkpointPrefix = ALBERT_PREFIX;
  readonly adapterHubModelClass = 'AlbertAdapterModel';
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly pooledSize: number;
  readonly maxLength: number;
  readonly weightSpecs: readonly WeightSpec[];
  readonly sites: HookSites;
  readonly usesTokenTypes: boolean;
  readonly outputWidth: number;

  /** `keys`: how the checkpoint spelled its keys (shown by `describe`). */
  constructor(readonly config: AlbertConfig, readonly hasPooler: boolean, readonly keys?: CheckpointKeys) {
    this.hiddenSize = config.hiddenSize;
    this.numLayers = config.depth;
    this.pooledSize = config.hiddenSize;
    this.outputWidth = config.hiddenSize;
    this.maxLength = config.maxLength;
    this.usesTokenTypes = config.typeVocabSize > 0;
    this.weightSpecs = albertWeightSpecs(config, hasPooler);
    this.sites = new HookSites('albert', config.depth, albertHookSites(config), this.weightSpecs);
  }

  build(ctx: BuildContext, x: EncoderInputs): EncoderOutputs {
    const c = this.config;
    let h = embeddings(ctx, c, x, ctx.hiddenDropout ?? c.hiddenDropout); // [B, T, D]
    if (ctx.embeddings) h = ctx.embeddings(this.sites.embeddings, h);
    let bias = maskBias(x.attentionMask); // [B, 1, 1, T]
    let mask = x.attentionMask;
    const layers = Math.min(ctx.numLayers ?? c.depth, c.depth);
    for (let d = 0; d < layers; d++) {
      if (ctx.layerInput) ({ hidden: h, maskBias: bias, attentionMask: mask } = ctx.layerInput(d, { hidden: h, maskBias: bias, attentionMask: mask }));
      h = postNormLayer(ctx, c, this.sites, albertLayerNames(c, d), d, h, bias); // [B, T, D]
    }
    const cls = gather(h, ctx.graph.literal('int64', 0), 1); // [B, D]
    if (!this.hasPooler) return { hidden: h, pooled: cls, pooling: 'first token hidden state', attentionMask: mask };
    return { hidden: h, pooled: tanh(dense(ctx, cls, ALBERT_NAMES.pooler)), pooling: 'pooler (dense + tanh over the first token)', attentionMask: mask };
  }

  describe(): Record<string, unknown> {
    const c = this.config;
    const groups = Array.from({ length: c.depth }, (_, d) => depthPlace(c, d).group);
    return {
      family: 'albert', layers: c.depth, hidden: c.hiddenSize, heads: c.numHeads, intermediate: c.intermediateSize, embedding: c.embeddingSize,
      sharing: `${c.numHiddenLayers} passes x ${c.innerGroupNum} inner layer(s) over ${c.numHiddenGroups} group(s): ${c.numHiddenGroups * c.innerGroupNum} distinct layer(s), groups by depth ${groups.join(',')}`,
      activation: c.activationName, layerNormEps: c.layerNormEps, maxPositions: c.maxPositions, typeVocab: c.typeVocabSize, vocab: c.vocabSize,
      pooler: this.hasPooler, positions: 'absolute',
      ...(this.keys ? { checkpoint: describeCheckpointKeys(this.keys) } : {}),
    };
  }
}
