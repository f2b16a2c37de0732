import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQaWindows, tokenRangeOfSpan, tokenizeWithSpans, wordSpans, type QaWindowOptions } from '../../src/train/tokens/qa-windows.js';
import type { QaExample } from '../../src/train/tokens/types.js';

/** Deterministic fake tokenizer: a word of n characters gives ceil(n / 3) pieces; ids encode (word length, piece). */
const pieces = (word: string): number[] => Array.from({ length: Math.ceil(word.length / 3) }, (_, k) => 1000 + word.length * 10 + k);

const base: Omit<QaWindowOptions, 'maxLength' | 'stride'> = { pieces, clsId: 1, sepId: 2, unkId: 3 };

test('wordSpans splits at whitespace and punctuation with character spans', () => {
  const text = 'In 1990, "Ann" won.';
  const spans = wordSpans(text).map((s) => text.slice(s.start, s.end));
  assert.deepEqual(spans, ['In', '1990', ',', '"', 'Ann', '"', 'won', '.']);
  assert.deepEqual(wordSpans(text, { splitPunctuation: false }).map((s) => text.slice(s.start, s.end)), ['In', '1990,', '"Ann"', 'won.']);
  // astral characters keep correct UTF-16 spans
  const emoji = 'a😀b c';
  assert.deepEqual(wordSpans(emoji).map((s) => emoji.slice(s.start, s.end)), ['a😀b', 'c']);
});

test('tokenizeWithSpans: every piece maps to its whole word span', () => {
  const tokens = tokenizeWithSpans('Extraordinary cat', { pieces, unkId: 3 });
  // 'Extraordinary' (13 chars) -> 5 pieces, all spanning [0, 13); 'cat' -> 1 piece [14, 17)
  assert.deepEqual(tokens.map((t) => [t.start, t.end, t.word]), [[0, 13, 0], [0, 13, 0], [0, 13, 0], [0, 13, 0], [0, 13, 0], [14, 17, 1]]);
  assert.deepEqual(tokenRangeOfSpan(tokens, 14, 17), [5, 5]);
  assert.deepEqual(tokenRangeOfSpan(tokens, 2, 15), [0, 5]);
  assert.equal(tokenRangeOfSpan(tokens, 13, 14), undefined);
});

test('buildQaWindows: layout, token types, offsets, labels and stride overlap', () => {
  // 8 one-piece words (length <= 3), question 2 one-piece words
  const context = 'a bb ccc dd e ff ggg h';
  const example: QaExample = { id: 'q', question: 'who is', context, answers: [{ text: 'ff ggg', start: 14 }] };
  // maxLength 9 -> budget 9 - 2 - 3 = 4 context tokens; stride 2 -> windows start at 0, 2, 4
  const windows = buildQaWindows(example, { ...base, maxLength: 9, stride: 2 });
  assert.deepEqual(windows.map((w) => [w.firstContextToken, w.contextLength]), [[0, 4], [2, 4], [4, 4]]);
  const w0 = windows[0];
  assert.ok(w0);
  assert.deepEqual(w0.inputIds, [1, 1030, 1020, 2, 1010, 1020, 1030, 1020, 2]);
  assert.deepEqual(w0.tokenTypeIds, [0, 0, 0, 0, 1, 1, 1, 1, 1]);
  assert.equal(w0.contextOffset, 4);
  assert.deepEqual(w0.offsets.map((o) => (o ? context.slice(o.start, o.end) : null)), [null, null, null, null, 'a', 'bb', 'ccc', 'dd', null]);
  // answer tokens 5..6 ('ff ggg'): window 1 holds tokens 2..5 (cut), only window 2 (4..7) has it whole at 4+1, 4+2
  assert.deepEqual(windows.map((w) => [w.startPosition, w.endPosition]), [[0, 0], [0, 0], [5, 6]]);
  // answer tokens 4..5 ('e ff'): window 1 at 4+2, 4+3 and window 2 at 4+0, 4+1
  const two = buildQaWindows({ ...example, answers: [{ text: 'e ff', start: 12 }] }, { ...base, maxLength: 9, stride: 2 });
  assert.deepEqual(two.map((w) => [w.startPosition, w.endPosition]), [[0, 0], [6, 7], [4, 5]]);
  // unanswerable: all zeros
  const none = buildQaWindows({ ...example, answers: [], isImpossible: true }, { ...base, maxLength: 9, stride: 2 });
  assert.ok(none.every((w) => w.startPosition === 0 && w.endPosition === 0));
});

test('buildQaWindows: question truncation and configuration errors', () => {
  // question pieces: one(1) two(1) three(2) four(2) = 6
  const example: QaExample = { id: 'q7', question: 'one two three four', context: 'x y z', answers: [] };
  const w = buildQaWindows(example, { ...base, maxLength: 10, stride: 0, maxQuestionLength: 2 });
  assert.equal(w[0]?.contextOffset, 4); // [CLS] + 2 question tokens + [SEP]
  assert.throws(() => buildQaWindows(example, { ...base, maxLength: 7, stride: 0 }), /maxLength 7 leaves no room for context after a 6-token question and 3 special tokens \(question q7\)/);
  // maxLength 12 - 6 - 3 = 3 context tokens per window -> stride at most 2
  assert.throws(() => buildQaWindows(example, { ...base, maxLength: 12, stride: 3 }), /stride 3 must be an integer in \[0, 2\]: it is the overlap of windows holding 3 context tokens/);
});

/** Small seeded PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('property: an answer of at most stride + 1 tokens is always whole inside some window', () => {
  const rand = rng(12345);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  let checked = 0;
  for (let trial = 0; trial < 600; trial++) {
    const nWords = int(1, 120);
    const words = Array.from({ length: nWords }, () => Array.from({ length: int(1, 9) }, () => letters[int(0, 25)]).join('') + (rand() < 0.1 ? ',' : ''));
    const seps = words.map(() => (rand() < 0.2 ? '  ' : ' '));
    let context = '';
    const starts: number[] = [];
    words.forEach((w, i) => {
      starts.push(context.length);
      context += w + (i < words.length - 1 ? seps[i] : '');
    });
    const question = Array.from({ length: int(1, 6) }, () => 'qqq').join(' ');
    const maxLength = int(12, 60);
    const questionTokens = tokenizeWithSpans(question, { pieces, unkId: 3 }).length;
    const budget = maxLength - questionTokens - 3;
    const stride = int(0, budget - 1);
    const tokens = tokenizeWithSpans(context, { pieces, unkId: 3 });
    // answer: whole words a..b whose tokens number at most stride + 1
    const a = int(0, nWords - 1);
    let b = a;
    const tokenCount = (x: number, y: number) => tokens.filter((t) => t.start >= (starts[x] as number) && t.end <= (starts[y] as number) + (words[y] as string).length).length;
    while (b + 1 < nWords && rand() < 0.6 && tokenCount(a, b + 1) <= stride + 1) b++;
    const n = tokenCount(a, b);
    if (n > stride + 1) continue;
    const start = starts[a] as number;
    const text = context.slice(start, (starts[b] as number) + (words[b] as string).length);
    const windows = buildQaWindows({ id: `t${trial}`, question, context, answers: [{ text, start }] }, { ...base, maxLength, stride });

    // windows: bounded length, overlap exactly `stride`, cover the whole context
    for (const [i, w] of windows.entries()) {
      assert.ok(w.inputIds.length <= maxLength);
      assert.equal(w.inputIds.length, w.tokenTypeIds.length);
      assert.equal(w.offsets.length, w.inputIds.length);
      const next = windows[i + 1];
      if (next) assert.equal(w.firstContextToken + w.contextLength - next.firstContextToken, stride);
    }
    const last = windows[windows.length - 1];
    assert.equal((last?.firstContextToken ?? 0) + (last?.contextLength ?? 0), tokens.length);

    const hits = windows.filter((w) => w.startPosition > 0);
    assert.ok(hits.length > 0, `trial ${trial}: answer "${text}" (${n} tokens, stride ${stride}, budget ${budget}) lost`);
    for (const w of hits) {
      const s = w.offsets[w.startPosition];
      const e = w.offsets[w.endPosition];
      assert.ok(s && e, 'answer positions are context positions');
      assert.equal(context.slice(s.start, e.end), text);
    }
    checked++;
  }
  assert.ok(checked > 400, `only ${checked} cases checked`);
});
