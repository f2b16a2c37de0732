/**
 * The tokenizer files of an export: `tokenizer.json` and `tokenizer_config.json`, which is what
 * transformers.js loads (`utils/model_registry/get_tokenizer_files.js`: both, and no tokenizer at
 * all without tokenizer_config.json).
 *
 * `tokenizer.json` is copied byte for byte from the base's directory; a base with only
 * `vocab.txt` (BERT WordPiece, e.g. Google's small BERTs) gets the tokenizer.json Hugging Face's
 * own converter writes for it (transformers' `convert_slow_tokenizer.BertConverter`: BertNormalizer,
 * BertPreTokenizer, WordPiece, `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B [SEP]` with type ids 0/1),
 * from the settings adapterkit's own WordPiece tokenizer runs with; a DeBERTa-v2/v3 base with only
 * `spm.model` gets the tokenizer.json adapterkit converts it to and runs itself
 * (`models/tokenizers/sentencepiece-model.ts`, as `DebertaV2Converter`).
 *
 * `tokenizer_config.json` is the base's, with what transformers.js reads from it set so that it
 * encodes as adapterkit does (`tokenization_utils.js`, `models/auto/tokenization_auto.js`):
 * - `model_max_length`: transformers.js truncates every input to it (and reads no other length),
 *   so it is the task's max length;
 * - `tokenizer_class` when absent, the family's ({@link HfFamily.tokenizerClass}: `BertTokenizer`,
 *   `ElectraTokenizer`, `AlbertTokenizer`, `DebertaV2Tokenizer` return token type ids, e.g.
 *   `models/bert/tokenization_bert.js`; the base class gives none, which breaks sentence pairs);
 * - the special tokens (`pad_token`…) when only special_tokens_map.json had them: transformers.js
 *   reads them from tokenizer_config.json alone;
 * - `padding_side: "right"` when the base said otherwise (adapterkit pads on the right).
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fail } from '../errors.js';
import type { BaseModel } from '../models/base.js';
import { parseVocabTxt } from '../models/tokenizers/index.js';
import { debertaV2TokenizerJson, readSentencePieceModel } from '../models/tokenizers/sentencepiece-model.js';
import { readSideFiles } from '../models/tokenizers/tokenizer-files.js';
import { isFile } from '../util/fs.js';
import { readJsonObjectFile } from '../util/json.js';
import type { HfFamily } from './hf-config.js';

/** The tokenizer files of an export, ready to write. */
export interface ExportTokenizerFiles {
  /** File name -> contents. */
  readonly files: ReadonlyMap<string, string | Uint8Array>;
  /** How tokenizer.json came to be. */
  readonly tokenizerJson: 'copied' | 'written from vocab.txt' | 'written from spm.model';
  /** The directory the tokenizer was read from. */
  readonly dir: string;
  /** One-line notes on what was changed for transformers.js. */
  readonly notes: readonly string[];
}

/** Special-token roles, as tokenizer_config.json keys them (`<role>_token`). */
const ROLES = ['cls', 'sep', 'pad', 'unk', 'mask', 'bos', 'eos'] as const;

function stringRecord(v: unknown): Record<string, string> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** What adapterkit's tokenizer reports about itself (its `summary()`), the fields export needs. */
interface TokenizerFacts {
  readonly source: string;
  readonly kind: string;
  readonly specialTokens: Record<string, string>;
  readonly doLowerCase?: boolean;
  readonly stripAccents?: boolean | null;
  readonly tokenizeChineseChars?: boolean;
}

function facts(base: BaseModel): TokenizerFacts | undefined {
  const s = base.tokenizer.summary();
  if (typeof s['source'] !== 'string') return undefined;
  const bool = (k: string) => (typeof s[k] === 'boolean' ? (s[k] as boolean) : undefined);
  return {
    source: s['source'],
    kind: typeof s['kind'] === 'string' ? s['kind'] : '',
    specialTokens: stringRecord(s['specialTokens']),
    doLowerCase: bool('doLowerCase'),
    stripAccents: s['stripAccents'] === null ? null : bool('stripAccents'),
    tokenizeChineseChars: bool('tokenizeChineseChars'),
  };
}

/**
 * tokenizer.json for a WordPiece vocabulary, as Hugging Face's BertConverter writes it.
 * `never_split` words other than special tokens have no place in it and are refused.
 */
function wordPieceTokenizerJson(vocab: readonly string[], f: TokenizerFacts, config: Readonly<Record<string, unknown>>, where: string): Record<string, unknown> {
  const neverSplit = Array.isArray(config['never_split']) ? config['never_split'].filter((t): t is string => typeof t === 'string') : [];
  const specials = new Set(Object.values(f.specialTokens));
  const extra = Array.isArray(config['additional_special_tokens']) ? config['additional_special_tokens'].filter((t): t is string => typeof t === 'string') : [];
  for (const t of extra) specials.add(t);
  const plain = neverSplit.filter((t) => !specials.has(t));
  if (plain.length) fail('UNSUPPORTED_MODEL', `${where}: never_split words (${plain.slice(0, 4).join(', ')}) cannot be written into a tokenizer.json; add a tokenizer.json to the base directory`);
  const ids = new Map<string, number>();
  vocab.forEach((t, i) => ids.set(t, i)); // a repeated line keeps its last id, as Hugging Face does
  const idOf = (role: 'cls' | 'sep'): [string, number] => {
    const token = f.specialTokens[role];
    const id = token === undefined ? undefined : ids.get(token);
    if (token === undefined || id === undefined) fail('BAD_FILE', `${where}: the ${role} token is not in the vocabulary`);
    return [token, id];
  };
  const [cls, clsId] = idOf('cls');
  const [sep, sepId] = idOf('sep');
  const added = [...specials].filter((t) => ids.has(t)).map((t) => ({ id: ids.get(t) as number, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  added.sort((a, b) => a.id - b.id);
  const special = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const seq = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'BertNormalizer', clean_text: true, handle_chinese_chars: f.tokenizeChineseChars ?? true,
      strip_accents: f.stripAccents ?? null, lowercase: f.doLowerCase ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(cls, 0), seq('A', 0), special(sep, 0)],
      pair: [special(cls, 0), seq('A', 0), special(sep, 0), seq('B', 1), special(sep, 1)],
      special_tokens: { [cls]: { id: cls, ids: [clsId], tokens: [cls] }, [sep]: { id: sep, ids: [sepId], tokens: [sep] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece', unk_token: f.specialTokens['unk'] ?? '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100,
      vocab: Object.fromEntries(ids),
    },
  };
}

/**
 * The tokenizer files for an export of a task on `base`, or undefined when the base has no
 * Hugging Face tokenizer (the embedded USE-lite).
 */
export async function exportTokenizerFiles(base: BaseModel, family: HfFamily, maxLength: number): Promise<ExportTokenizerFiles | undefined> {
  const f = facts(base);
  if (!f) return undefined;
  const dir = dirname(f.source);
  const notes: string[] = [];
  const files = new Map<string, string | Uint8Array>();
  const configPath = join(dir, 'tokenizer_config.json');
  const baseConfig: Record<string, unknown> = (await isFile(configPath)) ? await readJsonObjectFile(configPath) : {};
  let tokenizerJson: ExportTokenizerFiles['tokenizerJson'];
  if (basename(f.source) === 'tokenizer.json') {
    files.set('tokenizer.json', new Uint8Array(await readFile(f.source)));
    tokenizerJson = 'copied';
  } else if (basename(f.source) === 'vocab.txt') {
    const vocab = parseVocabTxt(await readFile(f.source, 'utf8'), f.source);
    files.set('tokenizer.json', `${JSON.stringify(wordPieceTokenizerJson(vocab, f, baseConfig, dir), null, 2)}\n`);
    tokenizerJson = 'written from vocab.txt';
    notes.push(`tokenizer.json written from ${f.source} (the base directory has none), as Hugging Face's BertConverter would`);
  } else if (basename(f.source) === 'spm.model') {
    // The fast tokenizer adapterkit itself runs for DeBERTa-v2/v3's SentencePiece model.
    const json = debertaV2TokenizerJson(await readSentencePieceModel(f.source), await readSideFiles(dir), f.source);
    files.set('tokenizer.json', `${JSON.stringify(json)}\n`);
    tokenizerJson = 'written from spm.model';
    notes.push(`tokenizer.json written from ${f.source} (the base directory has none), as Hugging Face's DebertaV2Converter would`);
  } else {
    return fail('UNSUPPORTED_MODEL', `${f.source}: export knows tokenizer.json, vocab.txt and spm.model tokenizers, not ${f.kind || basename(f.source)}`);
  }

  const config: Record<string, unknown> = { ...baseConfig };
  const before = config['model_max_length'];
  config['model_max_length'] = maxLength;
  if (before !== maxLength) notes.push(`tokenizer_config.json: model_max_length ${before === undefined ? 'set' : `${JSON.stringify(before)} ->`} ${maxLength} (the task's max length: transformers.js truncates inputs to it)`);
  if (typeof config['tokenizer_class'] !== 'string') config['tokenizer_class'] = family.tokenizerClass;
  for (const role of ROLES) {
    const token = f.specialTokens[role];
    if (token !== undefined && config[`${role}_token`] === undefined) config[`${role}_token`] = token;
  }
  if (config['padding_side'] !== undefined && config['padding_side'] !== 'right') {
    notes.push(`tokenizer_config.json: padding_side ${JSON.stringify(config['padding_side'])} -> "right" (as adapterkit pads)`);
    config['padding_side'] = 'right';
  }
  files.set('tokenizer_config.json', `${JSON.stringify(config, null, 2)}\n`);
  return { files, tokenizerJson, dir, notes };
}
