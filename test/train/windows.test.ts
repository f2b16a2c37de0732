/**
 * Strided windows for long texts (issue 12: 68 % of one test set was cut at 128 tokens): a text
 * longer than the max length is scored in windows of the base's own encoding that overlap by the
 * given number of tokens, and its prediction comes from the mean of the windows' logits. Checked
 * against windows built here by hand from the tokenizer's word pieces and scored one by one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { headConfig } from '../../src/heads/head.js';
import { TaskModel } from '../../src/train/task-model.js';
import { predictExamples, predictTexts } from '../../src/train/evaluate.js';
import { collate } from '../../src/train/batching.js';
import { windowRows } from '../../src/train/windows.js';

const TINY_BERT = 'test/fixtures/models/tiny-bert';

describe('strided windows over long texts', () => {
  let base: BaseModel;
  let model: TaskModel;
  const long = Array.from({ length: 6 }, () => 'the cat sat on the mat').join(' '); // 36 words
  before(async () => {
    base = await loadBase(TINY_BERT);
    model = TaskModel.create(base, { mode: { kind: 'head-only' }, head: headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] }), seed: 3 });
  });
  after(async () => {
    await model.dispose();
  });

  /** The windows by hand: [CLS] + pieces[s, s + budget) + [SEP], s = 0, step, 2 step... */
  function handWindows(text: string, maxLength: number, overlap: number): Int32Array[] {
    const tok = base.tokenizer;
    const pieces = text.split(' ').flatMap((w) => [...(tok.pieceIds as (w: string) => readonly number[])(w)]);
    const { cls, sep } = tok.specialIds as { cls: number; sep: number };
    const budget = maxLength - 2;
    const step = budget - overlap;
    const out: Int32Array[] = [];
    for (let s = 0; ; s += step) {
      out.push(Int32Array.from([cls, ...pieces.slice(s, s + budget), sep]));
      if (s + budget >= pieces.length) break;
    }
    return out;
  }

  test('a long text: windows of the max length, overlapping as asked, pooled by the mean of their logits', async () => {
    const windows = handWindows(long, 12, 4);
    // 36 pieces, 10 per window, a step of 6: starts 0, 6, 12, 18, 24, 30 -> 6 windows
    assert.equal(windows.length, 6);
    const { rows, owner } = windowRows(model, [{ id: 'x', textA: long }], { maxLength: 12, overlap: 4 });
    assert.deepEqual(rows.map((r) => Array.from(r.ids)), windows.map((w) => Array.from(w)));
    assert.deepEqual(owner, [0, 0, 0, 0, 0, 0]);
    // the first window is exactly what the tokenizer gives when it truncates
    const cut = base.tokenizer.encode([long], 12);
    assert.deepEqual(Array.from(cut.inputIds), Array.from(windows[0] as Int32Array));
    const one = await Promise.all(windows.map(async (ids) => Array.from(await model.predict(collate([{ ids, types: new Int32Array(ids.length), truncated: false }])))));
    const mean = [0, 1, 2].map((k) => one.reduce((a, l) => a + (l[k] as number), 0) / one.length);
    const [p] = await predictExamples(model, [{ id: 'x', textA: long }], { maxLength: 12, windowOverlap: 4 });
    assert.equal(p?.windows, 6);
    assert.equal(p?.truncated, false, 'no token is lost');
    p?.logits.forEach((v, k) => assert.ok(Math.abs(v - (mean[k] as number)) < 1e-5, `logit ${k}: ${v} vs ${mean[k]}`));
    assert.equal(p?.label, ['a', 'b', 'c'][mean.indexOf(Math.max(...mean))]);
    // the library helper takes the same option
    const [q] = await predictTexts(model, [long], { maxLength: 12, windowOverlap: 4 });
    assert.deepEqual(q, p);
  });

  test('a text that fits is one window, scored as without windows; an overlap is capped at half a window', async () => {
    const short = 'the cat sat on the mat';
    const [w] = await predictExamples(model, [{ id: 's', textA: short }], { maxLength: 12, windowOverlap: 4 });
    const [plain] = await predictExamples(model, [{ id: 's', textA: short }], { maxLength: 12 });
    assert.equal(w?.windows, 1);
    assert.deepEqual(w?.logits, plain?.logits);
    // overlap 100 of a 10-piece window: capped at 5, so a step of 5: starts 0, 5, ..., 30 -> 7 windows
    const { rows } = windowRows(model, [{ id: 'x', textA: long }, { id: 's', textA: short }], { maxLength: 12, overlap: 100 });
    assert.equal(rows.length, 7 + 1);
    assert.deepEqual(Array.from(rows[1]?.ids ?? []).slice(1, 6), Array.from(handWindows(long, 12, 5)[1] ?? []).slice(1, 6));
  });

  test('sentence pairs and bad overlaps are refused', async () => {
    const pair = TaskModel.create(base, { mode: { kind: 'head-only' }, head: headConfig({ kind: 'classification', labels: ['a', 'b'], pair: true }), seed: 1 });
    try {
      await assert.rejects(predictExamples(pair, [{ id: 'p', textA: long, textB: 'x' }], { maxLength: 12, windowOverlap: 2 }), /strided windows apply to single-text tasks; this task takes sentence pairs/);
    } finally {
      await pair.dispose();
    }
    assert.throws(() => windowRows(model, [{ id: 'x', textA: long }], { maxLength: 12, overlap: -1 }), /window overlap must be a non-negative integer, got -1/);
  });
});
