/**
 * `--frozen-precision` / `--int8-tolerance` / `--guard-input` / `--no-int8-adapters`: bad values
 * fail with specific messages; `train --frozen-precision int8` logs the guard's choice and saves a
 * task that `eval` and `predict` load in int8 too (its adapter matmuls as well, unless
 * `--no-int8-adapters`); `info --frozen-precision int8` lists every matmul's kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir, TINY_BERT, writeToyCsv } from './harness.js';

test('bad flag values: exit code 2 with messages naming the flag and what is allowed', async () => {
  const cases: [string[], RegExp][] = [
    [['train', '--dataset', 'spam', '--frozen-precision', 'int4'], /--frozen-precision <p>' argument 'int4' is invalid\. Allowed choices are fp32, int8/],
    [['train', '--dataset', 'spam', '--frozen-precision', 'int8', '--int8-tolerance', '0'], /--int8-tolerance <e>' argument '0' is invalid\. must be > 0 and <= 1, got 0/],
    [['predict', 'runs/x/best', '--frozen-precision', 'fp16'], /--frozen-precision <p>' argument 'fp16' is invalid\. Allowed choices are fp32, int8/],
    [['eval', 'runs/x/best', '--int8-tolerance', 'x'], /--int8-tolerance <e>' argument 'x' is invalid\. expected a number/],
  ];
  for (const [argv, message] of cases) {
    const r = await cli(...argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('--int8-tolerance and --guard-input without --frozen-precision int8 are refused', async () => {
  const r = await cli('info', TINY_BERT, '--int8-tolerance', '0.1');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--int8-tolerance 0\.1 applies to --frozen-precision int8 only \(got --frozen-precision fp32\)/);
  const g = await cli('info', TINY_BERT, '--guard-input', 'texts.txt');
  assert.equal(g.code, 2, g.stderr);
  assert.match(g.stderr, /--guard-input applies to --frozen-precision int8 only/);
  const a = await cli('info', TINY_BERT, '--no-int8-adapters');
  assert.equal(a.code, 2, a.stderr);
  assert.match(a.stderr, /--no-int8-adapters applies to --frozen-precision int8 only \(got --frozen-precision fp32\)/);
});

test('info --frozen-precision int8 reports the kernel of each frozen matmul (text and JSON), on --guard-input texts too', async () => {
  const r = await cli('info', TINY_BERT, '--frozen-precision', 'int8');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /int8 outlier guard \(built-in sample sentences\)\n {2}int8 frozen base: 12 of 12 matmuls int8, 0 int8-block, 0 fp32 \(tolerance 0\.03/);
  assert.match(r.stdout, /encoder\.layer\.1\.output\.dense\.weight \[37, 32\]: int8 error 0\.0\d+ -> int8\n/);
  const dir = tempDir();
  const file = join(dir, 'texts.txt');
  writeFileSync(file, 'the cat sat on the mat .\n\na dog ran fast\n');
  const j = await cli('info', TINY_BERT, '--frozen-precision', 'int8', '--int8-tolerance', '0.001', '--guard-input', file, '--json');
  assert.equal(j.code, 0, j.stderr);
  const plan = JSON.parse(j.stdout).frozen;
  assert.equal(plan.tolerance, 0.001);
  assert.equal(plan.choices.length, 12);
  assert.ok(plan.choices.every((c: { kernel: string; errors: Record<string, number> }) => c.kernel === 'fp32' && (c.errors['int8-block'] ?? 0) > 0.001), 'nothing is within 0.001, in either kernel');
});

test('train --frozen-precision int8 logs the guard and trains; eval and predict run the saved task in int8', async () => {
  const dir = tempDir();
  writeToyCsv(join(dir, 'train.csv'), 64, 1);
  writeToyCsv(join(dir, 'dev.csv'), 32, 2);
  const out = join(dir, 'run');
  const r = await cli('train', '--train', join(dir, 'train.csv'), '--dev', join(dir, 'dev.csv'), '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT,
    '--adapter-size', '8', '--epochs', '1', '--batch-size', '16', '--max-length', '16', '--seed', '3', '--frozen-precision', 'int8', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /frozen base:\s+int8 matmuls \(outlier guard on the first batch\)/);
  assert.match(r.stderr, /int8 frozen base: 12 of 12 matmuls int8, 0 int8-block, 0 fp32 \(tolerance 0\.03, worst int8 error 0\.0\d+\); input gradients: 12 of 12 int8, 0 int8-block256, 0 int8-block, 0 fp32 \(worst int8 error 0\.0\d+\); frozen matmul weights 50\.5 kB -> 28\.3 kB\n/);
  const e = await cli('eval', join(out, 'best'), '--frozen-precision', 'int8', '--json');
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stderr, /int8 frozen base: 12 of 12 matmuls int8, .*; adapter matmuls: \d of 8 int8, 0 int8-block, \d fp32/, 'a task loaded to predict runs its adapters under the guard too');
  assert.equal(JSON.parse(e.stdout).int8Adapters, undefined);
  const fp32Adapters = await cli('eval', join(out, 'best'), '--frozen-precision', 'int8', '--no-int8-adapters', '--json');
  assert.equal(fp32Adapters.code, 0, fp32Adapters.stderr);
  assert.doesNotMatch(fp32Adapters.stderr, /adapter matmuls/);
  assert.equal(JSON.parse(fp32Adapters.stdout).int8Adapters, false, 'recorded');
  // info reports what eval and predict will run: the adapter matmuls too, unless --no-int8-adapters
  const info = await cli('info', join(out, 'best'), '--frozen-precision', 'int8', '--json');
  assert.equal(info.code, 0, info.stderr);
  const planned = JSON.parse(info.stdout).frozen;
  assert.equal(planned.choices.length, 12);
  assert.deepEqual(planned.adapters.map((c: { weight: string }) => c.weight).sort(), [0, 1].flatMap((l) => ['attention', 'ffn'].flatMap((site) => ['down', 'up'].map((d) => `adapters.adapter.${l}.${site}.${d}.weight`))).sort());
  const infoText = await cli('info', join(out, 'best'), '--frozen-precision', 'int8', '--no-int8-adapters');
  assert.equal(infoText.code, 0, infoText.stderr);
  assert.match(infoText.stdout, /int8 frozen base: 12 of 12 matmuls int8/);
  assert.doesNotMatch(infoText.stdout, /adapter matmuls|adapters\.adapter\./);
  // Every matmul int8 in both: the same kernels, so eval reproduces the dev score train saw.
  const devAccuracy = Number(/dev accuracy\s+(\d\.\d+)/.exec(r.stdout)?.[1]);
  assert.equal(JSON.parse(e.stdout).metrics.accuracy.toFixed(4), devAccuracy.toFixed(4));
  const input = join(dir, 'in.txt');
  writeFileSync(input, 'the cat is good .\nthe dog is bad .\n');
  const p = await cli('predict', join(out, 'best'), '--input', input, '--frozen-precision', 'int8');
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stdout.trim().split('\n').length, 2);
  assert.match(p.stderr, /int8 frozen base: 12 of 12 matmuls int8/);
});
