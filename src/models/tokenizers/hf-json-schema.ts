/**
 * The shape of a `tokenizer.json`, checked before the file reaches `@huggingface/tokenizers`.
 *
 * That package trusts its input: a vocabulary id of 1e9 makes it walk a billion-slot array, a
 * `FixedLength` pre-tokenizer of length 0 loops forever, a string where an object belongs ends in a
 * TypeError. So every component the package reads is declared here once, as data (its kind, its
 * types, the fields each type reads and what they must hold), and a file that does not fit is a
 * BAD_FILE naming the field. Fields the package does not read are left alone.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { jsonType, isJsonObject } from '../../util/json-text.js';

type Json = Record<string, unknown>;

/** What one field must hold. */
type FieldKind =
  | 'string' | 'string?null' | 'bool' | 'bool?null' | 'number?null' | 'count' | 'positive'
  | 'pattern' | 'template' | 'token-id-pair' | 'special-tokens'
  | { components: ComponentKind };

/** A field: its kind, and whether the file must have it. */
type Field = readonly [FieldKind, 'required' | 'optional'];

/** The pipeline stages whose components the package builds. */
type ComponentKind = 'normalizer' | 'pre_tokenizer' | 'post_processor' | 'decoder';

const opt = (kind: FieldKind): Field => [kind, 'optional'];
const req = (kind: FieldKind): Field => [kind, 'required'];
const BYTE_LEVEL = { add_prefix_space: opt('bool'), trim_offsets: opt('bool'), use_regex: opt('bool') };
const METASPACE = { replacement: opt('string'), str_rep: opt('string'), prepend_scheme: opt('string'), add_prefix_space: opt('bool'), split: opt('bool') };
const REPLACE = { pattern: req('pattern'), content: req('string') };

/** Every component type the package knows, per stage, with the fields its constructor or its use reads. */
const COMPONENTS: ReadonlyMap<ComponentKind, ReadonlyMap<string, Readonly<Record<string, Field>>>> = new Map([
  ['normalizer', new Map<string, Readonly<Record<string, Field>>>([
    ['BertNormalizer', { clean_text: opt('bool'), handle_chinese_chars: opt('bool'), lowercase: opt('bool'), strip_accents: opt('bool?null') }],
    ['Precompiled', { precompiled_charsmap: opt('string?null') }],
    ['Sequence', { normalizers: req({ components: 'normalizer' }) }],
    ['Replace', REPLACE],
    ['NFC', {}], ['NFD', {}], ['NFKC', {}], ['NFKD', {}],
    ['Strip', { strip_left: opt('bool'), strip_right: opt('bool') }],
    ['StripAccents', {}],
    ['Lowercase', {}],
    ['Prepend', { prepend: req('string') }],
  ])],
  ['pre_tokenizer', new Map<string, Readonly<Record<string, Field>>>([
    ['BertPreTokenizer', {}], ['Whitespace', {}], ['WhitespaceSplit', {}],
    ['Sequence', { pretokenizers: req({ components: 'pre_tokenizer' }) }],
    ['Metaspace', METASPACE],
    ['ByteLevel', BYTE_LEVEL],
    ['Split', { pattern: req('pattern'), behavior: opt('string'), invert: opt('bool') }],
    ['Punctuation', { behavior: opt('string') }],
    ['Digits', { individual_digits: opt('bool') }],
    ['Replace', REPLACE],
    ['FixedLength', { length: req('positive') }],
  ])],
  ['post_processor', new Map<string, Readonly<Record<string, Field>>>([
    ['TemplateProcessing', { single: req('template'), pair: req('template'), special_tokens: opt('special-tokens') }],
    ['ByteLevel', BYTE_LEVEL],
    ['BertProcessing', { sep: req('token-id-pair'), cls: req('token-id-pair') }],
    ['RobertaProcessing', { sep: req('token-id-pair'), cls: req('token-id-pair'), trim_offsets: opt('bool'), add_prefix_space: opt('bool') }],
    ['Sequence', { processors: req({ components: 'post_processor' }) }],
  ])],
  ['decoder', new Map<string, Readonly<Record<string, Field>>>([
    ['ByteLevel', BYTE_LEVEL],
    ['WordPiece', { prefix: opt('string'), cleanup: opt('bool') }],
    ['Metaspace', METASPACE],
    ['BPEDecoder', { suffix: opt('string') }],
    ['CTC', { pad_token: opt('string'), word_delimiter_token: opt('string'), cleanup: opt('bool') }],
    ['Sequence', { decoders: req({ components: 'decoder' }) }],
    ['Replace', REPLACE],
    ['Fuse', {}],
    ['Strip', { content: opt('string'), start: opt('count'), stop: opt('count') }],
    ['ByteFallback', {}],
  ])],
]);

/** Fields of each tokenization model besides its vocabulary (checked separately, with the ids). */
const MODELS: ReadonlyMap<string, Readonly<Record<string, Field>>> = new Map<string, Readonly<Record<string, Field>>>([
  ['WordPiece', { unk_token: req('string'), continuing_subword_prefix: opt('string'), max_input_chars_per_word: opt('positive') }],
  ['BPE', {
    unk_token: opt('string?null'), continuing_subword_prefix: opt('string?null'), end_of_word_suffix: opt('string?null'),
    fuse_unk: opt('bool'), byte_fallback: opt('bool'), ignore_merges: opt('bool'), dropout: opt('number?null'),
  }],
  ['Unigram', { unk_id: opt('count'), byte_fallback: opt('bool') }],
]);

const ADDED_TOKEN: Readonly<Record<string, Field>> = {
  content: req('string'), single_word: opt('bool'), lstrip: opt('bool'), rstrip: opt('bool'), special: opt('bool'), normalized: opt('bool'),
};

/**
 * Checks a parsed tokenizer.json against what the package reads; `source` names the file. Returns
 * the number of token ids the file may use (vocabulary entries plus added tokens): every id is an
 * integer below it.
 */
export function checkTokenizerJson(json: Json, source: string): number {
  const model = json['model'];
  const type = isJsonObject(model) ? model['type'] : undefined;
  if (!isJsonObject(model) || typeof type !== 'string') fail('BAD_FILE', `${source}: "model.type" is missing`);
  const fields = MODELS.get(type);
  if (fields === undefined) {
    fail('BAD_FILE', `${source}: cannot build the tokenizer: model type ${describeValue(type)} is not supported (supported: ${[...MODELS.keys()].join(', ')})`);
  }
  checkFields(model, fields, `${source}: model`);

  const added = json['added_tokens'] ?? [];
  if (!Array.isArray(added)) fail('BAD_FILE', `${source}: "added_tokens" must be an array, got ${jsonType(added)}`);
  const entries = type === 'Unigram' ? unigramVocabSize(model, source) : vocabSize(model, source);
  const idLimit = entries + added.length;
  if (type !== 'Unigram') checkVocabIds(model['vocab'] as Json, idLimit, source);
  else if (typeof model['unk_id'] === 'number' && model['unk_id'] >= entries) fail('BAD_FILE', `${source}: model.unk_id ${model['unk_id']} is not an index of the ${entries}-entry vocabulary`);
  if (type === 'BPE') checkMerges(model['merges'], source);

  added.forEach((t, i) => {
    const where = `${source}: added_tokens[${i}]`;
    if (!isJsonObject(t)) fail('BAD_FILE', `${where} must be an object, got ${jsonType(t)}`);
    checkFields(t, ADDED_TOKEN, where);
    if (t['content'] === '') fail('BAD_FILE', `${where}: "content" is empty`);
    checkId(t['id'], idLimit, `${where}: "id"`);
  });

  for (const kind of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const) {
    const c = json[kind];
    if (c !== undefined && c !== null) checkComponent(c, kind, `${source}: ${kind}`);
  }
  for (const key of ['truncation', 'padding']) {
    const v = json[key];
    if (v !== undefined && v !== null && !isJsonObject(v)) fail('BAD_FILE', `${source}: "${key}" must be an object or null, got ${jsonType(v)}`);
  }
  const padding = json['padding'];
  if (isJsonObject(padding)) {
    if (padding['pad_id'] !== undefined) checkId(padding['pad_id'], idLimit, `${source}: padding.pad_id`);
    if (padding['pad_token'] !== undefined && typeof padding['pad_token'] !== 'string') fail('BAD_FILE', `${source}: padding.pad_token must be a string, got ${jsonType(padding['pad_token'])}`);
  }
  return idLimit;
}

function vocabSize(model: Json, source: string): number {
  const vocab = model['vocab'];
  if (!isJsonObject(vocab)) fail('BAD_FILE', `${source}: model.vocab must be an object of token -> id, got ${jsonType(vocab)}`);
  return Object.keys(vocab).length;
}

function unigramVocabSize(model: Json, source: string): number {
  const vocab = model['vocab'];
  if (!Array.isArray(vocab) || vocab.length === 0) fail('BAD_FILE', `${source}: model.vocab of a Unigram model must be a non-empty array of [piece, score] pairs, got ${jsonType(vocab)}`);
  vocab.forEach((entry, i) => {
    if (!Array.isArray(entry) || entry.length < 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || !Number.isFinite(entry[1])) {
      fail('BAD_FILE', `${source}: model.vocab[${i}] must be a [piece, score] pair, got ${describeValue(entry)}`);
    }
  });
  return vocab.length;
}

/** Every id an integer below `limit`: the package sizes arrays by the largest id. */
function checkVocabIds(vocab: Json, limit: number, source: string): void {
  for (const token in vocab) {
    if (!Object.prototype.hasOwnProperty.call(vocab, token)) continue;
    checkId(vocab[token], limit, `${source}: model.vocab id of ${describeValue(token, 40)}`);
  }
}

function checkId(id: unknown, limit: number, where: string): void {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= limit) {
    fail('BAD_FILE', `${where} must be an integer from 0 to ${limit - 1} (the vocabulary and added tokens have ${limit} ids), got ${describeValue(id)}`);
  }
}

function checkMerges(merges: unknown, source: string): void {
  if (!Array.isArray(merges)) fail('BAD_FILE', `${source}: model.merges must be an array, got ${jsonType(merges)}`);
  merges.forEach((m, i) => {
    const ok = typeof m === 'string' || (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string');
    if (!ok) fail('BAD_FILE', `${source}: model.merges[${i}] must be "a b" or ["a", "b"], got ${describeValue(m)}`);
  });
}

function checkComponent(c: unknown, kind: ComponentKind, where: string): void {
  if (!isJsonObject(c)) fail('BAD_FILE', `${where} must be an object or null, got ${jsonType(c)}`);
  const types = COMPONENTS.get(kind)!;
  const type = c['type'];
  const fields = typeof type === 'string' ? types.get(type) : undefined;
  if (fields === undefined) {
    fail('BAD_FILE', `${where}: type ${describeValue(type)} is not supported (supported: ${[...types.keys()].join(', ')})`);
  }
  checkFields(c, fields, `${where} (${type})`);
}

function checkFields(obj: Json, fields: Readonly<Record<string, Field>>, where: string): void {
  for (const [name, [kind, presence]] of Object.entries(fields)) {
    const v = obj[name];
    const at = `${where}.${name}`;
    if (v === undefined) {
      if (presence === 'required') fail('BAD_FILE', `${at} is missing`);
      continue;
    }
    checkValue(v, kind, at);
  }
}

function checkValue(v: unknown, kind: FieldKind, at: string): void {
  const bad = (want: string): never => fail('BAD_FILE', `${at} must be ${want}, got ${describeValue(v)}`);
  if (typeof kind === 'object') {
    if (!Array.isArray(v)) bad('an array');
    (v as unknown[]).forEach((c, i) => checkComponent(c, kind.components, `${at}[${i}]`));
    return;
  }
  switch (kind) {
    case 'string': if (typeof v !== 'string') bad('a string'); return;
    case 'string?null': if (v !== null && typeof v !== 'string') bad('a string or null'); return;
    case 'bool': if (typeof v !== 'boolean') bad('true or false'); return;
    case 'bool?null': if (v !== null && typeof v !== 'boolean') bad('true, false or null'); return;
    case 'number?null': if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) bad('a number or null'); return;
    case 'count': if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad('a non-negative integer'); return;
    case 'positive': if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) bad('a positive integer'); return;
    case 'pattern': {
      const ok = isJsonObject(v) && (typeof v['Regex'] === 'string' || typeof v['String'] === 'string');
      if (!ok) bad('{ "Regex": "..." } or { "String": "..." }');
      return;
    }
    case 'token-id-pair':
      if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'number' || !Number.isInteger(v[1])) bad('a ["token", id] pair');
      return;
    case 'template':
      if (!Array.isArray(v)) bad('an array of template pieces');
      (v as unknown[]).forEach((item, i) => checkTemplatePiece(item, `${at}[${i}]`));
      return;
    case 'special-tokens':
      if (!isJsonObject(v)) bad('an object');
      for (const [name, t] of Object.entries(v as Json)) {
        const ok = isJsonObject(t) && typeof t['id'] === 'string' && Array.isArray(t['ids']) && Array.isArray(t['tokens'])
          && t['tokens'].every((x) => typeof x === 'string') && t['ids'].every((x) => Number.isInteger(x));
        if (!ok) fail('BAD_FILE', `${at}.${describeValue(name, 40)} must be { "id": "...", "ids": [...], "tokens": [...] }`);
      }
      return;
  }
}

/** `{ "SpecialToken": { "id": "[CLS]", "type_id": 0 } }` or `{ "Sequence": { "id": "A" | "B", "type_id": 0 } }`. */
function checkTemplatePiece(item: unknown, at: string): void {
  const special = isJsonObject(item) ? item['SpecialToken'] : undefined;
  const sequence = isJsonObject(item) ? item['Sequence'] : undefined;
  const typeId = (p: Json): boolean => Number.isSafeInteger(p['type_id']) && (p['type_id'] as number) >= 0;
  if (isJsonObject(special) && typeof special['id'] === 'string' && typeId(special)) return;
  if (isJsonObject(sequence) && (sequence['id'] === 'A' || sequence['id'] === 'B') && typeId(sequence)) return;
  fail('BAD_FILE', `${at} must be { "SpecialToken": { "id": "...", "type_id": n } } or { "Sequence": { "id": "A" or "B", "type_id": n } }, got ${describeValue(item)}`);
}

