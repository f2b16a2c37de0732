/**
 * What every encoder architecture provides to the layers above (adapters, heads, trainer).
 *
 * An encoder declares its weights as data ({@link WeightSpec}: name, shape, role) and its hook
 * sites ({@link HookSites}: sub-layers, projections, attentions, embeddings), and builds its
 * forward graph from a {@link BuildContext} that is passed explicitly (no global state). The
 * context decides, per weight name, whether the weight is a frozen constant or a trainable
 * parameter, and supplies the hooks through which adapter methods act at the declared sites.
 */
import { add, dropout, type Graph, type HostTensor, type Value } from '../engine/index.js';
import type { AttentionSite, EmbeddingsSite, HookSites, LinearSite, SubLayerSite } from './sites.js';

/** Role of a weight: decides the training-mode defaults (e.g. layer norms train with adapters). */
export type WeightRole = 'embedding' | 'linear' | 'bias' | 'norm' | 'pooler' | 'other';

/** One weight of an encoder, as the architecture declares it. Linear weights are [in, out]. */
export interface WeightSpec {
  /** Canonical name (checkpoint key without model prefix, e.g. `encoder.layer.0.output.dense.weight`). */
  readonly name: string;
  readonly shape: readonly number[];
  readonly role: WeightRole;
  /** Transformer layer index, when the weight belongs to one. */
  readonly layer?: number;
}

/** The weight and bias specs of a linear layer `<prefix>.weight` [in, out] and `<prefix>.bias` (a pooler's are both role `pooler`). */
export function linearWeightSpecs(prefix: string, nIn: number, nOut: number, layer?: number, role: 'linear' | 'pooler' = 'linear'): WeightSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [nIn, nOut], role, layer },
    { name: `${prefix}.bias`, shape: [nOut], role: role === 'pooler' ? 'pooler' : 'bias', layer },
  ];
}

/** The gain and bias specs of a layer norm `<prefix>.weight`, `<prefix>.bias` of width `n`. */
export function normWeightSpecs(prefix: string, n: number, layer?: number): WeightSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [n], role: 'norm', layer },
    { name: `${prefix}.bias`, shape: [n], role: 'norm', layer },
  ];
}

/** Encoder weights by canonical name, float32, linear weights [in, out]. */
export type EncoderWeights = ReadonlyMap<string, HostTensor<'float32'>>;

/** Everything an encoder needs to build its graph. */
export interface BuildContext {
  readonly graph: Graph;
  /** The graph value of a named weight (a constant or a trainable parameter). */
  weight(name: string): Value;
  /** A bool scalar graph input: true while training (dropout on). Undefined: no dropout nodes. */
  readonly training?: Value;
  /** Dropout probability for hidden states (default: the model's config). */
  readonly hiddenDropout?: number;
  /** Dropout probability for attention probabilities (default: the model's config). */
  readonly attentionDropout?: number;
  /** Next dropout seed; called once per dropout site in a deterministic order. */
  nextSeed(): number;
  /**
   * Sub-layer hook: called in place of a block's residual add (and post-norm) with the block's
   * parts; returns the block's output. Absent: {@link defaultSubLayer}.
   */
  readonly sublayer?: (site: SubLayerSite, parts: SubLayerParts) => Value;
  /**
   * Linear hook: called in place of a projection with its input and `apply`, the frozen
   * projection of any input; returns the projection's output. Absent: `apply(x)`.
   */
  readonly linear?: (site: LinearSite, x: Value, apply: (x: Value) => Value) => Value;
  /**
   * Whether the linear hook gives an example an output that depends on the example's place in the
   * batch (BatchSplit and Parallel compositions of LoRA / IA³ cut the batch). An encoder that runs a
   * projection over rows that are not the batch's (DeBERTa's relative embeddings through shared
   * query/key projections) must then give those rows one block per example; otherwise it may pass
   * them once and let broadcasting do the rest.
   */
  readonly linearPerExample?: boolean;
  /** Attention hook: may change the keys, values and mask bias of a self-attention. */
  readonly attention?: (site: AttentionSite, parts: AttentionParts) => AttentionParts;
  /**
   * Input-prompt hook (PEFT's prompt tuning): vectors [P, E] in the word-embedding space that the
   * encoder joins before the input's word embeddings, so that positions (the prompt takes 0..P-1,
   * the input is shifted by P), token types (0) and the embedding LayerNorm apply to them too.
   * The masks are widened by the prompt method's `layerInput` at layer 0. Only the BERT family
   * reads it.
   */
  readonly inputPrompt?: () => Value;
  /** Embeddings hook: may change the embedding output before layer 0. */
  readonly embeddings?: (site: EmbeddingsSite, e: Value) => Value;
  /**
   * Layer hook: called before each Transformer layer with what enters it; returns what the layer
   * and the layers above (and the pooling) use instead. Parallel compositions replicate the batch
   * here, at their lowest adapter layer, so the layers below run once.
   */
  readonly layerInput?: (layer: number, x: LayerInput) => LayerInput;
  /**
   * Optional override of layer normalisation with the weights of `prefix` (`<prefix>.weight`,
   * `<prefix>.bias`); used to apply per-example (per-task) layer norms in mixed-task batches.
   */
  readonly layerNorm?: (x: Value, prefix: string, eps: number, weight: (name: string) => Value) => Value;
  /**
   * Output hook: maps the last hidden state (after the pooling has read it) to the `hidden` that
   * {@link buildEncoderGraph} returns, the positions token-level heads read; prompt tuning drops
   * its prompt positions here. Absent: the last hidden state itself.
   */
  readonly hiddenOutput?: (h: Value) => Value;
  /** Layers to run (default all); used to serve inputs below a cut-off. */
  readonly numLayers?: number;
}

/** What enters a Transformer layer (see {@link BuildContext.layerInput}). */
export interface LayerInput {
  /** [B, T, width] */
  readonly hidden: Value;
  /** The additive attention mask [B, 1, 1, T]. */
  readonly maskBias: Value;
  /** The int64 attention mask [B, T] (what mean pooling reads). */
  readonly attentionMask: Value;
}

/** What a sub-layer block hands to the sub-layer hook. Shapes [B, T, width] unless noted. */
export interface SubLayerParts {
  /** The block's input, before a pre-norm ([B, T, inputWidth]). */
  readonly input: Value;
  /** The block's output `h` after its output projection and dropout, before the residual add. */
  readonly output: Value;
  /** What `h` is added to: the input, or (USE-lite layer 0) its widened projection. */
  readonly residual: Value;
  /** The block's original layer norm as applied after the add (post-norm); the identity for pre-norm blocks. */
  norm(v: Value): Value;
}

/** Keys and values of a self-attention, and its additive mask. */
export interface AttentionParts {
  /** [B, heads, T, headDim] */
  readonly keys: Value;
  /** [B, heads, T, headDim] */
  readonly values: Value;
  /** [B, 1, 1, T] (0 for real keys, a large negative for padding). */
  readonly maskBias: Value;
  /** What the query, key and value projections read [B, T, w] (gates of prefix tuning read it); hooks pass it on unchanged. */
  readonly input?: Value;
}

/** A block's output without adapters: `norm(residual + h)`. */
export function defaultSubLayer(p: SubLayerParts): Value {
  return p.norm(add(p.residual, p.output));
}

/** Runs a block's residual connection through the context's sub-layer hook. */
export function runSubLayer(ctx: BuildContext, site: SubLayerSite, parts: SubLayerParts): Value {
  return ctx.sublayer ? ctx.sublayer(site, parts) : defaultSubLayer(parts);
}

/** Runs a projection through the context's linear hook. */
export function runLinear(ctx: BuildContext, site: LinearSite, x: Value, apply: (x: Value) => Value): Value {
  return ctx.linear ? ctx.linear(site, x, apply) : apply(x);
}

/** The hooks a context may carry: what adapter methods plug into an encoder's build. */
export type EncoderHooks = Pick<BuildContext, 'sublayer' | 'linear' | 'linearPerExample' | 'attention' | 'embeddings' | 'inputPrompt' | 'layerNorm' | 'layerInput' | 'hiddenOutput'>;

/** Int64 [batch, seq] inputs of an encoder. */
export interface EncoderInputs {
  readonly inputIds: Value;
  readonly attentionMask: Value;
  readonly tokenTypeIds?: Value;
}

/** What an encoder's graph produces. */
export interface EncoderOutputs {
  /** Last hidden state [batch, seq, hidden]. */
  readonly hidden: Value;
  /** Sentence representation used by sequence-level heads [batch, features]. */
  readonly pooled: Value;
  /** How `pooled` was made, for reports. */
  readonly pooling: string;
  /**
   * The int64 attention mask [batch, seq] as the last layer saw it (batch-replicated where a
   * parallel composition replicated `hidden`): what heads that pool `hidden` themselves read.
   */
  readonly attentionMask?: Value;
}

/** An encoder architecture instantiated for one configuration. */
export interface Encoder {
  /** Family name: the config.json model_type ('bert', 'xlm-roberta', 'albert', ...) or 'use-lite'. */
  readonly family: string;
  readonly hiddenSize: number;
  readonly numLayers: number;
  /** Width of `pooled`. */
  readonly pooledSize: number;
  /** Maximum sequence length the model supports. */
  readonly maxLength: number;
  /** Every weight the encoder uses. */
  readonly weightSpecs: readonly WeightSpec[];
  /** Where adapter methods can act, declared as data and validated once. */
  readonly sites: HookSites;
  /** Whether the encoder reads token type ids. */
  readonly usesTokenTypes: boolean;
  /** Width of the last hidden state (what token-level heads read). */
  readonly outputWidth: number;
  /** Builds the forward graph. */
  build(ctx: BuildContext, x: EncoderInputs): EncoderOutputs;
  /** Prefix of checkpoint keys before canonical names (`bert.`, ...; '' when none). */
  readonly checkpointPrefix: string;
  /** AdapterHub's flexible-head model class of the family (`XLMRobertaAdapterModel`…), when AdapterHub has the family. */
  readonly adapterHubModelClass?: string;
  /** Why AdapterHub cannot load adapters of this family at all (it has no model of it), when so. */
  readonly adapterHubIssue?: string;
  /**
   * What the encoder's relative-position terms cannot cover, each with the reason: keys that an
   * attention hook puts before the sequence's own (`prefixKeys`: prefix tuning) and tokens joined to
   * the sequence before layer 0 (`promptTokens`: prompt tuning). Absent: both work.
   */
  readonly positionLimits?: { readonly prefixKeys?: string; readonly promptTokens?: string };
  /** Descriptive summary for `adapterkit info`. */
  describe(): Record<string, unknown>;
}

/** Dropout with probability `p` while the context trains; `x` itself otherwise (and for `p` = 0). */
export function maybeDropout(ctx: BuildContext, x: Value, p: number): Value {
  if (!ctx.training || p <= 0) return x;
  return dropout(x, { ratio: p, seed: ctx.nextSeed(), training: ctx.training });
}
