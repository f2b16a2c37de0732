// loadTokenizer's choice of implementation and its error messages; the longest_first length rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import { loadTokenizer, parseVocabTxt, truncationLengths } from '../../src/models/tokenizers/index.js';
import { tempDir } from '../temp-dir.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tokenizers');

async function withDir(files: Record<string, string>, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir('ak-load-');
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a missing directory is named', async () => {
  await assert.rejects(loadTokenizer('/no/such/model-dir'), (e: unknown) => {
    assert.ok(e instanceof AdapterkitError);
    assert.equal(e.code, 'BAD_FILE');
    assert.match(e.message, /tokenizer directory \/no\/such\/model-dir does not exist/);
    return true;
  });
  await assert.rejects(loadTokenizer(join(FIXTURES, 'bert-uncased', 'vocab.txt')), /bert-uncased\/vocab.txt is not a directory/);
});

test('a directory without tokenizer files says what was looked for', async () => {
  await withDir({ 'config.json': '{}' }, async (dir) => {
    await assert.rejects(loadTokenizer(dir), new RegExp(`${dir}: no tokenizer found: looked for tokenizer.json, vocab.txt and spm.model`));
  });
});

test('vocab.json + merges.txt without tokenizer.json is refused clearly', async () => {
  await assert.rejects(loadTokenizer(join(FIXTURES, 'roberta-no-json')), (e: unknown) => {
    assert.ok(e instanceof AdapterkitError);
    assert.equal(e.code, 'UNSUPPORTED_MODEL');
    assert.match(e.message, /roberta-no-json: has vocab.json and merges.txt .* but no tokenizer.json; adapterkit needs tokenizer.json/);
    return true;
  });
  await withDir({ 'spiece.model': 'x' }, async (dir) => {
    await assert.rejects(loadTokenizer(dir), /has spiece.model \(SentencePiece\) but no tokenizer.json/);
  });
});

test('malformed side files are reported with their path', async () => {
  await withDir({ 'vocab.txt': '[PAD]\n[UNK]\n[CLS]\n[SEP]\n', 'tokenizer_config.json': '{"do_lower_case": tru' }, async (dir) => {
    await assert.rejects(loadTokenizer(dir), new RegExp(`${dir}/tokenizer_config.json: not valid JSON`));
  });
  await withDir({ 'vocab.txt': '[PAD]\n[UNK]\n[CLS]\n[SEP]\n', 'tokenizer_config.json': '{"do_lower_case": "yes"}' }, async (dir) => {
    await assert.rejects(loadTokenizer(dir), /tokenizer_config.json: "do_lower_case" must be true or false, got "yes"/);
  });
  await withDir({ 'vocab.txt': '[PAD]\n[UNK]\n[CLS]\n[SEP]\n', 'special_tokens_map.json': '[1]' }, async (dir) => {
    await assert.rejects(loadTokenizer(dir), /special_tokens_map.json: expected a JSON object/);
  });
  await withDir({ 'vocab.txt': '' }, async (dir) => {
    await assert.rejects(loadTokenizer(dir), /vocab.txt: vocabulary is empty/);
  });
  await withDir({ 'tokenizer.json': '{"model": ' }, async (dir) => {
    await assert.rejects(loadTokenizer(dir), /tokenizer.json: not valid JSON/);
  });
});

test('special tokens and limits come from tokenizer_config.json, then special_tokens_map.json', async () => {
  const vocab = '<pad>\n<oov>\n<cls>\n<sep>\n[PAD]\n[UNK]\nhi\n';
  await withDir({
    'vocab.txt': vocab,
    'tokenizer_config.json': JSON.stringify({ unk_token: '<oov>', model_max_length: 1e30, additional_special_tokens: ['hi'] }),
    'special_tokens_map.json': JSON.stringify({ unk_token: '[UNK]', cls_token: { content: '<cls>' }, sep_token: '<sep>', pad_token: '<pad>' }),
  }, async (dir) => {
    const tok = await loadTokenizer(dir);
    assert.deepEqual(tok.specialTokens, { cls: '<cls>', sep: '<sep>', pad: '<pad>', unk: '<oov>' });
    assert.equal(tok.modelMaxLength, undefined); // HF's int(1e30) means "no limit"
    assert.equal(tok.padId, 0);
    assert.deepEqual(Array.from(tok.encode(['hi zzz']).inputIds), [2, 6, 1, 3]);
  });
});

test('vocab.txt parsing: one token per line, CRLF tolerated, trailing newline adds nothing', () => {
  assert.deepEqual(parseVocabTxt('a\nb\r\n##c\n', 'v'), ['a', 'b', '##c']);
  assert.deepEqual(parseVocabTxt('a\n\nb', 'v'), ['a', '', 'b']);
});

test('longest_first lengths follow HF tokenizers (budget 7)', () => {
  // [n1, n2] -> [kept1, kept2], the table of HF tokenizers' own truncation test.
  const cases: Array<[number, number, number, number]> = [
    [0, 0, 0, 0], [0, 2, 0, 2], [0, 4, 0, 4], [0, 8, 0, 7],
    [2, 0, 2, 0], [2, 2, 2, 2], [2, 4, 2, 4], [2, 8, 2, 5],
    [4, 0, 4, 0], [4, 2, 4, 2], [4, 4, 3, 4], [4, 8, 3, 4],
    [8, 0, 7, 0], [8, 2, 5, 2], [8, 4, 4, 3], [8, 8, 3, 4],
  ];
  for (const [n1, n2, k1, k2] of cases) assert.deepEqual(truncationLengths(n1, n2, 7), [k1, k2], `${n1},${n2}`);
  assert.deepEqual(truncationLengths(9, undefined, 7), [7, 0]);
  assert.deepEqual(truncationLengths(5, 5, 0), [0, 0]);
});

test('the fixture directories load as the expected kinds', async () => {
  const kinds = await Promise.all(['bert-uncased', 'bert-cased', 'bert-json', 'roberta-json'].map(async (d) => (await loadTokenizer(join(FIXTURES, d))).kind));
  assert.deepEqual(kinds, ['wordpiece', 'wordpiece', 'hf-wordpiece', 'hf-bpe']);
});
