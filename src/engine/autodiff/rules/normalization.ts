/** Gradient rules of LayerNormalization and Dropout. */
import type { Value } from '../../graph.js';
import { add, mul, sub, where } from '../../ops/elementwise.js';
import { matmul } from '../../ops/matmul.js';
import { reduceMean } from '../../ops/reduce.js';
import { reshape } from '../../ops/shape.js';
import { buildVariants } from '../../variants.js';
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
  // xhat is a pass of its own (two): built only when the scale's gradient needs it, or by the previous form
  const lean = buildVariants().leanGradients;
  const xhat = needs[1] || !lean ? mul(sub(X, mean), invstd) : undefined;
  const S = v(x[1]);
  // g * xhat: the scale's gradient (the driver sums it over the rows)
  const gx = needs[1] ? mul(G, v(xhat)) : undefined;
  let dx: Value | undefined;
  if (needs[0]) {
    const gs = mul(G, S);
    const m1 = reduceMean(gs, axes, true);
    if (xhat) {
      // mean(gs * xhat) over one axis of width n: with g * xhat built anyway, (g * xhat) @ scale / n reads it once, writes nothing
      const n = X.shape[a];
      const gemv = lean && gx && axes.length === 1 && S.rank === 1 && typeof n === 'number' && S.shape[0] === n;
      const m2 = gemv ? mul(matmul(v(gx), reshape(S, [n, 1])), 1 / n) : reduceMean(mul(gs, xhat), axes, true);
      dx = mul(invstd, sub(sub(gs, m1), mul(xhat, m2)));
    } else {
      // Without xhat: mean(gs * xhat) = invstd * (mean(gs * x) - mean * m1), so
      // dx = invstd * gs - x * k + c with the per-row k = invstd^2 * mean(gs * xhat), c = mean * k - invstd * m1.
      const m2 = mul(invstd, sub(reduceMean(mul(gs, X), axes, true), mul(mean, m1))); // [rows, 1]
      const k = mul(mul(invstd, invstd), m2);
      const c = sub(mul(mean, k), mul(invstd, m1));
      dx = add(sub(mul(gs, invstd), mul(X, k)), c);
    }
  }
  return [dx, gx, needs[2] ? G : undefined];
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
