/**
 * Mixed-task training's step against separate runs on the same examples: one mixed batch of B
 * examples spread over N tasks (MixedTaskTrainer.step) vs each task's own model stepping on its
 * sub-batch (TaskModel.trainStep, N sessions). Prints the median milliseconds of each and the ratio
 * (what a multi-task run costs per example against single-task runs of the same data).
 *
 *     node --import tsx bench/multi-task-train.bench.ts
 *     BENCH_BASE=test/fixtures/models/tiny-bert BENCH_TASKS=2 BENCH_RUNS=3 node --import tsx bench/multi-task-train.bench.ts
 *     BENCH_TAGGING=1 BENCH_METHOD=prompt node --import tsx bench/multi-task-train.bench.ts   # the last task tags (12 tags), all with prompts
 *
 * Environment: BENCH_BASE (default use-lite), BENCH_TASKS (3), BENCH_METHOD preset (pfeiffer),
 * BENCH_BATCH (32), BENCH_LEN tokens (64, capped at the base's limit), BENCH_RUNS timed steps after two warm-up steps (5),
 * BENCH_THREADS (2), BENCH_TAGGING: how many of the tasks (the last ones) have a tagging head of 12 tags,
 * as brown-pos (0), the others a two-class classification head.
 */
import { methodConfig } from '../src/adapters/methods/index.js';
import { headConfig } from '../src/heads/head.js';
import { loadBase } from '../src/models/base.js';
import { collate, tokenizeAll } from '../src/train/batching.js';
import { MixedTaskTrainer } from '../src/train/multi-task-train-model.js';
import { TaskModel } from '../src/train/task-model.js';
import { machine, median, timeRuns } from './common.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const N = env('BENCH_TASKS', 3);
const B = env('BENCH_BATCH', 32);
const LEN = env('BENCH_LEN', 64);
const RUNS = env('BENCH_RUNS', 5);
const THREADS = env('BENCH_THREADS', 2);
const source = process.env.BENCH_BASE ?? 'use-lite';
const preset = process.env.BENCH_METHOD ?? 'pfeiffer';
const TAGGING = env('BENCH_TAGGING', 0);
const TAGS = 12;

const base = await loadBase(source);
const T = Math.min(LEN, base.encoder.maxLength); // capped at the base's limit
const words = 'the cat sat on a mat while dogs ran through the rain and the weather was fine today'.split(' ');
const examples = Array.from({ length: B }, (_, i) => ({ id: `${i}`, textA: Array.from({ length: T }, (_, j) => words[(i * 7 + j) % words.length]).join(' '), label: i % 2 }));
const rows = tokenizeAll(base.tokenizer, examples, false, T);
const taskOf = examples.map((_, i) => i % N);
const tagging = (t: number) => t >= N - TAGGING;
const head = headConfig({ kind: 'classification', labels: ['x', 'y'] });
const tagHead = headConfig({ kind: 'tagging', labels: Array.from({ length: TAGS }, (_, k) => `T${k}`), scheme: 'plain' });
// a tagging row's labels: a tag at every real position but the first ([CLS]), as a word-aligned row has
const labelOf = (i: number): number | number[] => (tagging(taskOf[i]!) ? Array.from(rows[i]!.ids, (_, j) => (j === 0 ? -100 : (i + j) % TAGS)) : examples[i]!.label);
const models = Array.from({ length: N }, (_, t) => TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig(preset) }, head: tagging(t) ? tagHead : head, seed: t + 1, threads: THREADS }));
const mixed = new MixedTaskTrainer(base, models.map((model, t) => ({ name: `t${t}`, model })), { threads: THREADS });
const all = collate(rows, base.tokenizer.padId);
const subs = models.map((_, t) => {
  const idx = examples.map((_, i) => i).filter((i) => taskOf[i] === t);
  return { batch: collate(idx.map((i) => rows[i]!), base.tokenizer.padId), labels: idx.map(labelOf) as number[] | number[][] };
});

console.log(`mixed-task training step on ${base.id}: ${N} ${preset} tasks (${TAGGING} tagging), batch ${B} x ${all.seqLen} tokens, ${RUNS} timed steps, ${THREADS} threads; ${machine()}`);
const mixedMs = median(await timeRuns(() => mixed.step(all, taskOf, examples.map((_, i) => labelOf(i))), RUNS));
const separateMs = median(await timeRuns(async () => {
  for (const [t, m] of models.entries()) await m.trainStep(subs[t]!.batch, subs[t]!.labels);
}, RUNS));
console.log(`${'one mixed batch (MixedTaskTrainer.step)'.padEnd(52)} ${mixedMs.toFixed(0).padStart(6)} ms/step`);
console.log(`${`${N} separate sub-batches (TaskModel.trainStep each)`.padEnd(52)} ${separateMs.toFixed(0).padStart(6)} ms/step  mixed / separate ${(mixedMs / separateMs).toFixed(2)}`);
await mixed.dispose();
for (const m of models) await m.dispose();
