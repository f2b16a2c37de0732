/**
 * bench:train — the AdapterDrop step-time curve (Rücklé et al. 2021, static AdapterDrop): one
 * training step (forward, loss, backward, clipping, AdamW) of a Houlsby adapter (m = 64, both
 * sub-layers, no trained layer norms, so that nothing trains below the lowest adapter) with no
 * adapters in the lowest n layers, for n = 0 .. layers - 1, as a ratio to n = 0.
 *
 * This is the **uncached** step: the frozen layers below the lowest adapter still run forward on
 * every step (only the backward stops at layer n); caching their outputs is a separate feature.
 *
 * Memory allows two BERT-base training sessions at a time, so the n = 0 model lives for the whole
 * run and each n is built, warmed up, timed in BENCH_ROUNDS pairs with n = 0 (order alternating
 * from pair to pair), and disposed; its ratio is to the n = 0 steps of its own pairs, so slow drift
 * of the machine's load cancels. BENCH_DROPS (comma-separated n, default every n) picks the points;
 * BENCH_DROP_ROUNDS (default 3, or BENCH_ROUNDS when larger) sets the pairs per n.
 */
import { adapterConfig } from '../../src/adapters/methods/index.js';
import type { HeadConfig } from '../../src/heads/head.js';
import type { BaseModel } from '../../src/models/base.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { TaskModel } from '../../src/train/task-model.js';
import { alternating, median, peakRssMiB, stepRunner } from '../common.js';

/** What the curve runs on (bench/train.bench.ts's base, head, batch and sizes). */
export interface AdapterDropBench {
  readonly base: BaseModel;
  readonly head: HeadConfig;
  readonly batch: EncodedBatch;
  readonly labels: number[];
  /** Timed pairs per n. */
  readonly rounds: number;
}

/** The mode `train --adapter-drop n` makes of the adapter. */
function dropMode(n: number): TrainingMode {
  const adapter = adapterConfig({ size: 64, trainLayerNorms: false });
  return { kind: 'adapters', adapters: [{ name: 'adapter', config: adapter }], active: 'adapter', ...(n > 0 ? { adapterDrop: { kind: 'static', layers: n } } : {}) };
}

/** Prints the curve: per n, the median step, the paired n = 0 median and their ratio. */
export async function adapterDropCurve(b: AdapterDropBench): Promise<void> {
  const L = b.base.encoder.numLayers;
  const drops = process.env.BENCH_DROPS ? process.env.BENCH_DROPS.split(',').map(Number) : Array.from({ length: L - 1 }, (_, i) => i + 1);
  for (const n of drops) if (!(Number.isInteger(n) && n >= 1 && n < L)) throw new Error(`BENCH_DROPS: ${n} is not a layer count from 1 to ${L - 1}`);
  const secs = (ms: number) => (ms / 1000).toFixed(2);
  console.log(`\nAdapterDrop step-time curve, uncached (the frozen layers below the adapters run forward every step): Houlsby m=64 without trained layer norms, ${L} layers, batch ${b.batch.batchSize} x ${b.batch.seqLen}; each n: 1 warm-up step, then ${b.rounds} step(s) paired with n = 0 (order alternating), medians`);
  const create = (n: number) => stepRunner(TaskModel.create(b.base, { mode: dropMode(n), head: b.head, seed: 1, spinning: false }), b.batch, b.labels);
  const ref = create(0);
  await ref.step();
  const rows: { n: number; ms: number; refMs: number }[] = [];
  let round = 0;
  for (const n of drops) {
    const m = create(n);
    await m.step();
    const { a: refTimes, b: times } = await alternating(() => ref.step(), () => m.step(), b.rounds, round);
    round += b.rounds;
    await m.model.dispose();
    rows.push({ n, ms: median(times), refMs: median(refTimes) });
    console.log(`  n=${String(n).padStart(2)}: steps [${times.map(secs).join(', ')}] s, n=0 [${refTimes.map(secs).join(', ')}] s; peak RSS ${peakRssMiB().toFixed(0)} MiB`);
  }
  await ref.model.dispose();
  console.log('');
  console.log('| AdapterDrop n (no adapters in layers 0..n-1) | uncached step s | n = 0 step s (pairs) | uncached step / n = 0 |');
  console.log('| --- | --- | --- | --- |');
  const all = rows.map((r) => r.refMs);
  console.log(`| 0 | ${all.length ? secs(median(all)) : '-'} | ${all.length ? secs(median(all)) : '-'} | 1.00 |`);
  for (const r of rows) console.log(`| ${r.n} | ${secs(r.ms)} | ${secs(r.refMs)} | ${(r.ms / r.refMs).toFixed(2)} |`);
}
