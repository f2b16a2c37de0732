/**
 * Load limits (issue 12): a request deadline (503 DEADLINE_EXCEEDED with Retry-After, the
 * request leaves the queue), the queue bound counting waiting tag/answer inputs too, and huge
 * classify inputs cut before the tokenizer reads them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { CHARS_PER_TOKEN, ModelBackend, capText } from '../../src/serve/model-backend.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import type { ClassifyOutput, TaskInfo } from '../../src/serve/backend.js';
import type { ClassifyResponse } from '../../src/serve/server.js';
import { FakeBackend, defaultTasks, expectedOutput } from './fake-backend.js';
import { call, classify, errorOf, listen, queueDepth, until } from './helpers.js';
import { tempDir } from '../temp-dir.js';

const POS: TaskInfo = { name: 'pos', kind: 'tagging', labels: ['X'], pair: false, bytes: 1 };

test('request timeout: a request still queued at its deadline gets 503 DEADLINE_EXCEEDED with Retry-After and never runs', async () => {
  const backend = new FakeBackend();
  const server = await listen(backend, { windowMs: 1, requestTimeoutMs: 100 });
  const open = backend.closeGate();
  try {
    const entered = backend.nextCall();
    const first = classify(server.url, 'sentiment', ['runs first']);
    await entered;
    const late = await classify(server.url, 'topics', ['waits behind it']);
    assert.equal(late.status, 503, late.text);
    assert.equal(errorOf(late).code, 'DEADLINE_EXCEEDED');
    assert.equal(errorOf(late).message, "request not answered within the server's request timeout of 100 ms (the server is busy); retry in a moment");
    assert.equal(late.headers.get('retry-after'), '1');
    assert.equal(await queueDepth(server.url), 0, 'the timed-out request left the queue');
    // The running request passed its deadline too: answered 503 while its batch still runs.
    const firstAnswer = await first;
    assert.equal(firstAnswer.status, 503, firstAnswer.text);
    assert.equal(errorOf(firstAnswer).code, 'DEADLINE_EXCEEDED');
    assert.equal(backend.finishedAt.length, 0);
    open();
    await until(() => backend.finishedAt.length === 1, 'the first batch to end');
    const ok = await classify(server.url, 'sentiment', ['fine']);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(backend.calls.map((c) => c.map((i) => i.input)), [['runs first'], ['fine']], 'the timed-out queued request never reached the backend');
  } finally {
    open();
    await server.close();
  }
});

test('a client that gives up takes its queued request out of the queue: it never reaches the backend', async () => {
  const backend = new FakeBackend();
  const server = await listen(backend, { windowMs: 1, requestTimeoutMs: 0 });
  const open = backend.closeGate();
  try {
    const entered = backend.nextCall();
    const first = classify(server.url, 'sentiment', ['runs first']);
    await entered;
    const gaveUp = new AbortController();
    const abandoned = fetch(`${server.url}/v1/classify`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task: 'topics', inputs: ['a', 'b'] }), signal: gaveUp.signal,
    });
    await until(async () => (await queueDepth(server.url)) === 2, 'two inputs queued');
    gaveUp.abort();
    await assert.rejects(abandoned, { name: 'AbortError' });
    await until(async () => (await queueDepth(server.url)) === 0, 'the abandoned inputs to leave the queue');
    open();
    assert.equal((await first).status, 200);
    const ok = await classify(server.url, 'sentiment', ['next']);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(backend.calls.map((c) => c.map((i) => i.input)), [['runs first'], ['next']]);
  } finally {
    open();
    await server.close();
  }
});

test('request timeout 0 disables the deadline; a bad value is BAD_CONFIG', async () => {
  const backend = new FakeBackend({ delayMs: 200 });
  const server = await listen(backend, { windowMs: 1, requestTimeoutMs: 0 });
  try {
    assert.equal((await classify(server.url, 'sentiment', ['slow but fine'])).status, 200);
  } finally {
    await server.close();
  }
  await assert.rejects(listen(backend, { requestTimeoutMs: -1 }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'BAD_CONFIG');
    assert.equal(e.message, 'serve option requestTimeoutMs must be an integer >= 0, got -1');
    return true;
  });
});

test('queue bound: waiting tag requests count their inputs; past maxQueue 503 QUEUE_FULL with Retry-After', async () => {
  const backend = new FakeBackend({ tasks: [...defaultTasks(), POS] });
  const server = await listen(backend, { windowMs: 1, maxQueue: 4 });
  const tag = (inputs: string[]) => call(`${server.url}/v1/tag`, 'POST', { task: 'pos', inputs });
  const open = backend.closeGate();
  try {
    const running = tag(['one running']);
    await until(() => backend.tagCalls === 1, 'the first tag request to run');
    const waiting = tag(['a', 'b', 'c']);
    await until(async () => (await queueDepth(server.url)) === 3, 'three inputs queued');
    const refused = await tag(['d', 'e']);
    assert.equal(refused.status, 503, refused.text);
    assert.equal(errorOf(refused).code, 'QUEUE_FULL');
    assert.equal(errorOf(refused).message, 'server busy: 3 inputs already queued (limit 4); retry in a moment');
    assert.equal(refused.headers.get('retry-after'), '1');
    const alsoRefused = await classify(server.url, 'sentiment', ['x', 'y']);
    assert.equal(alsoRefused.status, 503, 'classify inputs and tag inputs share the bound');
    assert.equal(errorOf(alsoRefused).code, 'QUEUE_FULL');
    const fits = classify(server.url, 'sentiment', ['z']);
    await until(async () => (await queueDepth(server.url)) === 4, 'the fitting request queued');
    open();
    const answers = await Promise.all([running, waiting, fits]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
    assert.deepEqual((answers[2]?.body as ClassifyResponse).results, [expectedOutput(defaultTasks()[0] as TaskInfo, 'z')]);
    assert.equal(backend.tagCalls, 2);
  } finally {
    open();
    await server.close();
  }
});

test('huge classify inputs are cut to maxLength x 64 characters before tokenizing; ordinary inputs are untouched', async () => {
  assert.deepEqual(capText('short', 10), { text: 'short', cut: false });
  assert.deepEqual(capText('aaaa bbbb cccc', 10), { text: 'aaaa bbbb', cut: true }, 'at the last whitespace in the last quarter');
  assert.deepEqual(capText('abcdefghijkl', 8), { text: 'abcdefgh', cut: true });
  assert.equal(capText(`abcdefg${'😀'}xyz`, 8).text, 'abcdefg', 'never half a surrogate pair');

  const base = await loadBase(resolve('test/fixtures/models/tiny-bert'));
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 3 });
  const dir = join(tempDir('ak-cap-'), 't');
  await saveTask(m, dir, { name: 't', maxLength: 32 });
  const backend = new ModelBackend(base, { maxLength: 32 });
  await backend.load('t', dir);
  const seen: number[] = [];
  const encode = base.tokenizer.encode.bind(base.tokenizer);
  (base.tokenizer as { encode: typeof encode }).encode = (inputs, maxLength) => {
    for (const x of inputs) seen.push(...(typeof x === 'string' ? [x.length] : [x[0].length, x[1].length]));
    return encode(inputs, maxLength);
  };
  try {
    const long = 'the cat sat on the mat and the dog ran fast '.repeat(25_000); // 1.1 MB
    const plain = await backend.classify([{ task: 't', input: long.slice(0, 32 * CHARS_PER_TOKEN) }]);
    const cut = await backend.classify([{ task: 't', input: long }]);
    assert.ok(Math.max(...seen) <= 32 * CHARS_PER_TOKEN, `the tokenizer saw ${Math.max(...seen)} characters`);
    assert.equal(cut[0]?.truncated, true);
    assert.deepEqual((cut[0] as ClassifyOutput).scores, (plain[0] as ClassifyOutput).scores, 'the first 32 tokens are the same: same scores');
    const server = await listen(backend);
    try {
      const a = await classify(server.url, 't', ['a short text', long.slice(0, 900_000)]);
      assert.equal(a.status, 200, a.text);
      assert.deepEqual((a.body as ClassifyResponse).results.map((r) => r.truncated), [false, true]);
    } finally {
      await server.close();
    }
  } finally {
    await backend.dispose();
    await m.dispose();
  }
});
