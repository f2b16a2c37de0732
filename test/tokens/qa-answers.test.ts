import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractAnswer } from '../../src/train/tokens/qa-answers.js';
import type { CharSpan } from '../../src/train/tokens/qa-windows.js';

// Context and two hand-made windows. Window rows: [CLS] q [SEP] ctx... [SEP]
const context = 'Ada Lovelace wrote the first program in 1843.';
//               0   4        13    19  23    29      37 40
const span = (word: string, from = 0): CharSpan => {
  const start = context.indexOf(word, from);
  return { start, end: start + word.length };
};
// window 0: context words Ada Lovelace wrote the (positions 3..6)
const w0 = { offsets: [null, null, null, span('Ada'), span('Lovelace'), span('wrote'), span('the'), null] };
// window 1: context words the first program in 1843. (positions 3..7; overlap "the")
const w1 = { offsets: [null, null, null, span('the'), span('first'), span('program'), span('in'), span('1843.'), null] };

test('extractAnswer: best start+end over windows, mapped to the context substring', () => {
  const logits = [
    // window 0: best pair start 3 (Ada, 2) + end 4 (Lovelace, 3) = 5
    { startLogits: [9, 9, 0, 2, 0, 0, 0, 9], endLogits: [9, 9, 0, 0, 3, 0, 0, 9] },
    // window 1: best pair start 4 (first, 4) + end 5 (program, 2.5) = 6.5 -> wins
    { startLogits: [1, 0, 0, 0, 4, 0, 0, 0, 0], endLogits: [1, 0, 0, 0, 0, 2.5, 0, 0, 0] },
  ];
  const a = extractAnswer(context, [w0, w1], logits);
  assert.equal(a.text, 'first program');
  assert.equal(a.best?.score, 6.5);
  assert.equal(a.best?.window, 1);
  assert.deepEqual([a.best?.startPosition, a.best?.endPosition], [4, 5]);
  assert.deepEqual([a.best?.start, a.best?.end], [23, 36]);
  assert.equal(a.nullScore, undefined);
  // the question/special positions (large logits 9) are never chosen; second best is window 0's 5
  assert.equal(a.candidates[0]?.text, 'first program');
  assert.ok(a.candidates.every((c) => c.score <= 6.5));
  assert.ok(a.candidates.some((c) => c.text === 'Ada Lovelace' && c.score === 5));
});

test('extractAnswer: end before start and too-long spans are invalid', () => {
  // start prefers "in" (6), end prefers "first" (4) -> invalid; best valid: start 6 (3) + end 7 (1843., 2.5) = 5.5
  // (start 3 or 4 + end 4 = 0 + 5 = 5 is lower)
  const logits = [{ startLogits: [0, 0, 0, 0, 0, 0, 3, 0, 0], endLogits: [0, 0, 0, 0, 5, 0, 0, 2.5, 0] }];
  assert.equal(extractAnswer(context, [w1], logits).text, 'in 1843.');
  // with maxAnswerLength 1 only single tokens: "in" 3 + 0 = 3, "1843." 0 + 2.5, "first" 0 + 5 = 5 -> "first"
  assert.equal(extractAnswer(context, [w1], logits, { maxAnswerLength: 1 }).text, 'first');
  // nBest 1: only the top start (6) and the top end (4) are paired -> no valid span -> ""
  const none = extractAnswer(context, [w1], logits, { nBest: 1 });
  assert.equal(none.text, '');
  assert.equal(none.best, undefined);
});

test('extractAnswer SQuAD v2: null score = min over windows of start[0] + end[0]; threshold', () => {
  const logits = [
    // null 3 + 3 = 6; best span "Ada" 2 + 2 = 4
    { startLogits: [3, 0, 0, 2, 0, 0, 0, 0], endLogits: [3, 0, 0, 2, 0, 0, 0, 0] },
    // null 1 + 1.5 = 2.5 (the minimum); best span "first" 1 + 1 = 2
    { startLogits: [1, 0, 0, 0, 1, 0, 0, 0, 0], endLogits: [1.5, 0, 0, 0, 1, 0, 0, 0, 0] },
  ];
  // best non-null = 4 ("Ada"); null = 2.5; 2.5 - 4 = -1.5 <= 0 -> answer
  const a = extractAnswer(context, [w0, w1], logits, { allowNoAnswer: true });
  assert.equal(a.nullScore, 2.5);
  assert.equal(a.text, 'Ada');
  // threshold -2: -1.5 > -2 -> no answer
  assert.equal(extractAnswer(context, [w0, w1], logits, { allowNoAnswer: true, nullThreshold: -2 }).text, '');
  // only window 0: null 6 - 4 = 2 > 0 -> no answer, though the span is still reported
  const b = extractAnswer(context, [w0], [logits[0] as { startLogits: number[]; endLogits: number[] }], { allowNoAnswer: true });
  assert.equal(b.text, '');
  assert.equal(b.best?.text, 'Ada');
});

test('extractAnswer checks its inputs', () => {
  assert.throws(() => extractAnswer(context, [w0], []), /1 windows but logits for 0/);
  assert.throws(() => extractAnswer(context, [w0], [{ startLogits: [0], endLogits: [0] }]), /window 0: 8 positions but 1 start and 1 end logits/);
});
