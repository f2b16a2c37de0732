import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exactMatchScore, f1Score, normalizeAnswer, squadScores } from '../../src/train/metrics/squad.js';

test('normalizeAnswer lower-cases, drops punctuation, articles and extra whitespace', () => {
  assert.equal(normalizeAnswer('The  Eiffel-Tower!'), 'eiffeltower');
  assert.equal(normalizeAnswer('  A cat, an owl and THE dog. '), 'cat owl and dog');
  // articles only as whole words: "theatre", "another", "ban" survive
  assert.equal(normalizeAnswer('theatre another ban'), 'theatre another ban');
  // Unicode word boundary as Python: "thé" is not the article "the" followed by é
  assert.equal(normalizeAnswer('théâtre'), 'théâtre');
  // non-ASCII punctuation is not in string.punctuation and stays
  assert.equal(normalizeAnswer('«yes»'), '«yes»');
});

test('exact match and F1 against hand-computed values', () => {
  assert.equal(exactMatchScore('the Denver Broncos', 'Denver Broncos!'), 1);
  assert.equal(exactMatchScore('Broncos', 'Denver Broncos'), 0);
  // pred "denver broncos team" vs gold "denver broncos": same = 2, P = 2/3, R = 1, F1 = 2*(2/3)/(5/3) = 0.8
  assert.ok(Math.abs(f1Score('Denver Broncos team', 'The Denver Broncos') - 0.8) < 1e-12);
  // repeated words count as a bag: pred "a b b" -> [b, b]; gold "b c" -> [b, c]; same = 1, P = 1/2, R = 1/2, F1 = 0.5
  assert.equal(f1Score('a b b', 'b c'), 0.5);
  assert.equal(f1Score('x', 'y'), 0);
  // v2 empty rules
  assert.equal(f1Score('', ''), 1);
  assert.equal(f1Score('', 'Denver'), 0);
  assert.equal(f1Score('the', ''), 1); // "the" normalises to empty
});

test('squadScores: max over gold answers, v2 no-answer handling and breakdown', () => {
  const examples = [
    { id: 'a', answers: [{ text: 'Alan Stevenson', start: 0 }, { text: 'Stevenson', start: 5 }] },
    { id: 'b', answers: [{ text: '48 metres', start: 0 }] },
    { id: 'c', answers: [] },
    { id: 'd', answers: [] },
  ];
  const predictions = { a: 'Stevenson', b: '48 metres tall', c: '', d: 'Andes' };
  // a: EM 1 (matches second gold), F1 1
  // b: EM 0; F1: pred [48, metres, tall], gold [48, metres] -> P 2/3, R 1, F1 0.8
  // c: empty vs no answer -> 1, 1;  d: "andes" vs no answer -> 0, 0
  // EM = (1+0+1+0)/4 = 0.5, F1 = (1+0.8+1+0)/4 = 0.7
  const s = squadScores(examples, predictions);
  assert.equal(s.exact_match, 0.5);
  assert.ok(Math.abs(s.f1 - 0.7) < 1e-12);
  assert.equal(s.total, 4);
  assert.deepEqual(s.has_answer, { exact_match: 0.5, f1: 0.9, total: 2 });
  assert.deepEqual(s.no_answer, { exact_match: 0.5, f1: 0.5, total: 2 });
  // v1-style data (all answerable): no breakdown; Map predictions work too
  const v1 = squadScores(examples.slice(0, 2), new Map([['a', 'Alan Stevenson'], ['b', '']]));
  assert.deepEqual(v1, { exact_match: 0.5, f1: 0.5, total: 2 });
  assert.throws(() => squadScores(examples, { a: 'x' }), /no prediction for 3 of 4 questions, e\.g\. b, c, d/);
});
