/**
 * `adapterkit predict dir1 dir2 ...`: every input answered by several saved tasks in one pass,
 * each answer equal to that task's own `predict`; flags and task sets that cannot work say why.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig, methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig, type HeadConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';
import { cli, tempDir, TINY_BERT } from './harness.js';

describe('predict with several task directories', () => {
  const dir = tempDir('ak-cli-predict-many-');
  const input = join(dir, 'in.txt');
  const dirs: Record<string, string> = {};
  const save = async (name: string, mode: TrainingMode, head: HeadConfig, seed: number, maxLength = 16) => {
    const base = await loadBase(TINY_BERT);
    const m = TaskModel.create(base, { mode, head, seed });
    const r = new Rng(seed);
    for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
    dirs[name] = join(dir, name);
    await saveTask(m, dirs[name], { name, maxLength });
    await m.dispose();
  };

  before(async () => {
    writeFileSync(input, 'the cat sat on the mat\n\nrain at night and a very long sentence that goes on past sixteen tokens for sure\n');
    await save('spam', { kind: 'adapters', adapters: [{ name: 'adapter', config: adapterConfig({ size: 4, trainLayerNorms: false }) }], active: 'adapter', adapterDrop: { kind: 'static', layers: 1 } }, headConfig({ kind: 'classification', labels: ['ham', 'spam'] }), 1);
    await save('sotu', { kind: 'adapters', adapter: methodConfig('lora', { r: 4 }) }, headConfig({ kind: 'classification', labels: ['Democratic', 'Republican'] }), 2);
    await save('score', { kind: 'adapters', adapter: methodConfig('ia3') }, headConfig({ kind: 'regression', labels: [] }), 3);
    await save('long', { kind: 'adapters', adapter: methodConfig('ia3') }, headConfig({ kind: 'classification', labels: ['a', 'b'] }), 4, 32);
    await save('pos', { kind: 'adapters', adapter: methodConfig('lora', { r: 4 }) }, headConfig({ kind: 'tagging', labels: ['N', 'V'] }), 5);
    await save('ner', { kind: 'adapters', adapter: methodConfig('pfeiffer') }, headConfig({ kind: 'tagging', labels: ['O', 'B-PER', 'I-PER'], layers: 2 }), 6);
    await save('squad', { kind: 'adapters', adapter: methodConfig('lora', { r: 4 }) }, headConfig({ kind: 'qa', labels: [] }), 7);
    await save('mrpc', { kind: 'adapters', adapter: methodConfig('ia3') }, headConfig({ kind: 'classification', labels: ['no', 'yes'], pair: true }), 8);
  });

  test('each input gets every task\'s answer, equal to the task predicted alone', async () => {
    const names = ['spam', 'sotu', 'score'];
    const r = await cli('predict', ...names.map((n) => dirs[n] as string), '--input', input, '--all-scores');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; empty?: boolean; tasks?: Record<string, { label?: string; score: number; scores?: Record<string, number>; truncated: boolean }> });
    assert.deepEqual(lines.map((l) => l.id), ['1', '2', '3']);
    assert.deepEqual(lines[1], { id: '2', empty: true });
    assert.match(r.stderr, /note: 1 of 2 input\(s\) were truncated to 16 tokens/);
    for (const n of names) {
      const alone = await cli('predict', dirs[n] as string, '--input', input, '--all-scores');
      assert.equal(alone.code, 0, alone.stderr);
      const want = alone.stdout.trim().split('\n').map((l) => JSON.parse(l) as { label?: string; score: number; scores?: Record<string, number>; truncated: boolean; empty?: boolean });
      for (const k of [0, 2]) {
        const got = lines[k]?.tasks?.[n];
        const w = want[k];
        assert.ok(got && w, `${n} line ${k + 1}`);
        assert.equal(got.label, w.label);
        assert.equal(got.truncated, w.truncated);
        assert.ok(Math.abs(got.score - w.score) < 1e-5, `${n} line ${k + 1}: ${got.score} vs ${w.score}`);
        for (const [l, p] of Object.entries(w.scores ?? {})) assert.ok(Math.abs((got.scores?.[l] as number) - p) < 1e-5, `${n} ${l}`);
      }
    }
  });

  test('what several tasks cannot do is refused with the reason', async () => {
    const fails = async (args: string[], message: RegExp) => {
      const r = await cli('predict', ...args, '--input', input);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    };
    await fails([dirs.spam as string, dirs.long as string], /the tasks were trained with different max lengths \(spam 16, long 32\) and one pass tokenizes once: give --max-length/);
    await fails([dirs.spam as string, dirs.sotu as string, '--active', 'adapter'], /--active applies to one task; with several task directories give each task as saved/);
    await fails([dirs.spam as string, dirs.spam as string], /both hold a task named spam/);
    const ok = await cli('predict', dirs.spam as string, dirs.long as string, '--input', input, '--max-length', '32');
    assert.equal(ok.code, 0, ok.stderr);
  });

  /** The output lines of `predict` with `args` (exit code 0), parsed. */
  const predictLines = async (...args: string[]): Promise<Array<Record<string, unknown>>> => {
    const r = await cli('predict', ...args);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  interface Tags { words: string[]; tags: string[]; scores: number[]; truncated: boolean }

  /** `got` equals `want` (a task's object from single-task predict) in every member, numbers within 1e-5. */
  const sameAnswer = (got: unknown, want: unknown, what: string) => {
    if (typeof want === 'number') {
      assert.equal(typeof got, 'number', what);
      assert.ok(Math.abs((got as number) - want) < 1e-5, `${what}: ${String(got)} vs ${want}`);
    } else if (typeof want === 'object' && want !== null) {
      assert.equal(typeof got, 'object', what);
      assert.deepEqual(Object.keys(got as object).sort(), Object.keys(want).sort(), what);
      for (const [k, v] of Object.entries(want)) sameAnswer((got as Record<string, unknown>)[k], v, `${what}.${k}`);
    } else assert.equal(got, want, what);
  };

  test('tagging tasks answer next to a classifier, each as its own predict answers that input (text and JSONL)', async () => {
    const jsonl = join(dir, 'in.jsonl');
    writeFileSync(jsonl, `${JSON.stringify({ id: 'a', text: 'Ada Lovelace wrote the first program.' })}\n\n${JSON.stringify({ id: 'b', text: 'rain' })}\n`);
    const names = ['spam', 'pos', 'ner'];
    for (const file of [input, jsonl]) {
      const many = await predictLines(...names.map((n) => dirs[n] as string), '--input', file, '--all-scores');
      assert.equal(many.length, 3);
      assert.deepEqual(many[1], { id: '2', empty: true });
      for (const n of names) {
        const alone = await predictLines(dirs[n] as string, '--input', file, '--all-scores');
        assert.equal(alone.length, 3);
        for (const k of [0, 2]) {
          const { id, ...want } = alone[k] as Record<string, unknown>;
          assert.equal(many[k]?.id, id);
          sameAnswer((many[k]?.tasks as Record<string, unknown>)[n], want, `${file} ${n} line ${k + 1}`);
        }
      }
      const tags = (many[0]?.tasks as Record<string, Tags>).pos as Tags;
      assert.ok(tags.words.length > 1 && tags.tags.length === tags.words.length && tags.tags.every((t) => t === 'N' || t === 'V'), JSON.stringify(tags));
    }
    // the long line of in.txt loses words beyond 16 tokens: the tagging answer says so, as alone
    const long = await predictLines(dirs.spam as string, dirs.pos as string, '--input', input);
    assert.equal(((long[2]?.tasks as Record<string, Tags>).pos as Tags).truncated, true);
  });

  test('several tasks with a tagging task refuse QA tasks, pairs and pre-split words, naming the task', async () => {
    const fails = async (args: string[], message: RegExp, code = 2) => {
      const r = await cli('predict', ...args);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, message);
    };
    await fails([dirs.spam as string, dirs.squad as string, '--input', input], /task squad is a QA task: it answers questions over contexts, not the one text each input gives every task; predict it on its own/);
    await fails([dirs.pos as string, dirs.squad as string, '--input', input], /task squad is a QA task/);
    await fails([dirs.mrpc as string, dirs.pos as string, '--input', input], /task pos is a tagging task: it tags one text, while task mrpc takes sentence pairs; predict them separately/);
    const pairs = join(dir, 'pairs.jsonl');
    writeFileSync(pairs, `${JSON.stringify({ text: 'a cat', text_pair: 'a dog' })}\n`);
    await fails([dirs.spam as string, dirs.pos as string, '--input', pairs], /pairs\.jsonl:1: "text_pair" given but task pos is a tagging task: it tags one text, not a sentence pair/, 4);
    const csv = join(dir, 'pairs.csv');
    writeFileSync(csv, 'a,b\na cat,a dog\n');
    await fails([dirs.spam as string, dirs.pos as string, '--input', csv, '--text', 'a', '--text-pair', 'b'], /--text-pair given but task pos is a tagging task: it tags one text, not a sentence pair/);
    const tokens = join(dir, 'tokens.jsonl');
    writeFileSync(tokens, `${JSON.stringify({ text: 'a cat' })}\n${JSON.stringify({ tokens: ['a', 'cat'] })}\n`);
    await fails([dirs.spam as string, dirs.pos as string, '--input', tokens], /tokens\.jsonl:2: "tokens" \(pre-split words\) is read by a tagging task predicted on its own; with several tasks every task reads the input's one text: give "text"/, 4);
    // without a tagging task, a pair is refused for the tasks as a whole
    await fails([dirs.spam as string, dirs.sotu as string, '--input', pairs], /pairs\.jsonl:1: "text_pair" given but these tasks take single texts/, 4);
  });

  test('a CSV column is the text a tagging task tags next to a classifier', async () => {
    const csv = join(dir, 'mails.csv');
    writeFileSync(csv, 'id,body\nm1,the cat sat on the mat\n');
    const many = await predictLines(dirs.spam as string, dirs.pos as string, '--input', csv, '--text', 'body', '--id', 'id');
    const alone = await predictLines(dirs.pos as string, '--input', input);
    assert.equal(many[0]?.id, 'm1');
    const { id: _, ...want } = alone[0] as Record<string, unknown>;
    sameAnswer((many[0]?.tasks as Record<string, unknown>).pos, want, 'pos from CSV');
  });
});
