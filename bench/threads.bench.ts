/**
 * ONNX Runtime's intra-op threads and spinning, measured interleaved (issue 13, item 6): the adapter
 * training step of bench/train.bench.ts (BERT-base-sized random model, Houlsby adapters m = 64 with
 * layer norms and head, batch 32, seq 128), or the prediction batch, under pairs of session
 * settings. Each pair's two models are built and warmed up, then their steps alternate (the order
 * swapping every round, so the machine's drift cancels in the ratio); the medians and the ratio
 * are printed. Nothing here changes a default: run it on an idle machine and set the defaults
 * from its ratios (the sessions' `intraOpNumThreads`, `session.intra_op.allow_spinning`).
 *
 * Pairs: 1 vs 2 threads with spinning off; spinning on vs off at 2 threads; 1 vs 2 threads with
 * spinning on (ONNX Runtime's default). With one thread there is no worker to spin.
 *
 * Run: npm run bench:threads. Environment: BENCH_BATCH, BENCH_SEQ, BENCH_ROUNDS
 * (timed steps per side, default 5), BENCH_LAYERS (default 12), BENCH_PRECISION (fp32 or int8,
 * the frozen base; default fp32), BENCH_STEP (train or predict; default train), BENCH_PAIRS
 * (comma-separated pair names: threads, spinning, threads-spinning; default all).
 */
import { adapterConfig } from '../src/adapters/methods/index.js';
import { headConfig } from '../src/heads/head.js';
import type { FrozenPrecision } from '../src/train/frozen-precision.js';
import { TaskModel } from '../src/train/task-model.js';
import { BERT_BASE_CONFIG, alternating, machine, median, randomBertBase, stepRunner, syntheticBatch } from './common.js';

const B = Number(process.env.BENCH_BATCH ?? 32);
const T = Number(process.env.BENCH_SEQ ?? 128);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LAYERS = Number(process.env.BENCH_LAYERS ?? 12);
const PRECISION = (process.env.BENCH_PRECISION ?? 'fp32') as FrozenPrecision;
const STEP = process.env.BENCH_STEP ?? 'train';

/** Session settings of one side. */
interface Setting { threads: number; spinning: boolean }

const PAIRS: Record<string, [Setting, Setting]> = {
  threads: [{ threads: 1, spinning: false }, { threads: 2, spinning: false }],
  spinning: [{ threads: 2, spinning: true }, { threads: 2, spinning: false }],
  'threads-spinning': [{ threads: 1, spinning: true }, { threads: 2, spinning: true }],
};

const describe = (s: Setting) => `${s.threads} thread${s.threads === 1 ? '' : 's'}, spinning ${s.spinning ? 'on' : 'off'}`;

async function main(): Promise<void> {
  if (PRECISION !== 'fp32' && PRECISION !== 'int8') throw new Error(`BENCH_PRECISION must be fp32 or int8, got ${PRECISION}`);
  if (STEP !== 'train' && STEP !== 'predict') throw new Error(`BENCH_STEP must be train or predict, got ${STEP}`);
  const names = (process.env.BENCH_PAIRS ?? Object.keys(PAIRS).join(',')).split(',').map((x) => x.trim()).filter(Boolean);
  for (const n of names) if (!(n in PAIRS)) throw new Error(`BENCH_PAIRS: unknown pair ${n} (pairs: ${Object.keys(PAIRS).join(', ')})`);
  console.log(`ONNX Runtime threads and spinning — ${machine()}; ${STEP === 'train' ? 'adapter training step' : 'prediction batch'} (Houlsby m=64), ${PRECISION} frozen base, ${LAYERS} layers, batch ${B}, seq ${T}, ${ROUNDS} interleaved timed runs per side after 1 warm-up`);
  const base = randomBertBase({ ...BERT_BASE_CONFIG, num_hidden_layers: LAYERS });
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'], dropout: 0.1 });
  const batch = syntheticBatch(B, T, 30522);
  const labels = Array.from({ length: B }, (_, i) => i % 2);
  const results: { pair: string; a: Setting; b: Setting; ma: number; mb: number }[] = [];
  for (const name of names) {
    const [sa, sb] = PAIRS[name] as [Setting, Setting];
    const models = [sa, sb].map((s) => TaskModel.create(base, {
      mode: { kind: 'adapters', adapter: adapterConfig({ size: 64 }) }, head, seed: 1, threads: s.threads, spinning: s.spinning, frozenPrecision: PRECISION,
    }));
    try {
      const runs = models.map((m) => {
        if (STEP === 'train') return stepRunner(m, batch, labels).step;
        return async () => {
          const t = performance.now();
          await m.predict(batch);
          return performance.now() - t;
        };
      }) as [() => Promise<number>, () => Promise<number>];
      for (const r of runs) await r(); // warm-up: builds the sessions (and runs the int8 guard)
      const t = await alternating(runs[0], runs[1], ROUNDS);
      const [ma, mb] = [median(t.a), median(t.b)];
      results.push({ pair: name, a: sa, b: sb, ma, mb });
      const fmt = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(', ');
      console.log(`${name}: ${describe(sa)} [${fmt(t.a)}] s, ${describe(sb)} [${fmt(t.b)}] s`);
    } finally {
      for (const m of models) await m.dispose();
    }
  }
  console.log('');
  console.log(`${'pair'.padEnd(18)} ${'A'.padEnd(26)} ${'B'.padEnd(26)} ${'A'.padStart(8)} ${'B'.padStart(8)}   A/B`);
  for (const r of results) {
    console.log(`${r.pair.padEnd(18)} ${describe(r.a).padEnd(26)} ${describe(r.b).padEnd(26)} ${(r.ma / 1000).toFixed(2).padStart(6)} s ${(r.mb / 1000).toFixed(2).padStart(6)} s  ${(r.ma / r.mb).toFixed(2)}`);
  }
  console.log('A/B < 1: setting A is faster. Defaults are not changed here.');
}

await main();
