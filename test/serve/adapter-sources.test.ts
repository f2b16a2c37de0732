/**
 * POST /v1/adapters loads only from the registry and from inside the adapter roots (issue 12):
 * paths outside, symlinks that leave a root, missing, unreadable and special files all get the
 * same 404 with the same message; files with wrong JSON types are 400, not 500.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import type { TaskInfo } from '../../src/serve/backend.js';
import { FakeBackend } from './fake-backend.js';
import { call, errorOf, listen } from './helpers.js';
import { tempDir } from '../temp-dir.js';

const TOKEN = 'admin-token-for-tests';
const auth = { authorization: `Bearer ${TOKEN}` };
const SPEC: Omit<TaskInfo, 'name'> = { kind: 'classification', labels: ['ham', 'spam'], pair: false, bytes: 10 };

/** A root with `good/` (loadable by the fake), and a loadable directory outside it. */
function layout(): { root: string; outside: string } {
  const root = realpathSync(tempDir('ak-root-'));
  const outside = realpathSync(tempDir('ak-outside-'));
  mkdirSync(join(root, 'good'));
  writeFileSync(join(root, 'good', 'adapter_config.json'), '{}');
  mkdirSync(join(outside, 'secret'));
  writeFileSync(join(outside, 'secret', 'adapter_config.json'), '{}');
  return { root, outside };
}

async function load(url: string, body: Record<string, unknown>) {
  return call(`${url}/v1/adapters`, 'POST', body, auth);
}

test('adapter roots: loads inside the root by relative or absolute path; everything else is one identical 404', async () => {
  const { root, outside } = layout();
  const backend = new FakeBackend({ tasks: [] });
  for (const d of [join(root, 'good'), join(outside, 'secret'), join(root, 'linked-inside')]) backend.loadable.set(d, SPEC);
  // A symlinked directory leaving the root, a symlinked config file leaving it, a file, a FIFO.
  symlinkSync(join(outside, 'secret'), join(root, 'escape'));
  mkdirSync(join(root, 'passwd'));
  symlinkSync('/etc/passwd', join(root, 'passwd', 'adapter_config.json'));
  mkdirSync(join(root, 'hostname'));
  symlinkSync('/etc/hostname', join(root, 'hostname', 'head_config.json'));
  writeFileSync(join(root, 'plain-file'), 'x');
  mkdirSync(join(root, 'not-a-task'));
  writeFileSync(join(root, 'not-a-task', 'notes.txt'), 'no adapter files here');
  mkdirSync(join(root, 'unreadable'));
  writeFileSync(join(root, 'unreadable', 'adapter_config.json'), '{}', { mode: 0o000 });
  mkdirSync(join(root, 'fifo'));
  execFileSync('mkfifo', [join(root, 'fifo', 'adapter_config.json')]);
  // A symlink that stays inside the root is fine.
  mkdirSync(join(root, 'linked-inside'));
  symlinkSync(join(root, 'good', 'adapter_config.json'), join(root, 'linked-inside', 'adapter_config.json'));

  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: TOKEN }, adapterRoots: [root] });
  try {
    const ok = await load(server.url, { name: 'a', dir: 'good' });
    assert.equal(ok.status, 201, ok.text);
    assert.equal((ok.body as { adapter: TaskInfo }).adapter.dir, 'good', 'the listing shows what the caller sent');
    const abs = await load(server.url, { name: 'b', dir: join(root, 'good') });
    assert.equal(abs.status, 201, abs.text);
    const inside = await load(server.url, { name: 'c', dir: 'linked-inside' });
    assert.equal(inside.status, 201, inside.text);
    const byName = await load(server.url, { name: 'good' }); // <root>/<name>
    assert.equal(byName.status, 201, byName.text);
    const listed = await call(`${server.url}/v1/adapters`, 'GET');
    const dirs = (listed.body as { adapters: TaskInfo[] }).adapters.map((t) => t.dir);
    assert.deepEqual(dirs, ['good', join(root, 'good'), 'linked-inside', 'good'], 'the listing shows what each caller sent, never a resolved path');

    const refused = [
      join(outside, 'secret'), // absolute, outside
      `../${outside.split('/').pop() as string}/secret`, // relative, climbing out
      'escape', // symlinked directory leaving the root
      'passwd', // symlinked config file -> /etc/passwd
      'hostname', // symlinked head config -> /etc/hostname
      'missing', // does not exist
      'plain-file', // not a directory
      'not-a-task', // a directory without adapterkit.json, adapter_config.json or head_config.json
      ...(process.getuid?.() === 0 ? [] : ['unreadable']), // a config file the server cannot read (root reads anything)
      'good\u0000/x', // a NUL byte
      'fifo', // a FIFO would hang the reader
      '.', // the root itself
      '/etc',
    ];
    const answers = [];
    for (const [i, dir] of refused.entries()) {
      const a = await load(server.url, { name: `r${i}`, dir });
      assert.equal(a.status, 404, `${dir}: ${a.text}`);
      assert.equal(errorOf(a).code, 'NOT_FOUND');
      const message = errorOf(a).message.replace(`'${dir}'`, "'<dir>'");
      answers.push(message);
      // Beyond the caller's own words, nothing about the file system: no contents, no server paths.
      for (const leak of ['root:', 'passwd', readFileSync('/etc/hostname', 'utf8').trim(), root, outside]) {
        assert.ok(leak.length < 6 || !message.includes(leak), `${dir}: the answer leaks ${leak}: ${a.text}`);
      }
    }
    assert.equal(new Set(answers).size, 1, `one message for every refusal:\n${answers.join('\n')}`);
    assert.match(answers[0] as string, /^adapter '<dir>' is not available: it is not in the registry or not a readable adapter directory inside the adapter roots$/);
    assert.deepEqual(backend.tasks().map((t) => t.name).sort(), ['a', 'b', 'c', 'good']);
  } finally {
    await server.close();
  }
});

test('adapter roots: none by default: paths are refused, registry names load (again after an unload)', async () => {
  const { root } = layout();
  const backend = new FakeBackend({ tasks: [] });
  backend.loadable.set(join(root, 'good'), SPEC);
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: TOKEN }, adapterRoots: [], registry: { spam: join(root, 'good') } });
  try {
    for (const dir of [join(root, 'good'), 'good', '/etc']) {
      const a = await load(server.url, { name: 'x', dir });
      assert.equal(a.status, 404, a.text);
      assert.match(errorOf(a).message, /this server loads adapters by registry name only \(it has no adapter roots\)$/);
    }
    const unknown = await load(server.url, { name: 'other' });
    assert.equal(unknown.status, 404);
    assert.equal(errorOf(unknown).message, "adapter 'other' is not available: it is not in the registry");
    assert.equal((await load(server.url, { name: 'spam' })).status, 201);
    assert.equal((await call(`${server.url}/v1/adapters/spam`, 'DELETE', undefined, auth)).status, 200);
    assert.equal((await load(server.url, { name: 'spam' })).status, 201);
  } finally {
    await server.close();
  }
});

test('adapter roots: a root that does not exist is a BAD_CONFIG at start', async () => {
  await assert.rejects(listen(new FakeBackend(), { adapterRoots: [join(tmpdir(), 'ak-no-such-root-xyz')] }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'BAD_CONFIG');
    return true;
  });
});

test('a task file with a wrong JSON type answers 400 BAD_FILE (it was 500 BACKEND_FAILED), without server paths', async () => {
  const base = await loadBase(resolve('test/fixtures/models/tiny-bert'));
  const root = realpathSync(tempDir('ak-root-'));
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 1 });
  await saveTask(m, join(root, 'labels-number'), { name: 't', maxLength: 32 });
  await saveTask(m, join(root, 'mode-number'), { name: 't', maxLength: 32 });
  const edit = (dir: string, f: (j: Record<string, Record<string, unknown>>) => void): void => {
    const p = join(root, dir, 'adapterkit.json');
    const j = JSON.parse(readFileSync(p, 'utf8'));
    f(j);
    writeFileSync(p, JSON.stringify(j));
  };
  edit('labels-number', (j) => { (j['head'] as Record<string, unknown>)['labels'] = 5; });
  edit('mode-number', (j) => { (j['mode'] as Record<string, unknown>)['kind'] = 5; });
  const backend = new ModelBackend(base, { maxLength: 32 });
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: TOKEN }, adapterRoots: [root] });
  try {
    for (const dir of ['labels-number', 'mode-number']) {
      const a = await load(server.url, { name: 'x', dir });
      assert.equal(a.status, 400, `${dir}: ${a.text}`);
      assert.equal(errorOf(a).code, 'BAD_FILE', a.text);
      assert.ok(!a.text.includes(root), `${dir}: ${a.text}`);
      assert.ok(errorOf(a).message.includes(dir), a.text);
    }
    assert.equal(backend.tasks().length, 0);
  } finally {
    await server.close();
    await backend.dispose();
    await m.dispose();
  }
});

test('a load failing with an uncoded error answers 400 BAD_FILE; the details go to the log only, with paths scrubbed and tokens redacted', async () => {
  const { root } = layout();
  const lines: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString('utf8')); cb(); } });
  const backend = new FakeBackend({ tasks: [] });
  const token = 'hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
  backend.load = async (_name, dir) => {
    throw new TypeError(`Cannot read properties of undefined (reading 'labels') in ${dir}/adapterkit.json (fetched with ${token})`);
  };
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: TOKEN }, adapterRoots: [root], logger: { level: 'info', stream } });
  try {
    const a = await load(server.url, { name: 'x', dir: 'good' });
    assert.equal(a.status, 400, a.text);
    assert.equal(errorOf(a).code, 'BAD_FILE');
    assert.equal(errorOf(a).message, "adapter 'good' could not be loaded: a file in it is malformed or holds a value of the wrong type");
    const log = lines.join('');
    assert.match(log, /adapter load failed/);
    assert.ok(log.includes("Cannot read properties of undefined (reading 'labels') in good/adapterkit.json (fetched with [REDACTED])"), log);
    assert.ok(!log.includes(root) && !log.includes(token), log);
  } finally {
    await server.close();
  }
});
