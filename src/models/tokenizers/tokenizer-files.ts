/**
 * Reading a tokenizer's files from a directory: the side files (tokenizer_config.json,
 * special_tokens_map.json) and vocab.txt. What they hold is interpreted by config.ts and
 * wordpiece.ts, which have no file access (so they run in the browser build).
 */
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { jsonType, parseJsonText, readTextFile } from '../../util/json.js';
import { MAX_TOKENIZER_FILE_BYTES, type TokenizerSideFiles } from './config.js';
import { wordPieceFromVocab, type WordPieceTokenizer } from './wordpiece.js';

/**
 * Reads and parses a JSON object file; undefined when the file does not exist. Nesting, duplicate
 * keys and size are bounded as {@link parseJsonText} describes; messages never quote the file.
 */
export async function readJsonObject(path: string): Promise<Record<string, unknown> | undefined> {
  const text = await readTextFile(path, MAX_TOKENIZER_FILE_BYTES);
  if (text === undefined) return undefined;
  const value = parseJsonText(text, `${path}: not valid JSON`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('BAD_FILE', `${path}: expected a JSON object, got ${jsonType(value)}`);
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

/** Builds a {@link WordPieceTokenizer} from `dir/vocab.txt` and the already-read side files. */
export async function loadWordPieceTokenizer(dir: string, side: TokenizerSideFiles, opts: { doLowerCase?: boolean } = {}): Promise<WordPieceTokenizer> {
  const path = join(dir, 'vocab.txt');
  const text = await readTextFile(path, MAX_TOKENIZER_FILE_BYTES);
  if (text === undefined) fail('BAD_FILE', `${path}: cannot read: it does not exist`);
  return wordPieceFromVocab(text, path, side, opts);
}
