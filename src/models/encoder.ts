/**
 * What every encoder architecture provides to the layers above (adapters, heads, trainer).
 *
 * An encoder declares its weights as data ({@link WeightSpec}: name, shape, role) and its adapter
 * attachment points, and builds its forward graph from a {@link BuildContext} that is passed
 * explicitly (no global state). The context decides, per weight name, whether the weight is a
 * frozen constant or a trainable parameter, and supplies the adapter hook.
 */
import type { Graph, HostTensor, Value } from '../engine/index.js';

/** Where an adapter can be inserted in each layer: the output of a sub-layer's output projection. */
export type AttachmentPoint = 'attention_output' | 'ffn_output';

/** All attachment points, in the order they occur within a layer. */
export const ATTACHMENT_POINTS: readonly AttachmentPoint[] = ['attention_output', 'ffn_output'];

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
   * Adapter hook: called with a sub-layer's output after its output projection and dropout,
   * before the residual add; returns the value to continue with.
   */
  readonly hook?: (point: AttachmentPoint, layer: number, h: Value) => Value;
  /**
   * Optional override of layer normalisation with the weights of `prefix` (`<prefix>.weight`,
   * `<prefix>.bias`); used to apply per-example (per-task) layer norms in mixed-task batches.
   */
  readonly layerNorm?: (x: Value, prefix: string, eps: number, weight: (name: string) => Value) => Value;
  /** Layers to run (default all); used to serve inputs below a cut-off. */
  readonly numLayers?: number;
}

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
}

/** An encoder architecture instantiated for one configuration. */
export interface Encoder {
  /** Family name, e.g. 'bert', 'roberta', 'distilbert', 'electra', 'use-lite'. */
  readonly family: string;
  readonly hiddenSize: number;
  readonly numLayers: number;
  /** Width of `pooled`. */
  readonly pooledSize: number;
  /** Maximum sequence length the model supports. */
  readonly maxLength: number;
  /** Every weight the encoder uses. */
  readonly weightSpecs: readonly WeightSpec[];
  /** Points per layer where adapters can be attached. */
  readonly attachmentPoints: readonly AttachmentPoint[];
  /** Whether the encoder reads token type ids. */
  readonly usesTokenTypes: boolean;
  /** Hidden-state width at each layer's attachment points (it may differ per layer). */
  attachmentWidth(layer: number, point: AttachmentPoint): number;
  /** Builds the forward graph. */
  build(ctx: BuildContext, x: EncoderInputs): EncoderOutputs;
  /** Prefix of checkpoint keys before canonical names (`bert.`, ...; '' when none). */
  readonly checkpointPrefix: string;
  /**
   * Module path where AdapterHub stores an adapter at a point (e.g. `bert.encoder.layer.3.output`);
   * adapter keys are `<path>.adapters.<name>.adapter_down.0.weight` and so on.
   */
  adapterModulePath(layer: number, point: AttachmentPoint): string;
  /** Descriptive summary for `adapterkit info`. */
  describe(): Record<string, unknown>;
}
