/**
 * Element-wise gathers along one axis: ONNX GatherElements, and ScatterElements with reduction
 * `add` (its gradient). DeBERTa's disentangled attention reads, for every query i and key j, the
 * score of the relative-position bucket of (i, j) out of a [.., T, 2k] table of scores.
 */
import { fail } from '../../errors.js';
import { attr, type Value } from '../graph.js';
import { fmtShape, normAxis } from '../shape.js';
import { expectDtype } from './check.js';

/**
 * `out[..., i, ...] = data[..., indices[..., i, ...], ...]` along `axis`: the output has the shape
 * of `indices`, which must have the rank of `data` (and, on every other axis, at most its extent).
 * Indices lie in `[-d, d)` for the extent d of `data` on `axis` (negative ones count from the end).
 */
export function gatherElements(data: Value, indices: Value, axis: number): Value {
  expectDtype('GatherElements', 'indices', indices, ['int64', 'int32']);
  if (indices.rank !== data.rank) {
    fail('SHAPE_MISMATCH', `GatherElements: indices ${indices.describe()} must have the rank of data ${data.describe()} (${data.rank}), got ${fmtShape(indices.shape)}`);
  }
  const a = normAxis(axis, data.rank, 'GatherElements');
  return data.graph.addNode('GatherElements', [data, indices], { axis: attr.int(a) }, [{ dtype: data.dtype, shape: indices.shape }])[0] as Value;
}

/**
 * `data` with `updates[..., i, ...]` added at `data[..., indices[..., i, ...], ...]` along `axis`
 * (ONNX ScatterElements, reduction `add`; repeated indices accumulate). `indices` and `updates`
 * have one shape, of the rank of `data`.
 */
export function scatterElementsAdd(data: Value, indices: Value, updates: Value, axis: number): Value {
  expectDtype('ScatterElements', 'indices', indices, ['int64', 'int32']);
  if (indices.rank !== data.rank || updates.rank !== data.rank) {
    fail('SHAPE_MISMATCH', `ScatterElements: indices ${indices.describe()} and updates ${updates.describe()} must have the rank of data ${data.describe()}`);
  }
  const a = normAxis(axis, data.rank, 'ScatterElements');
  return data.graph.addNode('ScatterElements', [data, indices, updates], { axis: attr.int(a), reduction: attr.str('add') }, [
    { dtype: data.dtype, shape: data.shape },
  ])[0] as Value;
}
