/**
 * Ctrl-C during `train --multi-task` (a real process): every task's checkpoint is saved, the exit
 * code is 130, and `--resume` finishes the run with every step logged once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, interruptAtFirstStep, tempDir, TINY_BERT, writeToyCsv } from './harness.js';

test('SIGINT during a mixed-task run saves every task\'s checkpoint and exits 130; --resume finishes the run', async () => {
  const dir = tempDir('ak-cli-mt-sigint-');
  for (const [name, seed] of [['first', 1], ['second', 3]] as const) {
    mkdirSync(join(dir, name));
    writeToyCsv(join(dir, name, 'train.csv'), 1000, seed);
    writeToyCsv(join(dir, name, 'dev.csv'), 16, seed + 1);
  }
  const out = join(dir, 'run');
  const args = ['train', '--multi-task', `first=${join(dir, 'first')},second=${join(dir, 'second')}`, '--text', 'sentence', '--label', 'sentiment',
    '--base', TINY_BERT, '--adapter-size', '8', '--epochs', '1', '--batch-size', '8', '--max-length', '16', '--out', out];
  const totalSteps = 2000 / 8;

  const { code, stderr, sent } = await interruptAtFirstStep(args);
  assert.ok(sent, `no progress line seen:\n${stderr}`);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupt: stopping after this step and saving a checkpoint of every task \(continue with --out \S+run --resume\)/);
  assert.match(stderr, /\[INTERRUPTED\]: mixed-task training interrupted at step \d+; a checkpoint of every task is saved: continue with --resume/);
  const record = JSON.parse(readFileSync(join(out, 'multi-task-checkpoint.json'), 'utf8')) as { step: number };
  assert.ok(record.step > 0 && record.step < totalSteps, `checkpoint at step ${record.step}`);
  for (const t of ['first', 'second']) assert.equal((JSON.parse(readFileSync(join(out, t, 'checkpoint', 'trainer.json'), 'utf8')) as { step: number }).step, record.step);

  const again = await cli(...args);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already holds a checkpoint of an earlier run: continue it with --resume/);
  const r = await cli(...args, '--resume', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`note: resuming \\S+ at step ${record.step} \\(epoch 1`));
  const s = JSON.parse(r.stdout) as { steps: number; stopReason: string };
  assert.equal(s.steps, totalSteps);
  assert.equal(s.stopReason, 'done');
  for (const t of ['first', 'second']) assert.ok(existsSync(join(out, t, 'best', 'adapterkit.json')));
  const trainLines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').filter((l) => l.includes('"type":"train"'));
  assert.equal(trainLines.length, totalSteps, 'every step logged exactly once across both runs');
});
