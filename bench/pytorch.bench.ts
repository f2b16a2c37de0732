/**
 * adapterkit vs PyTorch 1.13 training step (npm run bench:pytorch).
 * The step of bench/train.bench.ts — BERT-base-sized random model, batch 32, seq 128, forward with
 * dropout, cross-entropy, backward, global-norm clip to 1, AdamW — for Houlsby adapters (m = 64)
 * with layer norms and head trainable, and for full fine-tuning. The PyTorch side is
 * bench/pytorch/train_step.py in `--serve` mode (same architecture and trainable set, written in
 * plain torch), started without OPENBLAS_L2_SIZE and with OPENBLAS_CORETYPE set to the OpenBLAS
 * kernel set that runs its MatMul fastest on this CPU (each candidate probed first, printed).
 * adapterkit runs in child processes too (bench/pytorch/adapterkit-step.ts, the same protocol):
 * for adapters, one with an fp32 frozen base and one with int8 (`frozenPrecision: 'int8'`, the
 * outlier guard on the first step), so each side's peak RSS (its own maxRSS) is measured alone.
 * For each variant the sides are built, warmed up once, then their steps alternate (the order
 * rotates every round); medians, the ratios to PyTorch and the peak RSS ratios are printed.
 *
 * Environment: BENCH_BATCH, BENCH_SEQ, BENCH_ROUNDS (timed steps per side, default 3),
 * BENCH_TORCH_THREADS (default 2), BENCH_PYTHON (default /usr/bin/python3), BENCH_TORCH_BLAS_DIR
 * (a directory holding an optimised libblas.so.3, prepended to the Python side's LD_LIBRARY_PATH),
 * BENCH_VARIANTS (comma-separated, default `adapters,full`), BENCH_INT8=0 (no int8 side),
 * BENCH_TORCH_CORETYPE (an OpenBLAS core type for the PyTorch side instead of the probe; `auto`:
 * OpenBLAS's own detection).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Graph, Session, f32, matmul } from '../src/engine/index.js';
import { machine, median, randomData } from './common.js';

const B = Number(process.env.BENCH_BATCH ?? 32);
const T = Number(process.env.BENCH_SEQ ?? 128);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TORCH_THREADS = Number(process.env.BENCH_TORCH_THREADS ?? 2);
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'adapters,full').split(',').map((v) => v.trim()) as ('adapters' | 'full')[];
const INT8 = process.env.BENCH_INT8 !== '0';
const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, 'pytorch', 'train_step.py');
const AK_CHILD = join(HERE, 'pytorch', 'adapterkit-step.ts');
/** Debian's reference (unoptimised) BLAS: PyTorch figures are meaningless with it. */
const REFERENCE_BLAS = /\/blas\/libblas\.so/;

/** What train_step.py --serve announces once its model is built. */
interface TorchReady { variant: string; threads: number; torch: string; trainable: number; total: number; blas: string[]; blasCore: string | null; matmulGflops: number }

/** What train_step.py --probe prints. */
interface BlasProbe { blas: string[]; blasCore: string | null; matmulGflops: number }

/**
 * OpenBLAS kernel sets worth trying on this CPU (from /proc/cpuinfo's flags), besides OpenBLAS's
 * own detection (''), which can misjudge a CPU newer than the library (0.3.21 takes this Intel
 * Xeon with AMX for a Prescott: no AVX at all).
 */
function coreCandidates(): string[] {
  let info: string;
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return [''];
  }
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/));
  const amd = /AuthenticAMD/.test(info);
  const out = [''];
  if (flags.has('avx2')) out.push(amd ? 'Zen' : 'Haswell');
  if (flags.has('avx512f') && !amd) out.push('SkylakeX');
  if (flags.has('avx512_bf16') && !amd) out.push('Cooperlake');
  return out;
}

/** The Python side's environment with OPENBLAS_CORETYPE `core` ('' = OpenBLAS's own detection). */
function torchEnv(core: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (core) env.OPENBLAS_CORETYPE = core;
  // The processes take turns: no side's idle threads may spin (adapterkit's sessions are
  // created with spinning off for the same reason).
  env.OMP_WAIT_POLICY ??= 'PASSIVE';
  if (process.env.BENCH_TORCH_BLAS_DIR) env.LD_LIBRARY_PATH = [process.env.BENCH_TORCH_BLAS_DIR, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return env;
}

/**
 * The OPENBLAS_CORETYPE the PyTorch side runs with: BENCH_TORCH_CORETYPE when given (`auto`:
 * OpenBLAS's own detection), else the candidate whose MatMul probe is fastest, so that PyTorch is
 * compared at its best on this CPU. Prints each candidate's figure.
 */
function chooseCore(): string {
  const given = process.env.BENCH_TORCH_CORETYPE;
  if (given !== undefined) return given === 'auto' ? '' : given;
  const results: { core: string; probe: BlasProbe }[] = [];
  // two passes over the candidates, each keeping its better figure (a busy moment hurts one probe)
  for (let pass = 0; pass < 2; pass++) {
    for (const core of coreCandidates()) {
      const r = spawnSync(PYTHON, [SCRIPT, '--probe', '--threads', String(TORCH_THREADS)], { env: torchEnv(core), encoding: 'utf8' });
      const had = results.find((x) => x.core === core);
      if (r.status !== 0) {
        if (pass === 0) console.log(`  OpenBLAS core ${core || '(own detection)'}: probe failed (${r.signal ?? `exit ${r.status}`}): ${(r.stderr || '').trim().split('\n').pop() ?? ''}`);
        continue;
      }
      const probe = JSON.parse(r.stdout.trim().split('\n').pop() as string) as BlasProbe;
      if (!had) results.push({ core, probe });
      else if (probe.matmulGflops > had.probe.matmulGflops) had.probe = probe;
    }
  }
  if (!results.length) throw new Error(`${PYTHON} ${SCRIPT} --probe failed for every OpenBLAS core type`);
  const best = results.reduce((a, b) => (b.probe.matmulGflops > a.probe.matmulGflops ? b : a));
  console.log(`PyTorch's OpenBLAS kernels (MatMul 2048x768 @ 768x3072, ${TORCH_THREADS} threads): ${results.map((x) => `${x.core || `own detection (${x.probe.blasCore ?? 'no OpenBLAS'})`} ${x.probe.matmulGflops.toFixed(1)}`).join(', ')} GFLOP/s -> ${best.core || 'own detection'}`);
  return best.core;
}

/** What a stepper answers per step. */
interface StepAnswer { ms: number; peakRssMiB: number; plan?: string }

/** One side in a child process: one step per request, over stdin/stdout lines of JSON. */
class Stepper {
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  private constructor(readonly label: string, private readonly child: ChildProcessWithoutNullStreams, private readonly what: string) {
    child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  /** Starts `cmd args` and waits for its ready line. */
  static async start(label: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stepper: Stepper; ready: Record<string, unknown> }> {
    const stepper = new Stepper(label, spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }), `${cmd} ${args.join(' ')}`);
    const ready = await stepper.read();
    if (!ready.ready) throw new Error(`${stepper.what} did not announce itself: ${JSON.stringify(ready)}`);
    return { stepper, ready };
  }

  /** The PyTorch side for `variant`. */
  static torch(variant: 'adapters' | 'full', core: string): Promise<{ stepper: Stepper; ready: Record<string, unknown> }> {
    return Stepper.start('PyTorch', PYTHON, [SCRIPT, '--serve', '--variant', variant, '--batch', String(B), '--seq', String(T), '--threads', String(TORCH_THREADS)], torchEnv(core));
  }

  /** An adapterkit side for `variant` with the frozen base in `precision`. */
  static adapterkit(variant: 'adapters' | 'full', precision: 'fp32' | 'int8'): Promise<{ stepper: Stepper; ready: Record<string, unknown> }> {
    return Stepper.start(`adapterkit ${precision}`, process.execPath, ['--import', 'tsx', AK_CHILD, '--variant', variant, '--precision', precision, '--batch', String(B), '--seq', String(T)], process.env);
  }

  private async read(): Promise<Record<string, unknown>> {
    const next = await this.lines.next();
    if (next.done) throw new Error(`${this.what} ended early (exit ${this.child.exitCode}); stderr:\n${this.stderr}`);
    const msg = JSON.parse(next.value) as Record<string, unknown>;
    if (msg.error) throw new Error(`${this.what}: ${String(msg.error)}`);
    return msg;
  }

  /** Runs one step; returns its milliseconds as timed inside the child, and the child's peak RSS so far. */
  async step(): Promise<StepAnswer> {
    this.child.stdin.write('step\n');
    return (await this.read()) as unknown as StepAnswer;
  }

  async quit(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end('quit\n');
    await exited;
  }
}

/** ONNX Runtime's throughput on the same MatMul shape as the Python side measures (median of 15 runs). */
async function ortMatmulGflops(): Promise<number> {
  const g = new Graph('matmul');
  const a = g.input('a', 'float32', [2048, 768]);
  g.output(matmul(a, g.constant('w', f32([768, 3072], randomData(768 * 3072, 1)))));
  const s = await Session.create(g, { spinning: false });
  const feeds = { a: f32([2048, 768], randomData(2048 * 768, 2)) };
  await s.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    await s.run(feeds);
    times.push(performance.now() - t);
  }
  await s.dispose();
  return (2 * 2048 * 768 * 3072) / (median(times) * 1e6);
}

/** One side's figures for one variant. */
interface Side { label: string; ms: number[]; peakRssMiB: number; trainable: number; plan?: string; ready: Record<string, unknown> }

interface Row { name: string; sides: Side[] }

async function main(): Promise<void> {
  console.log(`adapterkit vs PyTorch training step — ${machine()}; BERT-base-sized random model, batch ${B}, seq ${T}, ${ROUNDS} interleaved timed steps per side (after 1 warm-up)`);
  const core = chooseCore();
  console.log(`PyTorch side: env -u OPENBLAS_L2_SIZE ${core ? `OPENBLAS_CORETYPE=${core}` : '-u OPENBLAS_CORETYPE'} OMP_WAIT_POLICY=PASSIVE ${PYTHON} bench/pytorch/train_step.py --serve --threads ${TORCH_THREADS}; adapterkit sides: node bench/pytorch/adapterkit-step.ts, one process each`);
  // measured before the steps, as the Python side measures its own when it starts, and again after them
  const mmBefore = await ortMatmulGflops();
  const names = { adapters: 'adapters (m=64) + layer norms + head', full: 'full fine-tuning' };
  const rows: Row[] = [];
  let torchInfo: TorchReady | undefined;
  for (const v of VARIANTS) {
    if (!(v in names)) throw new Error(`BENCH_VARIANTS: unknown variant ${v} (adapters, full)`);
    // int8 applies to the frozen base: full fine-tuning trains every weight.
    const precisions: ('fp32' | 'int8')[] = v === 'adapters' && INT8 ? ['fp32', 'int8'] : ['fp32'];
    const started: { stepper: Stepper; ready: Record<string, unknown> }[] = [];
    try {
      for (const p of precisions) started.push(await Stepper.adapterkit(v, p));
      const torch = await Stepper.torch(v, core);
      started.push(torch);
      torchInfo = torch.ready as unknown as TorchReady;
      const sides: Side[] = started.map(({ stepper, ready }) => ({ label: stepper.label, ms: [], peakRssMiB: 0, trainable: Number(ready.trainable), ready }));
      const run = async (i: number, timed: boolean) => {
        const r = await (started[i] as { stepper: Stepper }).stepper.step();
        const side = sides[i] as Side;
        if (timed) side.ms.push(r.ms);
        side.peakRssMiB = r.peakRssMiB;
        if (r.plan) side.plan = r.plan;
      };
      for (let i = 0; i < started.length; i++) await run(i, false); // warm-up: builds the sessions (and runs the guard)
      for (let r = 0; r < ROUNDS; r++) {
        for (let j = 0; j < started.length; j++) await run((r + j) % started.length, true); // the order rotates every round
      }
      rows.push({ name: names[v], sides });
      console.log(`${names[v]}: ${sides.map((sd) => `${sd.label} [${sd.ms.map((x) => (x / 1000).toFixed(2)).join(', ')}] s`).join(', ')}`);
      for (const sd of sides) {
        if (sd.plan) console.log(`  ${sd.label}: ${sd.plan}`);
        const r = sd.ready;
        if (typeof r.rssBuiltMiB === 'number') {
          console.log(`  ${sd.label} RSS: ${r.rssBuiltMiB.toFixed(0)} MiB with the base built${typeof r.peakAfterGuardMiB === 'number' ? `, peak ${r.peakAfterGuardMiB.toFixed(0)} MiB after the outlier guard (${Number(r.guardSeconds).toFixed(1)} s; ${Number(r.rssAfterGuardMiB).toFixed(0)} MiB resident then)` : ''}, peak ${sd.peakRssMiB.toFixed(0)} MiB after the steps`);
        }
      }
    } finally {
      for (const s of started) await s.stepper.quit();
    }
  }
  const mm = await ortMatmulGflops();
  const torchOf = (r: Row) => r.sides.find((sd) => sd.label === 'PyTorch') as Side;
  const sideOf = (r: Row, label: string) => r.sides.find((sd) => sd.label === label);
  console.log('');
  console.log(`${'variant'.padEnd(38)} ${'side'.padEnd(16)} ${'step'.padStart(8)}  /PyTorch  ${'peak RSS'.padStart(10)}  /PyTorch  trainable`);
  for (const r of rows) {
    const pt = torchOf(r);
    for (const sd of r.sides) {
      const ms = median(sd.ms);
      console.log(`${r.name.padEnd(38)} ${sd.label.padEnd(16)} ${(ms / 1000).toFixed(2).padStart(6)} s  ${(ms / median(pt.ms)).toFixed(2).padStart(8)}  ${sd.peakRssMiB.toFixed(0).padStart(6)} MiB  ${(sd.peakRssMiB / pt.peakRssMiB).toFixed(2).padStart(8)}  ${sd.trainable.toLocaleString('en-US')}`);
    }
  }
  const ad = rows.find((r) => r.name === names.adapters);
  const full = rows.find((r) => r.name === names.full);
  const ak32 = (r: Row | undefined) => (r ? sideOf(r, 'adapterkit fp32') : undefined);
  if (ad && full) {
    console.log(`adapter step / full step: adapterkit ${(median((ak32(ad) as Side).ms) / median((ak32(full) as Side).ms)).toFixed(2)}, PyTorch ${(median(torchOf(ad).ms) / median(torchOf(full).ms)).toFixed(2)}`);
  }
  const int8 = ad ? sideOf(ad, 'adapterkit int8') : undefined;
  if (ad && int8) {
    const pt = torchOf(ad);
    console.log(`adapter step, int8 adapterkit / fp32 PyTorch: time ${(median(int8.ms) / median(pt.ms)).toFixed(2)} (target <= 0.5), peak RSS ${(int8.peakRssMiB / pt.peakRssMiB).toFixed(2)} (target <= 0.8); int8 / fp32 adapterkit: time ${(median(int8.ms) / median((ak32(ad) as Side).ms)).toFixed(2)}, peak RSS ${(int8.peakRssMiB / (ak32(ad) as Side).peakRssMiB).toFixed(2)}`);
  }
  if (torchInfo) {
    console.log(`MatMul 2048x768 @ 768x3072: ONNX Runtime ${mmBefore.toFixed(1)} GFLOP/s before the steps (${mm.toFixed(1)} after them), PyTorch ${torchInfo.matmulGflops.toFixed(1)} GFLOP/s (torch ${torchInfo.torch}, ${torchInfo.threads} threads, BLAS ${torchInfo.blas.join(', ') || 'none mapped'}, OpenBLAS core ${torchInfo.blasCore ?? '-'})`);
    if (torchInfo.blas.some((p) => REFERENCE_BLAS.test(p))) {
      console.log('WARNING: PyTorch is using the reference (unoptimised) BLAS, so its figures are not meaningful. Install libopenblas0-pthread (apt), or set BENCH_TORCH_BLAS_DIR to a directory with an optimised libblas.so.3.');
    }
  }
  console.log('ratio < 1 means adapterkit is faster (or smaller)');
}

await main();
