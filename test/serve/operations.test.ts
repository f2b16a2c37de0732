import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { AdapterkitError } from '../../src/errors.js';
import { METRIC_NAMES } from '../../src/serve/metrics.js';
import { FakeBackend, expectedOutput } from './fake-backend.js';
import { call, classify, errorOf, listen } from './helpers.js';
import type { ClassifyResponse } from '../../src/serve/server.js';

/** Value of one sample line of the Prometheus text (0 when absent). */
function sample(text: string, series: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

async function metrics(url: string): Promise<string> {
  const a = await call(`${url}/metrics`, 'GET');
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type') ?? '', /text\/plain/);
  return a.text;
}

test('healthz and adapter list report status, adapter count, uptime and the base', async () => {
  const server = await listen(new FakeBackend());
  try {
    const a = await call(`${server.url}/healthz`, 'GET');
    assert.equal(a.status, 200);
    const body = a.body as { status: string; adapters: number; uptime_s: number; base: Record<string, unknown> };
    assert.equal(body.status, 'ok');
    assert.equal(body.adapters, 4);
    assert.ok(body.uptime_s >= 0 && body.uptime_s < 60);
    assert.equal(body.base.name, 'fake-base');
    const list = await call(`${server.url}/v1/adapters`, 'GET');
    assert.deepEqual((list.body as { adapters: unknown[] }).adapters.length, 4);
  } finally {
    await server.close();
  }
});

test('/metrics exposes every metric name and the counts move', async () => {
  const server = await listen(new FakeBackend());
  try {
    const first = await metrics(server.url);
    for (const name of Object.values(METRIC_NAMES)) assert.match(first, new RegExp(`^# TYPE ${name} `, 'm'), name);
    assert.equal(sample(first, METRIC_NAMES.adaptersLoaded), 4);

    const req = `${METRIC_NAMES.requests}{method="POST",route="/v1/classify",status="200"}`;
    const lat = `${METRIC_NAMES.latency}_count{method="POST",route="/v1/classify"}`;
    const cls = `${METRIC_NAMES.inputsClassified}{task="sentiment"}`;
    const trunc = `${METRIC_NAMES.inputsTruncated}{task="sentiment"}`;
    const batches = `${METRIC_NAMES.batchSize}_count`;
    const batchItems = `${METRIC_NAMES.batchSize}_sum`;
    const before = { req: sample(first, req), lat: sample(first, lat), cls: sample(first, cls), trunc: sample(first, trunc), b: sample(first, batches), bi: sample(first, batchItems) };

    const a = await classify(server.url, 'sentiment', ['short', 'x'.repeat(80), 'also short']);
    assert.equal(a.status, 200);
    const bad = await classify(server.url, 'nope', ['x']);
    assert.equal(bad.status, 404);
    await call(`${server.url}/no/such/route`, 'GET');

    const after = await metrics(server.url);
    assert.equal(sample(after, req), before.req + 1);
    assert.equal(sample(after, lat), before.lat + 2); // the 200 and the 404
    assert.equal(sample(after, cls), before.cls + 3);
    assert.equal(sample(after, trunc), before.trunc + 1);
    assert.equal(sample(after, batches), before.b + 1);
    assert.equal(sample(after, batchItems), before.bi + 3);
    assert.equal(sample(after, `${METRIC_NAMES.requests}{method="POST",route="/v1/classify",status="404"}`), 1);
    assert.equal(sample(after, `${METRIC_NAMES.requests}{method="GET",route="unmatched",status="404"}`), 1);
    assert.equal(sample(after, `${METRIC_NAMES.requests}{method="GET",route="/metrics",status="200"}`), 1);
  } finally {
    await server.close();
  }
});

test('backend failure fails only that batch with 500 JSON; the next request works', async () => {
  const backend = new FakeBackend();
  const server = await listen(backend, { windowMs: 30 });
  try {
    backend.failTimes = 1;
    backend.failWith = new Error('out of memory in the fake model');
    const [a, b] = await Promise.all([classify(server.url, 'sentiment', ['one']), classify(server.url, 'topics', ['two'])]);
    for (const r of [a, b]) {
      assert.equal(r.status, 500, r.text);
      assert.equal(errorOf(r).code, 'BACKEND_FAILED');
      assert.match(errorOf(r).message, /batch of 2 inputs: out of memory in the fake model/);
    }
    assert.equal(backend.calls.length, 1);

    backend.failTimes = 1;
    backend.failWith = new AdapterkitError('RUNTIME_ERROR', 'onnxruntime: session run failed on input_ids [2, 9]');
    const c = await classify(server.url, 'sentiment', ['three']);
    assert.equal(c.status, 500);
    assert.equal(errorOf(c).code, 'RUNTIME_ERROR');

    const ok = await classify(server.url, 'sentiment', ['fine now']);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual((ok.body as ClassifyResponse).results, [expectedOutput(backend.task('sentiment'), 'fine now')]);
    const m = await metrics(server.url);
    assert.equal(sample(m, METRIC_NAMES.batchFailures), 2);
  } finally {
    await server.close();
  }
});

test('queue full -> 503 QUEUE_FULL with Retry-After; queued work still completes', async () => {
  const backend = new FakeBackend({ delayMs: 250 });
  const server = await listen(backend, { windowMs: 1, maxBatch: 2, maxQueue: 4, maxInputs: 4 });
  try {
    const entered = backend.nextCall();
    const running = classify(server.url, 'sentiment', ['a', 'b']);
    await entered;
    const queued = classify(server.url, 'sentiment', ['c', 'd', 'e', 'f']);
    let depth = 0;
    for (let i = 0; i < 100 && depth < 4; i++) {
      depth = sample(await metrics(server.url), METRIC_NAMES.queueDepth);
      if (depth < 4) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(depth, 4);
    const rejected = await classify(server.url, 'sentiment', ['g']);
    assert.equal(rejected.status, 503, rejected.text);
    assert.equal(errorOf(rejected).code, 'QUEUE_FULL');
    assert.match(errorOf(rejected).message, /retry/);
    assert.equal(rejected.headers.get('retry-after'), '1');
    const [r1, r2] = await Promise.all([running, queued]);
    assert.equal(r1.status, 200);
    assert.equal(r2.status, 200);
    assert.equal((r2.body as ClassifyResponse).results.length, 4);
  } finally {
    await server.close();
  }
});

test('graceful close waits for an in-flight slow request and a queued batch, then refuses connections', async () => {
  const backend = new FakeBackend({ delayMs: 300 });
  const server = await listen(backend, { windowMs: 1 });
  const entered = backend.nextCall();
  const first = classify(server.url, 'sentiment', ['slow one']);
  await entered;
  const second = classify(server.url, 'topics', ['queued behind']);
  await new Promise((r) => setTimeout(r, 30)); // let the second request reach the queue
  const t0 = performance.now();
  await server.close();
  const closedAt = performance.now();
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.status, 200, a.text);
  assert.equal(b.status, 200, b.text);
  assert.deepEqual((b.body as ClassifyResponse).results, [expectedOutput(backend.task('topics'), 'queued behind')]);
  assert.equal(backend.finishedAt.length, 2);
  assert.ok(backend.finishedAt.every((t) => t <= closedAt), 'close resolved only after both batches ran');
  assert.ok(closedAt - t0 >= 400, `close took ${closedAt - t0} ms; the two batches need about 570 ms from then`);
  assert.ok(closedAt - t0 < 3000, `close took ${closedAt - t0} ms`);
  assert.equal(backend.calls.length, 2);
  await assert.rejects(fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(2000) }));
});

test('graceful close is bounded by shutdownTimeoutMs when the backend hangs', async () => {
  const backend = new FakeBackend({ delayMs: 1500 });
  const server = await listen(backend, { windowMs: 1, shutdownTimeoutMs: 100 });
  const entered = backend.nextCall();
  const stuck = classify(server.url, 'sentiment', ['never finishes in time']).then((a) => a.status, () => 'connection closed');
  await entered;
  const t0 = performance.now();
  await server.close();
  const took = performance.now() - t0;
  assert.ok(took < 1000, `close took ${took} ms`);
  assert.equal(await stuck, 'connection closed');
});

test('during close, a request arriving on an open connection gets 503 SHUTTING_DOWN and the connection ends', async () => {
  const backend = new FakeBackend({ delayMs: 200 });
  const server = await listen(backend, { windowMs: 1 });
  const sock = connect(Number(new URL(server.url).port), '127.0.0.1');
  try {
    await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    let raw = '';
    sock.on('data', (d: Buffer) => { raw += d.toString('utf8'); });
    const ended = new Promise((resolve) => sock.once('close', resolve));
    sock.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n'); // headers not finished: the connection is busy, not idle
    const entered = backend.nextCall();
    const slow = classify(server.url, 'sentiment', ['slow']);
    await entered;
    const closing = server.close();
    await new Promise((r) => setTimeout(r, 20));
    sock.write('\r\n');
    await Promise.race([ended, new Promise((r) => setTimeout(r, 3000))]);
    assert.match(raw, /^HTTP\/1\.1 503 /);
    assert.match(raw, /connection: close/i);
    assert.match(raw, /"code":"SHUTTING_DOWN"/);
    assert.equal((await slow).status, 200);
    await closing;
  } finally {
    sock.destroy();
  }
});
