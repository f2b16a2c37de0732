import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeBackend, expectedOutput } from './fake-backend.js';
import { classify, listen } from './helpers.js';
import type { ClassifyResponse } from '../../src/serve/server.js';

test('classify: single-text task returns labels and scores from the backend, in input order', async () => {
  const backend = new FakeBackend();
  const server = await listen(backend);
  try {
    const inputs = ['great movie', 'terrible plot', 'ok'];
    const a = await classify(server.url, 'sentiment', inputs);
    assert.equal(a.status, 200, a.text);
    const body = a.body as ClassifyResponse;
    assert.equal(body.task, 'sentiment');
    assert.equal(body.truncated, 0);
    assert.deepEqual(body.results, inputs.map((t) => expectedOutput(backend.task('sentiment'), t)));
    const p = body.results[0]?.scores ?? {};
    assert.ok(Math.abs((p.negative ?? 0) + (p.positive ?? 0) - 1) < 1e-9);
  } finally {
    await server.close();
  }
});

test('classify: pair, regression and multilabel tasks; truncated inputs are counted, not rejected', async () => {
  const backend = new FakeBackend();
  const server = await listen(backend);
  try {
    const pairs: [string, string][] = [['A man eats.', 'Someone eats.'], ['x'.repeat(40), 'y'.repeat(40)]];
    const nli = await classify(server.url, 'nli', pairs);
    assert.equal(nli.status, 200, nli.text);
    const nb = nli.body as ClassifyResponse;
    assert.deepEqual(nb.results, pairs.map((p) => expectedOutput(backend.task('nli'), p)));
    assert.equal(nb.truncated, 1);
    assert.equal(nb.results[1]?.truncated, true);

    const sts = await classify(server.url, 'stsb', [['a', 'b']]);
    assert.equal(sts.status, 200, sts.text);
    assert.equal(typeof (sts.body as ClassifyResponse).results[0]?.score, 'number');

    const long = 'word '.repeat(1000);
    const ml = await classify(server.url, 'topics', ['football scores', long]);
    assert.equal(ml.status, 200, ml.text);
    const mb = ml.body as ClassifyResponse;
    assert.deepEqual(mb.results, ['football scores', long].map((t) => expectedOutput(backend.task('topics'), t)));
    assert.equal(mb.truncated, 1);
    assert.ok(Array.isArray(mb.results[0]?.labels));
  } finally {
    await server.close();
  }
});

test('batching: concurrent requests for several tasks are merged into fewer backend calls, each gets its own results', async () => {
  const backend = new FakeBackend({ delayMs: 20 }); // requests arriving during a call queue up behind it
  const server = await listen(backend, { windowMs: 40, maxBatch: 32 });
  try {
    const reqs: Array<{ task: string; inputs: Array<string | [string, string]> }> = [];
    for (let i = 0; i < 8; i++) {
      if (i % 3 === 0) reqs.push({ task: 'nli', inputs: [[`p${i}`, `h${i}`]] });
      else if (i % 3 === 1) reqs.push({ task: 'sentiment', inputs: [`text ${i}`, `more ${i}`] });
      else reqs.push({ task: 'topics', inputs: [`topic ${i}`] });
    }
    const answers = await Promise.all(reqs.map((r) => classify(server.url, r.task, r.inputs)));
    answers.forEach((a, i) => {
      const r = reqs[i]!;
      assert.equal(a.status, 200, a.text);
      const body = a.body as ClassifyResponse;
      assert.equal(body.task, r.task);
      assert.deepEqual(body.results, r.inputs.map((x) => expectedOutput(backend.task(r.task), x)));
    });
    const totalItems = reqs.reduce((n, r) => n + r.inputs.length, 0);
    assert.equal(backend.calls.flat().length, totalItems);
    assert.ok(backend.calls.length < reqs.length, `expected merged batches, got ${backend.calls.length} calls for ${reqs.length} requests`);
    const mixed = backend.calls.some((c) => new Set(c.map((it) => it.task)).size > 1);
    assert.ok(mixed, `expected a batch mixing tasks, got ${JSON.stringify(backend.calls.map((c) => c.map((it) => it.task)))}`);
  } finally {
    await server.close();
  }
});

test('batching: maxBatch is respected, large requests are split and reassembled in order, one backend call at a time', async () => {
  const backend = new FakeBackend({ delayMs: 5 });
  const server = await listen(backend, { windowMs: 20, maxBatch: 4 });
  try {
    const reqs = [10, 3, 1, 7, 2].map((n, r) => Array.from({ length: n }, (_, i) => `req${r} item${i}`));
    const answers = await Promise.all(reqs.map((inputs) => classify(server.url, 'sentiment', inputs)));
    answers.forEach((a, r) => {
      assert.equal(a.status, 200, a.text);
      assert.deepEqual((a.body as ClassifyResponse).results, reqs[r]!.map((t) => expectedOutput(backend.task('sentiment'), t)));
    });
    assert.ok(backend.calls.every((c) => c.length <= 4), `batch sizes ${backend.calls.map((c) => c.length).join(',')}`);
    assert.equal(backend.calls.flat().length, 23);
    assert.ok(backend.calls.length <= 8, `${backend.calls.length} calls for 23 items`); // 6 = ceil(23 / 4) when all arrive in one window
    assert.equal(backend.maxActive, 1);
  } finally {
    await server.close();
  }
});
