import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultTaggingMetrics, entityScores, getEntities, taggingMetrics, tokenAccuracy } from '../../src/train/metrics/seqeval.js';

const ents = (tags: string[]) => getEntities(tags).map((e) => `${e.type}:${e.start}-${e.end}`);

test('getEntities follows seqeval default (conlleval) chunk rules for BIO', () => {
  assert.deepEqual(ents(['B-PER', 'I-PER', 'O', 'B-LOC']), ['PER:0-1', 'LOC:3-3']);
  // I- after O starts a new entity (no strict validation).
  assert.deepEqual(ents(['O', 'I-ORG', 'I-ORG', 'O']), ['ORG:1-2']);
  assert.deepEqual(ents(['I-PER', 'I-PER']), ['PER:0-1']);
  // A type change ends a chunk and starts another, even with I-.
  assert.deepEqual(ents(['B-PER', 'I-LOC', 'I-LOC']), ['PER:0-0', 'LOC:1-2']);
  // B after B: two entities.
  assert.deepEqual(ents(['B-PER', 'B-PER']), ['PER:0-0', 'PER:1-1']);
  // An entity running to the end is closed.
  assert.deepEqual(ents(['O', 'B-MISC', 'I-MISC']), ['MISC:1-2']);
  assert.deepEqual(ents(['O', 'O']), []);
});

test('getEntities handles BIOES', () => {
  assert.deepEqual(ents(['S-PER', 'B-LOC', 'I-LOC', 'E-LOC', 'O']), ['PER:0-0', 'LOC:1-3']);
  // E after E starts a new chunk; E after O starts one too.
  assert.deepEqual(ents(['B-LOC', 'E-LOC', 'E-LOC', 'O', 'E-PER']), ['LOC:0-1', 'LOC:2-2', 'PER:4-4']);
  // S then I of the same type: S ends, I starts.
  assert.deepEqual(ents(['S-ORG', 'I-ORG', 'E-ORG']), ['ORG:0-0', 'ORG:1-2']);
});

test('entityScores: micro precision/recall/F1 against hand-computed values', () => {
  const gold = [['B-PER', 'I-PER', 'O', 'B-LOC'], ['O', 'I-ORG', 'I-ORG', 'O', 'B-MISC']];
  const pred = [['B-PER', 'I-PER', 'O', 'B-ORG'], ['O', 'B-ORG', 'I-ORG', 'O', 'O']];
  // gold entities: PER 0-1, LOC 3-3 | ORG 1-2 (I after O starts it), MISC 4-4  -> 4
  // predicted:     PER 0-1, ORG 3-3 | ORG 1-2                                  -> 3
  // correct: PER 0-1 (s0), ORG 1-2 (s1) -> 2
  // P = 2/3, R = 2/4, F1 = 2PR/(P+R) = (2/3)/(7/6) = 4/7
  const s = entityScores(gold, pred);
  assert.deepEqual({ correct: s.correct, predicted: s.predicted, gold: s.gold }, { correct: 2, predicted: 3, gold: 4 });
  assert.ok(Math.abs(s.precision - 2 / 3) < 1e-12);
  assert.equal(s.recall, 0.5);
  assert.ok(Math.abs(s.f1 - 4 / 7) < 1e-12);
  // token accuracy: s0 3 of 4 right, s1 3 of 5 right -> 6/9
  assert.ok(Math.abs(tokenAccuracy(gold, pred) - 6 / 9) < 1e-12);
  const m = taggingMetrics(['entity_f1', 'entity_recall', 'token_accuracy'], gold, pred);
  assert.deepEqual(Object.keys(m), ['entity_f1', 'entity_recall', 'token_accuracy']);
});

test('entityScores: same entity at the same offsets in different sentences is not confused', () => {
  // gold PER 0-0 in sentence 0 only; prediction puts it in sentence 1 -> 0 correct.
  const s = entityScores([['B-PER'], ['O']], [['O'], ['B-PER']]);
  assert.deepEqual({ c: s.correct, p: s.precision, r: s.recall, f: s.f1 }, { c: 0, p: 0, r: 0, f: 0 });
  // nothing predicted, nothing gold: zero_division -> 0
  assert.equal(entityScores([['O']], [['O']]).f1, 0);
});

test('tagging metric inputs are checked', () => {
  assert.throws(() => entityScores([['O']], [['O'], ['O']]), /1 gold sentences but 2 predicted/);
  assert.throws(() => tokenAccuracy([['O', 'O']], [['O']]), /sentence 0: 2 gold tags but 1 predicted/);
  assert.throws(() => taggingMetrics(['bleu'], [['O']], [['O']]), /unknown tagging metric "bleu"/);
  assert.deepEqual(defaultTaggingMetrics('plain'), ['token_accuracy']);
  assert.equal(defaultTaggingMetrics('BIOES')[0], 'entity_f1');
});
