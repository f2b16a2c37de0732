/** Gradient rule of GatherElements: the output gradient scatter-added back into zeros shaped like the data. */
import type { Value } from '../../graph.js';
import { scatterElementsAdd } from '../../ops/gather-elements.js';
import { fill } from '../../ops/shape.js';
import { attrInt, defineGradient, markNonDifferentiable } from '../registry.js';

// out[.., i, ..] = data[.., idx[.., i, ..], ..]  =>  d data[.., k, ..] = Σ_{i: idx = k} d out[.., i, ..]
defineGradient('GatherElements', ({ node, x, dy }) => {
  const data = x[0] as Value;
  const zeros = fill(data, 0, data.dtype); // [shape of data]
  return [scatterElementsAdd(zeros, x[1] as Value, dy[0] as Value, attrInt(node, 'axis', 0)), undefined];
});

markNonDifferentiable('emitted only by gradient rules; second-order gradients are not supported', 'ScatterElements');
