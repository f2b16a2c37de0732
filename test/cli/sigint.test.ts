/**
 * Ctrl-C during `train` (a real process): a checkpoint is saved, the resume command is printed,
 * the exit code is 130, and a following `--resume` run completes every step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, interruptAtFirstStep, tempDir, TINY_BERT, writeToyCsv } from './harness.js';

test('SIGINT saves a checkpoint and exits 130; --resume finishes the run', async () => {
  const dir = tempDir('ak-cli-sigint-');
  writeToyCsv(join(dir, 'train.csv'), 4000, 1);
  writeToyCsv(join(dir, 'dev.csv'), 32, 2);
  const out = join(dir, 'run');
  const args = ['train', '--train', join(dir, 'train.csv'), '--dev', join(dir, 'dev.csv'), '--text', 'sentence', '--label', 'sentiment',
    '--base', TINY_BERT, '--adapter-size', '8', '--epochs', '3', '--batch-size', '8', '--max-length', '16', '--out', out];
  const totalSteps = 3 * (4000 / 8);

  const { code, stderr, sent } = await interruptAtFirstStep(args);
  assert.ok(sent, `no progress line seen:\n${stderr}`);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupt: stopping after this step and saving a checkpoint/);
  assert.match(stderr, /to continue: adapterkit train .*--out \S+run --resume/);
  assert.match(stderr, /\[INTERRUPTED\]: training interrupted at step \d+; checkpoint saved in \S+: continue with --resume\n/, 'the library\'s option worded as the flag');
  const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'trainer.json'), 'utf8')) as { step: number };
  assert.ok(state.step > 0 && state.step < totalSteps, `checkpoint at step ${state.step}`);

  const r = await cli(...args, '--resume', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`resuming at step ${state.step} of ${totalSteps}`));
  const s = JSON.parse(r.stdout);
  assert.equal(s.steps, totalSteps);
  assert.equal(s.stopReason, 'done');
  assert.ok(existsSync(join(out, 'best', 'adapterkit.json')));
  const trainLines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').filter((l) => l.includes('"type":"train"'));
  assert.equal(trainLines.length, totalSteps, 'every step logged exactly once across both runs');
});
