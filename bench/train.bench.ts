/**
 * Training-step benchmark (npm run bench:train).
 * A BERT-base-sized random model, batch 32, seq 128: median time of one full training step
 * (forward, loss, backward, gradient clipping, AdamW) for every adapter method preset against full
 * fine-tuning, with trainable parameters, effective GFLOP/s, peak RSS, and the MatMul throughput of
 * the same session settings measured in the same run.
 *
 * Memory: one full fine-tuning model lives for the whole run; each method's model is built, timed
 * in interleaved rounds with it (order alternating every round), and disposed before the next one
 * is built, so at most two training sessions (and their activation arenas) exist at a time. Each
 * method is compared with the full steps of its own pair, so slow drift of the machine's load
 * cancels in the ratio; which of the two goes first alternates from one round (and pair) to the
 * next. The full fine-tuning row is the median over every pair.
 *
 * Targets (the paper preset): adapter step <= 0.7x the full step; adapter throughput >= 70 % of
 * MatMul. BENCH_BATCH / BENCH_SEQ / BENCH_ROUNDS (timed steps per method, each paired with one
 * full step; default 1, so a method's figure is one step unless it is raised) change the size;
 * BENCH_METHODS (comma-separated presets, e.g. `compacter,compacter++`) times only those.
 *
 * Int8 frozen base (issue 13): the paper adapter with `frozenPrecision: 'int8'` against the same
 * adapter in fp32, both models alive, BENCH_INT8_ROUNDS (default 3) interleaved step pairs after
 * one warm-up step each (the int8 warm-up runs the outlier guard); prints the step ratio (target
 * <= 0.55) and the frozen matmul weights' bytes int8 / fp32 (target <= 0.55). BENCH_INT8=only runs
 * just this part, BENCH_INT8=0 skips it; BENCH_LAYERS (default 12) sets the model's depth.
 *
 * Cached frozen layers (issue 13): AdapterDrop n = 5 trained from the cached input of layer 5
 * against n = 0 (bench/train/cached-layers.ts; target <= 0.5); BENCH_CACHED=only / 0,
 * BENCH_CACHED_ROUNDS (default 3), BENCH_CACHED_DROP (default 5).
 * BENCH_ONLY=adapter-drop runs just the AdapterDrop step-time curve (bench/train/adapter-drop.ts:
 * the uncached step with no adapters in the lowest n layers, n = 0 .. layers - 1, as ratios to n = 0).
 * Method rows (issue 15, bench/train/method-rows.ts): prefix, prompt, Compacter, MAM, UniPELT steps
 * against a Houlsby adapter's, interleaved; BENCH_METHOD_ROWS=0 skips them, =only runs just them.
 */
import { Graph, Session, f32, matmul } from '../src/engine/index.js';
import { methodConfig } from '../src/adapters/methods/index.js';
import { headConfig } from '../src/heads/head.js';
import type { TrainingMode } from '../src/train/modes.js';
import { TaskModel } from '../src/train/task-model.js';
import { summarizeFrozenPlan } from '../src/train/frozen-precision.js';
import { cachedLayersPart } from './train/cached-layers.js';
import { adapterDropCurve } from './train/adapter-drop.js';
import { METHOD_ROWS, trainMethodRows } from './train/method-rows.js';
import { BERT_BASE_CONFIG, alternating, benchPresets, bertForwardFlops, currentRssMiB, machine, median, peakRssMiB, randomBertBase, randomData, stepRunner, syntheticBatch } from './common.js';

const B = Number(process.env.BENCH_BATCH ?? 32);
const T = Number(process.env.BENCH_SEQ ?? 128);
/**
 * Timed steps per method (each paired with one full step). 1 by default: under the concurrent load
 * of 2026-12-01 a BERT-base full step took ~33 s, and 1 round for 6 methods already fills ~10 min.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
/**
 * The method presets timed against full fine-tuning, in the registry's order: every preset but
 * `ia3-peft` (IA³ on PEFT's placement, a second placement of the ia3 method; BENCH_METHODS=ia3-peft
 * times it).
 */
const PRESETS = benchPresets(['ia3-peft']);
const INT8 = process.env.BENCH_INT8 ?? '1';
const INT8_ROUNDS = Number(process.env.BENCH_INT8_ROUNDS ?? 3);
const LAYERS = Number(process.env.BENCH_LAYERS ?? 12);
/** Cached frozen layers (bench/train/cached-layers.ts): BENCH_CACHED=only runs just that part, 0 skips it. */
const CACHED = process.env.BENCH_CACHED ?? '1';

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

/** One method's figures, from its pair with full fine-tuning. */
interface Row {
  readonly name: string;
  readonly ms: number;
  /** Median of the full fine-tuning steps interleaved with this method's. */
  readonly fullMs: number;
  readonly trainable: number;
  readonly share: number;
  /** Peak RSS of the process when this pair finished, and RSS after the method's model was disposed (MiB). */
  readonly peakRss: number;
  readonly rssAfter: number;
}

const secs = (ms: number) => (ms / 1000).toFixed(2);

async function main(): Promise<void> {
  const t0 = performance.now();
  console.log(`training-step benchmark — ${machine()}; BERT-base-sized random model, batch ${B}, seq ${T}`);
  console.log(`each method: 1 warm-up step, then ${ROUNDS} timed step(s) interleaved with as many full fine-tuning steps (order alternating), medians; one method model alive at a time`);
  const base = randomBertBase({ ...BERT_BASE_CONFIG, num_hidden_layers: LAYERS });
  if (LAYERS !== 12) console.log(`BENCH_LAYERS=${LAYERS}: ${LAYERS} layers instead of 12`);
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'], dropout: 0.1 });
  const batch = syntheticBatch(B, T, 30522);
  const labels = Array.from({ length: B }, (_, i) => i % 2);
  const fwd = bertForwardFlops({ hidden: 768, ffn: 3072, layers: LAYERS, heads: 12 }, B, T);
  const create = (mode: TrainingMode) => TaskModel.create(base, { mode, head, seed: 1, spinning: false });
  console.log(`RSS with the base's weights in memory: ${currentRssMiB().toFixed(0)} MiB`);
  if (process.env.BENCH_ONLY === 'adapter-drop') {
    await adapterDropCurve({ base, head, batch, labels, rounds: Math.max(ROUNDS, Number(process.env.BENCH_DROP_ROUNDS ?? 3)) });
    console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return;
  }
  if (INT8 !== '0' && CACHED !== 'only') await int8Pair(base, head, batch, labels);
  if (CACHED !== '0' && INT8 !== 'only') await cachedLayersPart(base, head, batch, labels);
  if (INT8 === 'only' || CACHED === 'only') {
    console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return;
  }
  if (METHOD_ROWS !== '0') await trainMethodRows(base, head, batch, labels);
  if (METHOD_ROWS === 'only') return void console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  const full = stepRunner(create({ kind: 'full' }), batch, labels);
  await full.step(); // warm-up (builds the session)
  const fullStats = full.model.stats();
  console.log(`full fine-tuning session built and warmed up: RSS ${currentRssMiB().toFixed(0)} MiB, peak ${peakRssMiB().toFixed(0)} MiB`);

  const rows: Row[] = [];
  const allFull: number[] = [];
  let round = 0; // over all pairs, so that the order alternates even with one round per pair
  for (const preset of PRESETS) {
    const m = stepRunner(create({ kind: 'adapters', adapter: methodConfig(preset) }), batch, labels);
    await m.step(); // warm-up (builds the session)
    const { a: fullTimes, b: times } = await alternating(() => full.step(), () => m.step(), ROUNDS, round);
    round += ROUNDS;
    allFull.push(...fullTimes);
    const s = m.model.stats();
    const peakRss = peakRssMiB();
    await m.model.dispose();
    const row: Row = { name: preset, ms: median(times), fullMs: median(fullTimes), trainable: s.trainableParams, share: s.share, peakRss, rssAfter: currentRssMiB() };
    rows.push(row);
    console.log(`  ${preset.padEnd(Math.max(...PRESETS.map((p) => p.length)))} steps [${times.map(secs).join(', ')}] s, full [${fullTimes.map(secs).join(', ')}] s; peak RSS ${peakRss.toFixed(0)} MiB, RSS after disposing it ${row.rssAfter.toFixed(0)} MiB`);
  }
  const fullMs = median(allFull);
  await full.model.dispose();
  const mm = await matmulGflops();

  console.log('');
  const header = `${'method'.padEnd(18)} ${'s/step'.padStart(7)}  ${'GFLOP/s'.padStart(7)}  ${'trainable params'.padStart(16)}  ${'share'.padStart(8)}  ${'step / full'.padStart(11)}  ${'full s/step (pair)'.padStart(18)}`;
  console.log(header);
  console.log('-'.repeat(header.length));
  const line = (name: string, ms: number, flops: number, trainable: number, share: number, ratio: string, pairFull: string) =>
    console.log(`${name.padEnd(18)} ${secs(ms).padStart(7)}  ${(flops / (ms * 1e6)).toFixed(1).padStart(7)}  ${trainable.toLocaleString('en-US').padStart(16)}  ${`${(100 * share).toFixed(2)} %`.padStart(8)}  ${ratio.padStart(11)}  ${pairFull.padStart(18)}`);
  for (const r of rows) line(r.name, r.ms, 2 * fwd, r.trainable, r.share, (r.ms / r.fullMs).toFixed(2), secs(r.fullMs));
  line('full fine-tuning', fullMs, 3 * fwd, fullStats.trainableParams, fullStats.share, '1.00', `${allFull.length} steps`);

  const paper = rows.find((r) => r.name === 'paper');
  console.log(`\nMatMul 2048x768 @ 768x3072, same settings: ${mm.toFixed(1)} GFLOP/s`);
  if (paper) {
    console.log(`paper adapter step / full step = ${(paper.ms / paper.fullMs).toFixed(2)} (target <= 0.7)`);
    console.log(`paper adapter effective throughput / MatMul = ${((100 * 2 * fwd) / (paper.ms * 1e6) / mm).toFixed(1)} % (target >= 70 %)`);
  }
  console.log(`full fine-tuning effective throughput / MatMul = ${((100 * 3 * fwd) / (fullMs * 1e6) / mm).toFixed(1)} %`);
  console.log(`peak RSS: ${peakRssMiB().toFixed(0)} MiB (at most the full model and one method model alive at a time)`);
  console.log("FLOPs counted: the base's matrix products only (not the adapters' own); method step = 2x forward (input gradients down to layer 0), full step = 3x forward.");
  console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

/** The paper adapter's step with an int8 frozen base against fp32, interleaved, and the frozen weights' bytes. */
async function int8Pair(base: ReturnType<typeof randomBertBase>, head: ReturnType<typeof headConfig>, batch: ReturnType<typeof syntheticBatch>, labels: number[]): Promise<void> {
  const mode: TrainingMode = { kind: 'adapters', adapter: methodConfig('paper') };
  const fp32 = stepRunner(TaskModel.create(base, { mode, head, seed: 1, spinning: false }), batch, labels);
  const int8 = stepRunner(TaskModel.create(base, { mode, head, seed: 1, spinning: false, frozenPrecision: 'int8' }), batch, labels);
  const warm = [await fp32.step(), await int8.step()];
  const plan = int8.model.frozenPlan;
  if (!plan) throw new Error('the int8 model made no frozen plan');
  console.log(`int8 vs fp32 frozen base, paper adapter: warm-up steps fp32 ${secs(warm[0] as number)} s, int8 ${secs(warm[1] as number)} s (with the guard)`);
  console.log(`  ${summarizeFrozenPlan(plan)}`);
  const { a: f, b: q } = await alternating(() => fp32.step(), () => int8.step(), INT8_ROUNDS);
  console.log(`  steps fp32 [${f.map(secs).join(', ')}] s, int8 [${q.map(secs).join(', ')}] s; peak RSS ${peakRssMiB().toFixed(0)} MiB`);
  const owned = new Set(int8.model.owned.keys());
  let frozenAll = 0;
  for (const [k, t] of base.weights) if (!owned.has(k)) frozenAll += t.data.byteLength;
  const int8All = frozenAll - plan.bytes.fp32 + plan.bytes.planned;
  console.log(`  int8 / fp32 adapter step = ${(median(q) / median(f)).toFixed(2)} (medians of ${INT8_ROUNDS}; target <= 0.55)`);
  console.log(`  frozen matmul weight bytes int8 / fp32 = ${(plan.bytes.planned / plan.bytes.fp32).toFixed(3)} (${(plan.bytes.planned / 2 ** 20).toFixed(0)} / ${(plan.bytes.fp32 / 2 ** 20).toFixed(0)} MiB; target <= 0.55)`);
  console.log(`  all frozen base bytes (embeddings, norms, pooler stay fp32) int8 / fp32 = ${(int8All / frozenAll).toFixed(3)} (${(int8All / 2 ** 20).toFixed(0)} / ${(frozenAll / 2 ** 20).toFixed(0)} MiB)`);
  await fp32.model.dispose();
  await int8.model.dispose();
}

await main();
