/**
 * Serving tasks that hold several adapters under a composition: a saved setup loaded with
 * `POST /v1/adapters` (or `adapterkit serve --adapter`) answers exactly as the library's predict,
 * also in requests batched together with single-adapter tasks of the shared multi-task graph; a
 * composition that cannot answer each input on its own (Parallel, BatchSplit, Split) is refused
 * with a 400 that says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { parseComposition } from '../../src/adapters/composition.js';
import type { NamedAdapter } from '../../src/adapters/compose.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import { predictTexts } from '../../src/train/evaluate.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';
import { startCli, tempDir, TINY_BERT } from '../cli/harness.js';
import { call, classify, errorOf, listen, watchServe } from '../serve/helpers.js';

const ADAPTERS: NamedAdapter[] = [
  { name: 'lang', config: methodConfig('pfeiffer', { reduction_factor: 8 }), trainable: false },
  { name: 'task', config: methodConfig('lora', { r: 2 }) },
  { name: 'extra', config: methodConfig('ia3-peft', { attn_matrices: ['k'] }) },
];

/** A task model with its trainable tensors moved off their initialisation (so every adapter matters). */
function setupModel(base: Awaited<ReturnType<typeof loadBase>>, active: string, labels: string[], seed: number, adapters = ADAPTERS): TaskModel {
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters, active: parseComposition(active) }, head: headConfig({ kind: 'classification', labels }), seed });
  const r = new Rng(seed);
  for (const t of m.owned.values()) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
  return m;
}

test('saved setups served over HTTP answer as the library, alone and in batches mixed with a single-adapter task', async () => {
  const base = await loadBase(TINY_BERT);
  const dir = tempDir('ak-serve-setup-');
  const tasks: Record<string, TaskModel> = {
    stacked: setupModel(base, 'Stack(lang, task)', ['neg', 'pos'], 3),
    averaged: setupModel(base, 'Average(task, extra, weights=[3, 1])', ['a', 'b', 'c'], 4),
    single: (() => {
      const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('lora', { r: 2 }) }, head: headConfig({ kind: 'classification', labels: ['x', 'y'] }), seed: 5 });
      const r = new Rng(5);
      for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
      return m;
    })(),
  };
  for (const [name, m] of Object.entries(tasks)) await saveTask(m, join(dir, name), { name, maxLength: 16 });
  const backend = new ModelBackend(base, { maxLength: 16 });
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: 'sekrit' }, windowMs: 20 });
  const auth = { authorization: 'Bearer sekrit' };
  try {
    for (const name of Object.keys(tasks)) {
      const res = await call(`${server.url}/v1/adapters`, 'POST', { name, dir: join(dir, name) }, auth);
      assert.equal(res.status, 201, res.text);
    }
    const texts = ['the cat sat on the mat', 'rain at night', 'a good book', 'the dog ran fast and far away from home'];
    // concurrent requests, so that the batcher puts several tasks (and setups) in one batch
    const reqs = texts.flatMap((t) => Object.keys(tasks).map((task) => ({ task, t })));
    const answers = await Promise.all(reqs.map((r) => classify(server.url, r.task, [r.t])));
    for (const [k, r] of reqs.entries()) {
      const a = answers[k]!;
      assert.equal(a.status, 200, a.text);
      const got = (a.body as { results: { label: string; scores: Record<string, number> }[] }).results[0]!;
      const m = tasks[r.task]!;
      const [want] = await predictTexts(m, [r.t], { maxLength: 16 });
      assert.equal(got.label, want!.label, `${r.task}: ${r.t}`);
      m.head.labels.forEach((l, i) => assert.ok(Math.abs(got.scores[l]! - want!.probs[i]!) < 1e-5, `${r.task} ${l}: ${got.scores[l]} vs ${want!.probs[i]}`));
    }
    // one request with several inputs of a setup
    const many = await classify(server.url, 'stacked', texts);
    assert.equal(many.status, 200, many.text);
    const want = await predictTexts(tasks.stacked!, texts, { maxLength: 16 });
    assert.deepEqual((many.body as { results: { label: string }[] }).results.map((x) => x.label), want.map((x) => x.label));
    // a setup unloads like any task
    assert.equal((await call(`${server.url}/v1/adapters/stacked`, 'DELETE', undefined, auth)).status, 200);
    assert.equal((await classify(server.url, 'stacked', ['x'])).status, 404);
    assert.equal((await classify(server.url, 'single', ['x'])).status, 200);
  } finally {
    await server.close();
    await backend.dispose();
    for (const m of Object.values(tasks)) await m.dispose();
  }
});

test('a setup whose composition gives several outputs per input or routes by position is refused at load with a 400 naming the block', async () => {
  const base = await loadBase(TINY_BERT);
  const dir = tempDir('ak-serve-setup-bad-');
  const cases: [string, string, RegExp][] = [
    ['par', 'Parallel(task, extra)', /task par is the composition Parallel\(task, extra\): Parallel\(task, extra\) gives 2 outputs per example \(one per channel\), so it cannot answer each input on its own/],
    ['bsplit', 'BatchSplit(task, extra, batch_sizes=[2, 2])', /sends rows to adapters by their position in the batch \(batches of exactly 4 rows\)/],
    ['split', 'Split(lang, lang2, splits=[4, 4])', /sends tokens to adapters by position \(sequences of exactly 8 tokens\)/],
  ];
  const backend = new ModelBackend(base, { maxLength: 16 });
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: 'sekrit' } });
  try {
    for (const [name, active, re] of cases) {
      const adapters = name === 'split' ? [ADAPTERS[0]!, { name: 'lang2', config: methodConfig('pfeiffer', { reduction_factor: 4 }) }] : ADAPTERS;
      const m = setupModel(base, active, ['a', 'b'], 7, adapters);
      await saveTask(m, join(dir, name), { name, maxLength: 16 });
      await m.dispose();
      const res = await call(`${server.url}/v1/adapters`, 'POST', { name, dir: join(dir, name) }, { authorization: 'Bearer sekrit' });
      assert.equal(res.status, 400, res.text);
      assert.equal(errorOf(res).code, 'BAD_CONFIG');
      assert.match(errorOf(res).message, re);
    }
    assert.deepEqual((await call(`${server.url}/v1/adapters`, 'GET').then((r) => r.body as { adapters: unknown[] })).adapters, []);
  } finally {
    await server.close();
    await backend.dispose();
  }
});

test('adapterkit serve --adapter loads a saved setup and answers as the library', async () => {
  const base = await loadBase(TINY_BERT);
  const dir = tempDir('ak-serve-setup-cli-');
  mkdirSync(join(dir, 'root'));
  const root = realpathSync(join(dir, 'root'));
  const m = setupModel(base, 'Stack(lang, task)', ['neg', 'pos'], 9);
  await saveTask(m, join(root, 'stacked'), { name: 'stacked', maxLength: 16 });
  const texts = ['the cat sat', 'a good book'];
  const want = await predictTexts(m, texts, { maxLength: 16 });
  await m.dispose();
  const child = startCli(['serve', '--adapter', `stacked=${join(root, 'stacked')}`, '--adapter-root', root, '--port', '0', '--threads', '1', '--max-length', '16']);
  const served = watchServe(child);
  try {
    const url = await served.url();
    const a = await classify(url, 'stacked', texts);
    assert.equal(a.status, 200, a.text);
    const got = (a.body as { results: { label: string; scores: Record<string, number> }[] }).results;
    got.forEach((g, i) => {
      assert.equal(g.label, want[i]!.label);
      assert.ok(Math.abs(g.scores.pos! - want[i]!.probs[1]!) < 1e-5);
    });
  } finally {
    child.kill('SIGTERM');
    await served.exited;
  }
  assert.equal(child.exitCode, 0, served.stderr());
});
