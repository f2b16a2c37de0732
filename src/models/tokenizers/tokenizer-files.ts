/**
 * Reading a tokenizer's files from a directory: the side files (tokenizer_config.json,
 * special_tokens_map.json) and vocab.txt. What they hold is interpreted by config.ts and
 * wordpiece.ts, which have no file access (so they run in the browser build).
 */
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { jsonType, parseJsonText, readTextFile } from '../../util/json.js';
import { extraSpecialTokens, MAX_TOKENIZER_FILE_BYTES, readBool, readModelMaxLength, resolveSpecialTokens, type TokenizerSideFiles } from './config.js';
import { parseVocabTxt, WordPieceTokenizer } from './wordpiece.js';
import { describeValue } from '../../util/describe.js';

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
  const doLowerCase = opts.doLowerCase ?? readBool(side, 'do_lower_case', true);
  const rawStrip = side.config['strip_accents'];
  if (rawStrip !== undefined && rawStrip !== null && typeof rawStrip !== 'boolean') {
    fail('BAD_FILE', `${join(dir, 'tokenizer_config.json')}: "strip_accents" must be true, false or null, got ${describeValue(rawStrip)}`);
  }
  const neverSplitRaw = side.config['never_split'];
  const neverSplit = Array.isArray(neverSplitRaw) ? neverSplitRaw.filter((t): t is string => typeof t === 'string') : [];
  return new WordPieceTokenizer({
    vocab: parseVocabTxt(text, path),
    source: path,
    doLowerCase,
    stripAccents: (rawStrip as boolean | null | undefined) ?? null,
    tokenizeChineseChars: readBool(side, 'tokenize_chinese_chars', true),
    specialTokens: resolveSpecialTokens(side, { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]', mask: '[MASK]' }),
    extraSpecialTokens: extraSpecialTokens(side),
    neverSplit,
    modelMaxLength: readModelMaxLength(side),
  });
}
