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
import { CHARS_PER_TOKEN, ModelBackend, capText, capWords } from '../../src/serve/model-backend.js';
import { predictAnswers } from '../../src/train/token-tasks/qa.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import type { AnswerInput, AnswerOutput, ClassifyOutput, TagOutput, TaskInfo } from '../../src/serve/backend.js';
import type { ClassifyResponse, TagResponse } from '../../src/serve/server.js';
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
  const server = await listen(backend, { windowMs: 1, maxQueue: 4, maxInputs: 4 });
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

const SQUAD: TaskInfo = { name: 'squad', kind: 'qa', labels: [], pair: true, bytes: 1 };

/** The fake backend with a QA route: a context takes one window per 10 characters. */
class QaFakeBackend extends FakeBackend {
  answerWindows(_task: string, inputs: AnswerInput[]): number[] {
    return inputs.map((x) => Math.ceil(x.context.length / 10));
  }

  async answer(_task: string, inputs: AnswerInput[]): Promise<AnswerOutput[]> {
    await this.gate;
    return inputs.map((x) => ({ answer: x.context.slice(0, 3), score: 1, start: 0, end: 3 }));
  }
}

test('answer work is bounded: a context over maxAnswerWindows is 413 INPUT_TOO_LONG before it queues; a waiting request counts its windows towards maxQueue (at most maxQueue)', async () => {
  const backend = new QaFakeBackend({ tasks: [...defaultTasks(), POS, SQUAD] });
  const server = await listen(backend, { windowMs: 1, maxQueue: 6, maxInputs: 2, maxAnswerWindows: 5 });
  const ask = (contexts: number[]) => call(`${server.url}/v1/answer`, 'POST', { task: 'squad', inputs: contexts.map((n) => ({ question: 'who?', context: 'x'.repeat(n) })) });
  const open = backend.closeGate();
  try {
    const long = await ask([10, 60]);
    assert.equal(long.status, 413, long.text);
    assert.deepEqual(errorOf(long), {
      code: 'INPUT_TOO_LONG',
      message: `inputs[1].context takes 6 windows of ${backend.maxLength} tokens; at most 5 are allowed per input (maxAnswerWindows; adapterkit serve --max-answer-windows): send a shorter context, or split it`,
    });
    const running = call(`${server.url}/v1/tag`, 'POST', { task: 'pos', inputs: ['holds the backend'] });
    await until(() => backend.tagCalls === 1, 'the tag request to run');
    const waiting = ask([30, 20]);
    await until(async () => (await queueDepth(server.url)) === 5, 'the answer request to wait, weighing its 5 windows');
    const refused = await classify(server.url, 'sentiment', ['a', 'b']);
    assert.equal(refused.status, 503, refused.text);
    assert.deepEqual(errorOf(refused), { code: 'QUEUE_FULL', message: 'server busy: 5 inputs already queued (limit 6); retry in a moment' });
    open();
    assert.deepEqual((await Promise.all([running, waiting])).map((a) => a.status), [200, 200]);
    // 10 windows weigh the whole queue (6), not more: admitted once the queue is empty, not refused for ever
    const heavy = await ask([50, 50]);
    assert.equal(heavy.status, 200, heavy.text);
    assert.equal(await queueDepth(server.url), 0);
  } finally {
    open();
    await server.close();
  }
});

test('maxQueue smaller than maxInputs is refused at start (a full-size request could never queue)', async () => {
  await assert.rejects(listen(new FakeBackend(), { maxQueue: 8, maxInputs: 16 }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'BAD_CONFIG');
    assert.equal(e.message, 'serve option maxQueue (8) is smaller than maxInputs (16): a request of maxInputs inputs could never be queued (503 QUEUE_FULL for ever); raise maxQueue or lower maxInputs');
    return true;
  });
  await assert.rejects(listen(new FakeBackend(), { registry: { 'my task': '/x' } }), /^AdapterkitError: serve option registry: task name "my task" is not valid: a task name is 1-64 characters/);
  const ok = await listen(new FakeBackend(), { maxQueue: 16, maxInputs: 16 });
  await ok.close();
});

test('capWords: tagging inputs are cut as classify inputs are, at a word, spans kept; word lists by their joined length', () => {
  const split = (text: string) => {
    const spans = [...text.matchAll(/\S+/g)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
    return { words: spans.map((s) => text.slice(s.start, s.end)), spans };
  };
  assert.deepEqual(capWords(split, 'aaaa bbbb', 12), { words: ['aaaa', 'bbbb'], spans: [{ start: 0, end: 4 }, { start: 5, end: 9 }], cut: false });
  assert.deepEqual(capWords(split, 'aaaa bbbb cccc', 12), { words: ['aaaa', 'bbbb'], spans: [{ start: 0, end: 4 }, { start: 5, end: 9 }], cut: true }, 'the word the cut went through is dropped');
  assert.deepEqual(capWords(split, 'abcdefghijklmnop', 8), { words: ['abcdefgh'], spans: [{ start: 0, end: 8 }], cut: true }, 'unless it is the only one');
  assert.deepEqual(capWords(split, ['ab', 'cd', 'ef'], 5), { words: ['ab', 'cd'], spans: undefined, cut: true });
  assert.deepEqual(capWords(split, ['ab', 'cd'], 5), { words: ['ab', 'cd'], spans: undefined, cut: false });
  assert.deepEqual(capWords(split, ['abcdefgh', 'x'], 5), { words: ['abcdefgh'], spans: undefined, cut: true }, 'at least one word');
});

test('tag and answer work on the model backend is bounded: a long text tags its first maxLength x 64 characters (truncated), a QA context is counted in the windows it is answered over', async () => {
  const base = await loadBase(resolve('test/fixtures/models/tiny-bert'));
  const pos = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'tagging', labels: ['O', 'N'] }), seed: 4 });
  const squad = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'qa', labels: [] }), seed: 5 });
  const backend = new ModelBackend(base, { maxLength: 32 });
  backend.attach('pos', pos);
  backend.attach('squad', squad);
  const server = await listen(backend, { windowMs: 1, maxAnswerWindows: 4, bodyLimit: 2 * 1024 * 1024 });
  try {
    const huge = 'the cat sat on the mat '.repeat(15_000); // 345 KB
    const tagged = await call(`${server.url}/v1/tag`, 'POST', { task: 'pos', inputs: [huge, huge.split(' ').filter(Boolean), 'the cat'] });
    assert.equal(tagged.status, 200, tagged.text.slice(0, 300));
    assert.ok(tagged.text.length < 200_000, `a bounded answer: ${tagged.text.length} characters`);
    const [text, list, short] = (tagged.body as TagResponse).results as [TagOutput, TagOutput, TagOutput];
    const kept = 32 * CHARS_PER_TOKEN;
    assert.equal(text.truncated, true);
    assert.ok(text.words.length > 100 && (text.words.at(-1)?.end as number) <= kept, `${text.words.length} words, up to ${text.words.at(-1)?.end}`);
    text.words.forEach((w) => assert.equal(huge.slice(w.start, w.end), w.word));
    assert.ok(['the', 'cat', 'sat', 'on', 'mat'].includes(text.words.at(-1)?.word as string), 'no word cut in half');
    assert.equal(list.truncated, true);
    assert.equal(list.words.map((w) => w.word).join(' '), text.words.map((w) => w.word).join(' '), 'a word list is cut as the same text is');
    assert.equal(short.truncated, false);
    assert.equal((tagged.body as TagResponse).truncated, 2);
    const many = await call(`${server.url}/v1/classify`, 'POST', { tasks: ['pos'], inputs: [huge] });
    assert.equal(many.status, 200);
    assert.deepEqual((many.body as { results: Array<{ pos: TagOutput }> }).results[0]?.pos.words.length, text.words.length, 'a tagging task in "tasks" reads the same words');

    const question = 'where did the cat sit?';
    const inputs = [{ question, context: 'the cat sat on the mat.' }, { question, context: 'the cat sat on the mat. '.repeat(12) }];
    const windows = backend.answerWindows('squad', inputs);
    const preds = await predictAnswers(squad, inputs, { maxLength: 32 });
    assert.deepEqual(windows, preds.map((p) => p.windows), 'the windows the answer runs over');
    assert.ok((windows[1] as number) > 4, `${windows[1]} windows`);
    const refused = await call(`${server.url}/v1/answer`, 'POST', { task: 'squad', inputs });
    assert.equal(refused.status, 413, refused.text);
    assert.deepEqual(errorOf(refused), { code: 'INPUT_TOO_LONG', message: `inputs[1].context takes ${windows[1]} windows of 32 tokens; at most 4 are allowed per input (maxAnswerWindows; adapterkit serve --max-answer-windows): send a shorter context, or split it` });
    const answered = await call(`${server.url}/v1/answer`, 'POST', { task: 'squad', inputs: [inputs[0]] });
    assert.equal(answered.status, 200, answered.text);
  } finally {
    await server.close();
    await backend.dispose();
  }
});
