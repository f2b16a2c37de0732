import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignWords, IGNORE_LABEL, wordPredictions } from '../../src/train/tokens/align.js';
import { WordPieceTokenizer } from '../../src/models/tokenizers/wordpiece.js';
import { loadSentencePieceTokenizer } from '../../src/models/use-lite/package-files.js';

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'jo', '##han', '##son', 'lives', 'in', 'troms', '##ø', '.', 'un', '##break', '##able'];

function tinyBert(): { tok: WordPieceTokenizer; pieces: (w: string) => number[] } {
  const tok = new WordPieceTokenizer({
    vocab: VOCAB,
    source: 'test-vocab',
    doLowerCase: true,
    stripAccents: false,
    tokenizeChineseChars: true,
    specialTokens: { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]' },
    modelMaxLength: 512,
  });
  const pieces = (w: string) => tok.tokenize(w).map((p) => VOCAB.indexOf(p));
  return { tok, pieces };
}

const I = IGNORE_LABEL;

test('alignWords: first piece carries the label, other pieces and specials are ignored', () => {
  const { pieces } = tinyBert();
  const row = alignWords(['Johanson', 'lives', 'in', 'Tromsø', '.'], [1, 0, 0, 2, 0], { pieces, clsId: 2, sepId: 3, unkId: 1, maxLength: 32 });
  // Johanson -> jo ##han ##son (4 5 6); Tromsø -> troms ##ø (9 10)
  assert.deepEqual(row.inputIds, [2, 4, 5, 6, 7, 8, 9, 10, 11, 3]);
  assert.deepEqual(row.wordIds, [-1, 0, 0, 0, 1, 2, 3, 3, 4, -1]);
  assert.deepEqual(row.labels, [I, 1, I, I, 0, 0, 2, I, 0, I]);
  assert.deepEqual(row.firstPositions, [1, 4, 5, 6, 8]);
  assert.equal(row.keptWords, 5);
  assert.equal(row.droppedWords, 0);
});

test('alignWords: words with no pieces get one [UNK] position; unknown words map to [UNK]', () => {
  const { pieces } = tinyBert();
  // '\u0007' is a control character the BasicTokenizer removes -> no pieces at all
  assert.deepEqual(pieces('\u0007'), []);
  // 'xyz' has no vocabulary match -> [UNK] from the tokenizer itself
  const row = alignWords(['lives', '\u0007', 'xyz', 'in'], [3, 4, 5, 6], { pieces, clsId: 2, sepId: 3, unkId: 1, maxLength: 16 });
  assert.deepEqual(row.inputIds, [2, 7, 1, 1, 8, 3]);
  assert.deepEqual(row.labels, [I, 3, 4, 5, 6, I]);
  assert.deepEqual(wordPredictions(row, [9, 30, 40, 50, 60, 9], 4), [30, 40, 50, 60]);
});

test('alignWords: truncation keeps whole words and counts the dropped ones', () => {
  const { pieces } = tinyBert();
  // maxLength 6 -> 4 piece slots: 'lives' (1) + 'Johanson' (3) fit; 'unbreakable' (3) does not, nor what follows
  const row = alignWords(['lives', 'Johanson', 'unbreakable', 'in'], [1, 2, 3, 4], { pieces, clsId: 2, sepId: 3, unkId: 1, maxLength: 6 });
  assert.deepEqual(row.inputIds, [2, 7, 4, 5, 6, 3]);
  assert.equal(row.inputIds.length, 6);
  assert.equal(row.keptWords, 2);
  assert.equal(row.droppedWords, 2);
  // predictions for dropped words get the fill value
  assert.deepEqual(wordPredictions(row, [0, 1, 2, 2, 2, 0, 0, 0], 4), [1, 2, -1, -1]);
  assert.deepEqual(wordPredictions(row, ['x', 'a', 'b', 'c', 'd', 'x'], 4, 'O'), ['a', 'b', 'O', 'O']);
});

test('alignWords: without labels every position is ignored; inputs are checked', () => {
  const { pieces } = tinyBert();
  const row = alignWords(['in', 'Tromsø'], undefined, { pieces, clsId: 2, sepId: 3, unkId: 1, maxLength: 8 });
  assert.deepEqual(row.labels, [I, I, I, I, I]);
  assert.throws(() => alignWords(['in'], [1, 2], { pieces, unkId: 1, maxLength: 8 }), /1 words but 2 labels/);
  assert.throws(() => alignWords(['in'], [1], { pieces, clsId: 2, sepId: 3, unkId: 1, maxLength: 2 }), /maxLength must be an integer of at least 3/);
  assert.throws(() => wordPredictions(row, [1, 2], 2), /2 position predictions for a row of 5 positions/);
});

test('alignWords works with SentencePiece (USE-lite, no specials)', async () => {
  const sp = await loadSentencePieceTokenizer();
  const words = ['Hello', 'world.'];
  const row = alignWords(words, [7, 8], { pieces: (w) => sp.encode(w), unkId: 0, maxLength: 128 });
  // per-word encoding gives the same ids as encoding the whole text: ▁H ello | ▁world .
  assert.deepEqual(row.inputIds, sp.encode('Hello world.'));
  assert.deepEqual(row.wordIds, [0, 0, 1, 1]);
  assert.deepEqual(row.labels, [7, I, 8, I]);
});
