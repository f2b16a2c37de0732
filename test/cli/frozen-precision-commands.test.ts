/**
 * `--frozen-precision int8` on the commands beyond `train`: `sweep` trains and tests every run in
 * int8 (rows and run records say so, the run directories are `<run>_int8`, an fp32 sweep into the
 * same directory is a sweep of its own), `ablate` scores the best int8 run in int8 and records it,
 * `train --multi-task` runs the guard on its first mixed batch, `eval --json` records the precision;
 * `sweep --queue` refuses the flag until queued jobs carry it.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir, TINY_BERT, writeToyCsv, type CliRun } from './harness.js';

const rowsOf = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('sweep and ablate with --frozen-precision int8', () => {
  const dir = tempDir('ak-cli-int8-sweep-');
  const out = join(dir, 'sweep');
  const data = ['--train', join(dir, 'train.csv'), '--dev', join(dir, 'dev.csv'), '--text', 'sentence', '--label', 'sentiment'];
  const grid = ['--base', TINY_BERT, '--methods', 'adapters', '--lrs', '3e-3', '--epochs-grid', '1', '--sizes', '4', '--seeds', '1', '--max-length', '16', '--batch-size', '16', '--out', out];
  let int8: CliRun;

  before(async () => {
    writeToyCsv(join(dir, 'train.csv'), 48, 1);
    writeToyCsv(join(dir, 'dev.csv'), 32, 2);
    int8 = await cli('sweep', ...data, ...grid, '--frozen-precision', 'int8', '--int8-tolerance', '0.05', '--json');
  });

  test('sweep: the run trains in int8, its row, run record and summary record it, its run directory is <run>_int8', () => {
    assert.equal(int8.code, 0, int8.stderr);
    assert.match(int8.stderr, /on .*tiny-bert, int8 frozen base -> /);
    assert.match(int8.stderr, / {6}int8 frozen base: 12 of 12 matmuls int8, 0 int8-block, 0 fp32 \(tolerance 0\.05, /);
    const rows = rowsOf(join(out, 'results.jsonl'));
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.frozenPrecision, 'int8');
    assert.equal(rows[0]?.int8Tolerance, 0.05);
    assert.match(String(rows[0]?.runDir), /_b16_len16_int8$/);
    const record = JSON.parse(readFileSync(join(out, String(rows[0]?.runDir), 'run.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(record.frozenPrecision, 'int8');
    assert.equal(record.int8Tolerance, 0.05);
    const summary = JSON.parse(int8.stdout) as { frozenPrecision?: string; trained: number };
    assert.equal(summary.frozenPrecision, 'int8');
    assert.equal(summary.trained, 1);
  });

  test('ablate: the fp32 best run is missing, the int8 one is scored in int8 and the ablation records it', async () => {
    const fp32 = await cli('ablate', out, '--json');
    assert.notEqual(fp32.code, 0);
    assert.match(fp32.stderr, /has no finished adapter run of task \S+\n/);
    const a = await cli('ablate', out, '--frozen-precision', 'int8', '--int8-tolerance', '0.05', '--json');
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stderr, /int8 frozen base: 12 of 12 matmuls int8/);
    const r = JSON.parse(a.stdout) as { frozenPrecision?: string; int8Tolerance?: number; layers: number };
    assert.equal(r.layers, 2);
    assert.equal(r.frozenPrecision, 'int8');
    assert.equal(r.int8Tolerance, 0.05);
  });

  test('an fp32 sweep into the same directory is a sweep of its own: it trains its run and leaves the int8 row alone', async () => {
    const r = await cli('sweep', ...data, ...grid, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { trained: number; skipped: number }).trained, 1);
    const rows = rowsOf(join(out, 'results.jsonl'));
    assert.deepEqual(rows.map((x) => x.frozenPrecision ?? 'fp32'), ['int8', 'fp32']);
    assert.doesNotMatch(String(rows[1]?.runDir), /_int8$/);
    const again = await cli('sweep', ...data, ...grid, '--frozen-precision', 'int8', '--int8-tolerance', '0.05', '--json');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).skipped, 1);
  });

  test('--int8-tolerance without int8 is refused, with --queue before Redis is reached (queued int8: test/experiments/queue)', async () => {
    const q = await cli('sweep', ...data, ...grid, '--int8-tolerance', '0.1', '--queue', 'redis://127.0.0.1:1/0');
    assert.equal(q.code, 2, q.stderr);
    assert.match(q.stderr, /--int8-tolerance 0\.1 applies to --frozen-precision int8 only \(got --frozen-precision fp32\)/);
    const t = await cli('sweep', ...data, ...grid, '--int8-tolerance', '0.1');
    assert.equal(t.code, 2, t.stderr);
    assert.match(t.stderr, /--int8-tolerance 0\.1 applies to --frozen-precision int8 only \(got --frozen-precision fp32\)/);
    const ab = await cli('ablate', out, '--frozen-precision', 'int4');
    assert.equal(ab.code, 2, ab.stderr);
    assert.match(ab.stderr, /--frozen-precision <p>' argument 'int4' is invalid\. Allowed choices are fp32, int8/);
  });
});

test('train --multi-task --frozen-precision int8: the guard runs on the first mixed batch; run records, summary and eval --json record int8', async () => {
  const dir = tempDir('ak-cli-int8-mt-');
  for (const [name, seed] of [['a', 1], ['b', 3]] as const) {
    mkdirSync(join(dir, name));
    writeToyCsv(join(dir, name, 'train.csv'), 32, seed);
    writeToyCsv(join(dir, name, 'dev.csv'), 16, seed + 1);
  }
  const out = join(dir, 'run');
  const r = await cli('train', '--multi-task', `first=${join(dir, 'a')},second=${join(dir, 'b')}`, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT,
    '--epochs', '1', '--batch-size', '16', '--max-length', '16', '--frozen-precision', 'int8', '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /frozen base:\s+int8 matmuls \(outlier guard on the first mixed batch\)/);
  assert.equal(r.stderr.match(/int8 frozen base: 12 of 12 matmuls int8/g)?.length, 1, 'the trainer\'s plan, logged once');
  const s = JSON.parse(r.stdout) as { frozenPrecision?: string; int8Tolerance?: number; tasks: { bestDir: string }[] };
  assert.equal(s.frozenPrecision, 'int8');
  assert.equal(s.int8Tolerance, 0.03);
  assert.equal((JSON.parse(readFileSync(join(out, 'first', 'run.json'), 'utf8')) as { frozenPrecision?: string }).frozenPrecision, 'int8');
  const e = await cli('eval', s.tasks[0]?.bestDir as string, '--base', TINY_BERT, '--frozen-precision', 'int8', '--json');
  assert.equal(e.code, 0, e.stderr);
  assert.equal((JSON.parse(e.stdout) as { frozenPrecision?: string }).frozenPrecision, 'int8');
  const fp32 = await cli('eval', s.tasks[0]?.bestDir as string, '--base', TINY_BERT, '--json');
  assert.equal(fp32.code, 0, fp32.stderr);
  assert.equal((JSON.parse(fp32.stdout) as { frozenPrecision?: string }).frozenPrecision, undefined);
});
