/** Gradient rules of shape and layout ops. */
import { fail } from '../../../errors.js';
import type { Value } from '../../graph.js';
import { add, sub } from '../../ops/elementwise.js';
import { concat, fill, fillShape, gather, padTo, reshapeLike, scatterNDAdd, shapeOf, splitLike, transpose, unsqueeze } from '../../ops/shape.js';
import { attrInt, attrInts, constValues, defineGradient, markNonDifferentiable } from '../registry.js';

const v = (x: Value | undefined) => x as Value;
const inverse = (perm: readonly number[]) => perm.map((_, i) => perm.indexOf(i));

for (const op of ['Reshape', 'Unsqueeze', 'Squeeze', 'Flatten']) {
  defineGradient(op, ({ x, dy }) => [reshapeLike(v(dy[0]), v(x[0])), undefined]);
}

defineGradient('Transpose', ({ node, x, dy }) => {
  const perm = attrInts(node, 'perm') ?? v(x[0]).shape.map((_, i) => v(x[0]).rank - 1 - i);
  return [transpose(v(dy[0]), inverse(perm))];
});

// Expand broadcasts; the driver sums the gradient back to the input's shape.
defineGradient('Expand', ({ dy }) => [dy[0], undefined]);

// Gather(data, indices, axis): scatter-add the gradient rows back into zeros shaped like data.
defineGradient('Gather', ({ node, x, dy }) => {
  const data = v(x[0]);
  const idx = v(x[1]);
  const G = v(dy[0]);
  const g = data.graph;
  const a = attrInt(node, 'axis', 0);
  const q = idx.rank;
  const idx64 = idx.dtype === 'int64' ? idx : (g.addNode('Cast', [idx], { to: { i: 7 } }, [{ dtype: 'int64', shape: idx.shape }])[0] as Value);
  const coords = unsqueeze(idx64, [-1]); // [...idx, 1]
  if (a === 0) return [scatterNDAdd(fill(data, 0, data.dtype), coords, G), undefined];
  // Move the gathered axis to the front, scatter, move it back.
  const r = data.rank;
  const permD = [a, ...Array.from({ length: r }, (_, i) => i).filter((i) => i !== a)];
  const permG = [
    ...Array.from({ length: q }, (_, i) => a + i),
    ...Array.from({ length: a }, (_, i) => i),
    ...Array.from({ length: r - a - 1 }, (_, i) => a + q + i),
  ];
  const gT = transpose(G, permG);
  const zerosShape = permD.map((p) => data.shape[p] as number | string);
  const zeros = fillShape(gather(shapeOf(data), g.literal('int64', permD), 0), zerosShape, 0, data.dtype);
  return [transpose(scatterNDAdd(zeros, coords, gT), inverse(permD)), undefined];
});

defineGradient('Concat', ({ node, x, dy }) => splitLike(v(dy[0]), attrInt(node, 'axis', 0), x.map(v)));

defineGradient('Split', ({ node, y, dy }) => {
  const parts = y.map((o, i) => dy[i] ?? fill(o, 0, o.dtype));
  return [concat(parts, attrInt(node, 'axis', 0)), undefined];
});

// Slice (step 1): pad the gradient with zeros back to the input's extent.
defineGradient('Slice', ({ x, dy }) => {
  const X = v(x[0]);
  const G = v(dy[0]);
  const g = X.graph;
  const starts = constValues(x[1], 'Slice starts');
  const axes = constValues(x[3], 'Slice axes');
  const steps = constValues(x[4], 'Slice steps');
  if (steps.some((s) => s !== 1)) fail('NO_GRADIENT', 'Slice: gradients are implemented for step 1 only');
  const xs = shapeOf(X);
  const gs = shapeOf(G);
  const begins: Value[] = [];
  const ends: Value[] = [];
  for (let i = 0; i < X.rank; i++) {
    const k = axes.indexOf(i);
    const dimX = gather(xs, g.literal('int64', [i]), 0);
    const dimG = gather(gs, g.literal('int64', [i]), 0);
    let begin: Value = g.literal('int64', [0]);
    if (k >= 0) {
      const s = starts[k] as number;
      const big = s >= 2 ** 53 - 1 || s <= -(2 ** 53 - 1);
      if (big) fail('NO_GRADIENT', 'Slice: gradient needs finite starts');
      begin = s >= 0 ? g.literal('int64', [s]) : add(dimX, g.literal('int64', [s]));
    }
    begins.push(begin);
    ends.push(sub(sub(dimX, dimG), begin));
  }
  return [padTo(G, concat([...begins, ...ends], 0), X.shape), undefined, undefined, undefined, undefined];
});

markNonDifferentiable('returns shapes or sizes (integers)', 'Shape', 'Size');
markNonDifferentiable('its input is a shape', 'ConstantOfShape');
markNonDifferentiable('its inputs are class indices', 'OneHot');
markNonDifferentiable('used on integer position ids only', 'CumSum', 'Range');
markNonDifferentiable('emitted only by gradient rules; second-order gradients are not supported', 'Pad', 'ScatterND');
