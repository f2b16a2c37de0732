/**
 * The graph builder: symbolic values with dtype and shape, graph inputs, frozen constants,
 * trainable parameters, nodes and outputs. Ops (in `ops/`) add nodes; `autodiff/` appends the
 * backward graph; `onnx/` serialises it. Nothing here knows protobuf.
 *
 * Shape legend used in comments across the engine and models:
 * B batch, T sequence length, D hidden size, H heads, Dh head size, F feed-forward size,
 * V vocabulary, C classes.
 */
import { fail } from '../errors.js';
import { assertTensor, type DType, type HostTensor } from './tensor.js';
import { fmtShape, type Dim, type Shape } from './shape.js';

/** How a value enters the graph. */
export type ValueKind = 'input' | 'constant' | 'param' | 'node';

/** An ONNX attribute value, tagged with its ONNX type. */
export type Attr =
  | { readonly i: number }
  | { readonly f: number }
  | { readonly s: string }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly t: HostTensor };

/** Attribute helpers: `attr.int(1)`, `attr.float(1e-5)`, ... */
export const attr = {
  int: (i: number): Attr => ({ i }),
  float: (f: number): Attr => ({ f }),
  str: (s: string): Attr => ({ s }),
  ints: (ints: readonly number[]): Attr => ({ ints }),
  floats: (floats: readonly number[]): Attr => ({ floats }),
  tensor: (t: HostTensor): Attr => ({ t }),
};

/** A symbolic tensor in a {@link Graph}. */
export class Value {
  /** @internal */
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly kind: ValueKind,
    readonly producer?: Node,
    readonly outputIndex = 0,
  ) {}

  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** `name float32[batch, 768]` for messages. */
  describe(): string {
    return `${this.name} ${this.dtype}${fmtShape(this.shape)}`;
  }
}

/** One operation in the graph. */
export interface Node {
  readonly id: number;
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  /** Inputs in ONNX order; `undefined` for an omitted optional input. */
  readonly inputs: readonly (Value | undefined)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, Attr>>;
}

/** Output spec for {@link Graph.addNode}. */
export interface OutputSpec {
  dtype: DType;
  shape: Shape;
}

/** Where a symbolic dimension can be read at run time: axis `axis` of `value`. */
export interface SymbolSource {
  value: Value;
  axis: number;
}

/** What `linear(x, w, b)` runs for a weight with a kernel (see {@link Graph.setLinearKernel}). */
export type LinearKernel = (x: Value, bias: Value | undefined) => Value;

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.:/\-[\]]*$/;

/**
 * A computation graph under construction. Build it with the op functions in `ops/`,
 * mark outputs, then serialise it with `toModel` or run it through an engine `Session`.
 */
export class Graph {
  /** The graph's name: the serialized ONNX graph's, the default external-data file name, and in error messages. */
  readonly name: string;
  private readonly _nodes: Node[] = [];
  private readonly _inputs: Value[] = [];
  private readonly _constants: Value[] = [];
  private readonly _params: Value[] = [];
  private readonly _outputs: Value[] = [];
  private readonly _names = new Set<string>();
  private readonly _data = new Map<Value, HostTensor>();
  private readonly _symbols = new Map<string, SymbolSource>();
  private readonly _scalars = new Map<string, Value>();
  private readonly _scopes: string[] = [];
  private readonly _linearKernels = new Map<Value, LinearKernel>();
  private _counter = 0;

  /** An empty graph named `name` (default `adapterkit`). */
  constructor(name = 'adapterkit') {
    this.name = name;
  }

  /** All nodes in creation (topological) order. */
  get nodes(): readonly Node[] {
    return this._nodes;
  }
  /** Graph inputs fed at run time. */
  get inputs(): readonly Value[] {
    return this._inputs;
  }
  /** Frozen constants (initializers). */
  get constants(): readonly Value[] {
    return this._constants;
  }
  /** Trainable parameters. */
  get params(): readonly Value[] {
    return this._params;
  }
  /** Values marked as outputs. */
  get outputs(): readonly Value[] {
    return this._outputs;
  }

  /** The data of a constant or parameter. */
  dataOf(v: Value): HostTensor {
    const t = this._data.get(v);
    if (!t) fail('GRAPH_ERROR', `${v.name} is a ${v.kind}, not a constant or parameter with data`);
    return t;
  }

  /** Replaces the data of a parameter (same shape and dtype). */
  setData(v: Value, t: HostTensor): void {
    const old = this.dataOf(v);
    if (old.dtype !== t.dtype || old.shape.length !== t.shape.length || old.shape.some((d, i) => d !== t.shape[i])) {
      fail('SHAPE_MISMATCH', `setData(${v.name}): expected ${old.dtype}${fmtShape(old.shape)}, got ${t.dtype}${fmtShape(t.shape)}`);
    }
    this._data.set(v, t);
  }

  /**
   * Makes every `linear(x, w, b)` on the frozen constant `w` run `kernel(x, b)` instead of
   * `x @ w + b` (how ops/quantized.ts puts int8 kernels under the frozen projections without
   * the encoders knowing). Set once per weight, before the weight is used.
   */
  setLinearKernel(w: Value, kernel: LinearKernel): void {
    this.own(w, 'setLinearKernel');
    if (w.kind !== 'constant' || w.rank !== 2) fail('GRAPH_ERROR', `setLinearKernel: ${w.describe()} must be a frozen 2-D constant`);
    if (this._linearKernels.has(w)) fail('GRAPH_ERROR', `setLinearKernel: ${w.name} has a kernel already`);
    this._linearKernels.set(w, kernel);
  }

  /** The kernel {@link setLinearKernel} set for `w`, if any. */
  linearKernel(w: Value): LinearKernel | undefined {
    return this._linearKernels.get(w);
  }

  /** Where each symbolic dimension can be read at run time (from graph inputs). */
  symbolSource(sym: string): SymbolSource | undefined {
    return this._symbols.get(sym);
  }

  /** Runs `fn` with names prefixed by `prefix/` (nested scopes join with `/`). */
  scope<T>(prefix: string, fn: () => T): T {
    this._scopes.push(prefix);
    try {
      return fn();
    } finally {
      this._scopes.pop();
    }
  }

  private claim(name: string): string {
    if (!NAME_RE.test(name)) fail('GRAPH_ERROR', `invalid value name ${JSON.stringify(name)}`);
    if (this._names.has(name)) fail('GRAPH_ERROR', `a value named ${JSON.stringify(name)} already exists in graph ${this.name}`);
    this._names.add(name);
    return name;
  }

  /** Declares a graph input. String dims are symbolic; their first use defines where to read them. */
  input(name: string, dtype: DType, shape: Shape): Value {
    const v = new Value(this, this.claim(name), dtype, [...shape], 'input');
    shape.forEach((d, axis) => {
      if (typeof d === 'string' && !d.includes('*') && !this._symbols.has(d)) this._symbols.set(d, { value: v, axis });
    });
    this._inputs.push(v);
    return v;
  }

  /** Adds a frozen constant (an initializer); its data is kept by reference, never copied. */
  constant(name: string, t: HostTensor): Value {
    assertTensor(t, `constant ${name}`);
    const v = new Value(this, this.claim(name), t.dtype, [...t.shape], 'constant');
    this._data.set(v, t);
    this._constants.push(v);
    return v;
  }

  /** Adds a trainable parameter; its current value is fed to the session at each step. */
  param(name: string, t: HostTensor): Value {
    assertTensor(t, `parameter ${name}`);
    if (t.dtype !== 'float32') fail('DTYPE_MISMATCH', `parameter ${name}: trainable parameters must be float32, got ${t.dtype}`);
    const v = new Value(this, this.claim(name), t.dtype, [...t.shape], 'param');
    this._data.set(v, t);
    this._params.push(v);
    return v;
  }

  /** A small deduplicated constant holding one number (rank 0) or a 1-D list. */
  literal(dtype: DType, values: number | readonly number[]): Value {
    const arr = typeof values === 'number' ? [values] : values;
    const key = `${dtype}:${typeof values === 'number' ? 's' : 'v'}:${arr.join(',')}`;
    const hit = this._scalars.get(key);
    if (hit) return hit;
    const shape = typeof values === 'number' ? [] : [arr.length];
    const t = makeTensor(dtype, shape, arr);
    const v = this.constant(`const_${this._scalars.size}`, t);
    this._scalars.set(key, v);
    return v;
  }

  /** Marks values as graph outputs (fetchable by name). */
  output(...values: Value[]): void {
    for (const v of values) {
      this.own(v, 'output');
      if (!this._outputs.includes(v)) this._outputs.push(v);
    }
  }

  /** Throws unless `v` belongs to this graph. */
  own(v: Value, op: string): void {
    if (v.graph !== this) fail('GRAPH_ERROR', `${op}: ${v.name} belongs to graph ${v.graph.name}, not ${this.name}`);
  }

  /**
   * Appends a node. Ops call this after checking their inputs and inferring output shapes.
   * Returns the output values.
   */
  addNode(
    opType: string,
    inputs: readonly (Value | undefined)[],
    attrs: Record<string, Attr>,
    outputs: readonly OutputSpec[],
    opts: { domain?: string; name?: string } = {},
  ): Value[] {
    for (const v of inputs) if (v) this.own(v, opType);
    const id = this._counter++;
    const prefix = this._scopes.length ? `${this._scopes.join('/')}/` : '';
    const name = this.claim(opts.name ?? `${prefix}${opType}_${id}`);
    const outs: Value[] = [];
    const node: Node = { id, name, opType, domain: opts.domain ?? '', inputs: [...inputs], outputs: outs, attrs: { ...attrs } };
    outputs.forEach((o, i) => {
      outs.push(new Value(this, this.claim(outputs.length === 1 ? `${name}:out` : `${name}:out${i}`), o.dtype, [...o.shape], 'node', node, i));
    });
    this._nodes.push(node);
    return outs;
  }

  /** Fresh unique name with the current scope prefix (for constants created by ops). */
  freshName(base: string): string {
    const prefix = this._scopes.length ? `${this._scopes.join('/')}/` : '';
    let n = `${prefix}${base}`;
    while (this._names.has(n)) n = `${prefix}${base}_${this._counter++}`;
    return n;
  }
}

/** Builds a host tensor of a dtype from plain numbers. */
export function makeTensor(dtype: DType, shape: readonly number[], values: readonly number[]): HostTensor {
  switch (dtype) {
    case 'float32':
      return { dtype, shape, data: Float32Array.from(values) };
    case 'int64':
      return { dtype, shape, data: BigInt64Array.from(values, (x) => BigInt(x)) };
    case 'int32':
      return { dtype, shape, data: Int32Array.from(values) };
    case 'bool':
    case 'uint8':
      return { dtype, shape, data: Uint8Array.from(values) };
    case 'int8':
      return { dtype, shape, data: Int8Array.from(values) };
    default:
      return fail('DTYPE_MISMATCH', `cannot make a literal of dtype ${dtype}`);
  }
}

/** Shape of `shape` with `dims` replaced — small helper for ops. */
export function withDims(shape: Shape, replace: Record<number, Dim>): Dim[] {
  return shape.map((d, i) => (i in replace ? (replace[i] as Dim) : d));
}
