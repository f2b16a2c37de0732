/**
 * Heads in a mixed-task batch, where every example runs its own task's head. Serving
 * (train/multi-task-model.ts) and training (train/multi-task-train-model.ts) both build them from
 * these pieces.
 *
 * A batch has up to two head branches: sentence heads over the pooled vector (`N = 1`) and token
 * heads over every position of the last hidden state (`N = T`). Each branch's head weights are
 * stacked along a `tasks` axis and gathered per example to `[B, …]`; the stacks of the token
 * branch carry the prefix `tokens.` (`tokens.head.out.weight`), the sentence branch's have none.
 * Outputs are padded to the largest count of their branch; a task reads its own.
 */
import { add, linear, mul, sub, tanh, type Value } from '../engine/index.js';
import { isTokenHead, type HeadConfig } from './head.js';

/**
 * The head kinds a mixed-task batch runs. Extractive QA is not one of them: its outputs are answer
 * spans decoded over the windows of a context (and its training softmax spans a row's padding).
 */
export const MIXED_HEAD_KINDS: readonly HeadConfig['kind'][] = ['classification', 'regression', 'multilabel', 'tagging'];

/** The two head branches of a mixed batch: sentence heads over the pooled vector, token heads over every position. */
export type HeadBranch = 'sentence' | 'token';

/** Every head branch, in the order their graphs are built. */
export const HEAD_BRANCHES: readonly HeadBranch[] = ['sentence', 'token'];

/** The branch a head runs in. */
export function headBranch(h: Pick<HeadConfig, 'kind'>): HeadBranch {
  return isTokenHead(h) ? 'token' : 'sentence';
}

/** Prefix of a branch's head stacks and inputs (the sentence branch keeps the names it had). */
export const BRANCH_PREFIX: Readonly<Record<HeadBranch, string>> = { sentence: '', token: 'tokens.' };

/**
 * One branch's gathered heads: x [B, N, d] (N = 1 for the pooled vector, T for every position)
 * -> logits [B, N, C]. `w` gives each example's head weights, gathered: `head.dense.*` ([B, d, d],
 * [B, 1, d]; read only with a `gate`) and `head.out.*` ([B, d, C], [B, 1, C]). `gate` [B, 1, 1]
 * is given when some task of the branch has a two-layer head: 1 for those, 0 for one-layer heads,
 * whose input passes the dense layer's place unchanged. `drop` is the head dropout (training).
 */
export function buildGatheredHead(x: Value, w: (name: string) => Value, gate: Value | undefined, drop: (v: Value) => Value = (v) => v): Value {
  let y = drop(x); // [B, N, d]
  if (gate) {
    const dense = drop(tanh(linear(y, w('head.dense.weight'), w('head.dense.bias')))); // [B, N, d]
    y = add(mul(gate, dense), mul(sub(1, gate), y));
  }
  return linear(y, w('head.out.weight'), w('head.out.bias')); // [B, N, C]
}
