/**
 * The server behind `adapterkit ui`, over HTTP without a browser: every response carries the
 * cross-origin isolation headers; the page, its bundles, onnxruntime-web's files and the base's
 * files are served, nothing else from those folders; the dataset API cuts the splits and says
 * what is wrong with a bad request; a task named with --task is sent to the page. Also: the bundle
 * is built once and then read from the cache.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildBrowserBundle } from '../../src/browser/build.js';
import { ISOLATION_HEADERS, startUiServer, type UiServer } from '../../src/browser/ui-server.js';
import { base64ToFloats, type TaskUpload } from '../../src/browser/task-upload.js';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { tempDir } from '../temp-dir.js';

describe('ui server', () => {
  let dir = '';
  let server: UiServer;
  before(async () => {
    dir = tempDir('adapterkit-ui-server-');
    server = await startUiServer({ port: 0, build: { cacheDir: join(dir, 'cache') } });
  });
  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the page and what it loads, each with the isolation headers', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/app/app.js', 'text/javascript'], ['/app/worker.js', 'text/javascript'], ['/ort/ort.wasm.min.mjs', 'text/javascript'], ['/ort/ort-wasm-simd-threaded.wasm', 'application/wasm'], ['/assets/use-lite/model.json', 'application/json'], ['/assets/use-lite/group1-shard1of7', 'application/octet-stream']] as const) {
      const r = await fetch(`${server.url}${path}`);
      assert.equal(r.status, 200, path);
      assert.ok(r.headers.get('content-type')?.startsWith(type), `${path}: ${r.headers.get('content-type')}`);
      for (const [k, v] of Object.entries(ISOLATION_HEADERS)) assert.equal(r.headers.get(k), v, `${path}: ${k}`);
      await r.arrayBuffer();
    }
    for (const path of ['/ort/package.json', '/assets/use-lite/index.js', '/app/nope.js', '/ort/..%2Fpackage.json']) {
      const r = await fetch(`${server.url}${path}`);
      assert.equal(r.status, 404, path);
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp', `${path}: errors are isolated too`);
      await r.arrayBuffer();
    }
  });

  test('the dataset API lists the built-ins and cuts a split evenly; bad requests are explained', async () => {
    const list = (await (await fetch(`${server.url}/api/datasets`)).json()) as { name: string }[];
    assert.deepEqual(list.map((d) => d.name), ['spam', 'sotu', 'brown']);
    const spam = (await (await fetch(`${server.url}/api/datasets/spam?train=40&dev=10`)).json()) as { labels: string[]; train: { label: number; textA: string }[]; dev: unknown[]; metrics: string[] };
    assert.deepEqual(spam.labels, ['ham', 'spam']);
    assert.equal(spam.train.length, 40);
    assert.equal(spam.dev.length, 10);
    assert.deepEqual(new Set(spam.train.map((e) => e.label)), new Set([0, 1]), 'both classes in the cut');
    assert.equal(spam.metrics[0], 'f1');
    const bad = await fetch(`${server.url}/api/datasets/spam?train=-1`);
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { code: 'BAD_CONFIG', message: 'query parameter train must be an integer from 0 to 5000, got "-1"' });
    const missing = await fetch(`${server.url}/api/datasets/imdb`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { code: 'NOT_FOUND', message: 'no built-in dataset "imdb"; available: spam, sotu, brown' });
  });

  test('a saved task named with --task is served for Predict; an unknown name is a 404', async () => {
    const base = await loadBase();
    const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['no', 'yes'] }), seed: 1 });
    const taskDir = join(dir, 'saved', 'yesno');
    await saveTask(model, taskDir, { name: 'yesno', maxLength: 32 });
    const other = await startUiServer({ port: 0, tasks: new Map([['yesno', taskDir]]), build: { cacheDir: join(dir, 'cache') } });
    try {
      assert.deepEqual(await (await fetch(`${other.url}/api/tasks`)).json(), ['yesno']);
      const u = (await (await fetch(`${other.url}/api/tasks/yesno`)).json()) as TaskUpload;
      assert.deepEqual([u.name, u.labels, u.maxLength], ['yesno', ['no', 'yes'], 32]);
      assert.deepEqual(Object.keys(u.tensors).sort(), [...model.owned.keys()].sort());
      for (const [name, t] of model.owned) assert.deepEqual(base64ToFloats(u.tensors[name]?.data ?? '', t.data.length, name), t.data, name);
      const missing = await fetch(`${other.url}/api/tasks/nope`);
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), { code: 'NOT_FOUND', message: 'no task "nope" (tasks: yesno)' });
    } finally {
      await other.close();
      await model.dispose();
    }
  });

  test('a port in use is a clear error', async () => {
    const port = Number(new URL(server.url).port);
    await assert.rejects(startUiServer({ port, build: { cacheDir: join(dir, 'cache') } }), { code: 'BAD_CONFIG', message: `port ${port} on 127.0.0.1 is in use: pick another port (0: any free port)` });
  });

  test('the bundle is cached: a second build reads the same files', async () => {
    const cache = join(dir, 'cache');
    assert.equal(readdirSync(cache).length, 1);
    const again = await buildBrowserBundle({ cacheDir: cache });
    const served = await (await fetch(`${server.url}/app/worker.js`)).text();
    assert.equal(again.get('worker.js'), served);
    assert.ok(served.includes('/ort/ort.wasm.min.mjs'), 'onnxruntime-web is imported from /ort/, not bundled');
    assert.ok(!/from\s*["']node:/.test(served), 'no Node built-in is imported');
  });
});
