/**
 * The encoder families bench:models times and the environment knobs its parent and its child
 * processes share (see the top of bench/models.bench.ts for what each knob does).
 */
import {
  ALBERT_BASE_CONFIG, BERT_BASE_CONFIG, DEBERTA_V3_BASE_CONFIG, MODERNBERT_BASE_CONFIG, MPNET_BASE_CONFIG, XLMR_BASE_CONFIG,
} from '../common.js';

/** BENCH_TINY=1: every family at 3 layers of width 64, for a smoke run. */
export const TINY = process.env.BENCH_TINY === '1';

/** A positive integer environment knob, or its default; anything else is refused with the knob named. */
function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${raw}: expected a positive integer`);
  return n;
}

/** Batch size and sequence length of the family rows (default 32 x 128). */
export const B = positiveInt('BENCH_BATCH', 32);

/**
 * BENCH_FAMILY_BATCH: per-family batch sizes over BENCH_BATCH, `name:batch` comma-separated (e.g.
 * `deberta-v3-base:16,modernbert-base:16` for the families whose pair does not fit at 32 x 128);
 * BERT-base runs at the same batch in that family's child, so the ratios stay like for like.
 */
export function batchFor(name: string): number {
  const raw = process.env.BENCH_FAMILY_BATCH?.trim();
  if (!raw) return B;
  for (const item of raw.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^([\w.-]+):(\d+)$/.exec(item);
    if (!m || Number(m[2]) < 1) throw new Error(`BENCH_FAMILY_BATCH: "${item}" is not <family>:<positive batch>, e.g. deberta-v3-base:16`);
    if (!ALL_FAMILIES.some((f) => f.name === m[1])) throw new Error(`BENCH_FAMILY_BATCH: unknown ${m[1]}; choose from ${ALL_FAMILIES.map((x) => x.name).join(', ')}`);
    if (m[1] === name) return Number(m[2]);
  }
  return B;
}
export const T = positiveInt('BENCH_SEQ', 128);
/** Timed inference batches per pair (default 5). */
export const ROUNDS = positiveInt('BENCH_ROUNDS', 5);
/** Timed training steps per pair: 1 by default (a base-size step takes tens of seconds under load). */
export const TRAIN_ROUNDS = positiveInt('BENCH_TRAIN_ROUNDS', 1);
/** The adapter the training step trains. */
export const PRESET = 'paper';
/** The long-input row of ModernBERT (1b). */
export const LONG = {
  on: process.env.BENCH_LONG !== '0',
  batch: positiveInt('BENCH_LONG_BATCH', 4),
  seq: positiveInt('BENCH_LONG_SEQ', TINY ? 256 : 2048),
};

const sized = (c: Record<string, unknown>): Record<string, unknown> => (TINY ? { ...c, hidden_size: 64, num_hidden_layers: 3, num_attention_heads: 4, intermediate_size: 128 } : c);

/** A family timed: its name in the table and BENCH_FAMILIES, and its config.json object. */
export interface Family { name: string; config: Record<string, unknown> }

/** The family every other one is compared with, in the same child process. */
export const REFERENCE: Family = { name: 'bert-base', config: sized(BERT_BASE_CONFIG) };

/** Every family compared with {@link REFERENCE}, at base size (or BENCH_TINY size). */
export const ALL_FAMILIES: readonly Family[] = [
  { name: 'xlm-roberta-base', config: sized(XLMR_BASE_CONFIG) },
  { name: 'albert-base-v2', config: sized(ALBERT_BASE_CONFIG) },
  { name: 'deberta-v3-base', config: sized(DEBERTA_V3_BASE_CONFIG) },
  { name: 'mpnet-base', config: sized(MPNET_BASE_CONFIG) },
  { name: 'modernbert-base', config: sized(MODERNBERT_BASE_CONFIG) },
];

/** The family named `name`; an unknown name is refused with the list. */
export function familyNamed(name: string, what = 'family'): Family {
  const f = ALL_FAMILIES.find((x) => x.name === name);
  if (!f) throw new Error(`${what}: unknown ${name}; choose from ${ALL_FAMILIES.map((x) => x.name).join(', ')}`);
  return f;
}

/** The families of this run: those BENCH_FAMILIES names (comma-separated), default all. */
export function chosenFamilies(): Family[] {
  const chosen = process.env.BENCH_FAMILIES?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!chosen?.length) return [...ALL_FAMILIES];
  for (const n of chosen) familyNamed(n, 'BENCH_FAMILIES');
  return ALL_FAMILIES.filter((f) => chosen.includes(f.name));
}
