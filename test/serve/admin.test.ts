import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeBackend, expectedOutput } from './fake-backend.js';
import { call, classify, errorOf, listen, queueDepth, until } from './helpers.js';
import type { ClassifyResponse } from '../../src/serve/server.js';
import type { TaskInfo } from '../../src/serve/backend.js';
import { constantTimeEqual } from '../../src/serve/admin-auth.js';
import { tempDir } from '../temp-dir.js';

const TOKEN = 's3cret-token-value';

test('admin: routes are disabled (403 with how to enable) when the token variable is unset or empty', async () => {
  for (const env of [{}, { ADAPTERKIT_ADMIN_TOKEN: '' }]) {
    const server = await listen(new FakeBackend(), { env });
    try {
      const load = await call(`${server.url}/v1/adapters`, 'POST', { name: 'x', dir: '/tmp/x' }, { authorization: `Bearer ${TOKEN}` });
      assert.equal(load.status, 403, load.text);
      assert.equal(errorOf(load).code, 'ADMIN_DISABLED');
      assert.match(errorOf(load).message, /set the environment variable ADAPTERKIT_ADMIN_TOKEN|ADAPTERKIT_ADMIN_TOKEN set to a secret/);
      const del = await call(`${server.url}/v1/adapters/sentiment`, 'DELETE');
      assert.equal(del.status, 403);
      assert.equal(errorOf(del).code, 'ADMIN_DISABLED');
      // Reading the adapter list needs no token.
      const list = await call(`${server.url}/v1/adapters`, 'GET');
      assert.equal(list.status, 200);
    } finally {
      await server.close();
    }
  }
});

test('admin: a token with whitespace (which no bearer header can carry) is refused at start with BAD_CONFIG, never echoed', async () => {
  for (const [token, only] of [['two words', ''], ['tok\n', ''], ['   ', ' only']] as const) {
    await assert.rejects(listen(new FakeBackend(), { env: { ADAPTERKIT_ADMIN_TOKEN: token } }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'BAD_CONFIG');
      assert.equal(e.message, `the admin token in $ADAPTERKIT_ADMIN_TOKEN contains whitespace${only}, which no 'Authorization: Bearer <token>' header can carry: set it to a token without spaces or newlines (e.g. \`openssl rand -hex 32\`), or unset it to disable the admin routes`);
      return true;
    });
  }
});

test('admin: a custom variable name is honoured and named in the message', async () => {
  const server = await listen(new FakeBackend(), { adminTokenEnv: 'MY_ADMIN', env: { ADAPTERKIT_ADMIN_TOKEN: TOKEN } });
  try {
    const a = await call(`${server.url}/v1/adapters/sentiment`, 'DELETE', undefined, { authorization: `Bearer ${TOKEN}` });
    assert.equal(a.status, 403);
    assert.equal(errorOf(a).code, 'ADMIN_DISABLED');
    assert.match(errorOf(a).message, /MY_ADMIN/);
  } finally {
    await server.close();
  }
});

test('admin: missing, malformed or wrong token -> 401 UNAUTHORIZED before the body is looked at', async () => {
  const backend = new FakeBackend();
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: TOKEN } });
  try {
    const missing = "missing admin token: send 'Authorization: Bearer <token>'";
    const malformed = "malformed Authorization header: it must be 'Bearer <token>' (one token, no spaces)";
    const variants: Array<[Record<string, string>, string]> = [
      [{}, missing], [{ authorization: TOKEN }, malformed], [{ authorization: `Basic ${TOKEN}` }, malformed], [{ authorization: 'Bearer a b' }, malformed],
      [{ authorization: 'Bearer wrong' }, 'wrong admin token'], [{ authorization: `Bearer ${TOKEN}x` }, 'wrong admin token'],
    ];
    for (const [headers, message] of variants) {
      const a = await call(`${server.url}/v1/adapters`, 'POST', '{not json', { ...headers, 'content-type': 'application/json' });
      assert.equal(a.status, 401, `${JSON.stringify(headers)}: ${a.text}`);
      assert.deepEqual(errorOf(a), { code: 'UNAUTHORIZED', message }, JSON.stringify(headers));
      assert.match(a.headers.get('www-authenticate') ?? '', /^Bearer/);
      const d = await call(`${server.url}/v1/adapters/sentiment`, 'DELETE', undefined, headers);
      assert.equal(d.status, 401);
      assert.deepEqual(errorOf(d), { code: 'UNAUTHORIZED', message });
    }
    assert.ok(backend.tasks().some((t) => t.name === 'sentiment'), 'nothing was unloaded');
  } finally {
    await server.close();
  }
});

test('admin: correct token loads a task (usable at once), refuses a duplicate, unloads it', async () => {
  const backend = new FakeBackend();
  const root = realpathSync(tempDir('ak-admin-'));
  for (const d of ['spam', 'broken', 'empty']) mkdirSync(join(root, d));
  for (const d of ['spam', 'broken']) writeFileSync(join(root, d, 'adapter_config.json'), '{}');
  backend.loadable.set(join(root, 'spam'), { kind: 'classification', labels: ['ham', 'spam'], pair: false, bytes: 4242 });
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: TOKEN }, adapterRoots: [root] });
  const auth = { authorization: `Bearer ${TOKEN}` };
  try {
    const load = await call(`${server.url}/v1/adapters`, 'POST', { name: 'spam', dir: 'spam' }, auth);
    assert.equal(load.status, 201, load.text);
    const info = (load.body as { adapter: TaskInfo }).adapter;
    assert.deepEqual(info, { name: 'spam', kind: 'classification', labels: ['ham', 'spam'], pair: false, bytes: 4242, dir: 'spam' });

    const list = await call(`${server.url}/v1/adapters`, 'GET');
    const lb = list.body as { base: Record<string, unknown>; adapters: TaskInfo[] };
    assert.equal(lb.base.name, 'fake-base');
    assert.ok(lb.adapters.some((t) => t.name === 'spam'));

    const c = await classify(server.url, 'spam', ['win money now']);
    assert.equal(c.status, 200, c.text);
    assert.deepEqual((c.body as ClassifyResponse).results, [expectedOutput(info, 'win money now')]);

    const dup = await call(`${server.url}/v1/adapters`, 'POST', { name: 'spam', dir: 'spam' }, auth);
    assert.equal(dup.status, 409);
    assert.equal(errorOf(dup).code, 'ALREADY_LOADED');
    assert.equal(errorOf(dup).message, "a task named 'spam' is already loaded; DELETE /v1/adapters/spam first to replace it");

    // The loader's error names the file by the path the caller sent, not the server's path.
    const bad = await call(`${server.url}/v1/adapters`, 'POST', { name: 'other', dir: 'broken' }, auth);
    assert.equal(bad.status, 400);
    assert.equal(errorOf(bad).code, 'BAD_FILE');
    assert.equal(errorOf(bad).message, 'broken/adapter_config.json: no such file');
    // A directory that is not a task directory is as unavailable as a missing one.
    for (const dir of ['empty', 'missing']) {
      const none = await call(`${server.url}/v1/adapters`, 'POST', { name: 'other', dir }, auth);
      assert.equal(none.status, 404, none.text);
      assert.equal(errorOf(none).code, 'NOT_FOUND');
      assert.equal(errorOf(none).message, `adapter '${dir}' is not available: it is not in the registry or not a readable adapter directory inside the adapter roots`);
    }

    const badName = await call(`${server.url}/v1/adapters`, 'POST', { name: '../x', dir: 'spam' }, auth);
    assert.equal(badName.status, 400);
    assert.equal(errorOf(badName).code, 'BAD_REQUEST');
    assert.match(errorOf(badName).message, /field "name"/);
    const badDir = await call(`${server.url}/v1/adapters`, 'POST', { name: 'ok', dir: 7 }, auth);
    assert.equal(badDir.status, 400);
    assert.equal(errorOf(badDir).code, 'BAD_REQUEST');
    assert.match(errorOf(badDir).message, /^field "dir" must be a non-empty path string .*got a number$/);

    const del = await call(`${server.url}/v1/adapters/spam`, 'DELETE', undefined, auth);
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.body, { unloaded: 'spam' });
    assert.ok(!backend.tasks().some((t) => t.name === 'spam'));

    const gone = await classify(server.url, 'spam', ['x']);
    assert.equal(gone.status, 404);
    assert.equal(errorOf(gone).code, 'NOT_FOUND');
    assert.match(errorOf(gone).message, /^unknown task 'spam'; loaded tasks: /);
    const again = await call(`${server.url}/v1/adapters/spam`, 'DELETE', undefined, auth);
    assert.equal(again.status, 404);
    assert.equal(errorOf(again).code, 'NOT_FOUND');
    assert.match(errorOf(again).message, /^unknown task 'spam'/);
  } finally {
    await server.close();
  }
});

test('admin: an unload queued behind a batch waits for it; requests for the task queued after it fail alone', async () => {
  const backend = new FakeBackend({ delayMs: 150 });
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: TOKEN }, windowMs: 1 });
  try {
    const entered = backend.nextCall();
    const first = classify(server.url, 'sentiment', ['first']);
    await entered;
    const unload = call(`${server.url}/v1/adapters/sentiment`, 'DELETE', undefined, { authorization: `Bearer ${TOKEN}` });
    await new Promise((r) => setTimeout(r, 30));
    const late = classify(server.url, 'sentiment', ['late']);
    const other = classify(server.url, 'topics', ['other task']);
    const [a, u, l, o] = await Promise.all([first, unload, late, other]);
    assert.equal(a.status, 200, a.text);
    assert.equal(u.status, 200, u.text);
    assert.equal(l.status, 404, l.text);
    assert.equal(errorOf(l).code, 'NOT_FOUND');
    assert.match(errorOf(l).message, /^unknown task 'sentiment'/);
    assert.equal(o.status, 200, o.text);
  } finally {
    await server.close();
  }
});

test('admin: a "tasks" request whose second task is unloaded while it waits fails alone with 404; the requests sharing its batch are answered', async () => {
  const backend = new FakeBackend();
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: TOKEN }, windowMs: 1 });
  const open = backend.closeGate();
  try {
    const entered = backend.nextCall();
    const first = classify(server.url, 'sentiment', ['first']);
    await entered;
    const many = call(`${server.url}/v1/classify`, 'POST', { tasks: ['sentiment', 'topics'], inputs: ['both tasks'] });
    const other = classify(server.url, 'sentiment', ['another client']);
    await until(async () => (await queueDepth(server.url)) === 3, 'the two requests to queue');
    const unload = call(`${server.url}/v1/adapters/topics`, 'DELETE', undefined, { authorization: `Bearer ${TOKEN}` });
    await new Promise((r) => setTimeout(r, 200)); // the unload reaches the queue (it runs right after the running batch)
    open();
    const [f, m, o, u] = await Promise.all([first, many, other, unload]);
    assert.equal(f.status, 200, f.text);
    assert.equal(u.status, 200, u.text);
    assert.equal(m.status, 404, m.text);
    assert.equal(errorOf(m).code, 'NOT_FOUND');
    assert.match(errorOf(m).message, /^unknown task 'topics'; loaded tasks: /);
    assert.equal(o.status, 200, o.text);
    assert.deepEqual((o.body as ClassifyResponse).results, [expectedOutput(backend.task('sentiment'), 'another client')]);
    assert.deepEqual(backend.calls.map((c) => c.map((i) => `${i.task}:${String(i.input)}`)), [['sentiment:first'], ['sentiment:another client']]);
  } finally {
    open();
    await server.close();
  }
});

test('constantTimeEqual compares whole strings', () => {
  assert.equal(constantTimeEqual('abc', 'abc'), true);
  assert.equal(constantTimeEqual('abc', 'abd'), false);
  assert.equal(constantTimeEqual('abc', 'abcd'), false);
  assert.equal(constantTimeEqual('', ''), true);
});
