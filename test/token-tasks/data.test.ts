/**
 * loadTokenTask's tagging-file options reach the loader: the tag's CoNLL column, JSONL keys and
 * numeric tag names, the scheme and the tag set (its order is the class ids).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenTask, type LoadedTokenTask } from '../../src/train/token-tasks/data.js';
import type { TaggingData } from '../../src/train/tokens/types.js';
import { tempDir } from '../temp-dir.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/tokens/${name}`, import.meta.url));

function tagging(task: LoadedTokenTask): TaggingData {
  assert.equal(task.kind, 'tagging');
  return (task as Extract<LoadedTokenTask, { kind: 'tagging' }>).data;
}

test('loadTokenTask tagging files: tagColumn picks the CoNLL column of the tag', async () => {
  const train = fixture('conll2003-train.txt');
  const ner = tagging(await loadTokenTask({ tokenTask: 'tagging', files: { train } }));
  assert.deepEqual(ner.splits.train?.[0]?.tags, ['B-PER', 'I-PER', 'O', 'B-LOC', 'O', 'O', 'O']);
  const pos = tagging(await loadTokenTask({ tokenTask: 'tagging', files: { train }, tagColumn: 1, name: 'mini-pos' }));
  assert.equal(pos.name, 'mini-pos');
  assert.deepEqual(pos.splits.train?.[0]?.tags, ['NNP', 'NNP', 'VBD', 'NNP', 'IN', 'NNP', '.']);
  assert.equal(pos.scheme, 'plain');
  const chunks = tagging(await loadTokenTask({ tokenTask: 'tagging', files: { train }, tagColumn: -2 }));
  assert.deepEqual(chunks.splits.train?.[0]?.tags, ['B-NP', 'I-NP', 'B-VP', 'B-NP', 'B-PP', 'B-NP', 'O']);
});

test('loadTokenTask tagging files: JSONL keys, numeric tags with tagNames, tagSet order, scheme', async () => {
  const dir = tempDir('adapterkit-token-data-');
  const train = join(dir, 'ner.txt'); // not .jsonl: the format has to be given
  writeFileSync(train, [
    '{"words": ["Oslo", "hosts", "Kim"], "ner_tags": [2, 0, 1]}',
    '{"words": ["Kim", "left"], "ner_tags": [1, 0]}',
  ].join('\n'));
  const tagNames = ['O', 'B-PER', 'B-LOC'];
  const base = { tokenTask: 'tagging', files: { train }, format: 'jsonl', tokensKey: 'words', tagsKey: 'ner_tags', tagNames } as const;

  const named = tagging(await loadTokenTask(base));
  assert.equal(named.name, 'ner');
  assert.deepEqual(named.splits.train?.map((s) => [s.tokens, s.tags]), [
    [['Oslo', 'hosts', 'Kim'], ['B-LOC', 'O', 'B-PER']],
    [['Kim', 'left'], ['B-PER', 'O']],
  ]);
  assert.deepEqual(named.tagSet, ['O', 'B-LOC', 'B-PER'], 'without tagSet the tags are sorted');
  assert.equal(named.scheme, 'BIO');

  const ordered = tagging(await loadTokenTask({ ...base, tagSet: tagNames, scheme: 'plain' }));
  assert.deepEqual(ordered.tagSet, ['O', 'B-PER', 'B-LOC'], 'tagSet fixes the class order');
  assert.equal(ordered.scheme, 'plain');
  assert.deepEqual(ordered.metrics, ['token_accuracy']);
  await assert.rejects(loadTokenTask({ ...base, tagSet: ['O', 'B-PER'] }), /ner\.txt:1: tag "B-LOC" is not in the given tagSet/);
});
