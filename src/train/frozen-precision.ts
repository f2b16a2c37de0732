/**
 * The precision of the frozen base's matmuls ({@link FrozenPrecision}) and the outlier guard that
 * picks a kernel per matmul.
 *
 * With `int8`, every frozen linear weight of the encoder (role `linear`, not trained by the task)
 * is quantised once, per output column, with the transposed copy its input gradient needs
 * (engine/ops/quantized.ts); trainable weights, the pooler, embeddings, softmax, layer norms,
 * activations, the loss and the optimizer stay fp32. Before the first session is built, the guard
 * runs the forward once on a real batch with every frozen matmul in fp32 and measures each int8
 * kernel's product against it (relative Frobenius error over the batch): a matmul within the
 * tolerance runs `int8`; above it, the 8-bit block kernel `int8-block` (activations quantised per
 * block of 32, which contains outlier channels), measured in a second run, if that is within the tolerance,
 * otherwise fp32. On a training batch (labels given) the guard checks the input gradient too: the
 * probe graph is differentiated with respect to each frozen product whose input gradient training
 * needs (its input depends on a trained tensor), and dX = dY Wᵀ through the int8 transposed copy
 * (dY quantised per tensor at run time) is measured against fp32 on that dY; the backward kernel
 * is chosen the same way, independently of the forward's, from its own chain: int8, else
 * int8-block256 (8-bit blocks of 256, which follow the rows of dY, where an input gradient's spread
 * is), else int8-block, else fp32; int8-block256 is measured in the first run with int8, and
 * int8-block in the second where both are over.
 */
import { fail } from '../errors.js';
import {
  BLOCK_LENGTHS, FROZEN_KERNELS, blockLength, Graph, INPUT_GRADIENT_KERNELS, Session, gradients, installForwardKernel, installFrozenKernel, installFrozenProbe, type BlockKernel, type ForwardKernel, type FrozenKernel, type FrozenProbe, type HostTensor, type ProbedKernel, type SessionOptions, type Value,
} from '../engine/index.js';
import type { Encoder, WeightSpec } from '../models/encoder.js';
import type { EncodedBatch } from '../models/tokenizers/index.js';
import type { TaskModelOptions } from './task-model.js';

/** Precisions of the frozen matmuls, as option values. */
export const FROZEN_PRECISIONS = ['fp32', 'int8'] as const;

/** How the frozen base's matmuls run: fp32 (default) or int8 under the outlier guard. */
export type FrozenPrecision = (typeof FROZEN_PRECISIONS)[number];

/**
 * Default tolerance of the outlier guard: the largest relative error of a matmul's product that
 * keeps the per-tensor int8 kernel. Well-behaved inputs measure about 1e-2 (the embedded base and
 * the tiny BERT fixture: 0.005-0.014); two outlier channels x30 among 768 measure about 0.07.
 */
export const DEFAULT_INT8_TOLERANCE = 0.03;

/** The frozen-precision options of a {@link TaskModelOptions}, as the commands and experiment runners pass them on. */
export type FrozenOptions = Pick<TaskModelOptions, 'frozenPrecision' | 'int8Tolerance' | 'onFrozenPlan' | 'int8Adapters'>;

/** What a run records of its frozen precision (run.json, results rows, summaries): nothing for fp32, so fp32 records read as before. */
export interface FrozenRecord {
  readonly frozenPrecision?: 'int8';
  readonly int8Tolerance?: number;
  /** Recorded when turned off: a saved task scored with its adapters' matmuls in fp32. */
  readonly int8Adapters?: false;
}

/** The record of `o`: `{ frozenPrecision: 'int8', int8Tolerance }` (the tolerance in effect) with int8, `{}` with fp32. */
export function frozenRecord(o: FrozenOptions | undefined): FrozenRecord {
  if (o?.frozenPrecision !== 'int8') return {};
  return { frozenPrecision: 'int8', int8Tolerance: o.int8Tolerance ?? DEFAULT_INT8_TOLERANCE, ...(o.int8Adapters === false ? { int8Adapters: false } : {}) };
}

/**
 * Rows of a batch the guard measures on (the first ones): the probe runs the step in fp32 with
 * every quantised product beside it, so on a whole training batch its activations would make the
 * int8 run's peak memory the fp32 step's; 8 rows of a batch's length are thousands of token rows,
 * plenty to show a matmul's outlier channels.
 */
export const GUARD_ROWS = 8;

/**
 * The first `rows` rows of `batch` and of its `labels` (per-row entries, or a flat typed array of
 * an equal share per row), for the guard; the batch itself when it has no more rows.
 */
export function guardSlice<L extends ArrayLike<unknown> | undefined>(batch: EncodedBatch, labels: L, rows = GUARD_ROWS): { batch: EncodedBatch; labels: L } {
  const B = batch.batchSize;
  if (B <= rows) return { batch, labels };
  const T = batch.seqLen;
  const cut = (a: Int32Array) => a.slice(0, rows * T);
  const sliced: EncodedBatch = {
    ...batch, batchSize: rows, inputIds: cut(batch.inputIds), attentionMask: cut(batch.attentionMask), tokenTypeIds: cut(batch.tokenTypeIds),
    lengths: batch.lengths.slice(0, rows), truncated: batch.truncated.slice(0, rows),
  };
  if (labels === undefined) return { batch: sliced, labels };
  const per = labels.length / B;
  if (!Number.isInteger(per)) fail('BAD_DATA', `int8 guard: ${labels.length} labels for a batch of ${B} rows`);
  const l = labels as unknown as { slice(a: number, b: number): unknown };
  return { batch: sliced, labels: l.slice(0, rows * per) as L };
}

/** Checks a precision option; BAD_CONFIG naming `what` and the allowed values. */
export function checkFrozenPrecision(v: unknown, what = 'frozenPrecision'): FrozenPrecision {
  if (typeof v === 'string' && (FROZEN_PRECISIONS as readonly string[]).includes(v)) return v as FrozenPrecision;
  return fail('BAD_CONFIG', `${what} must be one of ${FROZEN_PRECISIONS.join(', ')}, got ${JSON.stringify(v)}`);
}

/** Checks a guard tolerance: a number in (0, 1]. */
export function checkInt8Tolerance(v: unknown, what = 'int8Tolerance'): number {
  if (typeof v === 'number' && v > 0 && v <= 1) return v;
  return fail('BAD_CONFIG', `${what} must be a number in (0, 1] (the largest relative error a matmul may have in int8), got ${JSON.stringify(v)}`);
}

/** Whether a weight, when frozen, is one of the matmuls an int8 base quantises: the encoder's linear weights (not the pooler, embeddings or norms). */
export function isQuantizable(s: WeightSpec): boolean {
  return s.role === 'linear' && s.shape.length === 2;
}

/** The frozen matmul weights of `encoder` when `trains` says which weights the task trains. */
export function frozenMatmulSpecs(encoder: Encoder, trains: (s: WeightSpec) => boolean): WeightSpec[] {
  return encoder.weightSpecs.filter((s) => isQuantizable(s) && !trains(s));
}

/** Relative errors the guard measured for one matmul: int8 always, the block kernels of its chain where int8 was over the tolerance. */
export type FrozenErrors = { readonly int8: number } & { readonly [K in BlockKernel]?: number };

/** What the guard measured and chose for one frozen matmul. */
export interface FrozenMatmulChoice {
  readonly weight: string;
  readonly shape: readonly number[];
  /** Relative error of each measured kernel's product on the guard's batch. */
  readonly errors: FrozenErrors;
  readonly kernel: ForwardKernel;
  /**
   * The input gradient dX = dY Wᵀ, when the guard ran on a training batch and training needs it
   * (and the forward is quantised; an fp32 forward has an fp32 gradient): the errors measured on
   * the batch's dY and the kernel chosen. Absent: the backward uses the forward's kernel.
   */
  readonly backward?: { readonly errors: FrozenErrors; readonly kernel: FrozenKernel };
}

/** The guard's result for a model: one choice per frozen matmul, in weight-spec order. */
export interface FrozenPlan {
  readonly tolerance: number;
  readonly choices: readonly FrozenMatmulChoice[];
  /**
   * A predict-only model's adapter matmuls (`TaskModelOptions.predictOnly`): their weights are
   * constants of the prediction graph, so their products are measured and chosen as the frozen
   * base's are (forward only), one choice per adapter weight that a `linear` reads, in the
   * order the adapters name them. Absent for a model that trains (its adapter products stay fp32).
   * Not counted in {@link bytes}.
   */
  readonly adapters?: readonly FrozenMatmulChoice[];
  /** Bytes of the frozen matmul weights as fp32, and as the plan stores them (quantised copies and scales). */
  readonly bytes: { readonly fp32: number; readonly planned: number };
}

/**
 * The kernel for measured `errors`: the first kernel of `chain` (default the forward's,
 * {@link FROZEN_KERNELS}; an input gradient's is {@link INPUT_GRADIENT_KERNELS}) measured within
 * `tolerance`, else fp32.
 */
export function chooseKernel(errors: FrozenErrors, tolerance: number): ForwardKernel;
export function chooseKernel(errors: FrozenErrors, tolerance: number, chain: readonly FrozenKernel[]): FrozenKernel;
export function chooseKernel(errors: FrozenErrors, tolerance: number, chain: readonly FrozenKernel[] = FROZEN_KERNELS): FrozenKernel {
  for (const k of chain) if (k !== 'fp32' && (errors[k] ?? Infinity) <= tolerance) return k;
  return 'fp32';
}

/** The kernels of `chain` the guard's second run measures where int8 is over the tolerance: its block kernels. */
const blockKernels = (chain: readonly FrozenKernel[]): BlockKernel[] => chain.filter((k): k is BlockKernel => k in BLOCK_LENGTHS);

/** Bytes of one direction's constants of a [K, N] weight (the transposed copy for `transposed`). */
function directionBytes(K: number, N: number, kernel: FrozenKernel, transposed: boolean): number {
  const [k, n] = transposed ? [N, K] : [K, N];
  if (kernel === 'fp32') return 4 * k * n;
  if (kernel === 'int8') return k * n + 4 * n;
  const block = blockLength(kernel, k);
  const blocks = n * Math.ceil(k / block);
  return block * blocks + 4 * blocks;
}

/**
 * Bytes a [K, N] weight takes with `kernel` forward and `backward` for the input gradient
 * (default the same): fp32 W alone when the forward is fp32, else the forward copy and the
 * transposed copy, each with its scales.
 */
export function kernelBytes(shape: readonly number[], kernel: ForwardKernel, backward: FrozenKernel = kernel): number {
  const [K, N] = shape as [number, number];
  if (kernel === 'fp32') return 4 * K * N;
  return directionBytes(K, N, kernel, false) + directionBytes(K, N, backward, true);
}

/**
 * Builds the plan from the measured errors (weight name -> errors) of `specs`, and of the input
 * gradients in `backward` where they were measured.
 */
export function planFrozen(specs: readonly Pick<WeightSpec, 'name' | 'shape'>[], measured: ReadonlyMap<string, FrozenErrors>, tolerance: number, backward: ReadonlyMap<string, FrozenErrors> = new Map()): FrozenPlan {
  const choices = specs.map((s): FrozenMatmulChoice => {
    const errors = measured.get(s.name);
    if (!errors) fail('GRAPH_ERROR', `int8 guard: no measurement for frozen matmul ${s.name}`);
    const kernel = chooseKernel(errors, tolerance);
    const b = backward.get(s.name);
    return { weight: s.name, shape: s.shape, errors, kernel, ...(b && kernel !== 'fp32' ? { backward: { errors: b, kernel: chooseKernel(b, tolerance, INPUT_GRADIENT_KERNELS) } } : {}) };
  });
  const fp32 = choices.reduce((n, c) => n + kernelBytes(c.shape, 'fp32'), 0);
  const planned = choices.reduce((n, c) => n + kernelBytes(c.shape, c.kernel, c.backward?.kernel), 0);
  return { tolerance, choices, bytes: { fp32, planned } };
}

/** Counts of each kernel in a plan: of the forward products, or (`backward`) of the input gradients the guard measured. */
export function kernelCounts(plan: FrozenPlan, o: { backward?: boolean } = {}): Record<FrozenKernel, number> {
  const n = Object.fromEntries(INPUT_GRADIENT_KERNELS.map((k) => [k, 0])) as Record<FrozenKernel, number>;
  for (const c of plan.choices) {
    const k = o.backward ? c.backward?.kernel : c.kernel;
    if (k) n[k]++;
  }
  return n;
}

/** `n int8, n int8-block, n fp32`: the counts of `chain`'s kernels after the first (whose count the caller words). */
const countsAfterFirst = (n: Record<FrozenKernel, number>, chain: readonly FrozenKernel[]) => chain.slice(1).map((k) => `${n[k]} ${k}`).join(', ');

/**
 * One line for logs, e.g. on the embedded base: `int8 frozen base: 9 of 9 matmuls int8, 0 int8-block,
 * 0 fp32 (tolerance 0.03, worst int8 error 0.014); frozen matmul weights 17.8 MB -> 8.9 MB`; after
 * a training batch, the input gradients' counts too (`input gradients: 54 of 72 int8, 18
 * int8-block256, 0 int8-block, 0 fp32 (worst int8 error 0.030)`).
 */
export function summarizeFrozenPlan(plan: FrozenPlan): string {
  const n = kernelCounts(plan);
  // the largest error among the forward products kept in int8
  const worstKept = (choices: readonly FrozenMatmulChoice[]) => choices.filter((c) => c.kernel === 'int8').reduce((m, c) => Math.max(m, c.errors.int8), 0);
  const mb = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MB` : `${(b / 1024).toFixed(1)} kB`);
  const back = plan.choices.filter((c) => c.backward);
  let grads = '';
  if (back.length) {
    const b = kernelCounts(plan, { backward: true });
    const bWorst = back.filter((c) => c.backward?.kernel === 'int8').reduce((m, c) => Math.max(m, c.backward?.errors.int8 ?? 0), 0);
    grads = `; input gradients: ${b.int8} of ${back.length} int8, ${countsAfterFirst(b, INPUT_GRADIENT_KERNELS)}${b.int8 ? ` (worst int8 error ${bWorst.toPrecision(2)})` : ''}`;
  }
  let adapters = '';
  if (plan.adapters?.length) {
    const a = kernelCounts({ ...plan, choices: plan.adapters });
    adapters = `; adapter matmuls: ${a.int8} of ${plan.adapters.length} int8, ${countsAfterFirst(a, FROZEN_KERNELS)}${a.int8 ? ` (worst int8 error ${worstKept(plan.adapters).toPrecision(2)})` : ''}`;
  }
  // full fine-tuning trains every linear weight: nothing is frozen, so nothing is quantised
  if (plan.choices.length === 0) return `int8 frozen base: no frozen matmuls (the task trains every linear weight of the base, in fp32)${adapters}`;
  return `int8 frozen base: ${n.int8} of ${plan.choices.length} matmuls int8, ${countsAfterFirst(n, FROZEN_KERNELS)} `
    + `(tolerance ${plan.tolerance}${n.int8 ? `, worst int8 error ${worstKept(plan.choices).toPrecision(2)}` : ''})${grads}${adapters}; frozen matmul weights ${mb(plan.bytes.fp32)} -> ${mb(plan.bytes.planned)}`;
}

const describeErrors = (e: FrozenErrors) => [`int8 error ${e.int8.toPrecision(2)}`, ...blockKernels(INPUT_GRADIENT_KERNELS).filter((k) => e[k] !== undefined).map((k) => `${k} ${(e[k] as number).toPrecision(2)}`)].join(', ');

/**
 * One line per matmul (`onlyExceptions`: per matmul not int8 in both directions): weight, shape,
 * the errors measured and the kernel chosen, and the same for its input gradient where measured.
 */
export function describeFrozenPlan(plan: FrozenPlan, o: { onlyExceptions?: boolean } = {}): string[] {
  return [...plan.choices, ...plan.adapters ?? []]
    .filter((c) => !o.onlyExceptions || c.kernel !== 'int8' || (c.backward && c.backward.kernel !== 'int8'))
    .map((c) => `${c.weight} [${c.shape.join(', ')}]: ${describeErrors(c.errors)} -> ${c.kernel}${c.backward ? `; input gradient: ${describeErrors(c.backward.errors)} -> ${c.backward.kernel}` : ''}`);
}

/**
 * How a graph's frozen matmuls are built: the guard's probe (fp32, with the products of `kernels`
 * of the weights it names measured beside and reported to `probe`) or a plan's kernels.
 */
export type FrozenBuild = {
  readonly probe: (p: FrozenProbe) => void;
  readonly kernels: (weight: string) => readonly ProbedKernel[];
  /** Kernels whose input gradient the probe measures too (only in a graph with a loss). */
  readonly backwardKernels?: (weight: string) => readonly ProbedKernel[];
} | FrozenPlan;

/** The encoder build's hook for each frozen weight (`EncoderGraphOptions.frozenWeight`) under `f`. */
export function frozenWeightHook(f: FrozenBuild): (spec: WeightSpec, w: Value) => void {
  if ('probe' in f) {
    return (spec, w) => {
      const kernels = isQuantizable(spec) ? f.kernels(spec.name) : [];
      const backward = isQuantizable(spec) ? f.backwardKernels?.(spec.name) ?? [] : [];
      if (kernels.length || backward.length) installFrozenProbe(w, f.probe, kernels, backward);
    };
  }
  const choices = new Map(f.choices.map((c) => [c.weight, c] as const));
  return (spec, w) => {
    const c = choices.get(spec.name);
    if (c && c.kernel !== 'fp32') installFrozenKernel(w, c.kernel, c.backward?.kernel);
  };
}

/**
 * The prediction graph's hook for each 2-D adapter weight of a predict-only model, called with
 * the weight's constant when the graph first reads it: under the guard's probe its int8 product
 * is measured beside fp32 (quantised afresh: the weight may have been overwritten in place since
 * the last graph); under a plan its chosen kernel is installed, forward only.
 */
export function adapterWeightHook(f: FrozenBuild): (name: string, w: Value) => void {
  if ('probe' in f) {
    return (name, w) => {
      // int8 or fp32: on an adapter's narrow products (m = 64 columns, or 64 inner values) the 8-bit block kernel is slower than fp32
      const kernels = w.rank === 2 ? f.kernels(name).filter((k) => k === 'int8') : [];
      if (kernels.length) installFrozenProbe(w, f.probe, kernels, [], { cache: false });
    };
  }
  const choices = new Map((f.adapters ?? []).map((c) => [c.weight, c] as const));
  return (name, w) => {
    const c = choices.get(name);
    if (c && c.kernel !== 'fp32') installForwardKernel(w, c.kernel);
  };
}

/** A probe graph: with `loss` and the trained `params` (a training graph), input gradients can be probed too. */
export interface ProbeGraph {
  readonly graph: Graph;
  readonly loss?: Value;
  readonly params?: readonly Value[];
}

/** Values of `graph` that depend on any of `from` (what training differentiates through). */
function dependents(graph: Graph, from: readonly Value[]): Set<Value> {
  const dep = new Set<Value>(from);
  for (const n of graph.nodes) if (n.inputs.some((i) => i && dep.has(i))) for (const o of n.outputs) dep.add(o);
  return dep;
}

/** Measured errors per weight and kernel (the worst over the weight's uses: ALBERT shares one weight across depths). */
type Measured = Map<string, Partial<Record<ProbedKernel, number>>>;

/**
 * Runs a probe graph once and returns each weight's worst error per kernel, forward and (for
 * the probes whose input gradient training needs) backward.
 */
async function probeOnce(pg: ProbeGraph, probes: readonly FrozenProbe[], feeds: Record<string, HostTensor>, session: SessionOptions): Promise<{ forward: Measured; backward: Measured }> {
  const forward: Measured = new Map();
  const backward: Measured = new Map();
  const wanted: [FrozenProbe, Partial<Record<ProbedKernel, Value>>][] = [];
  const withBackward = probes.filter((p) => p.backward);
  if (withBackward.length && pg.loss && pg.params?.length) {
    // Only products whose input depends on a trained tensor get an input gradient in training.
    const dep = dependents(pg.graph, pg.params);
    const needed = withBackward.filter((p) => dep.has(p.input));
    if (needed.length) {
      const dys = gradients(pg.loss, needed.map((p) => p.output), { unused: 'zeros' });
      needed.forEach((p, i) => wanted.push([p, (p.backward as NonNullable<FrozenProbe['backward']>)(dys[i] as Value)]));
    }
  }
  const outputs = [...probes.flatMap((p) => Object.values(p.errors) as Value[]), ...wanted.flatMap(([, e]) => Object.values(e) as Value[])];
  if (outputs.length === 0) return { forward, backward };
  const s = await Session.create(pg.graph, { ...session, outputs, memoryPattern: false }); // run once: a memory plan for a second run of these shapes only adds to the peak
  try {
    const r = await s.run(feeds);
    const take = (into: Measured, weight: string, errors: Partial<Record<ProbedKernel, Value>>) => {
      const e = { ...into.get(weight) };
      for (const [k, v] of Object.entries(errors) as [ProbedKernel, Value][]) e[k] = Math.max(e[k] ?? 0, (r[v.name]?.data as Float32Array)[0] as number);
      into.set(weight, e);
    };
    for (const p of probes) if (Object.keys(p.errors).length) take(forward, p.weight, p.errors);
    for (const [p, e] of wanted) take(backward, p.weight, e);
  } finally {
    await s.dispose();
  }
  return { forward, backward };
}

/**
 * The outlier guard: builds a probe graph with `build` and runs it on `feeds`, measuring every
 * frozen matmul among `specs` in int8; for those over the tolerance, a second probe measures the
 * block kernels of its chain (slower, so only where needed). When `build` returns a training graph (a loss and
 * the trained params; `feeds` then hold the labels), the input gradients training needs are
 * measured too, int8 and blocks of 256 in the first run, and the later block kernels of the input
 * gradient's chain ({@link INPUT_GRADIENT_KERNELS}) in the second run where both are over. Returns
 * the plan.
 */
export async function runFrozenGuard(o: {
  build: (f: FrozenBuild) => Graph | ProbeGraph; feeds: Record<string, HostTensor>; session: SessionOptions; specs: readonly WeightSpec[]; tolerance: number;
  /** A predict-only model's 2-D adapter weights (their products measured where a `linear` reads them, see {@link adapterWeightHook}). */
  adapters?: readonly Pick<WeightSpec, 'name' | 'shape'>[];
}): Promise<FrozenPlan> {
  const probeWith = async (kernels: (weight: string) => readonly ProbedKernel[], backwardKernels: (weight: string) => readonly ProbedKernel[]) => {
    const probes: FrozenProbe[] = [];
    const built = o.build({ probe: (p) => probes.push(p), kernels, backwardKernels });
    return probeOnce(built instanceof Graph ? { graph: built } : built, probes, o.feeds, o.session);
  };
  // An input gradient's first block kernel (blocks of 256, cheap to measure) is measured in the
  // first run beside int8: where int8 is over, it is usually within, and a second run costs a
  // session and a probe step.
  const [forwardBlocks, [firstBackBlock, ...laterBackBlocks]] = [blockKernels(FROZEN_KERNELS), blockKernels(INPUT_GRADIENT_KERNELS)];
  const backFirst: ProbedKernel[] = firstBackBlock ? ['int8', firstBackBlock] : ['int8'];
  const first = await probeWith(() => ['int8'], () => backFirst);
  const within = (e: Partial<Record<ProbedKernel, number>>, k: ProbedKernel) => (e[k] ?? Infinity) <= o.tolerance;
  const over = new Set([...first.forward].filter(([, e]) => !within(e, 'int8')).map(([w]) => w));
  const overBack = new Set([...first.backward].filter(([, e]) => !backFirst.some((k) => within(e, k))).map(([w]) => w));
  const second = over.size || (overBack.size && laterBackBlocks.length)
    ? await probeWith((w) => (over.has(w) ? forwardBlocks : []), (w) => (overBack.has(w) ? laterBackBlocks : []))
    : { forward: new Map(), backward: new Map() } as { forward: Measured; backward: Measured };
  // A plan keeps the errors its choice needed: int8's, and a block kernel's only where int8 is over.
  const merge = (a: Measured, b: Measured) =>
    new Map([...a].map(([w, e]): [string, FrozenErrors] => [w, within(e, 'int8') ? { int8: e.int8 as number } : { ...e, int8: e.int8 as number, ...b.get(w) }]));
  const measured = merge(first.forward, second.forward);
  const plan = planFrozen(o.specs.filter((s) => measured.has(s.name)), measured, o.tolerance, merge(first.backward, second.backward));
  if (!o.adapters) return plan;
  return { ...plan, adapters: planFrozen(o.adapters.filter((s) => measured.has(s.name)), measured, o.tolerance).choices };
}
