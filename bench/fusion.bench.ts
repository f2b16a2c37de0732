/**
 * AdapterFusion's training step against the setups it is an alternative to, on one base: a single
 * Pfeiffer adapter that trains, a Stack of the N frozen adapters (only the head trains), and
 * Fuse over the same N frozen adapters (the dynamic preset: the fusion and the head train).
 * Prints the median milliseconds per step and each setup's ratio to the single adapter.
 *
 *     node --import tsx bench/fusion.bench.ts
 *     BENCH_BASE=test/fixtures/models/tiny-bert BENCH_FUSE_N=2 BENCH_RUNS=3 node --import tsx bench/fusion.bench.ts
 *
 * Environment: BENCH_BASE (default use-lite), BENCH_FUSE_N fused adapters (3), BENCH_BATCH (16),
 * BENCH_LEN tokens (32), BENCH_RUNS timed steps after two warm-up steps (6), BENCH_THREADS (2).
 */
import { parseComposition } from '../src/adapters/composition.js';
import { fusionConfig } from '../src/adapters/fusion.js';
import { methodConfig } from '../src/adapters/methods/index.js';
import { headConfig } from '../src/heads/head.js';
import { loadBase } from '../src/models/base.js';
import { TaskModel, type TaskModelOptions } from '../src/train/task-model.js';
import { machine, median, timeRuns } from './common.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const N = env('BENCH_FUSE_N', 3);
const B = env('BENCH_BATCH', 16);
const T = env('BENCH_LEN', 32);
const RUNS = env('BENCH_RUNS', 6);
const THREADS = env('BENCH_THREADS', 2);
const source = process.env.BENCH_BASE ?? 'use-lite';

const base = await loadBase(source);
const texts = Array.from({ length: B }, (_, i) => `sentence number ${i} is a fairly ordinary sentence about cats, dogs and the weather today`);
const batch = base.tokenizer.encode(texts, T);
const labels = texts.map((_, i) => i % 2);
const head = headConfig({ kind: 'classification', labels: ['x', 'y'] });
const pf = methodConfig('pfeiffer');
const names = Array.from({ length: N }, (_, i) => `a${i}`);
const frozen = names.map((name) => ({ name, config: pf, trainable: false }));
const setups: [string, TaskModelOptions['mode']][] = [
  ['single Pfeiffer adapter (trains)', { kind: 'adapters', adapter: pf }],
  [`Stack of ${N} frozen Pfeiffer adapters (head trains)`, { kind: 'adapters', adapters: frozen, active: parseComposition(`Stack(${names.join(', ')})`) }],
  [`Fuse of ${N} frozen Pfeiffer adapters (dynamic; fusion + head train)`, {
    kind: 'adapters', adapters: frozen, active: parseComposition(`Fuse(${names.join(', ')})`), fusions: [{ name: names.join(','), adapters: names, config: fusionConfig('dynamic') }],
  }],
];

console.log(`AdapterFusion training step on ${base.id}: batch ${B} x ${batch.seqLen} tokens, ${RUNS} timed steps, ${THREADS} threads; ${machine()}`);
let single = 0;
for (const [label, mode] of setups) {
  const m = TaskModel.create(base, { mode, head, seed: 1, threads: THREADS });
  const ms = median(await timeRuns(() => m.trainStep(batch, labels), RUNS));
  if (!single) single = ms;
  console.log(`${label.padEnd(64)} ${ms.toFixed(0).padStart(6)} ms/step  ${(ms / single).toFixed(2)} x single  trainable ${m.stats().trainableParams}`);
  await m.dispose();
}
