/** Gradient rules of reductions and of softmax-like ops. */
import type { Value } from '../../graph.js';
import { div, exp, mul, sub } from '../../ops/elementwise.js';
import { reduceSum } from '../../ops/reduce.js';
import { cast, expand, sizeOf, unsqueeze } from '../../ops/shape.js';
import { isStatic, type Dim } from '../../shape.js';
import { attrInt, constValues, defineGradient } from '../registry.js';

const v = (x: Value | undefined) => x as Value;

/** Spreads g back over the reduced axes of x: [kept dims] -> shape of x. */
function spread(g: Value, x: Value, axes: number[], keepdims: boolean): Value {
  const gk = keepdims ? g : unsqueeze(g, axes);
  return expand(gk, x);
}

defineGradient('ReduceSum', ({ node, x, dy }) => {
  const axes = constValues(x[1], 'ReduceSum axes');
  return [spread(v(dy[0]), v(x[0]), axes, attrInt(node, 'keepdims', 1) === 1), undefined];
});

defineGradient('ReduceMean', ({ node, x, y, dy }) => {
  const X = v(x[0]);
  const axes = constValues(x[1], 'ReduceMean axes');
  const reduced: Dim[] = axes.map((a) => X.shape[a] as Dim);
  let count: Value | number;
  if (isStatic(reduced)) count = (reduced as number[]).reduce((p, d) => p * d, 1);
  else count = div(cast(sizeOf(X), X.dtype), cast(sizeOf(v(y[0])), X.dtype));
  const g = spread(v(dy[0]), X, axes, attrInt(node, 'keepdims', 1) === 1);
  return [typeof count === 'number' ? mul(g, 1 / count) : div(g, count), undefined];
});

// y = softmax(x): dx = y * (g - sum(g * y))
defineGradient('Softmax', ({ node, y, dy }) => {
  const axis = attrInt(node, 'axis', -1);
  const Y = v(y[0]);
  const G = v(dy[0]);
  return [mul(Y, sub(G, reduceSum(mul(G, Y), [axis], true)))];
});

// y = log_softmax(x): dx = g - exp(y) * sum(g)
defineGradient('LogSoftmax', ({ node, y, dy }) => {
  const axis = attrInt(node, 'axis', -1);
  const G = v(dy[0]);
  return [sub(G, mul(exp(v(y[0])), reduceSum(G, [axis], true)))];
});
