/**
 * Int8 frozen matmuls: ONNX Runtime's `com.microsoft` DynamicQuantizeMatMul (activations quantised
 * per tensor at run time, weights int8 per output column) and MatMulNBits with 8 bits (weights and,
 * at accuracy level 4, activations quantised per block along the inner axis: blocks of
 * {@link INT8_BLOCK} for inputs with outlier channels; blocks of 256, the longest ONNX Runtime
 * takes, for an input gradient dY whose spread is across token rows, at less cost than 32, see
 * {@link BLOCK_LENGTHS}). Both run on the stock CPU build.
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
import { reshape, transpose } from './shape.js';

/**
 * Block length along the inner axis of each 8-bit block kernel (MatMulNBits). `int8-block256`: the
 * activations' scale follows each row (a token) over 256 inner values, which is what an input
 * gradient needs where its rows differ in size (random BERT-base, 12 layers: the 18 of 72 input
 * gradients over 0.03 per tensor, at 0.030-0.035, measure 0.008-0.010 with it, 0.006-0.008 with
 * blocks of 32), in 0.7-0.9 of the time of blocks of 32. `int8-block`: blocks of 32, which
 * isolate outlier channels (a channel x30 spoils its own block of 32 in each row, not a block of 256).
 */
export const BLOCK_LENGTHS = { 'int8-block256': 256, 'int8-block': 32 } as const;

/** The 8-bit block kernels. */
export type BlockKernel = keyof typeof BLOCK_LENGTHS;

/**
 * The kernels an input gradient dY Wᵀ may run with, in the order the outlier guard tries them
 * (fastest first, fp32 last).
 */
export const INPUT_GRADIENT_KERNELS = ['int8', 'int8-block256', 'int8-block', 'fp32'] as const;

/** How a frozen matmul runs: fp32 MatMul, int8 per column (per-tensor activations), or 8-bit blocks ({@link BLOCK_LENGTHS}). */
export type FrozenKernel = (typeof INPUT_GRADIENT_KERNELS)[number];

/**
 * The kernels a forward product x W may run with, in the order the guard tries them: activations'
 * outliers are channels, which blocks of 256 do not isolate, so the forward goes from int8 to blocks of 32.
 */
export const FROZEN_KERNELS = ['int8', 'int8-block', 'fp32'] as const satisfies readonly FrozenKernel[];

/** A forward product's kernel. */
export type ForwardKernel = (typeof FROZEN_KERNELS)[number];

/** Block length of the `int8-block` kernel along the inner axis (forward outlier channels). */
export const INT8_BLOCK = BLOCK_LENGTHS['int8-block'];

/**
 * The block length `kernel` stores for a product of inner width `k`: {@link BLOCK_LENGTHS}, or,
 * where `k` is shorter than that, the least power of two (MatMulNBits' smallest is 16) that holds
 * `k`. The two are the same kernel: one block spans all of `k` either way, and the padding is zeros,
 * which change neither a block's scale nor its sum; the shorter block just stores no padding.
 *
 * @example
 * ```ts
 * blockLength('int8-block256', 768); // 256
 * blockLength('int8-block256', 128); // 128: a hidden size of 128 stores half of a padded 256
 * blockLength('int8-block', 20); // 32
 * ```
 */
export function blockLength(kernel: BlockKernel, k: number): number {
  const full = BLOCK_LENGTHS[kernel];
  if (k >= full) return full;
  let b = 16;
  while (b < k) b *= 2;
  return b;
}

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
export function quantizeBlocks(w: Float32Array, rows: number, cols: number, block: number = INT8_BLOCK, transpose = false): BlockQuantized {
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

/** One frozen matmul as installed: its weight's name, shape, kernels and the bytes its constants hold. */
export interface FrozenMatmulInfo {
  readonly weight: string;
  readonly shape: readonly [number, number];
  /** The forward product's kernel. */
  readonly kernel: ForwardKernel;
  /** The input gradient's kernel (dX = dY Wᵀ); fp32 whenever the forward is. */
  readonly backward: FrozenKernel;
  /** Bytes of the constants the kernels use (fp32 W; or the forward copy and the transposed copy, each as its kernel stores it). */
  readonly bytes: number;
}

function bytesOf(...ts: HostTensor[]): number {
  return ts.reduce((n, t) => n + t.data.byteLength, 0);
}

/** One direction of a frozen matmul: the product and the bytes of its constants. */
interface Product {
  readonly bytes: number;
  /** The constant the product reads as its weight input (the gradient rules find the transposed product by it). */
  readonly key: Value;
  readonly apply: (x: Value, bias?: Value) => Value;
}

function frozenData(w: Value, kernel: FrozenKernel): { data: Float32Array; K: number; N: number } {
  const t = w.graph.dataOf(w);
  if (t.dtype !== 'float32') fail('DTYPE_MISMATCH', `frozen kernel ${kernel}: ${w.describe()} must be float32`);
  const [K, N] = t.shape as [number, number];
  return { data: t.data as Float32Array, K, N };
}

/**
 * The product of `w` [K, N] with `kernel` in one direction: forward x W [..., K] -> [..., N], or
 * backward dY Wᵀ [..., N] -> [..., K] (`transposed`). fp32 backward stores Wᵀ as its own constant
 * (the guard picks it only where a quantised input gradient is off).
 */
function frozenProduct(w: Value, kernel: FrozenKernel, transposed: boolean, cache = true): Product {
  const g: Graph = w.graph;
  const { data, K, N } = frozenData(w, kernel);
  const [k, n] = transposed ? [N, K] : [K, N];
  const tag = transposed ? '_t' : '';
  if (kernel === 'fp32') {
    if (!transposed) return { bytes: data.byteLength, key: w, apply: (x, bias) => (bias ? add(matmul(x, w), bias) : matmul(x, w)) };
    const [tt] = cached(data, 'fp32_t', () => {
      const t = new Float32Array(K * N);
      for (let r = 0; r < K; r++) for (let c = 0; c < N; c++) t[c * K + r] = data[r * N + c] as number;
      return [{ dtype: 'float32', shape: [N, K], data: t } as HostTensor<'float32'>] as const;
    });
    const wt = g.constant(g.freshName(`${w.name}.fp32_t`), tt);
    return { bytes: bytesOf(tt), key: wt, apply: (x, bias) => (bias ? add(matmul(x, wt), bias) : matmul(x, wt)) };
  }
  if (kernel === 'int8') {
    const make = () => {
      const c = quantizeColumns(data, K, N, transposed);
      return [c.q, c.scale] as const;
    };
    const [qt, st] = cache ? cached(data, `int8${tag}`, make) : make();
    const q = g.constant(g.freshName(`${w.name}.int8${tag}`), qt);
    const sc = g.constant(g.freshName(`${w.name}.int8${tag}_scale`), st);
    return { bytes: bytesOf(qt, st), key: q, apply: (x, bias) => dynamicQuantizeMatMul(x, q, sc, bias) };
  }
  // Not cached: the guard's probe makes these for every matmul it measures, few keep them.
  const block = blockLength(kernel, k);
  const b = quantizeBlocks(data, K, N, block, transposed);
  const q = g.constant(g.freshName(`${w.name}.q8b${tag}`), b.q);
  const sc = g.constant(g.freshName(`${w.name}.q8b${tag}_scale`), b.scale);
  return { bytes: bytesOf(b.q, b.scale), key: q, apply: (x, bias) => matMulNBits(x, q, sc, { k, n, block, ...(bias ? { bias } : {}) }) };
}

/**
 * Runs every `linear(x, w, b)` of the frozen constant `w` [K, N] with `kernel`, and its input
 * gradient with `backward` (default: the same kernel): `int8` and the block kernels quantise `w` (and
 * its transpose for the input gradient) once, and the fp32 `w` is then no longer used by the
 * graph, so it is not stored in the session; `fp32` leaves `w` as it is (its gradient is the
 * ordinary MatMul's, in fp32). A quantised forward with an fp32 backward stores Wᵀ in fp32.
 */
export function installFrozenKernel(w: Value, kernel: ForwardKernel, backward: FrozenKernel = kernel): FrozenMatmulInfo {
  if (w.kind !== 'constant' || w.rank !== 2) fail('GRAPH_ERROR', `frozen kernel ${kernel}: ${w.describe()} must be a frozen 2-D constant`);
  const shape = w.shape as [number, number];
  if (kernel === 'fp32') return { weight: w.name, shape, kernel, backward: 'fp32', bytes: w.graph.dataOf(w).data.byteLength };
  const fwd = frozenProduct(w, kernel, false);
  const bwd = frozenProduct(w, backward, true);
  TRANSPOSED.set(fwd.key, (dy) => bwd.apply(dy));
  w.graph.setLinearKernel(w, (x, bias) => fwd.apply(x, bias));
  return { weight: w.name, shape, kernel, backward, bytes: fwd.bytes + bwd.bytes };
}

/**
 * Runs every `linear(x, w, b)` of the 2-D constant `w` [K, N] with `kernel`, forward only (no
 * transposed copy: nothing differentiates through it), quantising `w` afresh for this graph
 * rather than from the copies kept per weight array: for a constant whose values may change
 * between graphs, such as a predict-only task's adapter weights, which `TaskModel.setWeights`
 * overwrites in place. `fp32` leaves `w` as it is.
 *
 * @example
 * ```ts
 * const w = g.constant('adapter.down.weight', f32([512, 64], data));
 * installForwardKernel(w, 'int8');
 * linear(x, w, b); // DynamicQuantizeMatMul(x, int8 W [512, 64], scales [64], b)
 * ```
 */
export function installForwardKernel(w: Value, kernel: ForwardKernel): FrozenMatmulInfo {
  if (w.kind !== 'constant' || w.rank !== 2) fail('GRAPH_ERROR', `forward kernel ${kernel}: ${w.describe()} must be a 2-D constant`);
  const shape = w.shape as [number, number];
  if (kernel === 'fp32') return { weight: w.name, shape, kernel, backward: 'fp32', bytes: w.graph.dataOf(w).data.byteLength };
  const fwd = frozenProduct(w, kernel, false, false);
  w.graph.setLinearKernel(w, (x, bias) => fwd.apply(x, bias));
  return { weight: w.name, shape, kernel, backward: 'fp32', bytes: fwd.bytes };
}

/** The quantised kernels a probe can measure. */
export type ProbedKernel = Exclude<FrozenKernel, 'fp32'>;

/** What {@link installFrozenProbe} adds for one weight: the relative error of each probed kernel, scalars. */
export interface FrozenProbe {
  readonly weight: string;
  readonly errors: Readonly<Partial<Record<ProbedKernel, Value>>>;
  /** The product's input x and its fp32 output x W (before the bias): what a backward probe needs. */
  readonly input: Value;
  readonly output: Value;
  /**
   * The input-gradient probe, when kernels were asked for it: given dY (d loss / d output), the
   * relative error of each kernel's dY Wᵀ against fp32, scalars.
   */
  readonly backward?: (dy: Value) => Partial<Record<ProbedKernel, Value>>;
}

/** ‖y − ref‖ / ‖ref‖ over all elements, a scalar. */
function relativeError(y: Value, ref: Value): Value {
  const d = sub(y, ref);
  return sqrt(div(reduceSum(mul(d, d)), add(reduceSum(mul(ref, ref)), 1e-30)));
}

/**
 * The outlier guard's probe: `linear(x, w, b)` of the frozen constant `w` keeps running in fp32,
 * and the product `x w` of each of `kernels` is computed beside it on the same input; `onProbe`
 * receives the scalar relative errors (Frobenius, over the batch) for the caller to fetch. With
 * `backwardKernels`, the probe also offers the input gradient's check: the caller differentiates
 * the loss with respect to the probe's `output` and hands dY to `backward`. `o.cache: false`
 * quantises `w` afresh (see {@link installForwardKernel}).
 */
export function installFrozenProbe(w: Value, onProbe: (p: FrozenProbe) => void, kernels: readonly ProbedKernel[] = ['int8', 'int8-block'], backwardKernels: readonly ProbedKernel[] = [], o: { cache?: boolean } = {}): void {
  if (w.kind !== 'constant' || w.rank !== 2) fail('GRAPH_ERROR', `frozen probe: ${w.describe()} must be a frozen 2-D constant`);
  const made = kernels.map((k) => [k, frozenProduct(w, k, false, o.cache ?? true)] as const);
  const back = backwardKernels.map((k) => [k, frozenProduct(w, k, true)] as const);
  w.graph.setLinearKernel(w, (x, bias) => {
    const y = matmul(x, w);
    const probe: FrozenProbe = {
      weight: w.name, input: x, output: y,
      errors: Object.fromEntries(made.map(([k, p]) => [k, relativeError(p.apply(x), y)])),
      ...(back.length ? {
        backward: (dy: Value) => {
          // Compared transposed (the relative error is the same): dXᵀ = W dYᵀ reads W as it is, where
          // dY Wᵀ would make ONNX Runtime fold a second fp32 copy of W, transposed, into the session.
          const [K, N] = w.shape as [number, number];
          const flatT = (v: Value, width: number) => transpose(reshape(v, [-1, width]), [1, 0]); // [width, rows]
          const ref = matmul(w, flatT(dy, N)); // [K, rows]
          return Object.fromEntries(back.map(([k, p]) => [k, relativeError(flatT(p.apply(dy), K), ref)]));
        },
      } : {}),
    };
    onProbe(probe);
    return bias ? add(y, bias) : y;
  });
}
