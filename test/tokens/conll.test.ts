import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { BadRows } from '../../src/train/data/bad-rows.js';
import { detectScheme, loadTaggingTask, parseConll, parseTaggingJsonl, sortTags } from '../../src/train/data/conll.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/tokens/${name}`, import.meta.url));

test('CoNLL-2003 files: 4 columns, NER tag from the last column, -DOCSTART- skipped', async () => {
  const task = await loadTaggingTask({ files: { train: fixture('conll2003-train.txt'), dev: fixture('conll2003-dev.txt') }, name: 'mini-ner' });
  assert.equal(task.name, 'mini-ner');
  assert.equal(task.scheme, 'BIO');
  assert.deepEqual(task.tagSet, ['O', 'B-LOC', 'B-MISC', 'B-ORG', 'I-ORG', 'B-PER', 'I-PER']);
  assert.deepEqual(task.metrics, ['entity_f1', 'entity_precision', 'entity_recall', 'token_accuracy']);
  const train = task.splits.train ?? [];
  assert.equal(train.length, 3);
  assert.deepEqual(train[0], {
    id: 'train-0',
    tokens: ['Maria', 'Lindqvist', 'visited', 'Tromsø', 'in', 'March', '.'],
    tags: ['B-PER', 'I-PER', 'O', 'B-LOC', 'O', 'O', 'O'],
    source: { file: fixture('conll2003-train.txt'), line: 3 },
  });
  assert.deepEqual(train[2]?.tags, ['B-PER', 'O', 'B-MISC', 'O', 'O']);
  assert.equal(train[2]?.source?.line, 22);
  assert.deepEqual(task.splits.dev?.[0]?.tokens, ['Lena', 'moved', 'to', 'Bergen', '.']);
  assert.deepEqual(task.report.skipped, []);
  // tagColumn picks another column: the chunk tags (column 2)
  const chunks = await loadTaggingTask({ files: { train: fixture('conll2003-train.txt') }, tagColumn: 2 });
  assert.deepEqual(chunks.splits.train?.[0]?.tags, ['B-NP', 'I-NP', 'B-VP', 'B-NP', 'B-PP', 'B-NP', 'O']);
});

test('CoNLL bad lines: fail names file and line; skip drops the sentence and reports it', async () => {
  const file = fixture('conll2003-bad.txt');
  await assert.rejects(loadTaggingTask({ files: { train: file } }), /conll2003-bad\.txt:4: expected 4 columns as on line 3, found 3 \(sentence starting on line 3 dropped\)/);
  const task = await loadTaggingTask({ files: { train: file }, onBadRow: 'skip' });
  assert.deepEqual(task.splits.train?.map((s) => s.tokens.join(' ')), ['Oskar slept .']);
  assert.deepEqual(task.report.skipped.map((r) => [r.line, r.reason.split(' (')[0]]), [
    [4, 'expected 4 columns as on line 3, found 3'],
    [12, 'missing tag: expected "<token> ... <tag>", found only "Alone"'],
  ]);
  assert.equal(task.report.skipped[0]?.file, file);
});

test('parseConll: tab/space columns, CRLF, last sentence without blank line', () => {
  const bad = new BadRows('fail');
  const out = parseConll('EU\tB-ORG\r\nrejects\tO\r\n\r\n-DOCSTART- O\nPeter B-PER', 'x.conll', bad, { split: 'dev' });
  assert.deepEqual(out.map((s) => [s.id, s.tokens, s.tags]), [
    ['dev-0', ['EU', 'rejects'], ['B-ORG', 'O']],
    ['dev-1', ['Peter'], ['B-PER']],
  ]);
});

test('JSONL tagging: tokens/tags, id field, BIOES detection', async () => {
  const task = await loadTaggingTask({ files: { train: fixture('tagging.jsonl') } });
  assert.equal(task.scheme, 'BIOES');
  assert.deepEqual(task.tagSet, ['O', 'B-LOC', 'E-LOC', 'B-ORG', 'I-ORG', 'E-ORG', 'S-PER']);
  assert.deepEqual(task.splits.train?.map((s) => [s.id, s.source?.line]), [['s1', 1], ['train-1', 2], ['train-2', 4]]);
  assert.deepEqual(task.splits.train?.[0]?.tags, ['S-PER', 'O', 'O', 'B-LOC', 'E-LOC']);
});

test('JSONL bad rows: length mismatch, missing tags, invalid JSON', async () => {
  const file = fixture('tagging-bad.jsonl');
  await assert.rejects(loadTaggingTask({ files: { train: file } }), /tagging-bad\.jsonl:2: length mismatch: 3 tokens but 2 tags/);
  const task = await loadTaggingTask({ files: { train: file }, onBadRow: 'skip' });
  assert.equal(task.splits.train?.length, 2);
  assert.deepEqual(task.report.skipped.map((r) => r.line), [2, 3, 4]);
  assert.match(task.report.skipped[1]?.reason ?? '', /missing tags: "tags" must be an array/);
  assert.match(task.report.skipped[2]?.reason ?? '', /invalid JSON/);
});

test('JSONL numeric tags need tagNames; custom keys', () => {
  const text = '{"words": ["Oslo", "rocks"], "ner_tags": [1, 0]}\n';
  const opts = { split: 'train', tokensKey: 'words', tagsKey: 'ner_tags' };
  assert.throws(() => parseTaggingJsonl(text, 'n.jsonl', new BadRows('fail'), opts), /n\.jsonl:1: tag 0 is 1; expected a string \(numeric tags need tagNames\)/);
  const out = parseTaggingJsonl(text, 'n.jsonl', new BadRows('fail'), { ...opts, tagNames: ['O', 'S-LOC'] });
  assert.deepEqual(out[0]?.tags, ['S-LOC', 'O']);
});

test('scheme detection and deterministic tag order', () => {
  assert.equal(detectScheme(['O', 'B-PER', 'I-PER']), 'BIO');
  assert.equal(detectScheme(['O', 'S-PER', 'B-LOC', 'E-LOC']), 'BIOES');
  assert.equal(detectScheme(['NOUN', 'VERB', 'O']), 'plain');
  assert.equal(detectScheme(['O']), 'BIO');
  assert.deepEqual(sortTags(['I-PER', 'O', 'S-LOC', 'B-PER', 'E-PER', 'B-LOC', 'I-PER']), ['O', 'B-LOC', 'S-LOC', 'B-PER', 'I-PER', 'E-PER']);
  assert.deepEqual(sortTags(['VERB', 'NOUN', '.', 'ADJ']), ['.', 'ADJ', 'NOUN', 'VERB']);
});

test('given tagSet is kept and checked', async () => {
  const tagSet = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-MISC', 'I-MISC'];
  const task = await loadTaggingTask({ files: { train: fixture('conll2003-train.txt') }, tagSet });
  assert.deepEqual(task.tagSet, tagSet);
  await assert.rejects(loadTaggingTask({ files: { train: fixture('conll2003-train.txt') }, tagSet: ['O', 'B-PER'] }), /conll2003-train\.txt:3: tag "I-PER" is not in the given tagSet/);
});
