/**
 * Secrets never leave the server or the serve command in the clear (issue 12): HF tokens (the
 * value of HF_TOKEN and anything shaped hf_...), Authorization values and URL passwords are
 * redacted from error answers, from the server's log, and from `adapterkit serve`'s error output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { REDACTED, makeRedactor, redact, redactError, secretsFromEnv } from '../../src/util/redact.js';
import { cli } from '../cli/harness.js';
import { FakeBackend } from './fake-backend.js';
import { call, classify, errorOf, listen } from './helpers.js';
import { tempDir } from '../temp-dir.js';

const HF = 'hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';

test('redact: known secrets, hf_ tokens, Authorization values, bearer tokens, URL passwords and token query parameters', () => {
  const cases: Array<[string, string]> = [
    [`bad token ${HF}.`, `bad token ${REDACTED}.`],
    ['Authorization: Bearer abc.def-123', `Authorization: Bearer ${REDACTED}`],
    ['{"authorization":"Basic dXNlcjpwdw=="}', `{"authorization":"Basic ${REDACTED}"}`],
    ['headers authorization=sekrit1234 sent', `headers authorization=${REDACTED} sent`],
    ['got Bearer eyJhbGciOiJIUzI1NiJ9.x.y', `got Bearer ${REDACTED}`],
    ['from https://alice:pa55w0rd@hub.example.org/api/x', `from https://alice:${REDACTED}@hub.example.org/api/x`],
    ['GET https://cdn.example/f?X-Amz-Date=1&token=abc123&x=1', `GET https://cdn.example/f?X-Amz-Date=1&token=${REDACTED}&x=1`],
  ];
  for (const [input, want] of cases) assert.equal(redact(input), want, input);
  assert.equal(redact('my-secret-value is here', ['my-secret-value']), `${REDACTED} is here`);
  // Help texts and ordinary words survive.
  for (const keep of [
    "send it as 'Authorization: Bearer <token>'", 'set HF_TOKEN to a token with access', 'a bearer token', 'http://127.0.0.1:8080/v1/classify',
    "missing admin token: send 'Authorization: Bearer <token>'",
  ]) assert.equal(redact(keep, ['t']), keep);
  assert.deepEqual(secretsFromEnv({ HF_TOKEN: ` ${HF} `, HUGGING_FACE_HUB_TOKEN: '', MY_ADMIN: 'adm1n-token' }, ['MY_ADMIN']), [HF, 'adm1n-token']);
  const e = redactError(new Error(`outer ${HF}`, { cause: new Error('inner adm1n-token') }), makeRedactor(['adm1n-token']));
  assert.equal(e['message'], `outer ${REDACTED}`);
  assert.equal((e['cause'] as Record<string, unknown>)['message'], `inner ${REDACTED}`);
  assert.ok(!String(e['stack']).includes(HF));
});

test('redact is linear: 1 MB of hostile text (URL-, header- and token-like runs) passes in one go', { timeout: 20_000 }, () => {
  // An unbounded URL scheme made 'a.a.a.…' quadratic: 80 KB took 9 s; a client can put 1 MB in a task name.
  for (const motif of ['a.', 'a-', 'authorization=', 'Bearer ', 'hf_a', 'x://y:', '?token=&', 'a:']) {
    const text = motif.repeat(Math.ceil(1_000_000 / motif.length));
    const out = redact(text, ['some-secret']);
    assert.ok(out.length > 0 && out.length <= text.length + REDACTED.length * 2, motif);
  }
  assert.equal(redact(`${'a.'.repeat(1000)}https://u:pw@host`), `${'a.'.repeat(1000)}https://u:${REDACTED}@host`);
});

test('server: a backend error echoing the HF token, an auth header and a URL password is redacted in the answer and in the log', async () => {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString('utf8')); cb(); } });
  const backend = new FakeBackend();
  const server = await listen(backend, { env: { HF_TOKEN: 'plain-token-without-shape' }, logger: { level: 'info', stream } });
  try {
    backend.failTimes = 1;
    backend.failWith = new Error(`hub said 401 for https://u:hunter22@hub.example/x with Authorization: Bearer ${HF} (token plain-token-without-shape)`);
    const a = await classify(server.url, 'sentiment', ['x']);
    assert.equal(a.status, 500, a.text);
    assert.equal(errorOf(a).code, 'BACKEND_FAILED');
    const msg = errorOf(a).message;
    for (const secret of [HF, 'hunter22', 'plain-token-without-shape']) {
      assert.ok(!a.text.includes(secret), `answer leaks ${secret}: ${a.text}`);
      assert.ok(!lines.join('').includes(secret), `log leaks ${secret}: ${lines.join('')}`);
    }
    assert.match(msg, /https:\/\/u:\[REDACTED\]@hub\.example\/x with Authorization: Bearer \[REDACTED\] \(token \[REDACTED\]\)/);
    assert.ok(lines.some((l) => l.includes('request failed') && l.includes(REDACTED)), 'the failure was logged, redacted');
    // Request URLs are logged redacted too, and unknown routes answer without the token in their path.
    const q = await classify(`${server.url}/v1/classify?access_token=${HF}`, 'sentiment', ['x']);
    assert.equal(q.status, 200, q.text);
    const nf = await call(`${server.url}/models/${HF}/x?token=${HF}`, 'GET');
    assert.equal(nf.status, 404);
    assert.equal(errorOf(nf).code, 'ROUTE_NOT_FOUND');
    assert.equal(errorOf(nf).message, `no route GET /models/${REDACTED}/x; see docs/serve.md for the API`);
    assert.ok(lines.some((l) => l.includes(`access_token=${REDACTED}`)), 'the request URL was logged, redacted');
    assert.ok(!lines.join('').includes(HF), `log leaks the token: ${lines.join('')}`);
  } finally {
    await server.close();
  }
});

test('serve: a hub error echoing the HF token is printed redacted', async () => {
  // A hub that answers 401 and quotes the Authorization header it got, as a misbehaving proxy might.
  const hub = createServer((req, res) => {
    res.writeHead(401, { 'x-error-message': `invalid credentials in header ${req.headers.authorization ?? ''}` });
    res.end();
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  const port = (hub.address() as { port: number }).port;
  const saved = { ...process.env };
  Object.assign(process.env, { HF_TOKEN: HF, HF_ENDPOINT: `http://127.0.0.1:${port}`, HF_HOME: tempDir('ak-hf-') });
  delete process.env['HF_HUB_OFFLINE'];
  try {
    const r = await cli('serve', '--base', 'someone/private-model', '--port', '0');
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /DOWNLOAD_FAILED/);
    assert.ok(!r.stderr.includes(HF), `the token is printed: ${r.stderr}`);
    assert.ok(r.stderr.includes(`Bearer ${REDACTED}`), r.stderr);
  } finally {
    for (const k of ['HF_TOKEN', 'HF_ENDPOINT', 'HF_HOME', 'HF_HUB_OFFLINE']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    hub.close();
  }
});
