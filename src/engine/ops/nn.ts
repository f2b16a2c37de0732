/** Neural-network ops: Softmax, LogSoftmax, LayerNormalization, Dropout. */
import { fail } from '../../errors.js';
import { attr, type Value } from '../graph.js';
import { fmtShape, normAxis, type Dim } from '../shape.js';
import { expectFloat } from './check.js';

/** Softmax along `axis` (default last). */
export function softmax(x: Value, axis = -1): Value {
  expectFloat('Softmax', 'input', x);
  const a = normAxis(axis, x.rank, 'Softmax');
  return x.graph.addNode('Softmax', [x], { axis: attr.int(a) }, [{ dtype: x.dtype, shape: x.shape }])[0] as Value;
}

/** log(softmax(x)) along `axis`, computed stably. */
export function logSoftmax(x: Value, axis = -1): Value {
  expectFloat('LogSoftmax', 'input', x);
  const a = normAxis(axis, x.rank, 'LogSoftmax');
  return x.graph.addNode('LogSoftmax', [x], { axis: attr.int(a) }, [{ dtype: x.dtype, shape: x.shape }])[0] as Value;
}

/**
 * Layer normalisation over the axes from `axis` to the end: (x - mean) / sqrt(var + eps) * scale + bias.
 * `scale` and `bias` have the shape of the normalised axes.
 */
export function layerNorm(x: Value, scale: Value, bias: Value | undefined, eps = 1e-5, axis = -1): Value {
  expectFloat('LayerNormalization', 'X', x);
  const a = normAxis(axis, x.rank, 'LayerNormalization');
  const normShape = x.shape.slice(a);
  for (const [name, v] of [['Scale', scale], ['B', bias]] as const) {
    if (!v) continue;
    if (v.dtype !== x.dtype) fail('DTYPE_MISMATCH', `LayerNormalization: input ${name} (${v.describe()}) must have dtype ${x.dtype} like X`);
    const ok = v.rank <= normShape.length && v.shape.every((d, i) => d === normShape[normShape.length - v.rank + i] || d === 1);
    if (!ok) {
      fail('SHAPE_MISMATCH', `LayerNormalization: input ${name} ${v.name} ${fmtShape(v.shape)} does not fit the normalised axes ${fmtShape(normShape)} of X ${x.name} ${fmtShape(x.shape)}`);
    }
  }
  const statShape: Dim[] = x.shape.map((d, i) => (i < a ? d : 1));
  const outs = x.graph.addNode(
    'LayerNormalization',
    bias ? [x, scale, bias] : [x, scale],
    { axis: attr.int(a), epsilon: attr.float(eps) },
    [
      { dtype: x.dtype, shape: x.shape },
      { dtype: 'float32', shape: statShape },
      { dtype: 'float32', shape: statShape },
    ],
  );
  return outs[0] as Value;
}

/** Options of {@link dropout}. */
export interface DropoutOptions {
  /** Drop probability in [0, 1). */
  ratio: number;
  /** Seed of ONNX Runtime's generator for this node; same seed, same masks in a new session. */
  seed: number;
  /** A bool scalar graph input: true while training. Omit for always-on dropout. */
  training?: Value;
}

/** Dropout: zeroes elements with probability `ratio` and scales the rest by 1/(1-ratio) in training. */
export function dropout(x: Value, o: DropoutOptions): Value {
  expectFloat('Dropout', 'data', x);
  if (!(o.ratio >= 0 && o.ratio < 1)) fail('BAD_CONFIG', `Dropout: ratio must be in [0, 1), got ${o.ratio}`);
  if (!Number.isInteger(o.seed)) fail('BAD_CONFIG', `Dropout: seed must be an integer, got ${o.seed}`);
  const g = x.graph;
  if (o.ratio === 0) return x;
  const training = o.training ?? g.literal('bool', 1);
  if (training.dtype !== 'bool' || training.rank !== 0) fail('DTYPE_MISMATCH', `Dropout: training_mode (${training.describe()}) must be a bool scalar`);
  const outs = g.addNode('Dropout', [x, g.literal(x.dtype, o.ratio), training], { seed: attr.int(o.seed) }, [
    { dtype: x.dtype, shape: x.shape },
    { dtype: 'bool', shape: x.shape },
  ]);
  return outs[0] as Value;
}
