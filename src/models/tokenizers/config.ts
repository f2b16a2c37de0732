/**
 * The side files of a tokenizer directory, tokenizer_config.json and special_tokens_map.json
 * (both optional), as parsed records, and resolving special tokens from them. Reading them from
 * a directory is tokenizer-files.ts.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';

/** Roles a special token can have. */
export const SPECIAL_TOKEN_ROLES = ['cls', 'sep', 'pad', 'unk', 'mask', 'bos', 'eos'] as const;
/** One special-token role. */
export type SpecialTokenRole = (typeof SPECIAL_TOKEN_ROLES)[number];

/** The optional JSON side files of a tokenizer directory, as parsed objects ({} when absent). */
export interface TokenizerSideFiles {
  dir: string;
  /** tokenizer_config.json */
  config: Record<string, unknown>;
  /** special_tokens_map.json */
  specialTokensMap: Record<string, unknown>;
}

/** Largest tokenizer file read (multilingual tokenizer.json files reach tens of MB). */
export const MAX_TOKENIZER_FILE_BYTES = 256 * 1024 * 1024;

/** `dir/name` for messages, as path.join spells it for the directories tokenizers come from. */
export function sideFilePath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '') || '.'}/${name}`;
}

/** A special token entry is either a string or an AddedToken object `{ content: string, ... }`. */
export function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * Special tokens by role: tokenizer_config.json wins over special_tokens_map.json, which wins over
 * `defaults`. Roles found nowhere are left out.
 */
export function resolveSpecialTokens(side: TokenizerSideFiles, defaults: Partial<Record<SpecialTokenRole, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const role of SPECIAL_TOKEN_ROLES) {
    const key = `${role}_token`;
    const value = tokenContent(side.config[key]) ?? tokenContent(side.specialTokensMap[key]) ?? defaults[role];
    if (value !== undefined) out[role] = value;
  }
  return out;
}

/**
 * Every extra token the side files mark as special: additional_special_tokens (both files) and
 * entries of tokenizer_config.json's added_tokens_decoder with `special: true`.
 */
export function extraSpecialTokens(side: TokenizerSideFiles): string[] {
  const out: string[] = [];
  for (const source of [side.config, side.specialTokensMap]) {
    const extra = source['additional_special_tokens'];
    if (Array.isArray(extra)) for (const t of extra) { const c = tokenContent(t); if (c !== undefined) out.push(c); }
  }
  const decoder = side.config['added_tokens_decoder'];
  if (decoder !== null && typeof decoder === 'object') {
    for (const entry of Object.values(decoder as Record<string, unknown>)) {
      const c = tokenContent(entry);
      if (c !== undefined && (entry as { special?: unknown }).special === true) out.push(c);
    }
  }
  return out;
}

/** HF writes int(1e30) for "no limit"; anything this large means undefined. */
const UNLIMITED_SENTINEL = 1e12;

/** model_max_length from tokenizer_config.json, undefined when absent or "unlimited". */
export function readModelMaxLength(side: TokenizerSideFiles): number | undefined {
  const v = side.config['model_max_length'];
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v >= UNLIMITED_SENTINEL) return undefined;
  return Math.floor(v);
}

/** A boolean option of tokenizer_config.json, or `fallback` when absent; a non-boolean value fails. */
export function readBool(side: TokenizerSideFiles, key: string, fallback: boolean): boolean {
  const v = side.config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') fail('BAD_FILE', `${sideFilePath(side.dir, 'tokenizer_config.json')}: "${key}" must be true or false, got ${describeValue(v)}`);
  return v;
}
