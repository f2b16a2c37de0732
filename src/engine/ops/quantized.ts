/**
 * Int8 frozen matmuls: ONNX Runtime's `com.microsoft` DynamicQuantizeMatMul (activations quantised
 * per tensor at run time, weights int8 per output column) and MatMulNBits with 8 bits (weights and,
 * at accuracy level 4, activations quantised per block of {@link INT8_BLOCK} along the inner axis:
 * the finer kernel for inputs with outlier channels). Both run on the stock CPU build.
 *
 * A frozen weight W [K, N] is quantised once (the int8 copies are reused by every graph built on
 * the same weight array), with the transposed copy Wᵀ [N, K] the input
 * gradient needs (dX = dY Wᵀ, dY quantised at run time too), each quantised for its own product.
 * The weight itself gets no gradient (it is frozen); the bias may (BitFit), and is fused into the
 * kernel. {@link installFrozenKernel} puts a kernel under every `linear(x, W, b)` of a frozen
 * constant W; {@link installFrozenProbe} measures, on a real batch, how far each kernel's product
 * is from fp32 (the outlier guard).
 *
 * Shape legend: K inner (input) width, N output width, kb = ceil(K / block) blocks.
 */
import { fail } from '../../errors.js';
import { attr, type Graph, type Value } from '../graph.js';
import type { Dim } from '../shape.js';
import type { HostTensor } from '../tensor.js';
import { expectDtype, expectFloat, expectRank } from './check.js';
import { add, div, mul, sqrt, sub } from './elementwise.js';
import { matmul } from './matmul.js';
import { reduceSum } from './reduce.js';

/** How a frozen matmul runs: fp32 MatMul, int8 per column (per-tensor activations), or 8-bit blocks. */
export type FrozenKernel = 'fp32' | 'int8' | 'int8-block';

/** The kernels, finest last (the outlier guard tries them in this order after `int8`). */
export const FROZEN_KERNELS: readonly FrozenKernel[] = ['int8', 'int8-block', 'fp32'];

/** Block length of the `int8-block` kernel along the inner axis. */
export const INT8_BLOCK = 32;

/** ONNX Runtime's contrib domain. */
const MS = 'com.microsoft';

/** A weight matrix quantised per output column: `q` int8 [K, N], `scale` [N] (symmetric, zero point 0). */
export interface ColumnQuantized {
  readonly q: HostTensor<'int8'>;
  readonly scale: HostTensor<'float32'>;
}

/** A weight matrix quantised in 8-bit blocks for MatMulNBits: `q` uint8 [N, kb, block] (zero point 128), `scale` [N, kb]. */
export interface BlockQuantized {
  readonly q: HostTensor<'uint8'>;
  readonly scale: HostTensor<'float32'>;
  readonly k: number;
  readonly n: number;
  readonly block: number;
}

/**
 * Symmetric int8 per output column of a row-major [rows, cols] matrix taken as W [K, N]
 * (`transpose`: of its transpose, W = matrixᵀ, without materialising it in fp32).
 */
export function quantizeColumns(w: Float32Array, rows: number, cols: number, transpose = false): ColumnQuantized {
  const [K, N] = transpose ? [cols, rows] : [rows, cols];
  const scale = new Float32Array(N);
  const q = new Int8Array(K * N);
  if (!transpose) {
    // W = the matrix: column n of W is column c of the source
    for (let r = 0; r < rows; r++) {
      for (let c = 0, o = r * cols; c < cols; c++) {
        const a = Math.abs(w[o + c] as number);
        if (a > (scale[c] as number)) scale[c] = a;
      }
    }
    for (let n = 0; n < N; n++) scale[n] = (scale[n] as number) > 0 ? 127 / (scale[n] as number) : 0;
    for (let i = 0; i < rows * cols; i++) q[i] = Math.round((w[i] as number) * (scale[i % cols] as number));
  } else {
    // W = the matrixᵀ: column n of W is row r = n of the source, W[k, n] = source[n, k]
    for (let r = 0; r < rows; r++) {
      let m = 0;
      for (let c = 0, o = r * cols; c < cols; c++) m = Math.max(m, Math.abs(w[o + c] as number));
      scale[r] = m > 0 ? 127 / m : 0;
    }
    for (let r = 0; r < rows; r++) {
      const s = scale[r] as number;
      for (let c = 0, o = r * cols; c < cols; c++) q[c * N + r] = Math.round((w[o + c] as number) * s);
    }
  }
  for (let n = 0; n < N; n++) scale[n] = (scale[n] as number) > 0 ? 1 / (scale[n] as number) : 1; // the step of one unit (1 for an all-zero column)
  return { q: { dtype: 'int8', shape: [K, N], data: q }, scale: { dtype: 'float32', shape: [N], data: scale } };
}

/**
 * 8-bit blocks of `block` values along the inner axis of a row-major [rows, cols] matrix taken
 * as W [K, N] (`transpose`: as its transpose), laid out as MatMulNBits reads them.
 */
export function quantizeBlocks(w: Float32Array, rows: number, cols: number, block = INT8_BLOCK, transpose = false): BlockQuantized {
  const [K, N] = transpose ? [cols, rows] : [rows, cols];
  // W's column n as a contiguous run over k: a column of the source, or a row when transposed.
  const col = new Float32Array(K);
  const kb = Math.ceil(K / block);
  const q = new Uint8Array(N * kb * block).fill(128);
  const scale = new Float32Array(N * kb);
  for (let n = 0; n < N; n++) {
    if (transpose) col.set(w.subarray(n * cols, (n + 1) * cols));
    else for (let k = 0; k < K; k++) col[k] = w[k * cols + n] as number;
    for (let b = 0; b < kb; b++) {
      const end = Math.min(K, (b + 1) * block);
      let m = 0;
      for (let k = b * block; k < end; k++) m = Math.max(m, Math.abs(col[k] as number));
      const s = m / 127 || 1;
      scale[n * kb + b] = s;
      for (let k = b * block; k < end; k++) q[n * kb * block + k] = 128 + Math.round((col[k] as number) / s);
    }
  }
  return { q: { dtype: 'uint8', shape: [N, kb, block], data: q }, scale: { dtype: 'float32', shape: [N, kb], data: scale } as HostTensor<'float32'>, k: K, n: N, block };
}

/**
 * Int8 copies already made, per fp32 weight array: the guard's probe, the training and the
 * prediction graphs share them (frozen weights do not change in place).
 */
const MADE = new WeakMap<Float32Array, Map<string, readonly HostTensor[]>>();

function cached<T extends readonly HostTensor[]>(w: Float32Array, key: string, make: () => T): T {
  let m = MADE.get(w);
  if (!m) MADE.set(w, (m = new Map()));
  const hit = m.get(key);
  if (hit) return hit as T;
  const made = make();
  m.set(key, made);
  return made;
}

function innerWidth(op: string, a: Value, k: number, what: string): void {
  expectFloat(op, 'A', a);
  expectRank(op, 'A', a, 1, 8);
  const ka = a.shape[a.rank - 1] as Dim;
  if (typeof ka === 'number' && ka !== k) fail('SHAPE_MISMATCH', `${op}: A ${a.describe()} has ${ka} columns, ${what} has ${k} rows`, { op });
}

/**
 * A [..., K] x int8 B [K, N] (per-column `scale` [N]) + `bias` [N], A quantised per tensor at run
 * time (ONNX Runtime's DynamicQuantizeMatMul). [..., K] -> [..., N]
 */
export function dynamicQuantizeMatMul(a: Value, b: Value, scale: Value, bias?: Value): Value {
  expectDtype('DynamicQuantizeMatMul', 'B', b, ['int8']);
  expectRank('DynamicQuantizeMatMul', 'B', b, 2);
  const [k, n] = b.shape as [number, number];
  innerWidth('DynamicQuantizeMatMul', a, k, `B ${b.describe()}`);
  if (scale.shape.length !== 1 || scale.shape[0] !== n) fail('SHAPE_MISMATCH', `DynamicQuantizeMatMul: b_scale ${scale.describe()} must be [${n}]`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== n)) fail('SHAPE_MISMATCH', `DynamicQuantizeMatMul: bias ${bias.describe()} must be [${n}]`);
  const shape = [...a.shape.slice(0, -1), n];
  return a.graph.addNode('DynamicQuantizeMatMul', bias ? [a, b, scale, undefined, bias] : [a, b, scale], {}, [{ dtype: a.dtype, shape }], { domain: MS })[0] as Value;
}

/**
 * A [..., K] x 8-bit blocked B (uint8 [N, kb, block], `scale` [N, kb], zero point 128) + `bias`
 * [N] (ONNX Runtime's MatMulNBits); accuracy level 4 quantises A per block too. [..., K] -> [..., N]
 */
export function matMulNBits(a: Value, b: Value, scale: Value, o: { k: number; n: number; block: number; bias?: Value; accuracyLevel?: number }): Value {
  expectDtype('MatMulNBits', 'B', b, ['uint8']);
  const kb = Math.ceil(o.k / o.block);
  if (b.rank !== 3 || b.shape[0] !== o.n || b.shape[1] !== kb || b.shape[2] !== o.block) {
    fail('SHAPE_MISMATCH', `MatMulNBits: B ${b.describe()} must be [${o.n}, ${kb}, ${o.block}] for K=${o.k}, N=${o.n}, block ${o.block}`);
  }
  innerWidth('MatMulNBits', a, o.k, `the weight (K=${o.k})`);
  if (o.bias && (o.bias.rank !== 1 || o.bias.shape[0] !== o.n)) fail('SHAPE_MISMATCH', `MatMulNBits: bias ${o.bias.describe()} must be [${o.n}]`);
  const shape = [...a.shape.slice(0, -1), o.n];
  const attrs = { K: attr.int(o.k), N: attr.int(o.n), bits: attr.int(8), block_size: attr.int(o.block), accuracy_level: attr.int(o.accuracyLevel ?? 4) };
  const inputs = o.bias ? [a, b, scale, undefined, undefined, o.bias] : [a, b, scale];
  return a.graph.addNode('MatMulNBits', inputs, attrs, [{ dtype: a.dtype, shape }], { domain: MS })[0] as Value;
}

/** dX = dY Wᵀ for the frozen weight whose quantised form is the key (what the gradient rules use). */
const TRANSPOSED = new WeakMap<Value, (dy: Value) => Value>();

/**
 * The product with the transposed copy that the gradient of an int8 node with weight input `b`
 * needs; NO_GRADIENT when `b` has none (a weight quantised without {@link installFrozenKernel}).
 */
export function transposedProduct(b: Value | undefined, node: string): (dy: Value) => Value {
  const f = b && TRANSPOSED.get(b);
  if (!f) fail('NO_GRADIENT', `node ${node}: its int8 weight ${b?.name ?? '(none)'} has no transposed copy, so no input gradient can be built`);
  return f;
}

/** One frozen matmul as installed: its weight's name, shape, kernel and the bytes its constants hold. */
export interface FrozenMatmulInfo {
  readonly weight: string;
  readonly shape: readonly [number, number];
  readonly kernel: FrozenKernel;
  /** Bytes of the constants the kernel uses (fp32 W, or both quantised copies and their scales). */
  readonly bytes: number;
}

function bytesOf(...ts: HostTensor[]): number {
  return ts.reduce((n, t) => n + t.data.byteLength, 0);
}

/** The forward and transposed constants of `w` for `kernel` (not fp32), and the two products. */
function quantisedPair(w: Value, kernel: Exclude<FrozenKernel, 'fp32'>, o: { forwardOnly?: boolean } = {}): { bytes: number; forward: (x: Value, bias?: Value) => Value; backward: (dy: Value) => Value; key: Value } {
  const g: Graph = w.graph;
  const t = g.dataOf(w);
  if (t.dtype !== 'float32') fail('DTYPE_MISMATCH', `frozen kernel ${kernel}: ${w.describe()} must be float32`);
  const [K, N] = t.shape as [number, number];
  const data = t.data as Float32Array;
  if (kernel === 'int8') {
    const [fqt, fst, bqt, bst] = cached(data, kernel, () => {
      const f = quantizeColumns(data, K, N);
      const b = quantizeColumns(data, K, N, true);
      return [f.q, f.scale, b.q, b.scale] as const;
    });
    const fq = g.constant(g.freshName(`${w.name}.int8`), fqt);
    const fs = g.constant(g.freshName(`${w.name}.int8_scale`), fst);
    const bq = g.constant(g.freshName(`${w.name}.int8_t`), bqt);
    const bs = g.constant(g.freshName(`${w.name}.int8_t_scale`), bst);
    return { bytes: bytesOf(fqt, fst, bqt, bst), key: fq, forward: (x, bias) => dynamicQuantizeMatMul(x, fq, fs, bias), backward: (dy) => dynamicQuantizeMatMul(dy, bq, bs) };
  }
  // Not cached: the guard's probe makes these for every matmul (the forward copy only), few keep them.
  const f = quantizeBlocks(data, K, N);
  const fq = g.constant(g.freshName(`${w.name}.q8b`), f.q);
  const fs = g.constant(g.freshName(`${w.name}.q8b_scale`), f.scale);
  const forward = (x: Value, bias?: Value) => matMulNBits(x, fq, fs, { k: K, n: N, block: INT8_BLOCK, bias });
  if (o.forwardOnly) return { bytes: bytesOf(f.q, f.scale), key: fq, forward, backward: () => fail('GRAPH_ERROR', `${w.name}: a forward-only probe has no transposed copy`) };
  const b = quantizeBlocks(data, K, N, INT8_BLOCK, true);
  const bq = g.constant(g.freshName(`${w.name}.q8b_t`), b.q);
  const bs = g.constant(g.freshName(`${w.name}.q8b_t_scale`), b.scale);
  return { bytes: bytesOf(f.q, f.scale, b.q, b.scale), key: fq, forward, backward: (dy) => matMulNBits(dy, bq, bs, { k: N, n: K, block: INT8_BLOCK }) };
}

/**
 * Runs every `linear(x, w, b)` of the frozen constant `w` [K, N] with `kernel`: `int8` and
 * `int8-block` quantise `w` and its transpose once (the fp32 `w` is then no longer used by the
 * graph, so it is not stored in the session); `fp32` leaves `w` as it is.
 */
export function installFrozenKernel(w: Value, kernel: FrozenKernel): FrozenMatmulInfo {
  if (w.kind !== 'constant' || w.rank !== 2) fail('GRAPH_ERROR', `frozen kernel ${kernel}: ${w.describe()} must be a frozen 2-D constant`);
  const shape = w.shape as [number, number];
  if (kernel === 'fp32') return { weight: w.name, shape, kernel, bytes: w.graph.dataOf(w).data.byteLength };
  const p = quantisedPair(w, kernel);
  TRANSPOSED.set(p.key, p.backward);
  w.graph.setLinearKernel(w, (x, bias) => p.forward(x, bias));
  return { weight: w.name, shape, kernel, bytes: p.bytes };
}

/** The quantised kernels a probe can measure. */
export type ProbedKernel = Exclude<FrozenKernel, 'fp32'>;

/** What {@link installFrozenProbe} adds for one weight: the relative error of each probed kernel, scalars. */
export interface FrozenProbe {
  readonly weight: string;
  readonly errors: Readonly<Partial<Record<ProbedKernel, Value>>>;
}

/** ‖y − ref‖ / ‖ref‖ over all elements, a scalar. */
function relativeError(y: Value, ref: Value): Value {
  const d = sub(y, ref);
  return sqrt(div(reduceSum(mul(d, d)), add(reduceSum(mul(ref, ref)), 1e-30)));
}

/**
 * The outlier guard's probe: `linear(x, w, b)` of the frozen constant `w` keeps running in fp32,
 * and the product `x w` of each of `kernels` is computed beside it on the same input; `onProbe`
 * receives the scalar relative errors (Frobenius, over the batch) for the caller to fetch.
 */
export function installFrozenProbe(w: Value, onProbe: (p: FrozenProbe) => void, kernels: readonly ProbedKernel[] = ['int8', 'int8-block']): void {
  if (w.kind !== 'constant' || w.rank !== 2) fail('GRAPH_ERROR', `frozen probe: ${w.describe()} must be a frozen 2-D constant`);
  const made = kernels.map((k) => [k, quantisedPair(w, k, { forwardOnly: k === 'int8-block' })] as const);
  w.graph.setLinearKernel(w, (x, bias) => {
    const y = matmul(x, w);
    onProbe({ weight: w.name, errors: Object.fromEntries(made.map(([k, p]) => [k, relativeError(p.forward(x), y)])) });
    return bias ? add(y, bias) : y;
  });
}
