/**
 * USE-lite on the engine: inference throughput at batch 32 for several sentence lengths, and the
 * time of one training step (forward + backward, layer norms trainable, dropout on).
 * Prints medians of 5 timed runs after one warm-up run.
 *
 *     node --import tsx bench/use-lite.bench.ts
 */
import { availableParallelism } from 'node:os';

import { Graph, Session, bool, gradients, i64, mul, reduceSum, type HostTensor, type Value } from '../src/engine/index.js';
import type { BuildContext } from '../src/models/encoder.js';
import { l2Normalize, useLiteBatchTensors } from '../src/models/use-lite/encoder.js';
import { loadUseLite } from '../src/models/use-lite/package-files.js';
import { randn } from '../test/engine/gradcheck.js';

const BATCH = 32;
const RUNS = 5;

const { encoder, weights, tokenizer } = await loadUseLite();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Builds the encoder; weights whose name passes `trainable` become parameters. */
function build(trainable: (name: string) => boolean, training: boolean) {
  const g = new Graph('use_lite_bench');
  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  const params: Value[] = [];
  let seed = 1;
  const ctx: BuildContext = {
    graph: g,
    weight: (name) => {
      const t = weights.get(name) as HostTensor<'float32'>;
      if (!trainable(name)) return g.constant(name, t);
      const p = g.param(name, { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data) });
      params.push(p);
      return p;
    },
    nextSeed: () => seed++,
    ...(training ? { training: g.input('training', 'bool', []) } : {}),
  };
  return { g, params, out: encoder.build(ctx, { inputIds, attentionMask }) };
}

/** A [BATCH, T] batch of random in-vocabulary ids, no padding. */
function syntheticBatch(T: number): Record<string, HostTensor> {
  const ids = Array.from({ length: BATCH * T }, (_, i) => 6 + ((i * 2654435761) % 7994));
  return { input_ids: i64([BATCH, T], ids), attention_mask: i64([BATCH, T], new Array(BATCH * T).fill(1)) };
}

/** 32 English sentences of mixed lengths (padded to the longest). */
function sentenceBatch(): { feeds: Record<string, HostTensor>; seqLen: number } {
  const base = [
    'The cat sat on the mat.', 'How old are you?', 'The quick brown fox jumps over the lazy dog',
    'Stock prices fell sharply after the announcement on Tuesday.', 'The patient was prescribed 20mg of medication twice daily.',
    'I like it.', 'Internationalization and localization are means of adapting software to different languages.',
    "don't won't can't it's we're they'll I'd",
  ];
  const texts = Array.from({ length: BATCH }, (_, i) => base[i % base.length] as string);
  const batch = tokenizer.encodeBatch(texts);
  const t = useLiteBatchTensors(batch);
  return { feeds: { input_ids: t.inputIds, attention_mask: t.attentionMask }, seqLen: batch.seqLen };
}

console.log(`USE-lite bench: batch ${BATCH}, ${availableParallelism()} threads, median of ${RUNS} runs`);

// Inference.
{
  const { g, out } = build(() => false, false);
  const emb = l2Normalize(out.pooled);
  g.output(emb);
  const s = await Session.create(g);
  const real = sentenceBatch();
  const cases: [string, Record<string, HostTensor>][] = [[`sentences (padded T=${real.seqLen})`, real.feeds]];
  for (const T of [16, 32, 64, 128]) cases.push([`T=${T}`, syntheticBatch(T)]);
  for (const [label, feeds] of cases) {
    const ms = await timeMs(() => s.run(feeds));
    console.log(`inference ${label.padEnd(28)} ${ms.toFixed(1).padStart(7)} ms/batch  ${((BATCH / ms) * 1000).toFixed(0).padStart(6)} sentences/s`);
  }
  await s.dispose();
}

// Training step: forward + backward, the 8 layer-norm tensors trainable, dropout on.
{
  const { g, params, out } = build((name) => name.includes('_norm.'), true);
  const loss = reduceSum(mul(out.pooled, g.constant('r', randn([BATCH, 512], 3))));
  const grads = gradients(loss, params);
  g.output(loss, ...grads);
  const s = await Session.create(g);
  for (const T of [32, 128]) {
    const feeds = { ...syntheticBatch(T), training: bool([], [true]) };
    const ms = await timeMs(() => s.run(feeds));
    console.log(`train step (LN trainable) T=${String(T).padEnd(12)} ${ms.toFixed(1).padStart(7)} ms/step  ${((BATCH / ms) * 1000).toFixed(0).padStart(6)} sentences/s`);
  }
  await s.dispose();
}
