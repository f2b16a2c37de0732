/** Reductions over axes: ReduceSum, ReduceMean (axes given as an input, opset 18+). */
import { attr, type Value } from '../graph.js';
import { normAxis, type Dim } from '../shape.js';
import { expectFloat } from './check.js';

function reduce(op: 'ReduceSum' | 'ReduceMean', x: Value, axes: readonly number[] | undefined, keepdims: boolean): Value {
  expectFloat(op, 'data', x);
  const norm = (axes ?? x.shape.map((_, i) => i)).map((a) => normAxis(a, x.rank, op)).sort((a, b) => a - b);
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!norm.includes(i)) shape.push(d);
    else if (keepdims) shape.push(1);
  });
  const g = x.graph;
  return g.addNode(op, [x, g.literal('int64', norm)], { keepdims: attr.int(keepdims ? 1 : 0) }, [{ dtype: x.dtype, shape }])[0] as Value;
}

/** Sum over `axes` (all axes when omitted). */
export const reduceSum = (x: Value, axes?: readonly number[], keepdims = false): Value => reduce('ReduceSum', x, axes, keepdims);
/** Mean over `axes` (all axes when omitted). */
export const reduceMean = (x: Value, axes?: readonly number[], keepdims = false): Value => reduce('ReduceMean', x, axes, keepdims);
