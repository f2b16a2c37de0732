// WordPiece from vocab.txt: expected pieces and ids derived by hand from BERT's BasicTokenizer +
// WordpieceTokenizer rules against the fixture vocabulary (ids = line numbers of vocab.txt).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadTokenizer, WordPieceTokenizer } from '../../src/models/tokenizers/index.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import { cpuMs } from '../util/cpu-time.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tokenizers');
const uncased = await loadTokenizer(join(FIXTURES, 'bert-uncased'));
const cased = await loadTokenizer(join(FIXTURES, 'bert-cased'));

// Fixture vocabulary ids.
const PAD = 0, UNK = 1, CLS = 2, SEP = 3, MASK = 4;
const THE = 5, HELLO = 6, WORLD = 7, COMMA = 8, BANG = 9;
const A = 20, B = 21, C = 22, D = 23, E = 24;

function row(batch: EncodedBatch, r: number, field: 'inputIds' | 'attentionMask' | 'tokenTypeIds'): number[] {
  return Array.from(batch[field].subarray(r * batch.seqLen, (r + 1) * batch.seqLen));
}

test('loads vocab.txt as a WordPiece tokenizer with BERT special tokens', () => {
  assert.ok(uncased instanceof WordPieceTokenizer);
  assert.equal(uncased.kind, 'wordpiece');
  assert.equal(uncased.vocabSize, 37);
  assert.equal(uncased.padId, PAD);
  assert.equal(uncased.modelMaxLength, 512);
  assert.deepEqual(uncased.specialTokens, { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]', mask: '[MASK]' });
  assert.equal(uncased.summary()['doLowerCase'], true);
});

test('lower-casing strips accents through NFD', () => {
  assert.deepEqual(uncased.tokenize('Héllo, World!'), ['hello', ',', 'world', '!']);
  // Decomposed input (e + combining acute) gives the same result.
  assert.deepEqual(uncased.tokenize('He\u0301llo'), ['hello']);
  assert.deepEqual(uncased.tokenize('CAFÉ'), ['cafe']);
});

test('cased vocabulary keeps case and accents when do_lower_case is false', () => {
  assert.deepEqual(cased.tokenize('Hello World'), ['Hello', 'World']);
  assert.deepEqual(cased.tokenize('hello World'), ['hello', 'World']);
  // 'Héllo' is not in the vocabulary and no piece matches 'H' -> the whole word is [UNK].
  assert.deepEqual(cased.tokenize('Héllo'), ['[UNK]']);
  assert.equal(cased.modelMaxLength, 16);
});

test('doLowerCase option overrides tokenizer_config.json', async () => {
  const forced = await loadTokenizer(join(FIXTURES, 'bert-cased'), { doLowerCase: true });
  assert.deepEqual(forced.tokenize('Hello World'), ['hello', 'world']);
});

test('strip_accents semantics: null follows lower-casing, true strips even when cased', () => {
  const base = { vocab: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'cafe', 'café', 'CAFE', 'CAFÉ'], source: 'mem', tokenizeChineseChars: true, specialTokens: { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]' }, modelMaxLength: undefined };
  const tok = (doLowerCase: boolean, stripAccents: boolean | null) => new WordPieceTokenizer({ ...base, doLowerCase, stripAccents });
  assert.deepEqual(tok(true, null).tokenize('CAFÉ'), ['cafe']);
  assert.deepEqual(tok(true, false).tokenize('CAFÉ'), ['café'.normalize('NFC')]);
  assert.deepEqual(tok(false, null).tokenize('CAFÉ'), ['CAFÉ']);
  assert.deepEqual(tok(false, true).tokenize('CAFÉ'), ['CAFE']);
});

test('CJK ideographs are split into single characters; Hangul and astral ideographs follow BERT ranges', () => {
  assert.deepEqual(uncased.tokenize('中国good'), ['中', '国', 'good']);
  assert.deepEqual(uncased.encode(['中国good']).inputIds, Int32Array.from([CLS, 18, 19, 33, SEP]));
  // U+20000 (CJK Extension B) is an ideograph: split off, unknown. Hangul is not: stays one word.
  assert.deepEqual(uncased.tokenize('a\u{20000}b 한국'), ['a', '[UNK]', 'b', '[UNK]']);
});

test('tokenize_chinese_chars false keeps ideographs inside words', () => {
  const tok = new WordPieceTokenizer({ vocab: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '中', '##国'], source: 'mem', doLowerCase: true, stripAccents: null, tokenizeChineseChars: false, specialTokens: { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]' }, modelMaxLength: undefined });
  assert.deepEqual(tok.tokenize('中国'), ['中', '##国']);
});

test('punctuation splits: ASCII symbol ranges and Unicode P*', () => {
  assert.deepEqual(uncased.tokenize('hello,world!'), ['hello', ',', 'world', '!']);
  // '$' (ASCII 36) counts as punctuation though Unicode calls it a symbol; an em dash is Pd.
  assert.deepEqual(uncased.tokenize('hello—world $5'), ['hello', '[UNK]', 'world', '$', '5']);
  assert.deepEqual(uncased.tokenize("the'[s]"), ['the', "'", '[', '[UNK]', ']']);
});

test('## continuation pieces, and unknown words become one [UNK]', () => {
  assert.deepEqual(uncased.tokenize('unaffable playing played'), ['un', '##aff', '##able', 'play', '##ing', 'play', '##ed']);
  // 'play' matches but '##z' does not -> the whole word is [UNK], not 'play' + [UNK].
  assert.deepEqual(uncased.tokenize('playz xyz'), ['[UNK]', '[UNK]']);
  assert.deepEqual(uncased.encode(['unaffable xyz']).inputIds, Int32Array.from([CLS, 11, 12, 13, UNK, SEP]));
});

test('words over 100 characters become [UNK]; 100 characters still split', () => {
  const hundred = uncased.tokenize('a'.repeat(100));
  assert.equal(hundred.length, 100);
  assert.equal(hundred[0], 'a');
  assert.equal(hundred[99], '##a');
  assert.deepEqual(uncased.tokenize('a'.repeat(101)), ['[UNK]']);
});

test('control characters and U+FFFD are removed; Unicode spaces separate words', () => {
  assert.deepEqual(uncased.tokenize('\u0007hel\u0000lo\ufffd world'), ['hello', 'world']);
  // U+200B is a format character (Cf): removed, so the words join.
  assert.deepEqual(uncased.tokenize('the\u200bthe'), ['[UNK]']);
  assert.deepEqual(uncased.tokenize('hello\tworld\u00a0the\u3000a\r\nb'), ['hello', 'world', 'the', 'a', 'b']);
  assert.deepEqual(uncased.tokenize('  \t '), []);
});

test('[MASK] and other special tokens are never split or lower-cased', () => {
  assert.deepEqual(uncased.tokenize('the [MASK] is good'), ['the', '[MASK]', 'is', 'good']);
  assert.deepEqual(uncased.tokenize('hello[MASK]world'), ['hello', '[MASK]', 'world']);
  // Not the special token: lower-case text is split as ordinary punctuation.
  assert.deepEqual(uncased.tokenize('[mask]'), ['[', 'mask', ']']);
  assert.deepEqual(uncased.encode(['the [MASK] is good']).inputIds, Int32Array.from([CLS, THE, MASK, 32, 33, SEP]));
});

test('single sentence: [CLS] a [SEP] with token types 0', () => {
  const b = uncased.encode(['Hello, world!']);
  assert.equal(b.batchSize, 1);
  assert.equal(b.seqLen, 6);
  assert.deepEqual(Array.from(b.inputIds), [CLS, HELLO, COMMA, WORLD, BANG, SEP]);
  assert.deepEqual(Array.from(b.attentionMask), [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(b.tokenTypeIds), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(b.lengths, [6]);
  assert.deepEqual(b.truncated, [false]);
  assert.deepEqual(Array.from(uncased.encode(['']).inputIds), [CLS, SEP]);
});

test('pair: [CLS] a [SEP] b [SEP] with token types 0 then 1', () => {
  const b = uncased.encode([['hello world', 'the cafe']]);
  assert.deepEqual(Array.from(b.inputIds), [CLS, HELLO, WORLD, SEP, THE, 17, SEP]);
  assert.deepEqual(Array.from(b.tokenTypeIds), [0, 0, 0, 0, 1, 1, 1]);
  assert.deepEqual(b.lengths, [7]);
});

test('padding to the longest row, with attention masks', () => {
  const b = uncased.encode(['hello', ['hello', 'world the']]);
  assert.equal(b.seqLen, 6);
  assert.deepEqual(row(b, 0, 'inputIds'), [CLS, HELLO, SEP, PAD, PAD, PAD]);
  assert.deepEqual(row(b, 0, 'attentionMask'), [1, 1, 1, 0, 0, 0]);
  assert.deepEqual(row(b, 0, 'tokenTypeIds'), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(row(b, 1, 'inputIds'), [CLS, HELLO, SEP, WORLD, THE, SEP]);
  assert.deepEqual(row(b, 1, 'attentionMask'), [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(row(b, 1, 'tokenTypeIds'), [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(b.lengths, [3, 6]);
});

test('padding to max_length', () => {
  const b = uncased.encode(['hello world'], { padding: 'max_length', maxLength: 8 });
  assert.equal(b.seqLen, 8);
  assert.deepEqual(Array.from(b.inputIds), [CLS, HELLO, WORLD, SEP, PAD, PAD, PAD, PAD]);
  assert.deepEqual(Array.from(b.attentionMask), [1, 1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual(b.lengths, [4]);
  const empty = uncased.encode([], { padding: 'max_length', maxLength: 8 });
  assert.equal(empty.batchSize, 0);
  assert.equal(empty.inputIds.length, 0);
});

test('truncation of a single text keeps [SEP] at the end', () => {
  const b = uncased.encode(['a b c d e', 'a'], { maxLength: 4 });
  assert.equal(b.seqLen, 4);
  assert.deepEqual(row(b, 0, 'inputIds'), [CLS, A, B, SEP]);
  assert.deepEqual(row(b, 1, 'inputIds'), [CLS, A, SEP, PAD]);
  assert.deepEqual(b.truncated, [true, false]);
  assert.deepEqual(b.lengths, [4, 3]);
});

test('pair truncation longest_first: only the longer text is cut while the shorter fits its half', () => {
  // budget = 10 - 3 specials = 7; lengths 8 and 3 -> keep 4 and 3.
  const b = uncased.encode([['a b c d e a b c', 'b c d']], { maxLength: 10 });
  assert.deepEqual(Array.from(b.inputIds), [CLS, A, B, C, D, SEP, B, C, D, SEP]);
  assert.deepEqual(Array.from(b.tokenTypeIds), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
  assert.deepEqual(b.truncated, [true]);
});

test('pair truncation longest_first: both cut, the longer (the second on a tie) keeps the odd token', () => {
  // budget 7, lengths 5 and 5 (a tie) -> first keeps 3, second keeps 4.
  const tie = uncased.encode([['a b c d e', 'e d c b a']], { maxLength: 10 });
  assert.deepEqual(Array.from(tie.inputIds), [CLS, A, B, C, SEP, E, D, C, B, SEP]);
  // budget 7, lengths 6 and 5 -> the first (longer) keeps 4, the second 3.
  const firstLonger = uncased.encode([['a b c d e a', 'e d c b a']], { maxLength: 10 });
  assert.deepEqual(Array.from(firstLonger.inputIds), [CLS, A, B, C, D, SEP, E, D, C, SEP]);
});

test('truncation off: padding longest grows past maxLength, max_length padding refuses', () => {
  const b = uncased.encode(['a b c d e'], { maxLength: 4, truncation: false });
  assert.equal(b.seqLen, 7);
  assert.deepEqual(b.truncated, [false]);
  assert.throws(() => uncased.encode(['a b c d e'], { maxLength: 4, truncation: false, padding: 'max_length' }), /input 0 has 7 tokens, more than maxLength 4, and truncation is off/);
});

test('encode option errors name the problem', () => {
  assert.throws(() => uncased.encode([['a', 'b']], { maxLength: 2 }), /maxLength 2 leaves no room: a pair needs 3 special tokens/);
  assert.throws(() => uncased.encode(['a'], { maxLength: 0 }), /maxLength must be a positive integer, got 0/);
  assert.throws(() => cased.encode(['a'], { maxLength: 17 }), /maxLength 17 exceeds the tokenizer's model_max_length 16/);
  assert.throws(() => uncased.encode(['a', ['b'] as unknown as [string, string]]), /input 1 is neither a string nor a \[string, string\] pair/);
  assert.throws(() => uncased.encode(['a'], { padding: 'left' as 'longest' }), /padding must be 'longest' or 'max_length'/);
});

test('default maxLength is 128, capped by model_max_length', () => {
  const long = Array.from({ length: 200 }, () => 'a').join(' ');
  assert.equal(uncased.encode([long]).seqLen, 128);
  assert.equal(cased.encode([long]).seqLen, 16);
});

test('missing special tokens in the vocabulary are reported with the file', () => {
  assert.throws(
    () => new WordPieceTokenizer({ vocab: ['[PAD]', '[UNK]', '[SEP]'], source: '/m/vocab.txt', doLowerCase: true, stripAccents: null, tokenizeChineseChars: true, specialTokens: { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]' }, modelMaxLength: undefined }),
    /\/m\/vocab.txt: special token "\[CLS\]" \(cls_token\) is not in the vocabulary/,
  );
});

test('encodes 10,000 short sentences quickly', async () => {
  const words = ['hello', 'world', 'the', 'cafe', 'unaffable', 'playing', 'Héllo', 'good', 'is', 'xyz', '中国', 'a', 'b'];
  const sentences = Array.from({ length: 10_000 }, (_, i) => Array.from({ length: 12 }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' ') + ` ${i}!`);
  const { value: b, ms } = await cpuMs(() => uncased.encode(sentences));
  assert.equal(b.batchSize, 10_000);
  assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms of CPU`);
});
