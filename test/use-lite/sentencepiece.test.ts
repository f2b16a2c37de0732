import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  PAD_ID,
  SentencePieceTokenizer,
  parseSentencePieceVocabulary,
  type SentencePieceVocabulary,
} from '../../src/models/use-lite/sentencepiece.js';
import { loadSentencePieceTokenizer } from '../../src/models/use-lite/package-files.js';

interface RefSentence {
  text: string;
  ids: number[];
  truncated: boolean;
}
const reference = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'use-lite', 'reference.json'), 'utf8')) as {
  sentences: RefSentence[];
};

const RESERVED: Array<[string, number]> = [['�', 0], ['<s>', 0], ['</s>', 0], ['x1', 0], ['x2', 0], ['x3', 0]];
/** A toy vocabulary: ids 6.. follow the order below. */
function toy(pieces: Array<[string, number | null]>): SentencePieceTokenizer {
  return new SentencePieceTokenizer(parseSentencePieceVocabulary([...RESERVED, ...pieces], 'toy'));
}

test('ids equal the reference ids for every recorded sentence', async () => {
  const tok = await loadSentencePieceTokenizer();
  assert.equal(tok.vocabSize, 8000);
  assert.ok(reference.sentences.length >= 36);
  for (const s of reference.sentences) assert.deepEqual(tok.encode(s.text), s.ids, `ids of ${JSON.stringify(s.text)}`);
});

test('Viterbi picks the best-scoring segmentation and handles spaces', () => {
  const tok = toy([['▁', -2], ['▁a', -1], ['a', -3], ['.', -1], ['▁I', -1], ['▁like', -1], ['▁it', -1], ['I', -2], ['like', -2], ['it', -2], ['l', -3], ['i', -3], ['k', -3], ['e', -3], ['t', -3]]);
  // ids: ▁=6 ▁a=7 a=8 .=9 ▁I=10 ▁like=11 ▁it=12 I=13 like=14 it=15 ...
  assert.deepEqual(tok.encode('I like it.'), [10, 11, 12, 9]);
  assert.deepEqual(tok.encode('Ilikeit.'), [10, 14, 15, 9]);
  assert.deepEqual(tok.encode(''), []);
  assert.deepEqual(tok.encode(' a'), [6, 7]); // leading space -> "▁▁a"
});

test('NFKC normalisation, unknown merging and astral characters', () => {
  const tok = toy([['▁', -2], ['▁a', -1], ['▁ç', -2], ['a', -3], ['fi', -1]]);
  assert.deepEqual(tok.encode('ça'), tok.encode('c\u0327a'));
  // "ç" alone is unknown (score 0), so "▁" + unknown (-2 + 0) ties with "▁ç" (-2); the later edge wins.
  assert.deepEqual(tok.encode('ça'), [6, 0, 9]);
  assert.deepEqual(tok.encode('a😹😹'), [7, 0]); // two unknown emoji merge into one 0
  assert.deepEqual(tok.encode('a😹a😹'), [7, 0, 9, 0]);
  // Ligature ﬁ -> "fi". Quirk kept from the original: "i" alone is unknown and position 2 is
  // unreachable, so its best stays 0 and the unknown edge 2->3 (0 + 0) beats "fi" (-2 - 1).
  assert.deepEqual(tok.encode('\ufb01'), [6, 0]);
  const withSingles = toy([['▁', -2], ['f', -2], ['i', -2], ['fi', -1]]);
  assert.deepEqual(withSingles.encode('\ufb01'), [6, 9]);
});

test('null scores count as 0, duplicates resolve to the later id, ties go to the later edge', () => {
  // "▁" (-0.1) + ":" (null, counted as 0) beats the whole piece "▁:" (-0.5).
  const tok = toy([['▁', -0.1], [':', null], ['▁:', -0.5], ['b', -1], ['b', -1]]);
  assert.deepEqual(tok.encode(':'), [6, 7]);
  assert.deepEqual(tok.encode('b'), [6, 10]); // "b" is ids 9 and 10: the later wins
  // Tie: "▁x" (-2) vs "▁" + "x" (-1 + -1): equal, the later-visited edge (start 1, "x") wins.
  const tie = toy([['▁', -1], ['x', -1], ['▁x', -2]]);
  assert.deepEqual(tie.encode('x'), [6, 7]);
});

test('encodeBatch pads, masks and truncates to 128 tokens', async () => {
  const tok = await loadSentencePieceTokenizer();
  const long = reference.sentences.find((s) => s.ids.length > 128);
  assert.ok(long, 'the fixture has a sentence longer than 128 tokens');
  const texts = ['Hello world.', '', long.text];
  const b = tok.encodeBatch(texts);
  assert.equal(b.batchSize, 3);
  assert.equal(b.seqLen, 128);
  assert.deepEqual(b.lengths, [4, 0, 128]);
  assert.deepEqual(b.truncated, [false, false, true]);
  assert.equal(b.inputIds.length, 3 * 128);
  assert.deepEqual(Array.from(b.inputIds.subarray(0, 6)), [...tok.encode('Hello world.'), PAD_ID, PAD_ID]);
  assert.deepEqual(Array.from(b.attentionMask.subarray(0, 6)), [1, 1, 1, 1, 0, 0]);
  assert.ok(b.attentionMask.subarray(128, 256).every((m) => m === 0));
  assert.deepEqual(Array.from(b.inputIds.subarray(256)), long.ids.slice(0, 128));
  const short = tok.encodeBatch(['a', 'I like it.'], { maxTokens: 2 });
  assert.equal(short.seqLen, 2);
  assert.deepEqual(short.truncated, [false, true]);
  const empty = tok.encodeBatch(['', '']);
  assert.equal(empty.seqLen, 1);
  assert.deepEqual(Array.from(empty.attentionMask), [0, 0]);
  assert.throws(() => tok.encodeBatch(['a'], { maxTokens: 0 }), /maxTokens must be a positive integer, got 0/);
});

test('malformed vocabularies are rejected with the entry named', async () => {
  assert.throws(() => parseSentencePieceVocabulary({}, 'v.json'), /v\.json: expected an array of more than 6/);
  const bad: unknown[] = [...RESERVED, ['a', 'x']];
  assert.throws(() => parseSentencePieceVocabulary(bad, 'v.json'), /v\.json: entry 6 must be \[non-empty string, finite number or null\], got \["a","x"\]/);
  await assert.rejects(loadSentencePieceTokenizer('/nonexistent/vocab.json'), /\/nonexistent\/vocab\.json: cannot read vocabulary/);
  const tok = toy([['a', -1]]);
  assert.throws(() => tok.piece(99), /token id 99 is outside the vocabulary of 7 pieces/);
  const v: SentencePieceVocabulary = parseSentencePieceVocabulary([...RESERVED, ['a', null]], 'v');
  assert.deepEqual(v[6], ['a', 0]);
});
