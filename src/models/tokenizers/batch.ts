/**
 * Shared encode driver: truncation (HF tokenizers' longest_first rule), special-token assembly by
 * the caller, and right padding into one {@link EncodedBatch}.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import type { EncodedBatch, EncodeOptions } from './types.js';

/** Default longest row when the caller gives no maxLength. */
export const DEFAULT_MAX_LENGTH = 128;

/** Encode options with every default filled in. */
export interface ResolvedEncodeOptions {
  maxLength: number;
  padding: 'longest' | 'max_length';
  truncation: boolean;
}

/** Fills defaults and checks values; `modelMaxLength` caps the default and bounds an explicit maxLength. */
export function resolveEncodeOptions(opts: EncodeOptions | undefined, modelMaxLength: number | undefined): ResolvedEncodeOptions {
  const padding = opts?.padding ?? 'longest';
  if (padding !== 'longest' && padding !== 'max_length') {
    fail('BAD_CONFIG', `encode: padding must be 'longest' or 'max_length', got ${describeValue(padding)}`);
  }
  let maxLength = opts?.maxLength;
  if (maxLength === undefined) {
    maxLength = modelMaxLength !== undefined ? Math.min(DEFAULT_MAX_LENGTH, modelMaxLength) : DEFAULT_MAX_LENGTH;
  } else if (!Number.isInteger(maxLength) || maxLength < 1) {
    fail('BAD_CONFIG', `encode: maxLength must be a positive integer, got ${maxLength}`);
  } else if (modelMaxLength !== undefined && maxLength > modelMaxLength) {
    fail('BAD_CONFIG', `encode: maxLength ${maxLength} exceeds the tokenizer's model_max_length ${modelMaxLength}`);
  }
  return { maxLength, padding, truncation: opts?.truncation ?? true };
}

/**
 * Lengths to keep of a first and an optional second sequence so that together they fit `budget`
 * (the room left after special tokens), following HF tokenizers' longest_first rule: if the
 * shorter sequence fits in its half, only the longer one is cut to `budget - shorter`; otherwise
 * the shorter keeps floor(budget / 2) and the longer the rest (on a tie the second counts as longer).
 */
export function truncationLengths(n1: number, n2: number | undefined, budget: number): [number, number] {
  const b = Math.max(0, budget);
  if (n2 === undefined) return [Math.min(n1, b), 0];
  if (n1 + n2 <= b) return [n1, n2];
  const swap = n1 > n2;
  let short = swap ? n2 : n1;
  let long: number;
  if (short > b) long = short;
  else long = Math.max(short, b - short);
  if (short + long > b) {
    short = Math.floor(b / 2);
    long = short + (b % 2);
  }
  return swap ? [long, short] : [short, long];
}

/** What a tokenizer supplies to {@link encodeBatch}: pieces per text and how to add special tokens. */
export interface EncodeHooks<P> {
  /** Pieces (no specials) of one text. */
  pieces(text: string): P[];
  /** Adds special tokens; returns ids and token types of the whole row. */
  assemble(first: P[], second: P[] | null): { ids: number[]; types: number[] };
  /** How many special tokens `assemble` adds for a single text (pair = false) or a pair. */
  numSpecial(pair: boolean): number;
  padId: number;
  modelMaxLength: number | undefined;
}

/** Encodes a batch of texts or pairs with truncation and right padding. */
export function encodeBatch<P>(inputs: Array<string | [string, string]>, opts: EncodeOptions | undefined, hooks: EncodeHooks<P>): EncodedBatch {
  if (!Array.isArray(inputs)) fail('BAD_DATA', `encode: inputs must be an array of strings or [string, string] pairs, got ${typeof inputs}`);
  const o = resolveEncodeOptions(opts, hooks.modelMaxLength);
  const rows: Array<{ ids: number[]; types: number[] }> = [];
  const truncated: boolean[] = [];
  for (let r = 0; r < inputs.length; r++) {
    const input = inputs[r];
    let first: string;
    let second: string | null = null;
    if (typeof input === 'string') first = input;
    else if (Array.isArray(input) && input.length === 2 && typeof input[0] === 'string' && typeof input[1] === 'string') [first, second] = input;
    else fail('BAD_DATA', `encode: input ${r} is neither a string nor a [string, string] pair`);
    let a = hooks.pieces(first);
    let b = second === null ? null : hooks.pieces(second);
    let cut = false;
    if (o.truncation) {
      const special = hooks.numSpecial(b !== null);
      if (o.maxLength < special) {
        fail('BAD_CONFIG', `encode: maxLength ${o.maxLength} leaves no room: ${b !== null ? 'a pair' : 'a single text'} needs ${special} special tokens`);
      }
      const [k1, k2] = truncationLengths(a.length, b?.length, o.maxLength - special);
      if (k1 < a.length) { a = a.slice(0, k1); cut = true; }
      if (b !== null && k2 < b.length) { b = b.slice(0, k2); cut = true; }
    }
    rows.push(hooks.assemble(a, b));
    truncated.push(cut);
  }
  let seqLen = 0;
  for (const row of rows) seqLen = Math.max(seqLen, row.ids.length);
  if (o.padding === 'max_length') {
    const tooLong = rows.findIndex((row) => row.ids.length > o.maxLength);
    if (tooLong >= 0) {
      fail('BAD_DATA', `encode: input ${tooLong} has ${rows[tooLong]?.ids.length} tokens, more than maxLength ${o.maxLength}, and truncation is off`);
    }
    seqLen = o.maxLength;
  }
  return packRows(rows, truncated, seqLen, hooks.padId);
}

/** Lays rows out row-major [B, T], padding on the right. */
function packRows(rows: Array<{ ids: number[]; types: number[] }>, truncated: boolean[], seqLen: number, padId: number): EncodedBatch {
  const batchSize = rows.length;
  const inputIds = new Int32Array(batchSize * seqLen).fill(padId); // [B, T]
  const attentionMask = new Int32Array(batchSize * seqLen); // [B, T]
  const tokenTypeIds = new Int32Array(batchSize * seqLen); // [B, T]
  const lengths: number[] = [];
  rows.forEach((row, r) => {
    const base = r * seqLen;
    inputIds.set(row.ids, base);
    tokenTypeIds.set(row.types, base);
    attentionMask.fill(1, base, base + row.ids.length);
    lengths.push(row.ids.length);
  });
  return { batchSize, seqLen, inputIds, attentionMask, tokenTypeIds, lengths, truncated };
}
