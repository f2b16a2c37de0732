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
    await fails([dirs.spam as string, dirs.pos as string], /task pos is a tagging task; several tasks in one pass are sentence-level tasks/);
    const ok = await cli('predict', dirs.spam as string, dirs.long as string, '--input', input, '--max-length', '32');
    assert.equal(ok.code, 0, ok.stderr);
  });
});
