/**
 * The real model backend behind the real server: saved adapters on the tiny BERT, loaded at run
 * time through the admin API, classified over loopback with concurrent requests for several tasks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { adapterConfig, methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { toPrediction } from '../../src/train/evaluate.js';
import { Rng } from '../../src/util/random.js';
import { call, classify, errorOf, listen } from './helpers.js';
import { tempDir } from '../temp-dir.js';

test('saved adapters of different methods served from one base: load over HTTP, concurrent mixed-task requests, same scores as each task alone', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const dirs: Record<string, string> = {};
  const models: Record<string, TaskModel> = {};
  const specs = {
    sentiment: { labels: ['neg', 'pos'], size: 4, adapter: adapterConfig({ size: 4 }) },
    topic: { labels: ['animals', 'weather', 'books'], size: 8, adapter: methodConfig('lora', { r: 4 }) },
    mood: { labels: ['calm', 'angry'], size: 5, adapter: methodConfig('ia3') },
  };
  for (const [name, s] of Object.entries(specs)) {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: s.adapter }, head: headConfig({ kind: 'classification', labels: s.labels }), seed: s.size });
    const r = new Rng(s.size);
    for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
    dirs[name] = join(tempDir('ak-serve-'), name);
    await saveTask(m, dirs[name]!, { name, maxLength: 32 });
    models[name] = m;
  }
  const backend = new ModelBackend(base, { maxLength: 32 });
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: 'sekrit' }, windowMs: 20 });
  try {
    for (const name of Object.keys(specs)) {
      const res = await call(`${server.url}/v1/adapters`, 'POST', { name, dir: dirs[name] }, { authorization: 'Bearer sekrit' });
      assert.equal(res.status, 201, res.text);
    }
    const listed = await call(`${server.url}/v1/adapters`, 'GET');
    assert.deepEqual((listed.body as { adapters: { name: string }[] }).adapters.map((a) => a.name).sort(), ['mood', 'sentiment', 'topic']);
    const texts = ['the cat sat on the mat', 'rain at night', 'a good book', 'the dog ran fast'];
    const reqs = texts.flatMap((t) => Object.keys(specs).map((task) => ({ task, t })));
    const answers = await Promise.all(reqs.map((r) => classify(server.url, r.task, [r.t])));
    for (const [k, r] of reqs.entries()) {
      const a = answers[k]!;
      assert.equal(a.status, 200, a.text);
      const got = (a.body as { results: { label: string; scores: Record<string, number> }[] }).results[0]!;
      const m = models[r.task]!;
      const logits = Array.from(await m.predict(base.tokenizer.encode([r.t], 32)));
      const want = toPrediction(m.head, logits, false);
      assert.equal(got.label, m.head.labels[want.value as number]);
      m.head.labels.forEach((l, i) => assert.ok(Math.abs(got.scores[l]! - want.probs[i]!) < 1e-5, `${r.task} ${l}`));
    }
    const metrics = await call(`${server.url}/metrics`, 'GET');
    assert.match(metrics.text, /adapterkit_adapters_loaded 3/);
    const unload = await call(`${server.url}/v1/adapters/topic`, 'DELETE', undefined, { authorization: 'Bearer sekrit' });
    assert.ok(unload.status < 300, unload.text);
    const gone = await classify(server.url, 'topic', ['x']);
    assert.equal(gone.status, 404);
  } finally {
    await server.close();
    await backend.dispose();
    for (const m of Object.values(models)) await m.dispose();
  }
});

test('a task directory with NaN or Infinity weights is refused at load with 400 BAD_WEIGHTS naming the tensor (it answered 200 with null scores and no label)', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const root = tempDir('ak-serve-nan-');
  const saveBroken = async (name: string, value: number, origin: 'adapter' | 'head'): Promise<{ tensor: string; size: number }> => {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['ham', 'spam'] }), seed: 9 });
    const t = m.trainable.find((x) => x.origin === origin)!;
    t.data[1] = value;
    await saveTask(m, join(root, name), { name, maxLength: 32 });
    await m.dispose();
    return { tensor: t.name, size: t.data.length };
  };
  const nan = await saveBroken('nan', Number.NaN, 'head');
  const inf = await saveBroken('inf', Number.POSITIVE_INFINITY, 'adapter');
  const backend = new ModelBackend(base, { maxLength: 32 });
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: 'sekrit' }, adapterRoots: [root] });
  try {
    await assert.rejects(backend.load('nan', join(root, 'nan')), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'BAD_WEIGHTS');
      assert.equal(e.message, `task directory ${join(root, 'nan')}: tensor ${nan.tensor} holds 1 non-finite value(s) (NaN or Infinity) of ${nan.size}; a task with non-finite weights answers no label (retrain it, e.g. with a lower learning rate)`);
      return true;
    });
    const res = await call(`${server.url}/v1/adapters`, 'POST', { name: 'inf', dir: 'inf' }, { authorization: 'Bearer sekrit' });
    assert.equal(res.status, 400, res.text);
    assert.equal(errorOf(res).code, 'BAD_WEIGHTS');
    assert.ok(errorOf(res).message.startsWith(`task directory inf: tensor ${inf.tensor} holds 1 non-finite value(s)`), errorOf(res).message);
    assert.deepEqual(backend.tasks(), [], 'nothing was loaded');
  } finally {
    await server.close();
    await backend.dispose();
  }
});
