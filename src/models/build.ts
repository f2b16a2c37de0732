/**
 * Builds an encoder's graph: declares the int64 [batch, seq] inputs, turns every weight into a
 * frozen constant or a trainable parameter, and wires dropout seeds and the adapter hooks.
 */
import { fail } from '../errors.js';
import { Graph, type HostTensor, type Value } from '../engine/index.js';
import type { BuildContext, Encoder, EncoderHooks, EncoderOutputs, EncoderWeights, WeightSpec } from './encoder.js';

/** Options of {@link buildEncoderGraph}. */
export interface EncoderGraphOptions {
  /** Graph to build into (default: a new one). */
  graph?: Graph;
  /** Which weights train (default: none). */
  trainable?: (spec: WeightSpec) => boolean;
  /** Add a bool `training` input that switches dropout on (default false: no dropout nodes). */
  dropout?: boolean;
  /** Use this bool scalar as the `training` switch instead of declaring one (implies dropout). */
  trainingInput?: Value;
  /** First dropout seed (default 1). */
  seed?: number;
  /** Hooks of adapter methods and the layer-norm override (see {@link BuildContext}). */
  hooks?: EncoderHooks;
  hiddenDropout?: number;
  attentionDropout?: number;
  /**
   * Called with each frozen weight's spec and constant before the encoder is built: where an int8
   * frozen base puts its kernels under the frozen projections (train/frozen-precision.ts).
   */
  frozenWeight?: (spec: WeightSpec, w: Value) => void;
}

/** The graph of an encoder with its inputs, outputs and weight values. */
export interface EncoderGraph {
  readonly graph: Graph;
  readonly inputIds: Value;
  readonly attentionMask: Value;
  readonly tokenTypeIds?: Value;
  readonly training?: Value;
  readonly outputs: EncoderOutputs;
  /** Graph value of each weight, by canonical name. */
  readonly values: ReadonlyMap<string, Value>;
  /** The trainable ones, in weight-spec order. */
  readonly params: readonly Value[];
}

/** Builds `encoder` with `weights` into a graph (see {@link EncoderGraphOptions}). */
export function buildEncoderGraph(encoder: Encoder, weights: EncoderWeights, o: EncoderGraphOptions = {}): EncoderGraph {
  const g = o.graph ?? new Graph(`${encoder.family}-encoder`);
  const specs = new Map(encoder.weightSpecs.map((s) => [s.name, s]));
  const values = new Map<string, Value>();
  const params: Value[] = [];
  for (const s of encoder.weightSpecs) {
    const t = weights.get(s.name) as HostTensor<'float32'> | undefined;
    if (!t) fail('BAD_WEIGHTS', `no weights for ${s.name}`);
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      fail('BAD_WEIGHTS', `weights for ${s.name} have shape [${t.shape.join(', ')}], expected [${s.shape.join(', ')}]`);
    }
    const train = o.trainable?.(s) ?? false;
    const v = train ? g.param(s.name, t) : g.constant(s.name, t);
    values.set(s.name, v);
    if (train) params.push(v);
    else o.frozenWeight?.(s, v);
  }
  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  const tokenTypeIds = encoder.usesTokenTypes ? g.input('token_type_ids', 'int64', ['batch', 'seq']) : undefined;
  const training = o.trainingInput ?? (o.dropout ? g.input('training', 'bool', []) : undefined);
  let seed = o.seed ?? 1;
  const ctx: BuildContext = {
    graph: g,
    weight: (name) => {
      const v = values.get(name);
      if (!v) fail('GRAPH_ERROR', `${encoder.family} encoder asked for weight ${name}, which it does not declare${specs.has(name) ? '' : ' (not in weightSpecs)'}`);
      return v;
    },
    training,
    nextSeed: () => seed++,
    ...o.hooks,
    hiddenDropout: o.hiddenDropout,
    attentionDropout: o.attentionDropout,
  };
  const built = encoder.build(ctx, { inputIds, attentionMask, tokenTypeIds });
  // the hidden-output hook (prompt tuning's strip) takes the last hidden state back to the input's positions: so is its mask
  const outputs = o.hooks?.hiddenOutput ? { ...built, hidden: o.hooks.hiddenOutput(built.hidden), attentionMask } : built;
  return { graph: g, inputIds, attentionMask, tokenTypeIds, training, outputs, values, params };
}
