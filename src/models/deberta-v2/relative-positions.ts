/**
 * DeBERTa's relative positions. The distance from query i to key j is δ = i - j; with
 * `position_buckets` b > 0 it is log-bucketed (mid = floor(b / 2), m = max_relative_positions):
 *
 *     bucket(δ) = δ                                                         if |δ| <= mid
 *               = sign(δ) · (ceil(ln(|δ| / mid) / ln((m - 1) / mid) · (mid - 1)) + mid)   otherwise
 *
 * (computed in float32, as the checkpoints were trained), else bucket(δ) = δ. The c2p term of
 * (i, j) reads relative embedding row clamp(bucket(i - j) + k, 0, 2k - 1) (k: the attention span),
 * the p2c term row clamp(k - bucket(j - i), 0, 2k - 1) of key j against query i.
 *
 * Both index tables depend only on δ, so they are computed here once per model for every δ in
 * (-L, L) (L: the longest input) and gathered in the graph by δ + L - 1.
 */
import type { DebertaV2Config } from './config.js';

const f32 = Math.fround;

/** bucket(δ) of the module comment (float32 arithmetic, as the checkpoints' reference code). */
export function relativeBucket(delta: number, buckets: number, maxRelative: number): number {
  if (!(buckets > 0 && maxRelative > 0)) return delta;
  const mid = Math.floor(buckets / 2);
  const absPos = delta < mid && delta > -mid ? mid - 1 : Math.abs(delta);
  if (absPos <= mid) return delta;
  const ratio = f32(f32(Math.log(f32(absPos / mid))) / f32(Math.log(f32((maxRelative - 1) / mid))));
  const logPos = Math.ceil(f32(ratio * (mid - 1))) + mid;
  return Math.sign(delta) * logPos;
}

/** The two index tables over δ = -(L-1)..L-1 (entry δ + L - 1), values in 0..2k-1. */
export interface RelativeIndexTables {
  /** L: the tables cover |δ| < L. */
  readonly length: number;
  /** Row of the relative embeddings that the c2p term of query i, key j = i - δ reads. */
  readonly c2p: readonly number[];
  /** Row that the p2c term reads for key a, query b = a - δ: clamp(k - bucket(δ)). */
  readonly p2c: readonly number[];
}

/** The index tables of a configuration for inputs of up to `length` tokens. */
export function relativeIndexTables(c: DebertaV2Config, length = c.maxLength): RelativeIndexTables {
  const k = c.attentionSpan;
  const clamp = (v: number) => Math.min(Math.max(v, 0), 2 * k - 1);
  const c2p: number[] = [];
  const p2c: number[] = [];
  for (let d = -(length - 1); d <= length - 1; d++) {
    const b = relativeBucket(d, c.positionBuckets, c.maxRelativePositions);
    c2p.push(clamp(b + k));
    p2c.push(clamp(k - b));
  }
  return { length, c2p, p2c };
}
