/**
 * adapterkit vs PyTorch 1.13 training step (npm run bench:pytorch).
 * The step of bench/train.bench.ts — BERT-base-sized random model, batch 32, seq 128, forward with
 * dropout, cross-entropy, backward, global-norm clip to 1, AdamW — for Houlsby adapters (m = 64)
 * with layer norms and head trainable, and for full fine-tuning. The PyTorch side is
 * bench/pytorch/train_step.py in `--serve` mode (same architecture and trainable set, written in
 * plain torch), started with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment.
 * For each variant both models are built, warmed up once, then their steps alternate (order
 * swapped every round); medians and the ratio adapterkit / PyTorch are printed.
 *
 * Environment: BENCH_BATCH, BENCH_SEQ, BENCH_ROUNDS (timed steps per side, default 3),
 * BENCH_TORCH_THREADS (default 2), BENCH_PYTHON (default /usr/bin/python3), BENCH_TORCH_BLAS_DIR
 * (a directory holding an optimised libblas.so.3, prepended to the Python side's LD_LIBRARY_PATH).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Graph, Session, f32, matmul } from '../src/engine/index.js';
import { adapterConfig } from '../src/adapters/methods/index.js';
import { headConfig } from '../src/heads/head.js';
import type { TrainingMode } from '../src/train/modes.js';
import { AdamW, clipByGlobalNorm } from '../src/train/optim/index.js';
import { TaskModel } from '../src/train/task-model.js';
import { machine, median, peakRssMiB, randomBertBase, randomData, syntheticBatch } from './common.js';

const B = Number(process.env.BENCH_BATCH ?? 32);
const T = Number(process.env.BENCH_SEQ ?? 128);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TORCH_THREADS = Number(process.env.BENCH_TORCH_THREADS ?? 2);
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'pytorch', 'train_step.py');
/** Debian's reference (unoptimised) BLAS: PyTorch figures are meaningless with it. */
const REFERENCE_BLAS = /\/blas\/libblas\.so/;

/** What train_step.py --serve announces once its model is built. */
interface TorchReady { variant: string; threads: number; torch: string; trainable: number; total: number; blas: string[]; matmulGflops: number }

/** The Python side: one step per request, over stdin/stdout lines of JSON. */
class TorchStepper {
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  /** Starts the script for `variant` and waits for its ready line. */
  static async start(variant: 'adapters' | 'full'): Promise<{ stepper: TorchStepper; ready: TorchReady }> {
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE; // slows OpenBLAS and PyTorch on this machine (see DESIGN.md)
    delete env.OPENBLAS_L2_SIZE;
    // The two processes take turns: neither side's idle threads may spin (adapterkit's sessions
    // are created with spinning off for the same reason).
    env.OMP_WAIT_POLICY ??= 'PASSIVE';
    if (process.env.BENCH_TORCH_BLAS_DIR) env.LD_LIBRARY_PATH = [process.env.BENCH_TORCH_BLAS_DIR, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    const args = [SCRIPT, '--serve', '--variant', variant, '--batch', String(B), '--seq', String(T), '--threads', String(TORCH_THREADS)];
    const stepper = new TorchStepper(spawn(PYTHON, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
    const ready = (await stepper.read()) as unknown as TorchReady & { ready?: boolean };
    if (!ready.ready) throw new Error(`${SCRIPT} did not announce itself: ${JSON.stringify(ready)}`);
    return { stepper, ready };
  }

  private async read(): Promise<Record<string, unknown>> {
    const next = await this.lines.next();
    if (next.done) throw new Error(`${PYTHON} ${SCRIPT} ended early (exit ${this.child.exitCode}); stderr:\n${this.stderr}`);
    const msg = JSON.parse(next.value) as Record<string, unknown>;
    if (msg.error) throw new Error(`${SCRIPT}: ${String(msg.error)}`);
    return msg;
  }

  /** Runs one step; returns its milliseconds as timed inside Python. */
  async step(): Promise<{ ms: number; peakRssMiB: number }> {
    this.child.stdin.write('step\n');
    return (await this.read()) as unknown as { ms: number; peakRssMiB: number };
  }

  async quit(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end('quit\n');
    await exited;
  }
}

/** ONNX Runtime's throughput on the same MatMul shape as the Python side measures. */
async function ortMatmulGflops(): Promise<number> {
  const g = new Graph('matmul');
  const a = g.input('a', 'float32', [2048, 768]);
  g.output(matmul(a, g.constant('w', f32([768, 3072], randomData(768 * 3072, 1)))));
  const s = await Session.create(g, { spinning: false });
  const feeds = { a: f32([2048, 768], randomData(2048 * 768, 2)) };
  await s.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await s.run(feeds);
    times.push(performance.now() - t);
  }
  await s.dispose();
  return (2 * 2048 * 768 * 3072) / (median(times) * 1e6);
}

interface Row { name: string; ak: number; pt: number; akTrainable: number; ptTrainable: number; akPeakMiB: number; ptPeakMiB: number }

async function main(): Promise<void> {
  console.log(`adapterkit vs PyTorch training step — ${machine()}; BERT-base-sized random model, batch ${B}, seq ${T}, ${ROUNDS} interleaved timed steps per side (after 1 warm-up)`);
  console.log(`PyTorch side: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE ${PYTHON} bench/pytorch/train_step.py --serve --threads ${TORCH_THREADS}`);
  const base = randomBertBase();
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'], dropout: 0.1 });
  const batch = syntheticBatch(B, T, 30522);
  const labels = Array.from({ length: B }, (_, i) => i % 2);
  const variants: { name: string; torch: 'adapters' | 'full'; mode: TrainingMode }[] = [
    { name: 'adapters (m=64) + layer norms + head', torch: 'adapters', mode: { kind: 'adapters', adapter: adapterConfig({ size: 64 }) } },
    { name: 'full fine-tuning', torch: 'full', mode: { kind: 'full' } },
  ];
  const rows: Row[] = [];
  let torchInfo: TorchReady | undefined;
  for (const v of variants) {
    const { stepper, ready } = await TorchStepper.start(v.torch);
    torchInfo = ready;
    const model = TaskModel.create(base, { mode: v.mode, head, seed: 1, spinning: false });
    const opt = new AdamW(model.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: 1e-5 });
    const akStep = async (): Promise<number> => {
      const t = performance.now();
      const out = await model.trainStep(batch, labels);
      clipByGlobalNorm(out.grads, 1);
      opt.step(out.grads);
      return performance.now() - t;
    };
    try {
      await akStep(); // warm-up: builds the session
      await stepper.step();
      const ak: number[] = [];
      const pt: number[] = [];
      let ptPeakMiB = 0;
      const torchStep = async (): Promise<number> => {
        const r = await stepper.step();
        ptPeakMiB = r.peakRssMiB;
        return r.ms;
      };
      for (let r = 0; r < ROUNDS; r++) {
        if (r % 2 === 0) {
          ak.push(await akStep());
          pt.push(await torchStep());
        } else {
          pt.push(await torchStep());
          ak.push(await akStep());
        }
      }
      const row: Row = {
        name: v.name, ak: median(ak), pt: median(pt), akTrainable: model.stats().trainableParams, ptTrainable: ready.trainable,
        akPeakMiB: peakRssMiB(), ptPeakMiB,
      };
      rows.push(row);
      const fmt = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(', ');
      console.log(`${v.name}: adapterkit [${fmt(ak)}] s, PyTorch [${fmt(pt)}] s`);
    } finally {
      await model.dispose();
      await stepper.quit();
    }
  }
  const mm = await ortMatmulGflops();
  console.log('');
  console.log(`${'variant'.padEnd(38)} ${'adapterkit'.padStart(11)} ${'PyTorch'.padStart(9)}  adapterkit/PyTorch  trainable (adapterkit / PyTorch)`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(38)} ${(r.ak / 1000).toFixed(2).padStart(9)} s ${(r.pt / 1000).toFixed(2).padStart(7)} s  ${(r.ak / r.pt).toFixed(2).padStart(18)}  ${r.akTrainable.toLocaleString('en-US')} / ${r.ptTrainable.toLocaleString('en-US')}`);
  }
  const [ad, full] = rows as [Row, Row];
  console.log(`adapter step / full step: adapterkit ${(ad.ak / full.ak).toFixed(2)}, PyTorch ${(ad.pt / full.pt).toFixed(2)}`);
  if (torchInfo) {
    console.log(`MatMul 2048x768 @ 768x3072: ONNX Runtime ${mm.toFixed(1)} GFLOP/s, PyTorch ${torchInfo.matmulGflops.toFixed(1)} GFLOP/s (torch ${torchInfo.torch}, ${torchInfo.threads} threads, BLAS ${torchInfo.blas.join(', ') || 'none mapped'})`);
    if (torchInfo.blas.some((p) => REFERENCE_BLAS.test(p))) {
      console.log('WARNING: PyTorch is using the reference (unoptimised) BLAS, so its figures are not meaningful. Install libopenblas0-pthread (apt), or set BENCH_TORCH_BLAS_DIR to a directory with an optimised libblas.so.3.');
    }
  }
  for (const r of rows) console.log(`peak RSS after ${r.name}: adapterkit process ${r.akPeakMiB.toFixed(0)} MiB, PyTorch process ${r.ptPeakMiB.toFixed(0)} MiB`);
  console.log('ratio < 1 means adapterkit is faster');
}

await main();
