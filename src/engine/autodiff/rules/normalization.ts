/** Gradient rules of LayerNormalization and Dropout. */
import type { Value } from '../../graph.js';
import { mul, sub, where } from '../../ops/elementwise.js';
import { reduceMean } from '../../ops/reduce.js';
import { attrInt, constValues, defineGradient } from '../registry.js';

const v = (x: Value | undefined) => x as Value;

// y = xhat * scale + bias, xhat = (x - mean) * invstd over axes [axis, rank)
// dx = invstd * (gs - mean(gs) - xhat * mean(gs * xhat)), gs = g * scale
defineGradient('LayerNormalization', ({ node, x, y, dy, needs }) => {
  const G = dy[0];
  if (!G) return [undefined, undefined, undefined];
  const X = v(x[0]);
  const axis = attrInt(node, 'axis', -1);
  const a = axis < 0 ? axis + X.rank : axis;
  const axes = X.shape.map((_, i) => i).filter((i) => i >= a);
  const mean = v(y[1]);
  const invstd = v(y[2]);
  const xhat = mul(sub(X, mean), invstd);
  let dx: Value | undefined;
  if (needs[0]) {
    const gs = mul(G, v(x[1]));
    const m1 = reduceMean(gs, axes, true);
    const m2 = reduceMean(mul(gs, xhat), axes, true);
    dx = mul(invstd, sub(sub(gs, m1), mul(xhat, m2)));
  }
  return [dx, needs[1] ? mul(G, xhat) : undefined, needs[2] ? G : undefined];
});

// y = x * mask / (1 - ratio) while training, x otherwise
defineGradient('Dropout', ({ node, x, y, dy }) => {
  const G = v(dy[0]);
  const g = node.outputs[0]?.graph ?? G.graph;
  const [ratio] = constValues(x[1], 'Dropout ratio');
  const kept = where(v(y[1]), G, 0);
  const scale = x[2] ? where(v(x[2]), g.literal(G.dtype, 1 / (1 - (ratio ?? 0))), g.literal(G.dtype, 1)) : 1 / (1 - (ratio ?? 0));
  return [mul(kept, scale), undefined, undefined];
});
