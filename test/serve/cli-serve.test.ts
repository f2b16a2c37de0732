/**
 * `adapterkit serve` as a process (issue 12): it serves on the base the adapters record (as eval
 * and predict do) rather than on use-lite, takes --adapter-root, --max-queue and
 * --request-timeout-ms, and reloads an --adapter name after an unload by name alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { cli, startCli, tempDir } from '../cli/harness.js';
import { call, classify, errorOf, watchServe } from './helpers.js';

const TINY = resolve('test/fixtures/models/tiny-bert');

test('serve --help documents the adapter roots and the load limits', async () => {
  const help = (await cli('serve', '--help')).stdout.replace(/\s+/g, ' ');
  assert.match(help, /--adapter-root <dir> directory whose sub-directories POST \/v1\/adapters may load \(repeatable; default none/);
  assert.match(help, /--max-queue <n> most inputs waiting for the model \(at least --max-inputs\); beyond it requests get 503 QUEUE_FULL with Retry-After \(default: 256\)/);
  assert.match(help, /--request-timeout-ms <ms> .* 503 DEADLINE_EXCEEDED with Retry-After \(0: no limit\) \(default: 10000\)/);
  assert.match(help, /default: the base recorded in the --adapter tasks' adapterkit\.json, else use-lite/);
  assert.match(help, /--max-answer-windows <n> most windows of --max-length tokens one POST \/v1\/answer context may take .* 413 INPUT_TOO_LONG \(default: 32\)/);
  assert.match(help, /--shutdown-timeout-ms <ms> on SIGINT\/SIGTERM, how long to wait for in-flight requests; .*\(default: 10000\)/);
});

test('serve uses the base the adapter records; run-time loads from the root and by registry name', async () => {
  const base = await loadBase(TINY);
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 2 });
  const dir = tempDir('ak-serve-cli-');
  mkdirSync(join(dir, 'root'));
  const root = realpathSync(join(dir, 'root'));
  await saveTask(m, join(dir, 'spam'), { name: 'spam', maxLength: 16 });
  await saveTask(m, join(root, 'other'), { name: 'other', maxLength: 16 });
  await m.dispose();

  const saved = process.env['ADAPTERKIT_ADMIN_TOKEN'];
  process.env['ADAPTERKIT_ADMIN_TOKEN'] = 'cli-admin-token';
  const child = startCli(['serve', '--adapter', `spam=${join(dir, 'spam')}`, '--adapter-root', root, '--port', '0', '--threads', '1', '--max-queue', '64', '--request-timeout-ms', '5000']);
  if (saved === undefined) delete process.env['ADAPTERKIT_ADMIN_TOKEN'];
  else process.env['ADAPTERKIT_ADMIN_TOKEN'] = saved;
  const served = watchServe(child);
  try {
    const url = await served.url();
    assert.match(served.stderr(), new RegExp(`serving 1 adapter\\(s\\) on ${TINY.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} at`));
    const health = await call(`${url}/healthz`, 'GET');
    assert.equal((health.body as { base: { id: string } }).base.id, TINY);
    assert.equal((await classify(url, 'spam', ['the cat sat'])).status, 200);

    const auth = { authorization: 'Bearer cli-admin-token' };
    const fromRoot = await call(`${url}/v1/adapters`, 'POST', { name: 'other', dir: 'other' }, auth);
    assert.equal(fromRoot.status, 201, fromRoot.text);
    const outside = await call(`${url}/v1/adapters`, 'POST', { name: 'x', dir: join(dir, 'spam') }, auth);
    assert.equal(outside.status, 404, outside.text);
    assert.equal(errorOf(outside).code, 'NOT_FOUND');
    assert.equal((await call(`${url}/v1/adapters/spam`, 'DELETE', undefined, auth)).status, 200);
    const again = await call(`${url}/v1/adapters`, 'POST', { name: 'spam' }, auth);
    assert.equal(again.status, 201, again.text);
  } finally {
    child.kill('SIGTERM');
    await served.exited;
  }
  assert.equal(child.exitCode, 0, served.stderr());
  assert.match(served.stderr(), /\nadapterkit serve: SIGTERM: finishing in-flight requests, then stopping \(send SIGTERM again to stop at once\)\nadapterkit serve: server closed\n/);
});

test('serve refuses, before loading any base: adapters recorded on different bases, malformed or repeated --adapter, a missing --adapter-root, an unrecorded base', async () => {
  const dir = tempDir('ak-serve-cli-bad-');
  const task = (name: string, baseId?: string): string => {
    const d = join(dir, name);
    mkdirSync(d);
    if (baseId !== undefined) writeFileSync(join(d, 'adapterkit.json'), JSON.stringify({ base: { id: baseId } }));
    else writeFileSync(join(d, 'head_config.json'), '{}'); // an AdapterHub directory: no record of its base
    return d;
  };
  const a = task('a', 'someone/base-one');
  const b = task('b', 'someone/base-two');
  const hub = task('hub');
  const cases: Array<[string[], number, string, RegExp]> = [
    [['--adapter', `a=${a}`, '--adapter', `b=${b}`], 4, 'ADAPTER_MISMATCH', /^the adapters were trained on different bases \(a: someone\/base-one, b: someone\/base-two\); one server serves one base: start one server per base, or give --base$/],
    [['--adapter', a], 2, 'BAD_CONFIG', /^--adapter must be name=dir, got ".*\/a"$/],
    [['--adapter', `a=${a}`, '--adapter', `a=${b}`], 2, 'BAD_CONFIG', /^--adapter a=\.\.\. is given twice$/],
    [['--adapter-root', join(dir, 'no-such-root')], 2, 'BAD_CONFIG', /^adapter root .*no-such-root does not exist or cannot be read$/],
    [['--adapter', `hub=${hub}`], 2, 'BAD_CONFIG', /^adapter 'hub' has no adapterkit\.json recording its base \(an AdapterHub adapter\?\): give the base model with --base <source>$/],
    [['--adapter', `x=${join(dir, 'missing')}`], 4, 'NOT_FOUND', /^task directory .*missing does not exist$/],
    // names the admin routes could never unload or reload
    ...['my task', '__proto__', 'a/b', 'n'.repeat(120)].map((name): [string[], number, string, RegExp] => [
      ['--adapter', `${name}=${a}`], 2, 'BAD_CONFIG',
      new RegExp(`^--adapter ${JSON.stringify(name.slice(0, 80)).replace(/[/]/g, '\\/')}=\\.\\.\\.: the name must be 1-64 characters of letters, digits, '\\.', '_' or '-' starting with a letter or digit \\(as POST /v1/adapters requires, so that it can be unloaded and reloaded by name\\)$`),
    ]),
    [['--max-queue', '8'], 2, 'BAD_CONFIG', /^--max-queue \(8\) is smaller than --max-inputs \(64\): a request of --max-inputs inputs could never be queued \(503 QUEUE_FULL for ever\); raise --max-queue or lower --max-inputs$/],
  ];
  for (const [args, code, errorCode, message] of cases) {
    const r = await cli('serve', ...args, '--port', '0');
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    const m = /^adapterkit: error \[(\w+)\]: (.*)\n$/.exec(r.stderr);
    assert.ok(m !== null, r.stderr);
    assert.equal(m[1], errorCode, r.stderr);
    assert.match(m[2] as string, message);
  }
  const saved = process.env['ADAPTERKIT_ADMIN_TOKEN'];
  process.env['ADAPTERKIT_ADMIN_TOKEN'] = 'my admin token';
  try {
    const r = await cli('serve', '--port', '0');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^adapterkit: error \[BAD_CONFIG\]: the admin token in \$ADAPTERKIT_ADMIN_TOKEN contains whitespace, which no 'Authorization: Bearer <token>' header can carry/);
    assert.ok(!r.stderr.includes('my admin token'));
  } finally {
    if (saved === undefined) delete process.env['ADAPTERKIT_ADMIN_TOKEN'];
    else process.env['ADAPTERKIT_ADMIN_TOKEN'] = saved;
  }
});

test('serve: a backend call still running past --shutdown-timeout-ms after SIGTERM is given up on: the process exits with code 1, saying so', async () => {
  const base = await loadBase('use-lite');
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'qa', labels: [] }), seed: 3 });
  const dir = join(tempDir('ak-serve-giveup-'), 'qa');
  await saveTask(m, dir, { name: 'qa', maxLength: 128 });
  await m.dispose();
  const child = startCli(['serve', '--adapter', `qa=${dir}`, '--port', '0', '--threads', '1', '--max-answer-windows', '100000', '--shutdown-timeout-ms', '300', '--request-timeout-ms', '0']);
  const served = watchServe(child);
  try {
    const url = await served.url();
    // hundreds of windows: many seconds of one uncancellable backend call, far past the timeout
    const context = 'the cat sat on the mat. '.repeat(8000);
    void fetch(`${url}/v1/answer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task: 'qa', inputs: [{ question: 'who sat?', context }] }) }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000)); // the call is running
    child.kill('SIGTERM');
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([served.exited, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`still running 20 s after SIGTERM: ${served.stderr()}`)), 20_000); })]);
    clearTimeout(timer);
  } finally {
    child.kill('SIGKILL');
  }
  assert.equal(child.exitCode, 1, served.stderr());
  // given up on while the close waits for the call, or once the close is done and the call alone holds the process
  assert.match(served.stderr(), /\nadapterkit serve: SIGTERM: finishing in-flight requests, then stopping \(send SIGTERM again to stop at once\)\nadapterkit serve: (still not closed 1300 ms after SIGTERM|server closed\nadapterkit serve: closed, but work still running 1300 ms after the signal): giving up on running work \(a backend call cannot be cancelled\) and stopping now\n$/);
});
