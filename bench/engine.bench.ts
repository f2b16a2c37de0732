/**
 * Engine benchmark (npm run bench:engine).
 * (a) ONNX Runtime MatMul [2048x768] x [768x3072] throughput in GFLOP/s.
 * (b) One BERT-base-sized layer (hidden 768, 12 heads, FFN 3072, batch 8, seq 128) with frozen
 *     weights and trainable layer norms: forward, and forward + backward (gradients of the layer
 *     norms and of the layer input), median ms and effective GFLOP/s.
 * Both use the same session settings; the variants run interleaved and the ratio is printed.
 */
import { Graph, Session, f32, gradients, i64, matmul, mul, reduceSum, type HostTensor } from '../src/engine/index.js';
import { parseBertConfig } from '../src/models/bert/config.js';
import { bertLayer, maskBias } from '../src/models/bert/encoder.js';
import { bertWeightSpecs } from '../src/models/bert/names.js';
import type { BuildContext } from '../src/models/encoder.js';
import { machine, median, peakRssMiB, randomData } from './common.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
// Three sessions take turns on 2 cores: idle spinning threads of one would slow the next.
const SPIN = process.env.BENCH_SPINNING === '1';
const B = 8, T = 128, D = 768, H = 12, F = 3072;

async function matmulBench(): Promise<{ run: () => Promise<unknown>; flops: number }> {
  const g = new Graph('matmul');
  const a = g.input('a', 'float32', [2048, 768]);
  const w = g.constant('w', f32([768, 3072], randomData(768 * 3072, 1)));
  g.output(matmul(a, w));
  const s = await Session.create(g, { spinning: SPIN });
  const feeds = { a: f32([2048, 768], randomData(2048 * 768, 2)) };
  return { run: () => s.run(feeds), flops: 2 * 2048 * 768 * 3072 };
}

async function layerBench(backward: boolean): Promise<{ run: () => Promise<unknown>; flops: number; params: number }> {
  const c = parseBertConfig({
    model_type: 'bert', vocab_size: 10, hidden_size: D, num_hidden_layers: 1, num_attention_heads: H, intermediate_size: F,
    max_position_embeddings: 512, hidden_act: 'gelu',
  });
  const g = new Graph(backward ? 'layer-fwd-bwd' : 'layer-fwd');
  const values = new Map();
  let k = 10;
  for (const s of bertWeightSpecs(c, false).filter((s) => s.layer === 0)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = s.role === 'norm' && s.name.endsWith('weight') ? new Float32Array(n).fill(1) : randomData(n, k++);
    values.set(s.name, s.role === 'norm' ? g.param(s.name, f32(s.shape, data)) : g.constant(s.name, f32(s.shape, data)));
  }
  // The layer input is trainable too in the backward variant: its gradient is what a layer below
  // (with its own trainable layer norms) needs, so the backward pass runs through the whole layer.
  const xData = f32([B, T, D], randomData(B * T * D, 3, 1));
  const x = backward ? g.param('x', xData) : g.input('x', 'float32', ['batch', 'seq', D]);
  const mask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  const ctx: BuildContext = { graph: g, weight: (n) => values.get(n), nextSeed: () => 1 };
  const y = bertLayer(ctx, c, 0, x, maskBias(mask));
  const fwdFlops = 2 * B * T * (4 * D * D + 2 * D * F) + 2 * 2 * B * H * T * T * (D / H);
  if (!backward) g.output(y);
  else {
    const r = g.input('r', 'float32', ['batch', 'seq', D]);
    const loss = reduceSum(mul(y, r));
    const grads = gradients(loss, [...g.params]);
    g.output(loss, ...grads);
  }
  const s = await Session.create(g, { spinning: SPIN });
  const feeds: Record<string, HostTensor> = { attention_mask: i64([B, T], new Array(B * T).fill(1)) };
  if (!backward) feeds.x = xData;
  if (backward) feeds.r = f32([B, T, D], randomData(B * T * D, 4, 1));
  // backward with frozen weights: one input-gradient product per forward product, plus the
  // attention's extra product (scores need dQ and dK): about 2x forward in all.
  const flops = backward ? 2 * fwdFlops + 2 * 2 * B * H * T * T * (D / H) : fwdFlops;
  return { run: () => s.run(feeds), flops, params: g.params.length };
}

async function main(): Promise<void> {
  console.log(`engine benchmark — ${machine()}; ${ROUNDS} interleaved rounds, medians`);
  const mm = await matmulBench();
  const fwd = await layerBench(false);
  const bwd = await layerBench(true);
  const t: Record<string, number[]> = { mm: [], fwd: [], bwd: [] };
  for (const b of [mm, fwd, bwd]) for (let i = 0; i < 2; i++) await b.run(); // warm-up
  for (let i = 0; i < ROUNDS; i++) {
    for (const [k, b] of Object.entries({ mm, fwd, bwd })) {
      const s = performance.now();
      await b.run();
      t[k]!.push(performance.now() - s);
    }
  }
  const gf = (flops: number, ms: number) => flops / (ms * 1e6);
  const mmMs = median(t.mm!), fwdMs = median(t.fwd!), bwdMs = median(t.bwd!);
  const rows = [
    ['(a) MatMul 2048x768 @ 768x3072', mmMs, gf(mm.flops, mmMs)],
    ['(b) BERT-base layer forward (B8 T128)', fwdMs, gf(fwd.flops, fwdMs)],
    ['(b) BERT-base layer forward+backward', bwdMs, gf(bwd.flops, bwdMs)],
  ] as const;
  for (const [name, ms, g] of rows) console.log(`${name.padEnd(42)} ${ms.toFixed(1).padStart(8)} ms  ${g.toFixed(1).padStart(7)} GFLOP/s`);
  const ratio = gf(bwd.flops, bwdMs) / gf(mm.flops, mmMs);
  console.log(`forward+backward throughput / MatMul throughput = ${(100 * ratio).toFixed(1)} % (target >= 80 %)`);
  console.log(`forward throughput / MatMul throughput = ${(100 * gf(fwd.flops, fwdMs) / gf(mm.flops, mmMs)).toFixed(1)} %`);
  console.log(`backward computes the gradients of the ${bwd.params - 1} layer-norm tensors and of the layer input; peak RSS ${peakRssMiB().toFixed(0)} MiB`);
}

await main();
