/**
 * Reading the side files of a tokenizer directory: tokenizer_config.json and
 * special_tokens_map.json (both optional), and resolving special tokens from them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';

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

/** Reads and parses a JSON object file; undefined when the file does not exist. */
export async function readJsonObject(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    fail('BAD_FILE', `${path}: cannot read: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    fail('BAD_FILE', `${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('BAD_FILE', `${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/** Reads tokenizer_config.json and special_tokens_map.json from `dir` when present. */
export async function readSideFiles(dir: string): Promise<TokenizerSideFiles> {
  const [config, specialTokensMap] = await Promise.all([
    readJsonObject(join(dir, 'tokenizer_config.json')),
    readJsonObject(join(dir, 'special_tokens_map.json')),
  ]);
  return { dir, config: config ?? {}, specialTokensMap: specialTokensMap ?? {} };
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
  if (typeof v !== 'boolean') fail('BAD_FILE', `${join(side.dir, 'tokenizer_config.json')}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}
