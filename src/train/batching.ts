/**
 * Batching with dynamic padding and length bucketing. Examples are tokenized once; each epoch
 * shuffles them with a seeded generator, sorts windows of `bucketWindow` batches by length so
 * that a batch holds similar lengths (little padding), and shuffles the batch order.
 */
import { fail } from '../errors.js';
import type { BaseTokenizer, TextInput } from '../models/base.js';
import type { EncodedBatch } from '../models/tokenizers/index.js';
import { Rng } from '../util/random.js';
import type { Example } from './data/types.js';
import type { BatchLabels } from './task-model.js';

/** One tokenized model row: ids, token types, and whether the input lost tokens. */
export interface TokenizedRow {
  readonly ids: Int32Array;
  readonly types: Int32Array;
  readonly truncated: boolean;
}

/** One tokenized example. */
export interface TokenizedExample extends TokenizedRow {
  readonly index: number;
}

/** The text input of an example. */
export function exampleInput(e: Example, pair: boolean): TextInput {
  if (pair) {
    if (e.textB === undefined) fail('BAD_DATA', `example ${e.id} has no second text, but the task takes sentence pairs`);
    return [e.textA, e.textB];
  }
  return e.textA;
}

/** Tokenizes every example once (in chunks, so long runs stay responsive). */
export function tokenizeAll(tok: BaseTokenizer, examples: readonly Example[], pair: boolean, maxLength: number): TokenizedExample[] {
  const out: TokenizedExample[] = [];
  const CHUNK = 256;
  for (let start = 0; start < examples.length; start += CHUNK) {
    const part = examples.slice(start, start + CHUNK);
    rowsOf(tok.encode(part.map((e) => exampleInput(e, pair)), maxLength)).forEach((row, r) => out.push({ index: start + r, ...row }));
  }
  return out;
}

/** Pads tokenized examples into one batch (right padding with id `padId`, mask 0). */
export function collate(rows: readonly TokenizedRow[], padId = 0): EncodedBatch {
  const B = rows.length;
  const T = Math.max(1, ...rows.map((r) => r.ids.length));
  const inputIds = new Int32Array(B * T).fill(padId);
  const attentionMask = new Int32Array(B * T);
  const tokenTypeIds = new Int32Array(B * T);
  rows.forEach((r, i) => {
    inputIds.set(r.ids, i * T);
    tokenTypeIds.set(r.types, i * T);
    attentionMask.fill(1, i * T, i * T + r.ids.length);
  });
  return { batchSize: B, seqLen: T, inputIds, attentionMask, tokenTypeIds, lengths: rows.map((r) => r.ids.length), truncated: rows.map((r) => r.truncated) };
}

/** The rows of a batch without their padding: what {@link collate} pads (pair rows keep their segment ids). */
export function rowsOf(b: EncodedBatch): TokenizedRow[] {
  const T = b.seqLen;
  return b.lengths.map((n, i) => ({
    ids: b.inputIds.slice(i * T, i * T + n), types: b.tokenTypeIds.slice(i * T, i * T + n), truncated: b.truncated[i] ?? false,
  }));
}

/** Batches a length-bucketed epoch sorts together: {@link BUCKET_WINDOW} batches' worth of examples at a time. */
export const BUCKET_WINDOW = 50;

/**
 * Length bucketing of an order of items: windows of `batchSize × window` consecutive items, each
 * sorted by length (stably) and cut into batches of `batchSize`; only the very last batch can be
 * short. The caller shuffles the batches. Batches of like lengths carry little padding.
 */
export function lengthBuckets<T>(order: readonly T[], lengthOf: (item: T) => number, batchSize: number, window = BUCKET_WINDOW): T[][] {
  if (!(batchSize >= 1)) fail('BAD_CONFIG', `batch size must be at least 1, got ${batchSize}`);
  const span = batchSize * window;
  const batches: T[][] = [];
  for (let s = 0; s < order.length; s += span) {
    const chunk = order.slice(s, s + span).map((item) => ({ item, n: lengthOf(item) })).sort((a, b) => a.n - b.n).map((x) => x.item);
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  return batches;
}

/** Batches of example indices for one epoch: seeded shuffle, length bucketing ({@link lengthBuckets}), shuffled order. */
export function epochBatches(rows: readonly Pick<TokenizedRow, 'ids'>[], batchSize: number, seed: number, epoch: number, bucketWindow = BUCKET_WINDOW): number[][] {
  if (!(batchSize >= 1)) fail('BAD_CONFIG', `batch size must be at least 1, got ${batchSize}`);
  const rng = new Rng(seed * 7919 + epoch);
  const order = rng.shuffle(rows.map((_, i) => i));
  return rng.shuffle(lengthBuckets(order, (i) => rows[i]?.ids.length ?? 0, batchSize, bucketWindow));
}

/** Batches in length order for evaluation (no shuffling; least padding). */
export function evalBatches(rows: readonly Pick<TokenizedRow, 'ids'>[], batchSize: number): number[][] {
  const order = rows.map((_, i) => i).sort((a, b) => (rows[a]?.ids.length ?? 0) - (rows[b]?.ids.length ?? 0));
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

/** Labels of examples in a batch, as the task model takes them. */
export function batchLabels(examples: readonly Example[], idx: readonly number[]): BatchLabels {
  return idx.map((i) => {
    const l = examples[i]?.label;
    if (l === undefined) fail('BAD_DATA', `example ${examples[i]?.id ?? i} has no label`);
    return l;
  });
}
