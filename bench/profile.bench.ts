/**
 * Per-op profile of a training step (`node --import tsx bench/profile.bench.ts`): where the time of one BERT-base-sized
 * training step goes, by ONNX op type, from ONNX Runtime's own profiler.
 *
 * The model is a random BERT-base-sized encoder of BENCH_LAYERS layers (default 1) with the
 * `paper` adapter (Houlsby: adapters after attention and after the feed-forward block, m = 64,
 * layer norms trained) or, with BENCH_MODE=full, full fine-tuning; batch BENCH_BATCH x BENCH_SEQ
 * (32 x 128), dropout on. The training session is created with ONNX Runtime profiling on (through
 * a wrapping runtime backend, so nothing in the trainer changes); after BENCH_WARMUP (1) untimed
 * steps it runs BENCH_RUNS (3) steps and sums the kernel time of every node inside those runs.
 * Prints the top BENCH_TOP (25) op types by time with their share of all kernel time, the number
 * of nodes of each (per run, after ONNX Runtime's graph optimisations: a fused MatMul + Add shows
 * as Gemm or FusedMatMul), the same split into forward and backward (nodes in the `grad` scope),
 * and the element-wise passes over activations (nodes whose output has at least BENCH_BIG
 * elements, default B·T·D).
 *
 * BENCH_PRECISION=int8 (default fp32) runs the frozen base's matmuls through the library's own
 * int8 path (TaskModel option `frozenPrecision: 'int8'`): the outlier guard runs on the first
 * warm-up batch (its probe sessions are not profiled into the tables; its plan is printed). Both
 * precisions also print the frozen linear products of the encoder (x W forward, dY Wᵀ backward:
 * all B·T token rows from one encoder width, D or the feed-forward width, to another, by a
 * constant weight) by kernel, DynamicQuantizeMatMul / MatMulNBits (blocks of 256 or of 32) / fp32
 * (MatMul, Gemm, FusedMatMul), forward vs backward, with the GFLOP/s each kernel reached (2·rows·K·N per node,
 * from the shapes ONNX Runtime records).
 *
 *     node --import tsx bench/profile.bench.ts
 *     BENCH_PRECISION=int8 BENCH_LAYERS=2 node --import tsx bench/profile.bench.ts
 *     BENCH_MODE=full BENCH_BATCH=8 node --import tsx bench/profile.bench.ts
 *     BENCH_OPTIMIZED=/tmp/opt.onnx node --import tsx bench/profile.bench.ts   # also dump the optimised model
 *
 * BENCH_KEEP=1 keeps the raw profile JSON (its path is printed); BENCH_THREADS sets intra-op
 * threads (default: all cores); BENCH_ENGINE=previous builds the graph with the engine's previous
 * forms (src/engine/variants.ts: MatMul + Add, the GELU and layer-norm gradients as before).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { methodConfig } from '../src/adapters/methods/index.js';
import { setRuntimeBackend, type OrtSessionOptions, type RuntimeBackend } from '../src/engine/runtime/backend.js';
import { BLOCK_LENGTHS } from '../src/engine/ops/quantized.js';
import { PREVIOUS_VARIANTS, setBuildVariants } from '../src/engine/variants.js';
import { defaultRuntimeBackend } from '../src/engine/runtime/ort-node.js';
import { headConfig } from '../src/heads/head.js';
import { checkFrozenPrecision, summarizeFrozenPlan } from '../src/train/frozen-precision.js';
import type { TrainingMode } from '../src/train/modes.js';
import { TaskModel } from '../src/train/task-model.js';
import { BERT_BASE_CONFIG, machine, randomBertBase, stepRunner, syntheticBatch } from './common.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const B = env('BENCH_BATCH', 32);
const T = env('BENCH_SEQ', 128);
const LAYERS = env('BENCH_LAYERS', 1);
const WARMUP = env('BENCH_WARMUP', 1);
const RUNS = env('BENCH_RUNS', 3);
const TOP = env('BENCH_TOP', 25);
const BIG = env('BENCH_BIG', B * T * 768);
const MODE = process.env.BENCH_MODE ?? 'paper';
const THREADS = process.env.BENCH_THREADS ? Number(process.env.BENCH_THREADS) : undefined;
const PRECISION = checkFrozenPrecision(process.env.BENCH_PRECISION ?? 'fp32', 'BENCH_PRECISION');

/** One event of ONNX Runtime's profile (Chrome trace format). */
interface ProfileEvent {
  readonly cat: string;
  readonly name: string;
  readonly ts: number;
  readonly dur: number;
  readonly args?: {
    readonly op_name?: string;
    readonly input_type_shape?: readonly Record<string, number[]>[];
    readonly output_type_shape?: readonly Record<string, number[]>[];
  };
}

const dir = mkdtempSync(join(tmpdir(), 'adapterkit-profile-'));
/** Sessions still open (a released session has written its profile already). */
const sessions = new Set<{ release(): Promise<void>; endProfiling(): void }>();
let made = 0;
/** onnxruntime-node with profiling (and the optimised-model dump) switched on for every session. */
const profiling: RuntimeBackend = {
  ...defaultRuntimeBackend,
  name: `${defaultRuntimeBackend.name} (profiling)`,
  createSession: async (model, options: OrtSessionOptions) => {
    const o = {
      ...options, enableProfiling: true, profileFilePrefix: join(dir, `session${made++}`),
      ...(process.env.BENCH_OPTIMIZED ? { optimizedModelFilePath: process.env.BENCH_OPTIMIZED } : {}),
    };
    const s = await defaultRuntimeBackend.createSession(model, o);
    const open = s as unknown as { release(): Promise<void>; endProfiling(): void };
    const release = open.release.bind(open);
    open.release = () => {
      sessions.delete(open);
      return release();
    };
    sessions.add(open);
    return s;
  },
};

/** Kernel events of the runs after the first `skip` (`model_run` events mark each run). */
function kernelEvents(events: readonly ProfileEvent[], skip: number): ProfileEvent[] {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts).slice(skip);
  const inRun = (e: ProfileEvent) => runs.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
  return events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && inRun(e));
}

interface Bucket { us: number; nodes: Set<string> }

function tally(events: readonly ProfileEvent[], key: (e: ProfileEvent) => string | undefined): Map<string, Bucket> {
  const m = new Map<string, Bucket>();
  for (const e of events) {
    const k = key(e);
    if (k === undefined) continue;
    const b = m.get(k) ?? { us: 0, nodes: new Set<string>() };
    b.us += e.dur;
    b.nodes.add(e.name);
    m.set(k, b);
  }
  return m;
}

function print(title: string, m: Map<string, Bucket>, total: number, top = TOP): void {
  const rows = [...m.entries()].sort((a, b) => b[1].us - a[1].us);
  const sum = rows.reduce((s, [, b]) => s + b.us, 0);
  console.log(`\n${title}: ${(sum / RUNS / 1000).toFixed(1)} ms per step, ${((100 * sum) / total).toFixed(1)} % of kernel time`);
  console.log(`${'op'.padEnd(34)} ${'ms/step'.padStart(9)} ${'share'.padStart(7)} ${'nodes'.padStart(6)}`);
  for (const [k, b] of rows.slice(0, top)) {
    console.log(`${k.padEnd(34)} ${(b.us / RUNS / 1000).toFixed(1).padStart(9)} ${`${((100 * b.us) / total).toFixed(1)} %`.padStart(7)} ${String(b.nodes.size).padStart(6)}`);
  }
  if (rows.length > top) console.log(`(${rows.length - top} more op types, ${((100 * rows.slice(top).reduce((s, [, b]) => s + b.us, 0)) / total).toFixed(1)} %)`);
}

const MATMULS = new Set(['MatMul', 'Gemm', 'FusedMatMul', 'FusedGemm', 'MatMulNBits', 'DynamicQuantizeMatMul', 'MatMulIntegerToFloat']);
/** The quantised kernels of the frozen matmuls (engine/ops/quantized.ts). */
const QUANTIZED = new Set(['DynamicQuantizeMatMul', 'MatMulNBits']);
const opOf = (e: ProfileEvent) => e.args?.op_name ?? '?';
const isGrad = (e: ProfileEvent) => /(^|\/)grad\//.test(e.name);
const outElements = (e: ProfileEvent) => {
  const first = e.args?.output_type_shape?.[0];
  const dims = first ? Object.values(first)[0] : undefined;
  return dims ? dims.reduce((a, b) => a * b, 1) : 0;
};

const shapes = (recorded: readonly Record<string, number[]>[] | undefined) => (recorded ?? []).map((t) => Object.values(t)[0] ?? []);
const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
/** The encoder's widths: a linear weight of the encoder is [D, D], [D, FF] or [FF, D]. */
const WIDTHS = new Set([BERT_BASE_CONFIG.hidden_size, BERT_BASE_CONFIG.intermediate_size]);

/**
 * Whether a node is one of the frozen linear products of the encoder, x W or dY Wᵀ: a matrix
 * product of all B·T token rows from one encoder width to another whose weight is a constant of the
 * session (ONNX Runtime records the shapes of run-time inputs only, so a constant weight is the
 * one input missing). The pooler's product (B rows), attention's products (4-D), the adapters'
 * (width m) and weight gradients (D rows) are not.
 */
function isFrozenLinear(e: ProfileEvent): boolean {
  if (QUANTIZED.has(opOf(e))) return true; // only frozen linear weights have a quantised kernel (MatMulNBits records its scales' shape)
  if (!MATMULS.has(opOf(e))) return false;
  const [a, ...rest] = shapes(e.args?.input_type_shape);
  const [y] = shapes(e.args?.output_type_shape);
  if (!a || !y || a.length < 2 || rest.some((t) => t.length >= 2)) return false;
  return WIDTHS.has(a[a.length - 1] as number) && WIDTHS.has(y[y.length - 1] as number) && count(a) / (a[a.length - 1] as number) === B * T;
}

/** 2·rows·K·N of a product node: rows·K elements of its input, N its output's width. */
function flopsOf(e: ProfileEvent): number {
  const [a] = shapes(e.args?.input_type_shape);
  const [y] = shapes(e.args?.output_type_shape);
  return a && y ? 2 * count(a) * (y[y.length - 1] as number) : 0;
}

/** The kernel of a frozen linear product, as the int8 plan names it (a block kernel told by its scales [N, ceil(K / block)]). */
function linearKernel(e: ProfileEvent): string {
  const op = opOf(e);
  if (op === 'DynamicQuantizeMatMul') return 'int8 (DynamicQuantizeMatMul)';
  if (op !== 'MatMulNBits') return 'fp32 (MatMul, Gemm, FusedMatMul)';
  const [a, scales] = shapes(e.args?.input_type_shape);
  const k = a?.[a.length - 1] ?? 0;
  const kernel = Object.entries(BLOCK_LENGTHS).find(([, block]) => Math.ceil(k / block) === scales?.[1])?.[0] ?? 'int8-block?';
  return `${kernel} (MatMulNBits)`;
}

/** The frozen linear products by kernel and direction: time, share of kernel time, nodes and GFLOP/s. */
function printLinear(events: readonly ProfileEvent[], total: number): void {
  const rows = new Map<string, { us: number; flops: number; nodes: Set<string> }>();
  for (const e of events) {
    const k = `${linearKernel(e)}, ${isGrad(e) ? 'backward dY Wᵀ' : 'forward x W'}`;
    const r = rows.get(k) ?? { us: 0, flops: 0, nodes: new Set<string>() };
    r.us += e.dur;
    r.flops += flopsOf(e);
    r.nodes.add(e.name);
    rows.set(k, r);
  }
  const sum = events.reduce((s, e) => s + e.dur, 0);
  console.log(`\nfrozen linear products by kernel: ${(sum / RUNS / 1000).toFixed(1)} ms per step, ${((100 * sum) / total).toFixed(1)} % of kernel time`);
  console.log(`${'kernel, direction'.padEnd(50)} ${'ms/step'.padStart(9)} ${'share'.padStart(7)} ${'nodes'.padStart(6)} ${'GFLOP/s'.padStart(8)}`);
  for (const [k, r] of [...rows.entries()].sort((a, b) => b[1].us - a[1].us)) {
    console.log(`${k.padEnd(50)} ${(r.us / RUNS / 1000).toFixed(1).padStart(9)} ${`${((100 * r.us) / total).toFixed(1)} %`.padStart(7)} ${String(r.nodes.size).padStart(6)} ${(r.flops / r.us / 1000).toFixed(1).padStart(8)}`);
  }
}

async function main(): Promise<void> {
  setRuntimeBackend(profiling);
  console.log(`training-step profile — ${machine()}`);
  console.log(`random BERT-base-sized model, ${LAYERS} layer(s), ${MODE === 'full' ? 'full fine-tuning' : `adapter preset ${MODE}`}, frozen matmuls ${PRECISION}, batch ${B} x ${T}, dropout on; ${WARMUP} warm-up step(s), ${RUNS} profiled`);
  if (PRECISION === 'int8' && WARMUP < 1) throw new Error('BENCH_PRECISION=int8 needs BENCH_WARMUP >= 1 (the outlier guard runs on the first batch)');
  const base = randomBertBase({ ...BERT_BASE_CONFIG, num_hidden_layers: LAYERS });
  const mode: TrainingMode = MODE === 'full' ? { kind: 'full' } : { kind: 'adapters', adapter: methodConfig(MODE) };
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'], dropout: 0.1 });
  const runner = stepRunner(TaskModel.create(base, { mode, head, seed: 1, spinning: false, threads: THREADS, frozenPrecision: PRECISION }), syntheticBatch(B, T, 30522), Array.from({ length: B }, (_, i) => i % 2));
  const previous = process.env.BENCH_ENGINE === 'previous';
  if (previous) console.log("BENCH_ENGINE=previous: the engine's previous graph forms (src/engine/variants.ts)");
  const was = setBuildVariants(previous ? PREVIOUS_VARIANTS : 'current');
  const wall: number[] = [];
  try {
    for (let i = 0; i < WARMUP + RUNS; i++) wall.push(await runner.step()); // the first step builds the graph
  } finally {
    setBuildVariants(was);
  }
  const plan = runner.model.frozenPlan;
  if (plan) console.log(summarizeFrozenPlan(plan));
  for (const s of sessions) s.endProfiling();
  await runner.model.dispose();
  setRuntimeBackend(undefined);
  // The training session is the one that ran every step (the int8 guard's probe sessions ran once).
  const profiles = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => {
    const events = JSON.parse(readFileSync(join(dir, f), 'utf8')) as ProfileEvent[];
    return { file: f, events, runs: events.filter((e) => e.cat === 'Session' && e.name === 'model_run').length };
  });
  const training = profiles.filter((p) => p.runs === WARMUP + RUNS);
  if (training.length !== 1) throw new Error(`expected one profile with ${WARMUP + RUNS} runs (the training session), found ${training.length} among ${profiles.map((p) => `${p.file} (${p.runs} runs)`).join(', ')} in ${dir}`);
  const { file, events } = training[0] as (typeof profiles)[number];
  const kernels = kernelEvents(events, WARMUP);
  const total = kernels.reduce((s, e) => s + e.dur, 0);
  const steps = wall.slice(WARMUP);
  console.log(`step wall time ${steps.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s; kernel time ${(total / RUNS / 1000).toFixed(1)} ms per step`);
  print('all nodes by op type', tally(kernels, opOf), total);
  const mm = kernels.filter((e) => MATMULS.has(opOf(e))).reduce((s, e) => s + e.dur, 0);
  console.log(`matrix products (${[...MATMULS].join(', ')}): ${((100 * mm) / total).toFixed(1)} %`);
  print('forward', tally(kernels, (e) => (isGrad(e) ? undefined : opOf(e))), total, 12);
  print('backward (grad scope)', tally(kernels, (e) => (isGrad(e) ? opOf(e) : undefined)), total, 12);
  printLinear(kernels.filter(isFrozenLinear), total);
  print(`passes over activations (outputs of >= ${BIG} elements), not matrix products`, tally(kernels, (e) => (!MATMULS.has(opOf(e)) && outElements(e) >= BIG ? opOf(e) : undefined)), total, 16);
  if (process.env.BENCH_OPTIMIZED) console.log(`\noptimised model written to ${process.env.BENCH_OPTIMIZED}`);
  if (process.env.BENCH_KEEP === '1') console.log(`profile kept: ${join(dir, file)}`);
  else rmSync(dir, { recursive: true, force: true });
}

await main();
