/**
 * Training-step benchmark (npm run bench:train).
 * A BERT-base-sized random model, batch 32, seq 128: median time of one full training step
 * (forward, loss, backward, AdamW) for Houlsby adapters (m = 64) and for full fine-tuning, with
 * effective GFLOP/s, peak RSS, and the MatMul throughput of the same session settings measured in
 * the same run. Targets: adapter step <= 0.7x the full step; adapter throughput >= 70 % of MatMul.
 * Set BENCH_BATCH / BENCH_SEQ / BENCH_ROUNDS to change the size.
 */
import { Graph, Session, f32, matmul } from '../src/engine/index.js';
import { adapterConfig } from '../src/adapters/methods/index.js';
import { headConfig } from '../src/heads/head.js';
import { AdamW, clipByGlobalNorm } from '../src/train/optim/index.js';
import { TaskModel } from '../src/train/task-model.js';
import { bertForwardFlops, machine, median, peakRssMiB, randomBertBase, randomData, syntheticBatch } from './common.js';

const B = Number(process.env.BENCH_BATCH ?? 32);
const T = Number(process.env.BENCH_SEQ ?? 128);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function matmulGflops(): Promise<number> {
  const g = new Graph('matmul');
  const a = g.input('a', 'float32', [2048, 768]);
  const w = g.constant('w', f32([768, 3072], randomData(768 * 3072, 1)));
  g.output(matmul(a, w));
  const s = await Session.create(g, { spinning: false });
  const feeds = { a: f32([2048, 768], randomData(2048 * 768, 2)) };
  const times: number[] = [];
  for (let i = 0; i < 12; i++) {
    const t = performance.now();
    await s.run(feeds);
    if (i >= 2) times.push(performance.now() - t);
  }
  await s.dispose();
  return (2 * 2048 * 768 * 3072) / (median(times) * 1e6);
}

async function main(): Promise<void> {
  console.log(`training-step benchmark — ${machine()}; BERT-base-sized random model, batch ${B}, seq ${T}, ${ROUNDS} timed steps each (after 1 warm-up)`);
  const base = randomBertBase();
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'], dropout: 0.1 });
  const batch = syntheticBatch(B, T, 30522);
  const labels = Array.from({ length: B }, (_, i) => i % 2);
  const fwd = bertForwardFlops({ hidden: 768, ffn: 3072, layers: 12, heads: 12 }, B, T);
  const variants = [
    { name: 'adapters (m=64) + layer norms + head', mode: { kind: 'adapters' as const, adapter: adapterConfig({ size: 64 }) }, flops: 2 * fwd },
    { name: 'full fine-tuning', mode: { kind: 'full' as const }, flops: 3 * fwd },
  ];
  const models = variants.map((v) => TaskModel.create(base, { mode: v.mode, head, seed: 1, spinning: false }));
  const opts = models.map((m) => new AdamW(m.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: 1e-5 }));
  const step = async (k: number) => {
    const m = models[k] as TaskModel;
    const out = await m.trainStep(batch, labels);
    clipByGlobalNorm(out.grads, 1);
    (opts[k] as AdamW).step(out.grads);
  };
  const times: number[][] = variants.map(() => []);
  for (let k = 0; k < variants.length; k++) await step(k); // warm-up (builds the sessions)
  const rssAfterBuild = peakRssMiB();
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < variants.length; k++) {
      const t = performance.now();
      await step(k);
      (times[k] as number[]).push(performance.now() - t);
    }
  }
  const mm = await matmulGflops();
  const res = variants.map((v, k) => {
    const ms = median(times[k] as number[]);
    const s = (models[k] as TaskModel).stats();
    return { ...v, ms, gflops: v.flops / (ms * 1e6), trainable: s.trainableParams, share: s.share };
  });
  for (const r of res) {
    console.log(`${r.name.padEnd(40)} ${(r.ms / 1000).toFixed(2).padStart(7)} s/step  ${r.gflops.toFixed(1).padStart(6)} GFLOP/s  trainable ${r.trainable.toLocaleString('en-US')} (${(100 * r.share).toFixed(2)} %)`);
  }
  const [ad, full] = res as [typeof res[0], typeof res[0]];
  console.log(`MatMul 2048x768 @ 768x3072, same settings: ${mm.toFixed(1)} GFLOP/s`);
  console.log(`adapter step / full step = ${(ad.ms / full.ms).toFixed(2)} (target <= 0.7)`);
  console.log(`adapter effective throughput / MatMul = ${(100 * ad.gflops / mm).toFixed(1)} % (target >= 70 %)`);
  console.log(`full fine-tuning effective throughput / MatMul = ${(100 * full.gflops / mm).toFixed(1)} %`);
  console.log(`peak RSS: ${peakRssMiB().toFixed(0)} MiB (${rssAfterBuild.toFixed(0)} MiB after building both sessions)`);
  console.log('FLOPs counted: matrix products only; adapter step = 2x forward (input gradients), full step = 3x forward.');
  for (const m of models) await m.dispose();
}

await main();
