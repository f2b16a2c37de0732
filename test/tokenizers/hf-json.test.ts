// tokenizer.json through @huggingface/tokenizers: a WordPiece file built from the same vocabulary
// as the vocab.txt fixture must agree with it, and a hand-made RoBERTa-like byte-level BPE file
// must give RoBERTa's layout (<s> a </s></s> b </s>, token types all 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HfJsonTokenizer, loadTokenizer } from '../../src/models/tokenizers/index.js';
import { cpuMs } from '../util/cpu-time.js';
import { tempDir } from '../temp-dir.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tokenizers');
const vocabTxt = await loadTokenizer(join(FIXTURES, 'bert-uncased'));
const bertJson = await loadTokenizer(join(FIXTURES, 'bert-json'));
const roberta = await loadTokenizer(join(FIXTURES, 'roberta-json'));

test('tokenizer.json is preferred and described', () => {
  assert.ok(bertJson instanceof HfJsonTokenizer);
  assert.equal(bertJson.kind, 'hf-wordpiece');
  assert.equal(bertJson.vocabSize, 37);
  assert.equal(bertJson.padId, 0);
  assert.deepEqual(bertJson.specialTokens, { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]', mask: '[MASK]' });
  assert.equal(bertJson.summary()['postProcessor'], 'TemplateProcessing');
});

test('WordPiece tokenizer.json gives the same pieces and ids as vocab.txt', () => {
  const texts = [
    'Héllo, World!', 'unaffable playing played', '中国good', 'the [MASK] is good', 'hello[MASK]world [mask]',
    '\u0007hel\u0000lo\ufffd world', 'hello—world $5', 'a'.repeat(100), 'a'.repeat(101), 'playz xyz', "the'[s]", '',
  ];
  for (const t of texts) assert.deepEqual(bertJson.tokenize(t), vocabTxt.tokenize(t), JSON.stringify(t));
  const inputs: Array<string | [string, string]> = [...texts, ['hello world', 'the cafe'], ['a b c d e a b c', 'b c d'], ['a b c d e', 'e d c b a']];
  for (const opts of [{}, { maxLength: 10 }, { maxLength: 12, padding: 'max_length' as const }]) {
    const x = vocabTxt.encode(inputs, opts);
    const y = bertJson.encode(inputs, opts);
    assert.equal(y.seqLen, x.seqLen);
    assert.deepEqual(y.inputIds, x.inputIds);
    assert.deepEqual(y.tokenTypeIds, x.tokenTypeIds);
    assert.deepEqual(y.attentionMask, x.attentionMask);
    assert.deepEqual(y.lengths, x.lengths);
    assert.deepEqual(y.truncated, x.truncated);
  }
});

test('doLowerCase override reaches the BertNormalizer', async () => {
  const cased = await loadTokenizer(join(FIXTURES, 'bert-json'), { doLowerCase: false });
  assert.deepEqual(cased.tokenize('Hello World'), ['Hello', 'World']);
  assert.equal(cased.summary()['lowercase'], false);
  await assert.rejects(loadTokenizer(join(FIXTURES, 'roberta-json'), { doLowerCase: true }), /doLowerCase can only be set for a tokenizer.json with a BertNormalizer; this one has no normalizer/);
});

// RoBERTa fixture ids: <s>0 <pad>1 </s>2 <unk>3 ... hello16 Ġworld21 !12 Ġ8 l6 o7 w9 <mask>22.
test('byte-level BPE: merges applied in rank order, spaces become Ġ', () => {
  assert.equal(roberta.kind, 'hf-bpe');
  assert.deepEqual(roberta.tokenize('hello world!'), ['hello', 'Ġworld', '!']);
  // 'Ġhello' has no merge joining Ġ to 'hello'; 'Ġlow' has no merges at all.
  assert.deepEqual(roberta.tokenize('hello hello low'), ['hello', 'Ġ', 'hello', 'Ġ', 'l', 'o', 'w']);
  // <mask> strips the space on its left, as RoBERTa's does.
  assert.deepEqual(roberta.tokenize('hello <mask>'), ['hello', '<mask>']);
});

test('RoBERTa post-processing: <s> a </s></s> b </s>, token types all 0, padded with <pad>', () => {
  assert.equal(roberta.padId, 1);
  assert.deepEqual(roberta.specialTokens, { cls: '<s>', sep: '</s>', pad: '<pad>', unk: '<unk>', mask: '<mask>', bos: '<s>', eos: '</s>' });
  const b = roberta.encode([['hello world!', 'hello'], 'hello']);
  assert.equal(b.seqLen, 8);
  assert.deepEqual(Array.from(b.inputIds), [0, 16, 21, 12, 2, 2, 16, 2, /* row 2 */ 0, 16, 2, 1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(b.tokenTypeIds), new Array(16).fill(0));
  assert.deepEqual(Array.from(b.attentionMask), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual(b.lengths, [8, 3]);
});

test('RoBERTa truncation counts 4 special tokens for a pair', () => {
  // budget = 7 - 4 = 3; lengths 7 ('hello','Ġ','hello','Ġ','l','o','w') and 1 -> keep 2 and 1.
  const b = roberta.encode([['hello hello low', 'hello']], { maxLength: 7 });
  assert.deepEqual(Array.from(b.inputIds), [0, 16, 8, 2, 2, 16, 2]);
  assert.deepEqual(b.truncated, [true]);
  assert.throws(() => roberta.encode([['a', 'b']], { maxLength: 3 }), /a pair needs 4 special tokens/);
});

test('pad id comes from tokenizer.json padding first, else the configured pad token', async () => {
  const dir = tempDir('ak-tok-');
  try {
    const json = JSON.parse(readFileSync(join(FIXTURES, 'roberta-json', 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    json['padding'] = { strategy: 'BatchLongest', direction: 'Right', pad_to_multiple_of: null, pad_id: 3, pad_type_id: 0, pad_token: '<unk>' };
    const tok = new HfJsonTokenizer({ json, source: 'x/tokenizer.json', side: { dir, config: {}, specialTokensMap: {} } });
    assert.equal(tok.padId, 3);
    // No padding section, no pad in side files, and no conventional pad token among the added tokens.
    json['padding'] = null;
    json['added_tokens'] = (json['added_tokens'] as Array<{ content: string }>).filter((t) => t.content !== '<pad>');
    assert.throws(() => new HfJsonTokenizer({ json, source: 'x/tokenizer.json', side: { dir, config: {}, specialTokensMap: {} } }), /x\/tokenizer.json: no pad token: tokenizer.json has no "padding" section/);
    // special_tokens_map.json supplies it.
    const tok2 = new HfJsonTokenizer({ json, source: 'x/tokenizer.json', side: { dir, config: {}, specialTokensMap: { pad_token: { content: '</s>' } } } });
    assert.equal(tok2.padId, 2);
    // Written to disk and loaded the same way.
    cpSync(join(FIXTURES, 'roberta-json'), dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
    writeFileSync(join(dir, 'tokenizer_config.json'), '{}');
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: '<unk>' }));
    assert.equal((await loadTokenizer(dir)).padId, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a broken tokenizer.json is reported with its path', () => {
  assert.throws(
    () => new HfJsonTokenizer({ json: { model: { type: 'Mystery' } }, source: 'y/tokenizer.json', side: { dir: 'y', config: {}, specialTokensMap: {} } }),
    /y\/tokenizer.json: cannot build the tokenizer: /,
  );
  assert.throws(
    () => new HfJsonTokenizer({ json: {}, source: 'y/tokenizer.json', side: { dir: 'y', config: {}, specialTokensMap: {} } }),
    /y\/tokenizer.json: "model.type" is missing/,
  );
});

test('encodes 10,000 short sentences through tokenizer.json quickly', async () => {
  const words = ['hello', 'world', 'the', 'cafe', 'unaffable', 'playing', 'Héllo', 'good', 'is', 'xyz', '中国', 'a', 'b'];
  const sentences = Array.from({ length: 10_000 }, (_, i) => Array.from({ length: 12 }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' ') + ` ${i}!`);
  const { value: b, ms } = await cpuMs(() => bertJson.encode(sentences));
  assert.equal(b.batchSize, 10_000);
  assert.ok(ms < 4000, `took ${ms.toFixed(0)} ms of CPU`);
});
