import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeBackend, defaultTasks } from './fake-backend.js';
import { call, classify, errorOf, listen, parseRaw, rawExchange } from './helpers.js';
import type { StartedServer } from '../../src/serve/server.js';
import type { TaskInfo } from '../../src/serve/backend.js';

let server: StartedServer;
let backend: FakeBackend;

before(async () => {
  backend = new FakeBackend();
  server = await listen(backend, { maxInputs: 8, bodyLimit: 4096 });
});
after(async () => {
  await server.close();
});

async function expectError(p: Promise<import('./helpers.js').Answer>, status: number, code: string, message: RegExp): Promise<void> {
  const a = await p;
  assert.equal(a.status, status, a.text);
  assert.match(a.headers.get('content-type') ?? '', /application\/json/);
  const e = errorOf(a);
  assert.equal(e.code, code, a.text);
  assert.match(e.message, message);
}

test('bad input: invalid and empty JSON bodies -> 400 INVALID_JSON', async () => {
  await expectError(call(`${server.url}/v1/classify`, 'POST', '{"task": "sentiment", "inputs": [', { 'content-type': 'application/json' }), 400, 'INVALID_JSON', /not valid JSON/);
  await expectError(call(`${server.url}/v1/classify`, 'POST', '', { 'content-type': 'application/json' }), 400, 'INVALID_JSON', /empty/);
});

test('bad input: body not an object, missing or non-string task -> 400 BAD_REQUEST', async () => {
  await expectError(call(`${server.url}/v1/classify`, 'POST', [1, 2]), 400, 'BAD_REQUEST', /JSON object.*got an array/);
  await expectError(call(`${server.url}/v1/classify`, 'POST', 'plain words', { 'content-type': 'text/plain' }), 400, 'BAD_REQUEST', /JSON object.*got a string/);
  await expectError(call(`${server.url}/v1/classify`, 'POST', { inputs: ['a'] }), 400, 'BAD_REQUEST', /"task" is missing/);
  await expectError(classify(server.url, 42, ['a']), 400, 'BAD_REQUEST', /"task" must be a non-empty string, got a number/);
  await expectError(classify(server.url, '', ['a']), 400, 'BAD_REQUEST', /"task" must be a non-empty string/);
});

test('bad input: unknown task -> 404 NOT_FOUND listing the loaded tasks', async () => {
  await expectError(classify(server.url, 'nope', ['a']), 404, 'NOT_FOUND', /unknown task 'nope'; loaded tasks: nli, sentiment, stsb, topics$/);
});

test('bad input: unknown task with many tasks loaded lists at most 20 names', async () => {
  const many: TaskInfo[] = Array.from({ length: 25 }, (_, i) => ({ name: `t${String(i).padStart(2, '0')}`, kind: 'classification', labels: ['a', 'b'], pair: false, bytes: 1 }));
  const big = await listen(new FakeBackend({ tasks: many }));
  try {
    const a = await classify(big.url, 'zzz', ['a']);
    assert.equal(a.status, 404);
    const msg = errorOf(a).message;
    assert.match(msg, /t00, t01.*t19 \(and 5 more\)$/);
    assert.doesNotMatch(msg, /t20/);
  } finally {
    await big.close();
  }
});

test('bad input: inputs missing, not an array, empty, too many', async () => {
  await expectError(call(`${server.url}/v1/classify`, 'POST', { task: 'sentiment' }), 400, 'BAD_REQUEST', /"inputs" is missing/);
  await expectError(classify(server.url, 'sentiment', 'just a string'), 400, 'BAD_REQUEST', /"inputs" must be an array.*got a string/);
  await expectError(classify(server.url, 'sentiment', { a: 1 }), 400, 'BAD_REQUEST', /"inputs" must be an array.*got an object/);
  await expectError(classify(server.url, 'sentiment', []), 400, 'BAD_REQUEST', /"inputs" is empty/);
  await expectError(classify(server.url, 'sentiment', Array.from({ length: 9 }, () => 'x')), 413, 'TOO_MANY_INPUTS', /9 items; at most 8/);
});

test('bad input: non-string items and malformed pairs -> 400 BAD_REQUEST naming the index', async () => {
  await expectError(classify(server.url, 'sentiment', ['ok', 5]), 400, 'BAD_REQUEST', /inputs\[1\] must be a string or a pair of exactly 2 strings, got a number/);
  await expectError(classify(server.url, 'sentiment', [null]), 400, 'BAD_REQUEST', /inputs\[0\].*got null/);
  await expectError(classify(server.url, 'nli', [['a', 'b'], ['a', 'b', 'c']]), 400, 'BAD_REQUEST', /inputs\[1\].*exactly 2 strings, got an array of 3/);
  await expectError(classify(server.url, 'nli', [['a']]), 400, 'BAD_REQUEST', /inputs\[0\].*got an array of 1/);
  await expectError(classify(server.url, 'nli', [['a', 7]]), 400, 'BAD_REQUEST', /inputs\[0\].*non-string item/);
});

test('bad input: pair for a single-text task and single text for a pair task -> 400 INPUT_KIND_MISMATCH', async () => {
  await expectError(classify(server.url, 'sentiment', ['fine', ['a', 'b']]), 400, 'INPUT_KIND_MISMATCH', /task 'sentiment' takes single texts; inputs\[1\] is a pair/);
  await expectError(classify(server.url, 'nli', ['just one']), 400, 'INPUT_KIND_MISMATCH', /task 'nli' takes sentence pairs \[a, b\]; inputs\[0\] is a single string/);
});

test('bad input: oversize body -> 413 BODY_TOO_LARGE; other content types -> 415', async () => {
  await expectError(classify(server.url, 'sentiment', ['x'.repeat(5000)]), 413, 'BODY_TOO_LARGE', /larger than the limit of 4096 bytes/);
  await expectError(call(`${server.url}/v1/classify`, 'POST', '<task/>', { 'content-type': 'application/xml' }), 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/json/);
});

test('bad input: unknown routes and methods -> 404 ROUTE_NOT_FOUND as JSON', async () => {
  await expectError(call(`${server.url}/v2/nothing?x=1`, 'GET'), 404, 'ROUTE_NOT_FOUND', /no route GET \/v2\/nothing;/);
  await expectError(call(`${server.url}/v1/classify`, 'GET'), 404, 'ROUTE_NOT_FOUND', /no route GET \/v1\/classify/);
});

test('bad input: none of the above broke the server, no backend call was made for them', async () => {
  const before = backend.calls.length;
  const a = await classify(server.url, 'sentiment', ['still alive']);
  assert.equal(a.status, 200, a.text);
  assert.equal(backend.calls.length, before + 1);
  assert.equal(before, 0);
  assert.deepEqual(backend.tasks().map((t) => t.name), defaultTasks().map((t) => t.name));
});

test('bad input: a huge unknown task name is quoted cut to 200 characters, not echoed whole', async () => {
  const server = await listen(new FakeBackend());
  try {
    const name = 'a.'.repeat(200_000);
    const a = await classify(server.url, name, ['x']);
    assert.equal(a.status, 404, a.text.slice(0, 300));
    assert.equal(errorOf(a).code, 'NOT_FOUND');
    assert.equal(errorOf(a).message, `unknown task '${name.slice(0, 200)}…'; loaded tasks: nli, sentiment, stsb, topics`);
  } finally {
    await server.close();
  }
});

test('bad input: errors before the router (overlong path parameter, malformed percent-encoding) answer in the envelope, redacted, counted', async () => {
  const token = 'admin-token-value-1234';
  const hf = 'hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
  const server = await listen(new FakeBackend(), { env: { ADAPTERKIT_ADMIN_TOKEN: token } });
  try {
    const auth = { authorization: `Bearer ${token}` };
    const long = await call(`${server.url}/v1/adapters/${'x'.repeat(60)}${token}${hf}`, 'DELETE', undefined, auth);
    assert.equal(long.status, 400, long.text);
    assert.deepEqual(errorOf(long), { code: 'BAD_REQUEST', message: 'a path parameter is longer than 100 characters (task names have at most 64); see docs/serve.md for the API' });
    const bad = await call(`${server.url}/v1/adapters/${token}%E0%A4%A`, 'DELETE', undefined, auth);
    assert.equal(bad.status, 400, bad.text);
    assert.deepEqual(errorOf(bad), { code: 'BAD_REQUEST', message: 'the request path is not valid: it holds a malformed percent-encoding' });
    for (const a of [long, bad]) {
      assert.match(a.headers.get('content-type') ?? '', /application\/json/);
      assert.ok(!a.text.includes(token) && !a.text.includes('hf_'), a.text);
    }
    const metrics = (await call(`${server.url}/metrics`, 'GET')).text;
    assert.match(metrics, /^adapterkit_http_requests_total\{method="DELETE",route="unmatched",status="400"\} 2$/m);
  } finally {
    await server.close();
  }
});

test('bad input: requests Node\'s HTTP parser refuses (a malformed Content-Length) answer 400 in the envelope and are counted', async () => {
  const server = await listen(new FakeBackend());
  try {
    const raw = await rawExchange(server.url, 'POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1x\r\n\r\n{}');
    const r = parseRaw(raw);
    assert.equal(r.statusLine, 'HTTP/1.1 400 Bad Request', raw);
    assert.match(r.headers, /content-type: application\/json/i);
    const e = (r.body as { error: { code: string; message: string } }).error;
    assert.equal(e.code, 'BAD_REQUEST', raw);
    assert.match(e.message, /^malformed HTTP request: .*Content-Length.* \(HPE_\w+\)$/);
    const metrics = (await call(`${server.url}/metrics`, 'GET')).text;
    assert.match(metrics, /^adapterkit_http_requests_total\{method="UNKNOWN",route="unmatched",status="400"\} 1$/m);
  } finally {
    await server.close();
  }
});

test('requestTimeoutMs bounds receiving the body: a stalled body gets 408 REQUEST_TIMEOUT in the envelope (Node checked only every 30 s)', async () => {
  const server = await listen(new FakeBackend(), { requestTimeoutMs: 400 });
  try {
    const t0 = performance.now();
    // the headers promise 100 bytes; 10 come, then nothing: well under the 8 s the exchange waits
    const raw = await rawExchange(server.url, 'POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"task": "');
    const r = parseRaw(raw);
    assert.equal(r.statusLine, 'HTTP/1.1 408 Request Timeout', raw);
    assert.deepEqual(r.body, { error: { code: 'REQUEST_TIMEOUT', message: "request not received within the server's request timeout of 400 ms: send the headers and the whole body without pausing" } });
    assert.ok(performance.now() - t0 >= 350, 'not before the timeout');
  } finally {
    await server.close();
  }
});
