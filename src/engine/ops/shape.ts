/**
 * Shape and layout ops: Reshape, Transpose, Unsqueeze, Squeeze, Expand, Shape, Size, Gather,
 * Concat, Slice, Split, Pad, Cast, ConstantOfShape, OneHot, CumSum.
 *
 * Symbolic dimensions are resolved at run time from the graph inputs that declared them
 * (see `Graph.symbolSource`), so shapes such as `[batch, seq, 768]` can be rebuilt after a flatten.
 */
import { fail } from '../../errors.js';
import { attr, makeTensor, type Value } from '../graph.js';
import { dimDivide, dimProduct, fmtShape, isStatic, normAxis, parseDim, type Dim, type Shape } from '../shape.js';
import { isFloat, numel, type DType, type HostTensor } from '../tensor.js';
import { ONNX_DTYPE } from '../onnx/dtype-codes.js';
import { expectDtype, expectRank } from './check.js';

const INT64_MAX = Number.MAX_SAFE_INTEGER;

/** Shape of `x` as an int64 tensor of length rank(x). */
export function shapeOf(x: Value): Value {
  return x.graph.addNode('Shape', [x], {}, [{ dtype: 'int64', shape: [x.rank] }])[0] as Value;
}

/** Number of elements of `x`, an int64 scalar. */
export function sizeOf(x: Value): Value {
  return x.graph.addNode('Size', [x], {}, [{ dtype: 'int64', shape: [] }])[0] as Value;
}

/** Run-time int64 [1] tensor holding dimension `d` (number or symbolic expression). */
function dimTensor(g: Value['graph'], d: Dim, op: string): Value {
  const t = parseDim(d);
  let acc: Value | undefined = t.n === 1 && t.syms.length > 0 ? undefined : g.literal('int64', [t.n]);
  for (const s of t.syms) {
    const src = g.symbolSource(s);
    if (!src) fail('SHAPE_MISMATCH', `${op}: cannot resolve symbolic dimension '${s}' at run time: no graph input declares it`);
    const piece = gather(shapeOf(src.value), g.literal('int64', [src.axis]), 0);
    acc = acc ? mulInt(acc, piece) : piece;
  }
  return acc as Value;
}

function mulInt(a: Value, b: Value): Value {
  return a.graph.addNode('Mul', [a, b], {}, [{ dtype: 'int64', shape: [1] }])[0] as Value;
}

/** An int64 shape tensor for `dims`, constant when possible. */
export function shapeTensor(g: Value['graph'], dims: Shape, op = 'shape'): Value {
  if (isStatic(dims)) return g.literal('int64', dims as number[]);
  const parts = dims.map((d) => (typeof d === 'number' ? g.literal('int64', [d]) : dimTensor(g, d, op)));
  return concat(parts, 0);
}

/**
 * Reshape to `dims`. Dims may be symbolic (resolved at run time), or one `-1` to infer.
 * A symbolic dim equal to the input's dim at the same axis is copied (ONNX `0`).
 */
export function reshape(x: Value, dims: readonly Dim[]): Value {
  const op = 'Reshape';
  const minus = dims.filter((d) => d === -1).length;
  if (minus > 1) fail('SHAPE_MISMATCH', `${op}: at most one -1 allowed in target ${fmtShape(dims)}`);
  const known = dims.filter((d) => d !== -1);
  const total = dimProduct(x.shape);
  let out: Dim[] = [...dims];
  if (minus === 1) {
    const inferred = dimDivide(total, dimProduct(known));
    if (inferred === undefined) {
      fail('SHAPE_MISMATCH', `${op}: cannot reshape ${x.describe()} to ${fmtShape(dims)}: ${total} elements are not divisible by ${dimProduct(known)}`);
    }
    out = dims.map((d) => (d === -1 ? inferred : d));
  } else if (String(dimProduct(out)) !== String(total) && sameSymbols(dimProduct(out), total)) {
    // Same run-time sizes on both sides but a different constant factor: never equal.
    fail('SHAPE_MISMATCH', `${op}: cannot reshape ${x.describe()} (${total} elements) to ${fmtShape(dims)} (${dimProduct(out)} elements)`);
  }
  // Encode the target: numbers as-is, symbolic dims copied (0) when aligned, else -1 once, else run time.
  const enc: (number | Dim)[] = [];
  let usedMinus = false;
  let dynamic = false;
  out.forEach((d, i) => {
    if (typeof d === 'number') enc.push(d === 0 ? 0 : d);
    else if (i < x.rank && x.shape[i] === d) enc.push(0);
    else if (!usedMinus) {
      enc.push(-1);
      usedMinus = true;
    } else dynamic = true;
  });
  if (out.some((d) => d === 0)) dynamic = true; // 0 would mean "copy" in ONNX
  const shape = dynamic ? shapeTensor(x.graph, out, op) : x.graph.literal('int64', enc as number[]);
  return x.graph.addNode(op, [x, shape], {}, [{ dtype: x.dtype, shape: out }])[0] as Value;
}

/** True when two dims are products of the same run-time sizes (possibly with different constant factors). */
function sameSymbols(a: Dim, b: Dim): boolean {
  return parseDim(a).syms.join('*') === parseDim(b).syms.join('*');
}

/** Reshape `x` to the run-time shape of `like` (used by gradients). */
export function reshapeLike(x: Value, like: Value): Value {
  const shape = isStatic(like.shape) ? x.graph.literal('int64', like.shape as number[]) : shapeOf(like);
  return x.graph.addNode('Reshape', [x, shape], {}, [{ dtype: x.dtype, shape: like.shape }])[0] as Value;
}

/**
 * Reshape `x` to `like`'s leading axes (all but its last) followed by `last`, read at run time
 * when they are symbolic: what a gradient needs when a leading dim is an expression no graph
 * input declares (`3+seq` after a Concat along the sequence).
 */
export function reshapeLeading(x: Value, like: Value, last: readonly number[]): Value {
  const lead = like.shape.slice(0, -1);
  const shape = isStatic(lead)
    ? x.graph.literal('int64', [...(lead as number[]), ...last])
    : concat([slice(shapeOf(like), [0], [like.rank - 1], [0]), x.graph.literal('int64', [...last])], 0);
  return x.graph.addNode('Reshape', [x, shape], {}, [{ dtype: x.dtype, shape: [...lead, ...last] }])[0] as Value;
}

/** Permute axes. */
export function transpose(x: Value, perm: readonly number[]): Value {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    fail('SHAPE_MISMATCH', `Transpose: perm [${perm.join(', ')}] is not a permutation of the axes of ${x.describe()}`);
  }
  const shape = perm.map((p) => x.shape[p] as Dim);
  return x.graph.addNode('Transpose', [x], { perm: attr.ints(perm) }, [{ dtype: x.dtype, shape }])[0] as Value;
}

/** Insert size-1 axes at `axes` (positions in the output). */
export function unsqueeze(x: Value, axes: readonly number[]): Value {
  const rank = x.rank + axes.length;
  const norm = axes.map((a) => normAxis(a, rank, 'Unsqueeze')).sort((a, b) => a - b);
  const shape: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : (x.shape[k++] as Dim));
  return x.graph.addNode('Unsqueeze', [x, x.graph.literal('int64', norm)], {}, [{ dtype: x.dtype, shape }])[0] as Value;
}

/** Remove size-1 axes. */
export function squeeze(x: Value, axes: readonly number[]): Value {
  const norm = axes.map((a) => normAxis(a, x.rank, 'Squeeze'));
  for (const a of norm) {
    if (x.shape[a] !== 1) fail('SHAPE_MISMATCH', `Squeeze: axis ${a} of ${x.describe()} has size ${x.shape[a]}, not 1`);
  }
  const shape = x.shape.filter((_, i) => !norm.includes(i));
  return x.graph.addNode('Squeeze', [x, x.graph.literal('int64', [...norm].sort((a, b) => a - b))], {}, [{ dtype: x.dtype, shape }])[0] as Value;
}

/** Broadcast `x` to the shape `to` (or to the shape of the value `to`). */
export function expand(x: Value, to: Shape | Value): Value {
  const target = Array.isArray(to) ? (to as Shape) : (to as Value).shape;
  const rank = Math.max(target.length, x.rank);
  const shape: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const a = i - (rank - x.rank) >= 0 ? (x.shape[i - (rank - x.rank)] as Dim) : 1;
    const b = i - (rank - target.length) >= 0 ? (target[i - (rank - target.length)] as Dim) : 1;
    if (a !== 1 && b !== 1 && a !== b && typeof a === 'number' && typeof b === 'number') {
      fail('SHAPE_MISMATCH', `Expand: cannot expand ${x.describe()} to ${fmtShape(target)}`);
    }
    shape.push(a === 1 ? b : a);
  }
  const shapeT = Array.isArray(to) ? shapeTensor(x.graph, to as Shape, 'Expand') : shapeOf(to as Value);
  return x.graph.addNode('Expand', [x, shapeT], {}, [{ dtype: x.dtype, shape }])[0] as Value;
}

/** Gather slices of `data` along `axis` at `indices` (embedding lookup with axis 0). */
export function gather(data: Value, indices: Value, axis = 0): Value {
  expectDtype('Gather', 'indices', indices, ['int64', 'int32']);
  const a = normAxis(axis, data.rank, 'Gather');
  const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
  return data.graph.addNode('Gather', [data, indices], { axis: attr.int(a) }, [{ dtype: data.dtype, shape }])[0] as Value;
}

/** Concatenate along `axis`; all other dims must agree. */
export function concat(values: readonly Value[], axis: number): Value {
  if (values.length === 0) fail('GRAPH_ERROR', 'Concat: needs at least one input');
  const first = values[0] as Value;
  const a = normAxis(axis, first.rank, 'Concat');
  const dims: Dim[] = [];
  values.forEach((v, k) => {
    if (v.dtype !== first.dtype) fail('DTYPE_MISMATCH', `Concat: input ${k} (${v.describe()}) has dtype ${v.dtype}, input 0 has ${first.dtype}`);
    if (v.rank !== first.rank) fail('SHAPE_MISMATCH', `Concat: input ${k} (${v.describe()}) has rank ${v.rank}, input 0 (${first.describe()}) has ${first.rank}`);
    v.shape.forEach((d, i) => {
      const f = first.shape[i] as Dim;
      if (i !== a && d !== f && typeof d === 'number' && typeof f === 'number') {
        fail('SHAPE_MISMATCH', `Concat: input ${k} (${v.describe()}) differs from input 0 (${first.describe()}) on axis ${i}`);
      }
    });
    dims.push(v.shape[a] as Dim);
  });
  const shape = first.shape.map((d, i) => (i === a ? sumDims(dims) : d));
  return first.graph.addNode('Concat', values, { axis: attr.int(a) }, [{ dtype: first.dtype, shape }])[0] as Value;
}

function sumDims(dims: readonly Dim[]): Dim {
  if (dims.every((d) => typeof d === 'number')) return (dims as number[]).reduce((s, d) => s + d, 0);
  return dims.join('+');
}

/**
 * Slice `x` along `axes` from `starts` to `ends` (exclusive) with `steps` (default 1).
 * Negative indices count from the end; use `Infinity` for "to the end".
 */
export function slice(x: Value, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Value {
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.rank, 'Slice'));
  const st = steps ?? ax.map(() => 1);
  if (starts.length !== ax.length || ends.length !== ax.length || st.length !== ax.length) {
    fail('SHAPE_MISMATCH', 'Slice: starts, ends, axes and steps must have the same length');
  }
  if (st.some((s) => s === 0 || !Number.isInteger(s))) fail('SHAPE_MISMATCH', 'Slice: steps must be non-zero integers');
  const shape = [...x.shape];
  ax.forEach((a, k) => {
    const d = x.shape[a] as Dim;
    const s = starts[k] as number;
    const e = ends[k] as number;
    const step = st[k] as number;
    if (typeof d === 'number') {
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
      const norm = (v: number) => (v < 0 ? v + d : v);
      const lo = step > 0 ? 0 : -1;
      const hi = step > 0 ? d : d - 1;
      const s2 = clamp(norm(s), lo, hi);
      const e2 = clamp(Number.isFinite(e) ? norm(e) : step > 0 ? d : -1, lo, hi);
      shape[a] = Math.max(0, Math.ceil((e2 - s2) / step));
    } else if (step === 1 && s >= 0 && Number.isFinite(e) && e >= 0) shape[a] = Math.max(0, e - s);
    else if (step === 1 && s === 0 && !Number.isFinite(e)) shape[a] = d;
    else if (step === 1 && s > 0 && !Number.isFinite(e)) shape[a] = `${d}-${s}`;
    else shape[a] = x.graph.freshName(`slice_dim`);
  });
  const big = (v: number) => (Number.isFinite(v) ? v : v > 0 ? INT64_MAX : -INT64_MAX);
  const g = x.graph;
  const inputs = [x, g.literal('int64', starts.map(big)), g.literal('int64', ends.map(big)), g.literal('int64', ax), g.literal('int64', st)];
  return g.addNode('Slice', inputs, {}, [{ dtype: x.dtype, shape }])[0] as Value;
}

/** Split `x` along `axis` into pieces whose sizes are given by `like` values' dims on that axis. */
export function splitLike(x: Value, axis: number, like: readonly Value[]): Value[] {
  const a = normAxis(axis, x.rank, 'Split');
  const g = x.graph;
  const sizes = like.map((v) => v.shape[a] as Dim);
  const sizesT = sizes.every((d) => typeof d === 'number')
    ? g.literal('int64', sizes as number[])
    : concat(like.map((v) => gather(shapeOf(v), g.literal('int64', [a]), 0)), 0);
  const outs = like.map((v) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === a ? (v.shape[a] as Dim) : d)) }));
  return g.addNode('Split', [x, sizesT], { axis: attr.int(a) }, outs);
}

/** Zero-pad: `pads` is an int64 tensor [begin_0..begin_n, end_0..end_n]; output shape given. */
export function padTo(x: Value, pads: Value, outShape: Shape): Value {
  return x.graph.addNode('Pad', [x, pads], { mode: attr.str('constant') }, [{ dtype: x.dtype, shape: outShape }])[0] as Value;
}

/** Convert element type. */
export function cast(x: Value, to: DType): Value {
  if (x.dtype === to) return x;
  return x.graph.addNode('Cast', [x], { to: attr.int(ONNX_DTYPE[to]) }, [{ dtype: to, shape: x.shape }])[0] as Value;
}

/** A tensor of the run-time shape of `like` (or of static `dims`) filled with `value`. */
export function fill(like: Value | readonly number[], value: number, dtype: DType = 'float32', g = (like as Value).graph): Value {
  const isV = !Array.isArray(like);
  const shape = isV ? (like as Value).shape : (like as number[]);
  const shapeT = isV ? (isStatic(shape) ? g.literal('int64', shape as number[]) : shapeOf(like as Value)) : g.literal('int64', shape as number[]);
  const t: HostTensor = makeTensor(dtype, [1], [value]);
  return g.addNode('ConstantOfShape', [shapeT], { value: attr.tensor(t) }, [{ dtype, shape }])[0] as Value;
}

/** One-hot encode class indices: output [..., depth] with `off`/`on` values. */
export function oneHot(indices: Value, depth: number, dtype: DType = 'float32', on = 1, off = 0): Value {
  expectDtype('OneHot', 'indices', indices, ['int64', 'int32']);
  if (!isFloat(dtype)) fail('DTYPE_MISMATCH', 'OneHot: output dtype must be float');
  const g = indices.graph;
  return g.addNode('OneHot', [indices, g.literal('int64', depth), g.literal(dtype, [off, on])], { axis: attr.int(-1) }, [
    { dtype, shape: [...indices.shape, depth] },
  ])[0] as Value;
}

/** Cumulative sum along `axis` (used for RoBERTa position ids). */
export function cumsum(x: Value, axis: number): Value {
  expectRank('CumSum', 'x', x, 1, 8);
  const a = normAxis(axis, x.rank, 'CumSum');
  return x.graph.addNode('CumSum', [x, x.graph.literal('int64', a)], {}, [{ dtype: x.dtype, shape: x.shape }])[0] as Value;
}

/** Static element count, or undefined when symbolic. */
export function staticNumel(shape: Shape): number | undefined {
  return isStatic(shape) ? numel(shape as number[]) : undefined;
}

/** A tensor of shape given by an int64 shape tensor, filled with `value`; `outShape` is its static description. */
export function fillShape(shapeT: Value, outShape: Shape, value: number, dtype: DType = 'float32'): Value {
  const t: HostTensor = makeTensor(dtype, [1], [value]);
  return shapeT.graph.addNode('ConstantOfShape', [shapeT], { value: attr.tensor(t) }, [{ dtype, shape: outShape }])[0] as Value;
}

/** ScatterND with reduction 'add': adds `updates` into `data` at `indices` (last axis indexes data). */
export function scatterNDAdd(data: Value, indices: Value, updates: Value): Value {
  expectDtype('ScatterND', 'indices', indices, ['int64']);
  return data.graph.addNode('ScatterND', [data, indices, updates], { reduction: attr.str('add') }, [{ dtype: data.dtype, shape: data.shape }])[0] as Value;
}
