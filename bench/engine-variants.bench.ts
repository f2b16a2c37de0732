/**
 * The training step with the engine's current graph forms against the previous ones (issue 13,
 * item 5: the bias add folded into a Gemm, the GELU and layer-norm gradients with fewer passes),
 * interleaved in one process: `node --import tsx bench/engine-variants.bench.ts`.
 *
 * For the `paper` adapter (Houlsby placement, m = 64) and then for full fine-tuning, two models of
 * the same random BERT-base-sized base are built, one with src/engine/variants.ts set to the
 * previous forms while its training graph is built, one with the current forms; after one warm-up
 * step each they take BENCH_ROUNDS (3) step pairs, the order alternating, and the median step
 * ratio current / previous is printed, of wall time and of the process's CPU time (which moves
 * less with other jobs' load on a shared machine). Only one pair of models is alive at a time.
 *
 * BENCH_LAYERS (2: a whole 12-layer pair takes minutes on a loaded machine), BENCH_BATCH (32),
 * BENCH_SEQ (128), BENCH_MODES (`paper,full`; any adapter preset or `full`).
 */
import { methodConfig } from '../src/adapters/methods/index.js';
import { PREVIOUS_VARIANTS, setBuildVariants } from '../src/engine/variants.js';
import { headConfig } from '../src/heads/head.js';
import type { TrainingMode } from '../src/train/modes.js';
import { TaskModel } from '../src/train/task-model.js';
import { BERT_BASE_CONFIG, alternating, machine, median, peakRssMiB, randomBertBase, stepRunner, syntheticBatch, type StepRunner } from './common.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const B = env('BENCH_BATCH', 32);
const T = env('BENCH_SEQ', 128);
const LAYERS = env('BENCH_LAYERS', 2);
const ROUNDS = env('BENCH_ROUNDS', 3);
const MODES = (process.env.BENCH_MODES ?? 'paper,full').split(',').map((m) => m.trim()).filter(Boolean);

const secs = (ms: number) => (ms / 1000).toFixed(2);

/** A step runner whose first step (which builds the training graph) runs with the previous forms when `previous`. */
async function warmed(r: StepRunner, previous: boolean): Promise<number> {
  const was = setBuildVariants(previous ? PREVIOUS_VARIANTS : 'current');
  try {
    return await r.step();
  } finally {
    setBuildVariants(was);
  }
}

/**
 * One step; pushes the process's CPU time (user + system, all threads) it took to `cpu` and
 * returns its wall ms. On a machine shared with other jobs the CPU time moves less with their load.
 */
async function cpuTimed(r: StepRunner, cpu: number[]): Promise<number> {
  const c = process.cpuUsage();
  const ms = await r.step();
  const d = process.cpuUsage(c);
  cpu.push((d.user + d.system) / 1000);
  return ms;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  console.log(`engine forms, current vs previous — ${machine()}`);
  console.log(`random BERT-base-sized model with ${LAYERS} layer(s), batch ${B} x ${T}, dropout on; 1 warm-up step each, then ${ROUNDS} interleaved step pairs (order alternating), medians`);
  const base = randomBertBase({ ...BERT_BASE_CONFIG, num_hidden_layers: LAYERS });
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'], dropout: 0.1 });
  const batch = syntheticBatch(B, T, 30522);
  const labels = Array.from({ length: B }, (_, i) => i % 2);
  let round = 0;
  for (const name of MODES) {
    const mode: TrainingMode = name === 'full' ? { kind: 'full' } : { kind: 'adapters', adapter: methodConfig(name) };
    const make = () => stepRunner(TaskModel.create(base, { mode, head, seed: 1, spinning: false }), batch, labels);
    const previous = make();
    const current = make();
    const warm = [await warmed(previous, true), await warmed(current, false)];
    const cpu = { previous: [] as number[], current: [] as number[] };
    const { a: before, b: now } = await alternating(() => cpuTimed(previous, cpu.previous), () => cpuTimed(current, cpu.current), ROUNDS, round);
    round += ROUNDS;
    const label = name === 'full' ? 'full fine-tuning' : `adapter ${name}`;
    console.log(`${label}: warm-up previous ${secs(warm[0] as number)} s, current ${secs(warm[1] as number)} s; steps previous [${before.map(secs).join(', ')}] s, current [${now.map(secs).join(', ')}] s`);
    console.log(`  CPU time per step previous [${cpu.previous.map(secs).join(', ')}] s, current [${cpu.current.map(secs).join(', ')}] s`);
    console.log(`  current / previous step = ${(median(now) / median(before)).toFixed(3)} wall, ${(median(cpu.current) / median(cpu.previous)).toFixed(3)} CPU time (medians ${secs(median(now))} / ${secs(median(before))} s wall); peak RSS ${peakRssMiB().toFixed(0)} MiB`);
    await previous.model.dispose();
    await current.model.dispose();
  }
  console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

await main();
