/**
 * Model benchmark (npm run bench:models).
 * (1) Each encoder family at base size with random weights (BERT-base, XLM-RoBERTa-base,
 *     ALBERT-base-v2, DeBERTa-v3-base, MPNet-base as all-mpnet-base-v2, ModernBERT-base), batch 32 x seq 128: inference throughput (sentences/s, encoder to the
 *     pooled output) and one adapter training step (the paper preset: forward, loss, backward,
 *     clipping, AdamW), each relative to BERT-base in the same run. BERT-base stays built for the
 *     whole run; every other family is built, timed in rounds interleaved with BERT-base (order
 *     alternating), and disposed, so each ratio is against the BERT-base runs of its own pair and
 *     slow drift of the machine's load cancels in it. The BERT-base row is the median over all pairs.
 * (2) Load time of a BERT-base-sized model.safetensors (written once to a temp dir) in a fresh
 *     process, with that process's peak RSS against the size of the weights: loading should hold
 *     at most about one extra copy of the weights at peak.
 * (3) Int8 frozen base (issue 13): BERT-base with the paper adapter, prediction (encoder, adapter
 *     and head) with `frozenPrecision: 'int8'` against fp32, both models alive, BENCH_ROUNDS
 *     interleaved batches after one warm-up each (the int8 warm-up runs the outlier guard); target
 *     int8 throughput >= 1.8x fp32 at batch 32. BENCH_INT8=only runs just this part, 0 skips it.
 * BENCH_BATCH / BENCH_SEQ change the batch (default 32 x 128), BENCH_ROUNDS the timed inference
 * batches per pair (default 5), BENCH_TRAIN_ROUNDS the timed training steps per pair (default 1),
 * BENCH_FAMILIES a comma-separated choice of the families compared with BERT-base (default all,
 * e.g. `BENCH_FAMILIES=deberta-v3-base`).
 * (1b) With ModernBERT-base among the families: its inference alone on long inputs, batch 4 x seq 2048
 *     (BENCH_LONG_BATCH / BENCH_LONG_SEQ; BENCH_LONG=0 skips it), where BERT-base (512 positions) has no row.
 * BENCH_TINY=1 shrinks every family to 3 layers of width 64 (4 heads, feed-forward 128), the long row to
 * 4 x 256, and skips (2): a smoke run of the code paths, not a measurement.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { methodConfig } from '../src/adapters/methods/index.js';
import { Session, i64 } from '../src/engine/index.js';
import { headConfig } from '../src/heads/head.js';
import type { BaseModel } from '../src/models/base.js';
import { buildEncoderGraph } from '../src/models/build.js';
import type { EncodedBatch } from '../src/models/tokenizers/index.js';
import { writeSafetensors } from '../src/models/weights/index.js';
import { summarizeFrozenPlan } from '../src/train/frozen-precision.js';
import { TaskModel } from '../src/train/task-model.js';
import {
  ALBERT_BASE_CONFIG, BERT_BASE_CONFIG, DEBERTA_V3_BASE_CONFIG, MODERNBERT_BASE_CONFIG, MPNET_BASE_CONFIG, XLMR_BASE_CONFIG, alternating, machine, median, peakRssMiB, randomBase, randomBertBase, stepRunner, syntheticBatch, type StepRunner,
} from './common.js';

const B = Number(process.env.BENCH_BATCH ?? 32);
const T = Number(process.env.BENCH_SEQ ?? 128);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Timed training steps per pair: 1 by default (a base-size step takes tens of seconds under load). */
const TRAIN_ROUNDS = Number(process.env.BENCH_TRAIN_ROUNDS ?? 1);
const INT8 = process.env.BENCH_INT8 ?? '1';
/** The adapter the training step trains. */
const PRESET = 'paper';

/** BENCH_TINY=1: every family at 3 layers of width 64, for a smoke run. */
const TINY = process.env.BENCH_TINY === '1';
const sized = (c: Record<string, unknown>): Record<string, unknown> => (TINY ? { ...c, hidden_size: 64, num_hidden_layers: 3, num_attention_heads: 4, intermediate_size: 128 } : c);
/** The long-input row of ModernBERT (1b). */
const LONG = { on: process.env.BENCH_LONG !== '0', batch: Number(process.env.BENCH_LONG_BATCH ?? 4), seq: Number(process.env.BENCH_LONG_SEQ ?? (TINY ? 256 : 2048)) };

/** Every family timed, at base size; the first is the one the others are compared with. */
const ALL_FAMILIES: readonly { name: string; config: Record<string, unknown> }[] = [
  { name: 'bert-base', config: sized(BERT_BASE_CONFIG) },
  { name: 'xlm-roberta-base', config: sized(XLMR_BASE_CONFIG) },
  { name: 'albert-base-v2', config: sized(ALBERT_BASE_CONFIG) },
  { name: 'deberta-v3-base', config: sized(DEBERTA_V3_BASE_CONFIG) },
  { name: 'mpnet-base', config: sized(MPNET_BASE_CONFIG) },
  { name: 'modernbert-base', config: sized(MODERNBERT_BASE_CONFIG) },
];
/** The families of this run: BERT-base and those BENCH_FAMILIES names (default all). */
const FAMILIES = (() => {
  const chosen = process.env.BENCH_FAMILIES?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!chosen) return ALL_FAMILIES;
  const unknown = chosen.filter((n) => !ALL_FAMILIES.slice(1).some((f) => f.name === n));
  if (unknown.length) throw new Error(`BENCH_FAMILIES: unknown ${unknown.join(', ')}; choose from ${ALL_FAMILIES.slice(1).map((f) => f.name).join(', ')}`);
  return [ALL_FAMILIES[0]!, ...ALL_FAMILIES.slice(1).filter((f) => chosen.includes(f.name))];
})();

/** An inference session over one fixed batch; `run` times one batch (encoder to the pooled output). */
interface Inference {
  run(): Promise<number>;
  dispose(): Promise<void>;
}

/** `base`'s inference session, warmed up once. */
async function inference(base: BaseModel, batch: EncodedBatch): Promise<Inference> {
  const eg = buildEncoderGraph(base.encoder, base.weights);
  const s = await Session.create(eg.graph, { outputs: [eg.outputs.pooled], spinning: false });
  const [b, t] = [batch.batchSize, batch.seqLen];
  const feeds = {
    input_ids: i64([b, t], BigInt64Array.from(batch.inputIds, (x) => BigInt(x))),
    attention_mask: i64([b, t], BigInt64Array.from(batch.attentionMask, (x) => BigInt(x))),
    ...(base.encoder.usesTokenTypes ? { token_type_ids: i64([b, t], new BigInt64Array(b * t)) } : {}),
  };
  const run = async (): Promise<number> => {
    const t = performance.now();
    await s.run(feeds);
    return performance.now() - t;
  };
  await run(); // warm-up
  return { run, dispose: () => s.dispose() };
}

/** `base`'s adapter training model with its optimizer, warmed up once (the step builds the session). */
async function training(base: BaseModel, batch: EncodedBatch): Promise<StepRunner> {
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'], dropout: 0.1 });
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig(PRESET) }, head, seed: 1, spinning: false });
  const r = stepRunner(model, batch, Array.from({ length: B }, (_, i) => i % 2));
  await r.step();
  return r;
}

interface Row { name: string; inferMs: number; stepMs: number; refInferMs: number; refStepMs: number; params: number; trainable: number }

/**
 * Each family against the first. The first's inference session and training model live for the
 * whole run; of every other family only one of the two exists at a time (XLM-R's embeddings alone
 * are 0.7 GiB, and each session holds its own copy).
 */
async function familyRows(): Promise<Row[]> {
  const [ref, ...others] = FAMILIES as [(typeof FAMILIES)[number], ...(typeof FAMILIES)[number][]];
  const batchOf = (f: (typeof FAMILIES)[number]) => syntheticBatch(B, T, f.config.vocab_size as number);
  const refBase = randomBase(ref.config, ref.name);
  const refInfer = await inference(refBase, batchOf(ref));
  const refTrain = await training(refBase, batchOf(ref));
  const refStats = refTrain.model.stats();
  const rows: Row[] = [];
  const all = { infer: [] as number[], step: [] as number[] };
  let pairs = { infer: 0, step: 0 }; // so that the order keeps alternating across families
  const ms = (xs: number[]) => `[${xs.map((x) => x.toFixed(0)).join(', ')}] ms`;
  for (const f of others) {
    const base = randomBase(f.config, f.name);
    const inf = await inference(base, batchOf(f));
    const i = await alternating(() => refInfer.run(), () => inf.run(), ROUNDS, pairs.infer);
    await inf.dispose();
    const train = await training(base, batchOf(f));
    const st = await alternating(() => refTrain.step(), () => train.step(), TRAIN_ROUNDS, pairs.step);
    const stats = train.model.stats();
    await train.model.dispose();
    pairs = { infer: pairs.infer + ROUNDS, step: pairs.step + TRAIN_ROUNDS };
    all.infer.push(...i.a);
    all.step.push(...st.a);
    rows.push({ name: f.name, inferMs: median(i.b), stepMs: median(st.b), refInferMs: median(i.a), refStepMs: median(st.a), params: stats.baseParams, trainable: stats.trainableParams });
    console.log(`  ${f.name}: inference ${ms(i.b)}, ${ref.name} ${ms(i.a)}; step ${ms(st.b)}, ${ref.name} ${ms(st.a)}; peak RSS ${peakRssMiB().toFixed(0)} MiB`);
  }
  await Promise.all([refInfer.dispose(), refTrain.model.dispose()]);
  const inferMs = median(all.infer);
  const stepMs = median(all.step);
  return [{ name: ref.name, inferMs, stepMs, refInferMs: inferMs, refStepMs: stepMs, params: refStats.baseParams, trainable: refStats.trainableParams }, ...rows];
}

async function writeModel(dir: string): Promise<number> {
  const file = join(dir, 'model.safetensors');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const base = randomBertBase();
    const tensors = new Map();
    for (const s of base.encoder.weightSpecs) {
      const t = base.weights.get(s.name)!;
      const linear = (s.role === 'linear' || s.role === 'pooler') && s.shape.length === 2;
      tensors.set(`bert.${s.name}`, { dtype: 'float32', shape: linear ? [s.shape[1], s.shape[0]] : [...s.shape], data: t.data });
    }
    await writeSafetensors(file, tensors);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(BERT_BASE_CONFIG));
  }
  return statSync(file).size;
}

/** (3): the paper adapter's prediction with an int8 frozen base against fp32, interleaved. */
async function int8Inference(): Promise<void> {
  const base = randomBertBase();
  const batch = syntheticBatch(B, T, 30522);
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'] });
  const mode = { kind: 'adapters' as const, adapter: methodConfig(PRESET) };
  const fp32 = TaskModel.create(base, { mode, head, seed: 1, spinning: false });
  const int8 = TaskModel.create(base, { mode, head, seed: 1, spinning: false, frozenPrecision: 'int8' });
  const timed = (m: TaskModel) => async () => {
    const t = performance.now();
    await m.predict(batch);
    return performance.now() - t;
  };
  const warm = [await timed(fp32)(), await timed(int8)()];
  const plan = int8.frozenPlan;
  console.log(`\n(3) int8 frozen base, BERT-base + ${PRESET} adapter, prediction of batch ${B} x seq ${T}: ${ROUNDS} interleaved rounds (order alternating) after one warm-up each (fp32 ${(warm[0] as number).toFixed(0)} ms, int8 ${(warm[1] as number).toFixed(0)} ms with the guard), medians`);
  if (plan) console.log(`  ${summarizeFrozenPlan(plan)}`);
  const r = await alternating(timed(fp32), timed(int8), ROUNDS);
  console.log(`  fp32 [${r.a.map((x) => x.toFixed(0)).join(', ')}] ms, int8 [${r.b.map((x) => x.toFixed(0)).join(', ')}] ms`);
  console.log(`  throughput fp32 ${((B * 1000) / median(r.a)).toFixed(1)} sentences/s, int8 ${((B * 1000) / median(r.b)).toFixed(1)} sentences/s: int8 / fp32 = ${(median(r.a) / median(r.b)).toFixed(2)}x (target >= 1.8x)`);
  await fp32.dispose();
  await int8.dispose();
}

/** (1b): ModernBERT-base's inference alone on long inputs (median of ROUNDS batches). */
async function longRow(): Promise<void> {
  const f = FAMILIES.find((x) => x.name === 'modernbert-base');
  if (!f || !LONG.on) return;
  const base = randomBase(f.config, f.name);
  const inf = await inference(base, syntheticBatch(LONG.batch, LONG.seq, f.config.vocab_size as number));
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) times.push(await inf.run());
  await inf.dispose();
  const ms = median(times);
  console.log(`\n(1b) ${f.name}${TINY ? ' (BENCH_TINY: 3 x 64)' : ''}, batch ${LONG.batch} x seq ${LONG.seq}, inference (encoder to pooled), median of ${ROUNDS}: ${ms.toFixed(0)} ms/batch, ${((LONG.batch * LONG.seq * 1000) / ms).toFixed(0)} tokens/s, ${((LONG.batch * 1000) / ms).toFixed(2)} sequences/s; peak RSS ${peakRssMiB().toFixed(0)} MiB`);
}

async function main(): Promise<void> {
  console.log(`models benchmark — ${machine()}${TINY ? ' — BENCH_TINY=1: every family at 3 layers of width 64, a smoke run' : ''}`);
  if (INT8 === 'only') {
    await int8Inference();
    return;
  }
  let load: { seconds: number; peakRssMiB: number; baselineRssMiB: number; bytes: number } | undefined;
  if (!TINY) {
    const dir = join(tmpdir(), 'adapterkit-bench-bert-base');
    const bytes = await writeModel(dir);
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/load-child.ts', dir], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`load child failed: ${child.stderr}`);
    load = { ...(JSON.parse(child.stdout.trim().split('\n').pop() as string) as { seconds: number; peakRssMiB: number; baselineRssMiB: number }), bytes };
  }

  console.log(`\n(1) families at ${TINY ? 'BENCH_TINY size (3 x 64)' : 'base size'}, random weights, batch ${B} x seq ${T}: inference (encoder to pooled) and one ${PRESET} adapter training step; each family interleaved with ${FAMILIES[0]?.name} (${ROUNDS} inference round(s), ${TRAIN_ROUNDS} step round(s) per pair, order alternating), medians`);
  const rows = await familyRows();
  const header = `${'family'.padEnd(18)} ${'params'.padStart(8)}  ${'ms/batch'.padStart(9)}  ${'sentences/s'.padStart(11)}  ${'vs BERT'.padStart(7)}  ${'s/step'.padStart(7)}  ${'step / BERT step'.padStart(16)}  ${'trainable'.padStart(10)}`;
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) {
    console.log(`${r.name.padEnd(18)} ${`${(r.params / 1e6).toFixed(0)}M`.padStart(8)}  ${r.inferMs.toFixed(0).padStart(9)}  ${((B * 1000) / r.inferMs).toFixed(1).padStart(11)}  ${(r.refInferMs / r.inferMs).toFixed(2).padStart(7)}  ${(r.stepMs / 1000).toFixed(2).padStart(7)}  ${(r.stepMs / r.refStepMs).toFixed(2).padStart(16)}  ${r.trainable.toLocaleString('en-US').padStart(10)}`);
  }
  console.log('vs BERT: throughput / BERT-base throughput of the same pair; step / BERT step: this family\'s step time / BERT-base\'s in the same pair');

  await longRow();
  if (!load) {
    console.log(`\n(2) skipped (BENCH_TINY)\nthis process's peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
    return;
  }
  const weightsMiB = load.bytes / 2 ** 20;
  console.log(`\n(2) load model.safetensors (${weightsMiB.toFixed(0)} MiB) in a fresh process: ${load.seconds.toFixed(2)} s`);
  console.log(`peak RSS of that process: ${load.peakRssMiB.toFixed(0)} MiB; before loading: ${load.baselineRssMiB.toFixed(0)} MiB; growth ${(load.peakRssMiB - load.baselineRssMiB).toFixed(0)} MiB = ${((load.peakRssMiB - load.baselineRssMiB) / weightsMiB).toFixed(2)} x the weights (target <= ~2: the weights + at most one extra copy)`);
  console.log(`this process's peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
  if (INT8 !== '0') await int8Inference();
}

await main();
