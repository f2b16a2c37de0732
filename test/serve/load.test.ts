/**
 * The standing bad-input load test of the server (issue 12), small enough for npm test: the real
 * backend on the tiny BERT with one ONNX Runtime thread, closed-loop clients over loopback.
 *
 * 1. 10 % bad requests of every kind in load.ts, no request timeout: every good request is
 *    answered 200 with exactly the results the backend gives for its inputs alone, every bad one
 *    its own 4xx and error code; nothing answers 500.
 * 2. Overload: a slowed backend behind a small queue and a request timeout, far more clients than
 *    the queue holds: good requests are answered right or refused with 503 QUEUE_FULL /
 *    DEADLINE_EXCEEDED and Retry-After, bad ones as before; the queue bound is reached and the
 *    server is idle and healthy afterwards.
 *
 * Correctness only: nothing here depends on timing. Latency figures come from the benchmark,
 * `npm run bench:serve-load`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import type { ClassifierBackend, ClassifyItem, ClassifyOutput, ItemOutput } from '../../src/serve/backend.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { call, listen, queueDepth } from './helpers.js';
import { BAD_KINDS, checkLoad, runLoad, tally, type LoadResult } from './load.js';
import { tempDir } from '../temp-dir.js';

const LIMITS = { maxInputs: 64, bodyLimit: 1024 * 1024 };
const ADMIN = 'load-test-admin-token';

/** A backend that holds the model `ms` longer per classify call (so that clients outrun it). */
class SlowBackend implements ClassifierBackend {
  constructor(private readonly inner: ModelBackend, private readonly ms: number) {}
  get maxLength(): number { return this.inner.maxLength; }
  get baseInfo(): Record<string, unknown> { return this.inner.baseInfo; }
  tasks(): ReturnType<ModelBackend['tasks']> { return this.inner.tasks(); }
  async classify(items: ClassifyItem[]): Promise<ItemOutput[]> {
    await new Promise((r) => setTimeout(r, this.ms));
    return this.inner.classify(items);
  }
  load(name: string, dir: string): ReturnType<ModelBackend['load']> { return this.inner.load(name, dir); }
  unload(name: string): Promise<void> { return this.inner.unload(name); }
}

/** Same result up to float noise from batch composition (padding): label, truncation, scores within 1e-4. */
function same(got: unknown, want: unknown): boolean {
  const g = got as ClassifyOutput;
  const w = want as ClassifyOutput;
  const labels = Object.keys(w.scores);
  if (g.truncated !== w.truncated || Object.keys(g.scores ?? {}).length !== labels.length) return false;
  if (!labels.every((l) => Math.abs((g.scores[l] ?? NaN) - (w.scores[l] as number)) < 1e-4)) return false;
  const margin = Math.abs((w.scores[labels[0] as string] as number) - (w.scores[labels[1] as string] as number));
  return g.label === w.label || margin < 2e-4; // a near tie may flip with float noise
}

/** Each distinct good input classified by the backend directly, without the server. */
async function reference(backend: ModelBackend, task: string, runs: readonly LoadResult[]): Promise<(inputs: string[]) => unknown[]> {
  const ref = new Map<string, ClassifyOutput>();
  const texts = [...new Set(runs.flatMap((r) => r.good.flatMap((g) => g.inputs)))];
  for (let i = 0; i < texts.length; i += 32) {
    const chunk = texts.slice(i, i + 32);
    const out = await backend.classify(chunk.map((input) => ({ task, input })));
    chunk.forEach((text, k) => ref.set(text, out[k] as ClassifyOutput));
  }
  return (inputs) => inputs.map((x) => ref.get(x));
}

test('bad-input load: good requests answered right (or 503 with Retry-After past the queue bound), bad ones their coded 4xx, never 500', async (t) => {
  const base = await loadBase(resolve('test/fixtures/models/tiny-bert'));
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 8 }) }, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 5 });
  const dir = tempDir('ak-load-');
  await saveTask(m, join(dir, 'sentiment'), { name: 'sentiment', maxLength: 64 });
  await m.dispose();
  mkdirSync(join(dir, 'root')); // an empty adapter root: every load from it or outside it is refused
  const backend = new ModelBackend(base, { maxLength: 64, threads: 1 });
  await backend.load('sentiment', join(dir, 'sentiment'));
  const env = { ADAPTERKIT_ADMIN_TOKEN: ADMIN };
  const common = { task: 'sentiment', ...LIMITS, adminToken: ADMIN };
  try {
    // 1. Bad-input mix, no timeout, a queue that 16 clients cannot fill: nothing may be refused.
    const server = await listen(backend, { ...LIMITS, env, adapterRoots: [join(dir, 'root')], requestTimeoutMs: 0 });
    let mixed: LoadResult;
    try {
      mixed = await runLoad({ ...common, url: server.url, requests: 200, concurrency: 16, badShare: 0.1, seed: 11 });
      assert.equal(await queueDepth(server.url), 0);
    } finally {
      await server.close();
    }
    t.diagnostic(`mixed (${(mixed.wallMs / 1000).toFixed(1)} s): good ${JSON.stringify(tally(mixed.good))}; bad ${JSON.stringify(tally(mixed.bad, (b) => `${b.kind} ${b.status} ${b.code ?? ''}`))}`);
    assert.deepEqual(new Set(mixed.bad.map((b) => b.kind)), new Set(Object.keys(BAD_KINDS)), 'every bad kind was sent');

    // 2. Overload: 48 clients against a queue of 16 inputs (so at most 16 per request) and a model held 15 ms per batch of 8.
    const slow = await listen(new SlowBackend(backend, 15), { ...LIMITS, maxInputs: 16, env, adapterRoots: [join(dir, 'root')], maxQueue: 16, maxBatch: 8, requestTimeoutMs: 2000 });
    let over: LoadResult;
    try {
      over = await runLoad({ ...common, maxInputs: 16, url: slow.url, requests: 240, concurrency: 48, badShare: 0.1, seed: 12 });
      assert.equal(await queueDepth(slow.url), 0, 'nothing left in the queue');
      assert.equal((await call(`${slow.url}/healthz`, 'GET')).status, 200);
    } finally {
      await slow.close();
    }
    t.diagnostic(`overload (${(over.wallMs / 1000).toFixed(1)} s): good ${JSON.stringify(tally(over.good))}; bad ${JSON.stringify(tally(over.bad))}`);

    const expected = await reference(backend, 'sentiment', [mixed, over]);
    assert.deepEqual(checkLoad(mixed, { busyAllowed: false, expected, same }), []);
    assert.deepEqual(checkLoad(over, { busyAllowed: true, expected, same }), []);
    assert.ok(over.good.some((g) => g.status === 200), 'the overloaded server still answers');
    assert.ok(over.good.some((g) => g.code === 'QUEUE_FULL'), 'the queue bound was reached');
  } finally {
    await backend.dispose();
  }
});
