/**
 * Model benchmark (npm run bench:models).
 * (1) Each encoder family at base size with random weights (XLM-RoBERTa-base, ALBERT-base-v2,
 *     DeBERTa-v3-base, MPNet-base as all-mpnet-base-v2, ModernBERT-base), batch 32 x seq 128:
 *     inference throughput (sentences/s, encoder to the pooled output) and one adapter training
 *     step (the paper preset: forward, loss, backward, clipping, AdamW), each relative to BERT-base.
 *     Every family runs in its own child process (bench/models/pair-child.ts), one after the
 *     other: ONNX Runtime does not return a disposed session's memory to the OS, so the peaks of
 *     several families in one process add up past 24 GiB. A child builds BERT-base and its one
 *     family, times both inference sessions in rounds interleaved with each other (order
 *     alternating), disposes them, then builds both training models and times them the same way;
 *     so each ratio is against the BERT-base runs of its own child, and slow drift of the
 *     machine's load cancels in it. The BERT-base row is the median over all children. The table
 *     shows each child's peak RSS; every child prints memory checkpoints to stderr as it goes, and
 *     a child that is killed (out of memory) gets a row saying so and where it was.
 * (1b) With ModernBERT-base among the families: its inference alone on long inputs, batch 4 x seq
 *     2048, in a child of its own (bench/models/long-child.ts), where BERT-base (512 positions) has no row.
 * (2) Load time of a BERT-base-sized model.safetensors (written once to a temp dir) in a fresh
 *     process (bench/load-child.ts), with that process's peak RSS against the size of the weights:
 *     loading should hold at most about one extra copy of the weights at peak.
 * (3) Int8 frozen base (issue 13): BERT-base with the paper adapter, prediction (encoder, adapter
 *     and head) with `frozenPrecision: 'int8'` against fp32, BENCH_ROUNDS rounds after one warm-up
 *     each (the int8 warm-ups run the outlier guard); target int8 throughput >= 1.8x fp32 at batch
 *     32. Beside them, in the same rounds, the adapter overhead in each precision: a head-only
 *     model (the bare base) of each precision, and the same task predict-only in each precision
 *     (`predictOnly`, as eval, predict, serve and export load a saved task: the adapters baked
 *     in as constants, and in int8 their matmuls int8 under the guard); target <= 4 %. Six models
 *     alive, the order rotating each round; no session spins. Runs in this (parent) process,
 *     after the children.
 *
 * Knobs (environment variables):
 * - BENCH_FAMILIES: comma-separated families compared with BERT-base (default all:
 *   xlm-roberta-base, albert-base-v2, deberta-v3-base, mpnet-base, modernbert-base), e.g.
 *   `BENCH_FAMILIES=deberta-v3-base`.
 * - BENCH_BATCH / BENCH_SEQ: batch and sequence length of (1) and (3) (default 32 x 128).
 * - BENCH_FAMILY_BATCH: per-family batches over BENCH_BATCH, e.g. `deberta-v3-base:16,modernbert-base:16`
 *   (BERT-base runs at that batch in the family's child, so the ratios compare like with like).
 * - BENCH_ROUNDS: timed inference batches per child (default 5; also (1b)'s batches and (3)'s rounds).
 * - BENCH_TRAIN_ROUNDS: timed training steps per child (default 1).
 * - BENCH_LONG=0 skips (1b); BENCH_LONG_BATCH / BENCH_LONG_SEQ set its size (default 4 x 2048).
 * - BENCH_INT8=0 skips (3); BENCH_INT8=only runs just (3).
 * - BENCH_TINY=1 shrinks every family to 3 layers of width 64 (4 heads, feed-forward 128), the long
 *   row to 4 x 256, and skips (2): a smoke run of the code paths, not a measurement.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { methodConfig } from '../src/adapters/methods/index.js';
import { headConfig } from '../src/heads/head.js';
import { writeSafetensors } from '../src/models/weights/index.js';
import { summarizeFrozenPlan } from '../src/train/frozen-precision.js';
import { TaskModel } from '../src/train/task-model.js';
import { BERT_BASE_CONFIG, machine, median, peakRssMiB, randomBertBase, randomData, rotating, syntheticBatch } from './common.js';
import { B, LONG, PRESET, REFERENCE, ROUNDS, T, TINY, TRAIN_ROUNDS, batchFor, chosenFamilies } from './models/families.js';
import { spawnChild, type ChildOutcome, type LongResult, type PairResult } from './models/protocol.js';

const INT8 = process.env.BENCH_INT8 ?? '1';
const FAMILIES = chosenFamilies();
for (const f of FAMILIES) batchFor(f.name); // a bad BENCH_FAMILY_BATCH fails here, before any child

const ms = (xs: readonly number[]) => `[${xs.map((x) => x.toFixed(0)).join(', ')}] ms`;
const gib = (mib: number) => `${(mib / 1024).toFixed(1)} GiB`;

/** A child's outcome as a pair result, or undefined with its failure printed. */
function pairOf(name: string, o: ChildOutcome): PairResult | undefined {
  if (o.ok && o.result.kind === 'pair') {
    const r = o.result;
    console.log(`  ${name} (child, ${o.seconds.toFixed(0)} s): inference ${ms(r.infer)}, ${REFERENCE.name} ${ms(r.refInfer)}; step ${ms(r.step)}, ${REFERENCE.name} ${ms(r.refStep)}; peak RSS ${r.peakRssMiB} MiB`);
    return r;
  }
  console.log(`  ${name}: no result, child ${o.ok ? 'reported something else' : `${o.reason} after ${o.seconds.toFixed(0)} s; its last progress line: ${o.lastProgress || '(none)'}`}`);
  return undefined;
}

/** (1): one child per family, one after the other; then the table. */
async function familyRows(): Promise<void> {
  console.log(`\n(1) families at ${TINY ? 'BENCH_TINY size (3 x 64)' : 'base size'}, random weights, batch ${B} x seq ${T}${process.env.BENCH_FAMILY_BATCH ? ` (BENCH_FAMILY_BATCH ${process.env.BENCH_FAMILY_BATCH})` : ''}: inference (encoder to pooled) and one ${PRESET} adapter training step; each family in its own child process with ${REFERENCE.name} (${ROUNDS} inference round(s), ${TRAIN_ROUNDS} step round(s), order alternating), medians`);
  const results: { name: string; r?: PairResult; why?: string }[] = [];
  for (const f of FAMILIES) {
    const o = await spawnChild('bench/models/pair-child.ts', [f.name]);
    const r = pairOf(f.name, o);
    results.push({ name: f.name, r, why: o.ok ? undefined : `${o.reason}; last: ${o.lastProgress}` });
  }
  const done = results.flatMap((x) => (x.r ? [x.r] : []));
  const header = `${'family'.padEnd(18)} ${'params'.padStart(7)}  ${'batch'.padStart(8)}  ${'ms/batch'.padStart(9)}  ${'sentences/s'.padStart(11)}  ${'vs BERT'.padStart(7)}  ${'s/step'.padStart(7)}  ${'step / BERT step'.padStart(16)}  ${'trainable'.padStart(10)}  ${'child peak RSS'.padStart(14)}`;
  console.log(header);
  console.log('-'.repeat(header.length));
  // one BERT-base row per batch size among the children: the median over those children's BERT-base runs
  for (const batch of [...new Set(done.map((r) => r.batch))]) {
    const at = done.filter((r) => r.batch === batch);
    const [inferMs, stepMs] = [median(at.flatMap((r) => r.refInfer)), median(at.flatMap((r) => r.refStep))];
    const first = at[0] as PairResult;
    console.log(`${REFERENCE.name.padEnd(18)} ${`${(first.refParams / 1e6).toFixed(0)}M`.padStart(7)}  ${`${batch} x ${first.seq}`.padStart(8)}  ${inferMs.toFixed(0).padStart(9)}  ${((batch * 1000) / inferMs).toFixed(1).padStart(11)}  ${'1.00'.padStart(7)}  ${(stepMs / 1000).toFixed(2).padStart(7)}  ${'1.00'.padStart(16)}  ${first.refTrainable.toLocaleString('en-US').padStart(10)}  ${'(in each)'.padStart(14)}`);
  }
  for (const { name, r, why } of results) {
    if (!r) {
      console.log(`${name.padEnd(18)} no result: ${why ?? 'unknown'}`);
      continue;
    }
    const [inferMs, stepMs, refInferMs, refStepMs] = [median(r.infer), median(r.step), median(r.refInfer), median(r.refStep)];
    console.log(`${name.padEnd(18)} ${`${(r.params / 1e6).toFixed(0)}M`.padStart(7)}  ${`${r.batch} x ${r.seq}`.padStart(8)}  ${inferMs.toFixed(0).padStart(9)}  ${((r.batch * 1000) / inferMs).toFixed(1).padStart(11)}  ${(refInferMs / inferMs).toFixed(2).padStart(7)}  ${(stepMs / 1000).toFixed(2).padStart(7)}  ${(stepMs / refStepMs).toFixed(2).padStart(16)}  ${r.trainable.toLocaleString('en-US').padStart(10)}  ${gib(r.peakRssMiB).padStart(14)}`);
  }
  console.log(`vs BERT: throughput / ${REFERENCE.name} throughput in the same child; step / BERT step: this family's step time / ${REFERENCE.name}'s in the same child; child peak RSS: process.resourceUsage().maxRSS of the child (BERT-base and the family)`);
}

/** (1b): ModernBERT-base's inference alone on long inputs, in its own child. */
async function longRow(): Promise<void> {
  if (!LONG.on || !FAMILIES.some((f) => f.name === 'modernbert-base')) return;
  const o = await spawnChild('bench/models/long-child.ts', []);
  const label = `(1b) modernbert-base${TINY ? ' (BENCH_TINY: 3 x 64)' : ''}, batch ${LONG.batch} x seq ${LONG.seq}, inference (encoder to pooled), its own child`;
  if (!o.ok || o.result.kind !== 'long') {
    console.log(`\n${label}: no result, child ${o.ok ? 'reported something else' : `${o.reason} after ${o.seconds.toFixed(0)} s; its last progress line: ${o.lastProgress || '(none)'}`}`);
    return;
  }
  const r: LongResult = o.result;
  const m = median(r.infer);
  console.log(`\n${label}, median of ${r.infer.length} (${ms(r.infer)}): ${m.toFixed(0)} ms/batch, ${((r.batch * r.seq * 1000) / m).toFixed(0)} tokens/s, ${((r.batch * 1000) / m).toFixed(2)} sequences/s; child peak RSS ${r.peakRssMiB} MiB`);
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

/** (3): the paper adapter's prediction with an int8 frozen base against fp32, and the adapter overhead in each precision. */
async function int8Inference(): Promise<void> {
  const base = randomBertBase();
  const batch = syntheticBatch(B, T, 30522);
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'] });
  const mode = { kind: 'adapters' as const, adapter: methodConfig(PRESET) };
  const bareMode = { kind: 'head-only' as const };
  const plans: string[] = [];
  const fp32 = TaskModel.create(base, { mode, head, seed: 1, spinning: false });
  // a trained task's adapters are not the identity a fresh one is: perturb them (the guard measures their products)
  let k = 1000;
  for (const t of fp32.trainable) {
    const noise = randomData(t.data.length, k++, t.origin === 'adapter' ? 0.02 : 0.1);
    for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + (noise[i] as number);
  }
  const int8 = TaskModel.create(base, { mode, head, seed: 1, spinning: false, weights: fp32.owned, frozenPrecision: 'int8', onFrozenPlan: (p) => plans.push(`trainable task: ${summarizeFrozenPlan(p)}`) });
  const served = TaskModel.create(base, { mode, head, seed: 1, spinning: false, weights: fp32.owned, frozenPrecision: 'int8', predictOnly: true, onFrozenPlan: (p) => plans.push(`predict-only task: ${summarizeFrozenPlan(p)}`) });
  const served32 = TaskModel.create(base, { mode, head, seed: 1, spinning: false, weights: fp32.owned, predictOnly: true });
  const bare32 = TaskModel.create(base, { mode: bareMode, head, seed: 1, spinning: false });
  const bare8 = TaskModel.create(base, { mode: bareMode, head, seed: 1, spinning: false, frozenPrecision: 'int8' });
  const models = [fp32, int8, bare32, bare8, served, served32];
  const timed = (m: TaskModel) => async () => {
    const t = performance.now();
    await m.predict(batch);
    return performance.now() - t;
  };
  const warm: number[] = [];
  for (const m of models) warm.push(await timed(m)());
  console.log(`\n(3) int8 frozen base, BERT-base + ${PRESET} adapter, prediction of batch ${B} x seq ${T}: ${ROUNDS} rounds of ${models.length} models (order rotating) after one warm-up each (${warm.map((x) => x.toFixed(0)).join(', ')} ms, the int8 ones with the guard), medians; no session spins`);
  for (const p of plans) console.log(`  ${p}`);
  const [a32, a8, b32, b8, s8, s32] = (await rotating(models.map(timed), ROUNDS)) as [number[], number[], number[], number[], number[], number[]];
  console.log(`  fp32 ${ms(a32)}, int8 ${ms(a8)}; bare fp32 ${ms(b32)}, bare int8 ${ms(b8)}; predict-only int8 ${ms(s8)}, fp32 ${ms(s32)}`);
  console.log(`  throughput fp32 ${((B * 1000) / median(a32)).toFixed(1)} sentences/s, int8 ${((B * 1000) / median(a8)).toFixed(1)} sentences/s: int8 / fp32 = ${(median(a32) / median(a8)).toFixed(2)}x (target >= 1.8x)`);
  // the ratio of medians, and the median of each round's own ratio (less moved by the machine's slow drift)
  const pct = (r: number) => `${(100 * (r - 1)).toFixed(1)} %`;
  const over = (x: number[], bare: number[]) => `${pct(median(x) / median(bare))} (per round ${pct(median(x.map((v, i) => v / (bare[i] as number))))})`;
  console.log(`  adapter overhead (target <= 4 %), adapters fed as inputs (as in training): fp32 ${over(a32, b32)}, int8 ${over(a8, b8)}; predict-only (adapters baked in, as a served task): fp32 ${over(s32, b32)}, int8 ${over(s8, b8)} (adapter matmuls under the guard)`);
  for (const m of models) await m.dispose();
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

  await familyRows();
  await longRow();
  if (!load) {
    console.log(`\n(2) skipped (BENCH_TINY)\nthis (parent) process's peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
    return;
  }
  const weightsMiB = load.bytes / 2 ** 20;
  console.log(`\n(2) load model.safetensors (${weightsMiB.toFixed(0)} MiB) in a fresh process: ${load.seconds.toFixed(2)} s`);
  console.log(`peak RSS of that process: ${load.peakRssMiB.toFixed(0)} MiB; before loading: ${load.baselineRssMiB.toFixed(0)} MiB; growth ${(load.peakRssMiB - load.baselineRssMiB).toFixed(0)} MiB = ${((load.peakRssMiB - load.baselineRssMiB) / weightsMiB).toFixed(2)} x the weights (target <= ~2: the weights + at most one extra copy)`);
  if (INT8 !== '0') await int8Inference();
  console.log(`this (parent) process's peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
}

await main();
