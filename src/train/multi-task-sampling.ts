/**
 * How a mixed-task run orders its examples. An epoch is as many draws as there are training
 * examples over all tasks, cut into batches in order:
 * - `proportional`: every example of every task once, all shuffled together, so each task's share
 *   of the batches is its share of the data (p_i = n_i / Σ n);
 * - `{ temperature: T }`: each draw picks task i with p_i ∝ n_i^(1/T) and takes that task's next
 *   example from its own shuffled stream (reshuffled when it runs out). T = 1 is proportional in
 *   expectation, larger T moves towards uniform over tasks (small tasks are seen more often than
 *   their size says, large ones less), T → ∞ is uniform.
 * Both are deterministic for a seed and an epoch.
 *
 * Length bucketing ({@link bucketDraws}, on by default in trainMultiTask) then reorders an epoch's
 * draws as single-task training orders its examples: windows of BUCKET_WINDOW (50) batches' worth of draws are
 * sorted by length and cut into batches, and the batches are shuffled. Tasks of very different
 * lengths (spam's 128-token e-mails beside sotu's short sentences) otherwise pad nearly every mixed
 * batch to the longest task's length. It changes which draws share a batch, not which are drawn.
 */
import { fail } from '../errors.js';
import { BUCKET_WINDOW, lengthBuckets } from './batching.js';
import { Rng } from '../util/random.js';

/** How tasks are sampled; see the module comment. */
export type MultiTaskSampling = 'proportional' | { readonly temperature: number };

/** One draw: the task's index and the index of its example. */
export interface MixedDraw {
  readonly task: number;
  readonly example: number;
}

/** Checks a sampling; BAD_CONFIG for a temperature that is not a positive finite number. */
export function checkSampling(s: MultiTaskSampling): MultiTaskSampling {
  if (s === 'proportional') return s;
  const t = (s as { temperature?: unknown } | undefined)?.temperature;
  if (typeof t !== 'number' || !(t > 0) || !Number.isFinite(t)) fail('BAD_CONFIG', `sampling temperature must be a positive number, got ${JSON.stringify(t)}`);
  return { temperature: t };
}

/** Parses `proportional` or `temperature=<T>` (the CLI's --sampling). */
export function parseSampling(text: string): MultiTaskSampling {
  if (text === 'proportional') return 'proportional';
  const m = /^temperature=(.+)$/.exec(text);
  if (!m) fail('BAD_CONFIG', `sampling ${JSON.stringify(text)}: use proportional or temperature=<T> (e.g. temperature=2)`);
  const t = Number(m[1]);
  return checkSampling({ temperature: Number.isFinite(t) ? t : NaN });
}

/** The probability of drawing each task: n_i / Σ n, or n_i^(1/T) normalised. */
export function taskProbabilities(sizes: readonly number[], s: MultiTaskSampling): number[] {
  if (sizes.some((n) => !(Number.isInteger(n) && n > 0))) fail('BAD_DATA', `every task needs training examples (sizes ${sizes.join(', ')})`);
  const w = s === 'proportional' ? sizes.map((n) => n) : sizes.map((n) => n ** (1 / s.temperature));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}

/** The draws of one epoch (Σ n of them); see the module comment. */
export function mixedEpoch(sizes: readonly number[], s: MultiTaskSampling, seed: number, epoch: number): MixedDraw[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const rng = new Rng(seed * 7919 + epoch * 104729 + 1);
  if (s === 'proportional') {
    const all: MixedDraw[] = sizes.flatMap((n, task) => Array.from({ length: n }, (_, example) => ({ task, example })));
    return rng.shuffle(all);
  }
  const p = taskProbabilities(sizes, s);
  const cum = p.map(((acc) => (x: number) => (acc += x))(0));
  const streams = sizes.map((n) => ({ order: rng.shuffle(Array.from({ length: n }, (_, i) => i)), at: 0 }));
  const out: MixedDraw[] = [];
  for (let k = 0; k < total; k++) {
    const u = rng.next();
    let task = cum.findIndex((c) => u < c);
    if (task < 0) task = sizes.length - 1;
    const st = streams[task] as { order: number[]; at: number };
    if (st.at === st.order.length) {
      st.order = rng.shuffle(st.order);
      st.at = 0;
    }
    out.push({ task, example: st.order[st.at++] as number });
  }
  return out;
}

/**
 * An epoch's draws in length-bucketed order (see the module comment): {@link lengthBuckets} over
 * the draws in their order, the full batches shuffled (seeded by `seed` and `epoch`), and the one
 * short batch, if any, kept last, so that cutting the result into consecutive batches of
 * `batchSize` gives exactly these batches. The same draws, reordered.
 *
 * @example
 * ```ts
 * const draws = mixedEpoch([4833, 43400], 'proportional', 1, 0);
 * const order = bucketDraws(draws, (d) => lengths[d.task][d.example], 32, 1, 0);
 * order.length === draws.length; // true
 * ```
 */
export function bucketDraws(draws: readonly MixedDraw[], lengthOf: (d: MixedDraw) => number, batchSize: number, seed: number, epoch: number, window = BUCKET_WINDOW): MixedDraw[] {
  const batches = lengthBuckets(draws, lengthOf, batchSize, window);
  const last = batches[batches.length - 1];
  const short = last !== undefined && last.length < batchSize ? batches.pop() : undefined;
  const rng = new Rng(seed * 6151 + epoch * 92821 + 3);
  const out = rng.shuffle(batches).flat();
  if (short) out.push(...short);
  return out;
}
