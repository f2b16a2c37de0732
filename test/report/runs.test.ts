/**
 * Reading run directories for the report: the trainer's metrics.jsonl layout, the task manifest,
 * a last line cut short by a crash, malformed files, and the smoothing helpers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mainMetric, movingAverage, parseMetricsLog, readRun, smoothedLoss, smoothingWindow } from '../../src/train/report/runs.js';
import { tempDir } from '../temp-dir.js';

/** A log in the trainer's format: `steps` train lines, an eval every `evalEvery` steps. */
function trainerLog(steps: number, evalEvery: number): string {
  const out: string[] = [];
  for (let s = 1; s <= steps; s++) {
    out.push(JSON.stringify({ time: '2025-01-01T00:00:00.000Z', type: 'train', step: s, epoch: 0, loss: 1 / s, lr: 1e-3, grad_norm: 0.5, batch: 32, seq: 40 }));
    if (s % evalEvery === 0) out.push(JSON.stringify({ time: '2025-01-01T00:00:01.000Z', type: 'eval', split: 'dev', step: s, epoch: 0, accuracy: 0.5 + s / 100, f1: 0.4 + s / 100 }));
  }
  return `${out.join('\n')}\n`;
}

/** A fresh run directory holding `log` (and a manifest when given). */
function runDir(log: string, manifest?: unknown): string {
  const dir = tempDir('adapterkit-report-run-');
  writeFileSync(join(dir, 'metrics.jsonl'), log);
  if (manifest !== undefined) {
    mkdirSync(join(dir, 'best'));
    writeFileSync(join(dir, 'best', 'adapterkit.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  }
  return dir;
}

const manifest = {
  format: 'adapterkit-task', version: 1, name: 'spam', base: { id: 'tiny', family: 'bert', fingerprint: 'abc' },
  mode: { kind: 'adapters' }, head: { kind: 'classification', labels: ['ham', 'spam'], layers: 2 }, maxLength: 64,
  training: { step: 20, epoch: 1, dev: { accuracy: 0.7 }, mode: 'adapters (m=8)' },
};

describe('readRun', () => {
  test('reads training losses, evaluations and the manifest', async () => {
    const run = await readRun(runDir(trainerLog(20, 10), manifest));
    assert.equal(run.name, 'spam');
    assert.equal(run.mode, 'adapters (m=8)');
    assert.equal(run.train.length, 20);
    assert.deepEqual(run.train[1], { step: 2, loss: 0.5 });
    assert.deepEqual(run.evals.map((e) => e.step), [10, 20]);
    assert.deepEqual(run.evals[1], { step: 20, split: 'dev', metrics: { accuracy: 0.7, f1: 0.6000000000000001 } });
    assert.deepEqual(Object.keys(run.evals[0]?.metrics ?? {}), ['accuracy', 'f1'], 'metrics keep the logged order');
    assert.equal(run.manifest?.head.kind, 'classification');
    assert.equal(mainMetric(run), 'accuracy');
  });

  test('without a manifest the directory names the run', async () => {
    const dir = runDir(trainerLog(3, 10));
    const run = await readRun(dir);
    assert.equal(run.name, dir.split('/').at(-1));
    assert.equal(run.mode, undefined);
    assert.equal(run.manifest, undefined);
    assert.equal(mainMetric(run), undefined);
  });

  test('a last line cut short by a crash is dropped', async () => {
    const log = trainerLog(5, 10);
    const cut = `${log}{"time":"2025-01-01T00:00:00.000Z","type":"train","step":6,"epo`;
    const run = await readRun(runDir(cut));
    assert.equal(run.train.length, 5);
    assert.equal(parseMetricsLog(cut).truncatedLastLine, true);
    assert.equal(parseMetricsLog(log).truncatedLastLine, false);
  });

  test('a malformed line elsewhere is an error naming the file and line', async () => {
    const lines = trainerLog(4, 10).split('\n');
    lines[1] = '{oops';
    const dir = runDir(lines.join('\n'));
    await assert.rejects(readRun(dir), (e: Error & { code?: string }) => e.code === 'BAD_FILE' && e.message.includes(`${join(dir, 'metrics.jsonl')}: line 2 is not a JSON object`));
  });

  test('missing log and bad manifests are coded errors', async () => {
    const empty = tempDir('adapterkit-report-empty-');
    await assert.rejects(readRun(empty), (e: Error & { code?: string }) => e.code === 'NOT_FOUND' && /metrics\.jsonl does not exist/.test(e.message));
    await assert.rejects(readRun(runDir(trainerLog(2, 10), '{not json')), /adapterkit\.json is not valid JSON/);
    await assert.rejects(readRun(runDir(trainerLog(2, 10), { name: 'x' })), /is not an adapterkit task manifest/);
  });

  test('blank lines and other record types are skipped', () => {
    const log = `\n${JSON.stringify({ type: 'note', step: 1 })}\n${JSON.stringify({ type: 'train', step: 1, loss: 0.3 })}\n\n`;
    const parsed = parseMetricsLog(log);
    assert.deepEqual(parsed.train, [{ step: 1, loss: 0.3 }]);
    assert.deepEqual(parsed.evals, []);
  });
});

describe('smoothing', () => {
  test('centred moving average, shrunk at the ends, skipping non-finite values', () => {
    assert.deepEqual(movingAverage([1, 2, 3, 4, 5], 3), [1.5, 2, 3, 4, 4.5]);
    assert.deepEqual(movingAverage([1, NaN, 3], 3), [1, 2, 3]);
    assert.deepEqual(movingAverage([4, 8], 1), [4, 8]);
    assert.deepEqual(movingAverage([], 5), []);
  });

  test('the window grows with the number of steps, odd and bounded', () => {
    assert.equal(smoothingWindow(10), 1);
    assert.equal(smoothingWindow(100), 3);
    assert.equal(smoothingWindow(600), 13);
    assert.equal(smoothingWindow(1e6), 101);
    for (const n of [20, 77, 1000, 4321]) assert.equal(smoothingWindow(n) % 2, 1);
  });

  test('smoothedLoss keeps the steps and reduces noise', () => {
    const train = Array.from({ length: 200 }, (_, i) => ({ step: i + 1, loss: 1 + (i % 2 ? 0.5 : -0.5) }));
    const s = smoothedLoss({ train });
    assert.deepEqual(s.map((p) => p.step), train.map((p) => p.step));
    assert.ok(s.slice(5, -5).every((p) => Math.abs(p.loss - 1) < 0.2), 'alternating noise averaged out');
  });
});
