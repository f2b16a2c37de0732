/**
 * AdapterFusion trained and saved as AdapterHub does: the trainer trains only the fusion and the
 * head (the fused adapters stay as they were), the task saves each fusion in a folder of its name
 * with `adapter_fusion_config.json`, `pytorch_model_adapter_fusion.bin` and
 * `model_adapter_fusion.safetensors` under AdapterHub's keys, and loads back to the same
 * predictions; a named Fuse keeps its name through `adapter_setup.json`; the server answers a
 * fused task as the library does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { compositionFromDict, compositionToDict, formatComposition, parseComposition } from '../../src/adapters/composition.js';
import type { NamedAdapter } from '../../src/adapters/compose.js';
import { fusionConfig, type NamedFusion } from '../../src/adapters/fusion.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { readWeights } from '../../src/models/weights/index.js';
import { describeMode } from '../../src/train/modes.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { train } from '../../src/train/trainer.js';
import { tempDir, TINY_BERT } from '../cli/harness.js';
import { toyExamples } from '../train/toy-task.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import { predictTexts } from '../../src/train/evaluate.js';
import { Rng } from '../../src/util/random.js';
import { call, classify, listen } from '../serve/helpers.js';

const ADAPTERS: NamedAdapter[] = [
  { name: 'lang', config: methodConfig('pfeiffer', { reduction_factor: 8, init_weights: 'bert' }), trainable: false },
  { name: 'topic', config: methodConfig('pfeiffer', { reduction_factor: 4, init_weights: 'bert', leave_out: [1] }), trainable: false },
];

test('the trainer trains a fusion and the head over frozen adapters; the task saves in AdapterHub\'s fusion layout and loads back to the same predictions', async () => {
  const base = await loadBase(TINY_BERT);
  const head = headConfig({ kind: 'classification', labels: ['neg', 'pos'] });
  const fusions: NamedFusion[] = [{ name: 'lang,topic', adapters: ['lang', 'topic'], config: fusionConfig('dynamic') }];
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters: ADAPTERS, active: parseComposition('Fuse(lang, topic)'), fusions }, head, seed: 4 });
  assert.deepEqual(new Set(m.trainable.map((t) => t.name.replace(/\.\d+\.ffn\./, '.<l>.ffn.'))), new Set([
    ...['query.weight', 'query.bias', 'key.weight', 'key.bias', 'value.weight'].map((p) => `adapters.fusion[lang:topic].<l>.ffn.${p}`), 'head.out.weight', 'head.out.bias',
  ]));
  const frozen0 = [...m.owned].filter(([k]) => k.startsWith('adapters.lang.') || k.startsWith('adapters.topic.')).map(([k, t]) => [k, Array.from(t.data)] as const);
  const v0 = Array.from(m.owned.get('adapters.fusion[lang:topic].0.ffn.value.weight')?.data ?? []);
  const out = join(tempDir('ak-fusion-train-'), 'run');
  const r = await train(m, toyExamples(32, 1), toyExamples(8, 2), { outDir: out, taskName: 'fused', metrics: ['accuracy'], epochs: 1, batchSize: 8, maxLength: 16, lr: 1e-2, seed: 1 });
  assert.equal(r.steps, 4);
  for (const [k, v] of frozen0) assert.deepEqual(Array.from(m.owned.get(k)?.data ?? []), v, `${k}: a fused adapter did not change`);
  assert.notDeepEqual(Array.from(m.owned.get('adapters.fusion[lang:topic].0.ffn.value.weight')?.data ?? []), v0, 'the fusion trained');

  const dir = r.bestDir;
  for (const f of ['adapter_setup.json', 'adapterkit.json', 'lang/adapter_config.json', 'topic/pytorch_adapter.bin', 'lang,topic/adapter_fusion_config.json', 'lang,topic/pytorch_model_adapter_fusion.bin', 'lang,topic/model_adapter_fusion.safetensors']) {
    assert.ok(existsSync(join(dir, f)), f);
  }
  const cfgText = readFileSync(join(dir, 'lang,topic', 'adapter_fusion_config.json'), 'utf8');
  const cfg = JSON.parse(cfgText) as Record<string, unknown>;
  assert.deepEqual(Object.keys(cfg), ['adapter_names', 'config', 'hidden_size', 'model_class', 'model_name', 'model_type', 'name', 'version'], 'sorted keys, as json.dump(sort_keys=True)');
  assert.deepEqual(cfg.adapter_names, ['lang', 'topic']);
  assert.equal(cfg.name, 'lang,topic');
  assert.equal(cfg.model_class, 'BertAdapterModel');
  assert.deepEqual(cfg.config, { dropout_prob: null, key: true, query: true, query_before_ln: false, regularization: true, residual_before: false, temperature: false, value: true, value_before_softmax: true, value_initialized: true });
  const safe = await readWeights(join(dir, 'lang,topic', 'model_adapter_fusion.safetensors'));
  const bin = await readWeights(join(dir, 'lang,topic', 'pytorch_model_adapter_fusion.bin'));
  const keys = [0, 1].flatMap((l) => ['query.weight', 'query.bias', 'key.weight', 'key.bias', 'value.weight'].map((p) => `bert.encoder.layer.${l}.output.adapter_fusion_layer.lang,topic.${p}`));
  assert.deepEqual([...safe.keys()].sort(), [...keys].sort());
  assert.deepEqual([...bin.keys()].sort(), [...keys].sort());
  assert.deepEqual(safe.get(keys[0] as string)?.shape, [32, 32]);
  // [out, in] in the file: the file's query weight is the transpose of the internal [in, out] matrix
  const internal = m.owned.get('adapters.fusion[lang:topic].0.ffn.query.weight')?.data as Float32Array;
  const file = safe.get(keys[0] as string)?.data as Float32Array;
  assert.equal(file[1 * 32 + 0], internal[0 * 32 + 1]);

  const back = await loadSavedTask(base, dir); // one epoch, one evaluation: the best is the last state
  const batch = base.tokenizer.encode(['a good book', 'the cat sat on the mat .'], 16);
  assert.deepEqual(Array.from(await back.model.predict(batch)), Array.from(await m.predict(batch)));
  assert.match(describeMode(back.model.mode, base.encoder), /^Fuse\(lang, topic\): lang = bottleneck \(pfeiffer, m=4\) \(frozen\); topic = bottleneck \(pfeiffer, m=8\) \(frozen\); fusion lang,topic = AdapterFusion \(dynamic\)$/);
  assert.deepEqual(back.model.trainable.map((t) => t.name), m.trainable.map((t) => t.name), 'the fused adapters stay frozen, the fusion trains');
  for (const [k, t] of m.owned) assert.deepEqual(Array.from(back.model.owned.get(k)?.data ?? []), Array.from(t.data), k);
  for (const x of [m, back.model]) await x.dispose();
});

test('a saved task predicts what the model predicted, a named Fuse keeps its name, and a missing fusion file is an error naming it', async () => {
  const base = await loadBase(TINY_BERT);
  const head = headConfig({ kind: 'classification', labels: ['neg', 'pos'] });
  const active = parseComposition('Stack(lang, Fuse(topic, lang, name=mix))');
  const fusions: NamedFusion[] = [{ name: 'mix', adapters: ['topic', 'lang'], config: fusionConfig('static') }];
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters: ADAPTERS, active, fusions }, head, seed: 9 });
  const batch = base.tokenizer.encode(['a good book', 'the cat sat on the mat .'], 16);
  const want = await m.predict(batch);
  const dir = join(tempDir('ak-fusion-save-'), 'task');
  await saveTask(m, dir, { name: 'named', maxLength: 16 });
  const setup = JSON.parse(readFileSync(join(dir, 'adapter_setup.json'), 'utf8')) as { adapter_setup: Record<string, unknown> };
  assert.equal(formatComposition(compositionFromDict(setup.adapter_setup)), 'Stack(lang, Fuse(topic, lang, name=mix))');
  assert.deepEqual(compositionToDict(parseComposition('Fuse(a, b, name=x)')), { type: 'Fuse', children: [{ type: 'single', children: ['a'] }, { type: 'single', children: ['b'] }], kwargs: { name: 'x' } });
  assert.ok(existsSync(join(dir, 'mix', 'model_adapter_fusion.safetensors')));
  const back = await loadSavedTask(base, dir);
  assert.deepEqual(Array.from(await back.model.predict(batch)), Array.from(want));
  await rm(join(dir, 'mix', 'model_adapter_fusion.safetensors'));
  await rm(join(dir, 'mix', 'pytorch_model_adapter_fusion.bin'));
  await assert.rejects(loadSavedTask(base, dir), /missing mix\/model_adapter_fusion\.safetensors and mix\/pytorch_model_adapter_fusion\.bin \(fusion mix\)/);
  for (const x of [m, back.model]) await x.dispose();
});

test('a fused task served over HTTP answers as the library, batched with a single-adapter task', async () => {
  const base = await loadBase(TINY_BERT);
  const dir = tempDir('ak-fusion-serve-');
  const fusions: NamedFusion[] = [{ name: 'lang,topic', adapters: ['lang', 'topic'], config: fusionConfig('dynamic') }];
  const fused = TaskModel.create(base, { mode: { kind: 'adapters', adapters: ADAPTERS, active: parseComposition('Fuse(lang, topic)'), fusions }, head: headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] }), seed: 6 });
  const single = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('lora', { r: 2 }) }, head: headConfig({ kind: 'classification', labels: ['x', 'y'] }), seed: 7 });
  const r = new Rng(6);
  for (const m of [fused, single]) for (const t of m.owned.values()) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
  const tasks = { fused, single };
  for (const [name, m] of Object.entries(tasks)) await saveTask(m, join(dir, name), { name, maxLength: 16 });
  const backend = new ModelBackend(base, { maxLength: 16 });
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: 'sekrit' }, windowMs: 20 });
  try {
    for (const name of Object.keys(tasks)) {
      const res = await call(`${server.url}/v1/adapters`, 'POST', { name, dir: join(dir, name) }, { authorization: 'Bearer sekrit' });
      assert.equal(res.status, 201, res.text);
    }
    const texts = ['the cat sat on the mat', 'rain at night', 'a good book'];
    const reqs = texts.flatMap((t) => (['fused', 'single'] as const).map((task) => ({ task, t })));
    const answers = await Promise.all(reqs.map((q) => classify(server.url, q.task, [q.t])));
    for (const [k, q] of reqs.entries()) {
      const a = answers[k] as Awaited<ReturnType<typeof classify>>;
      assert.equal(a.status, 200, a.text);
      const got = (a.body as { results: { scores: Record<string, number> }[] }).results[0] as { scores: Record<string, number> };
      const m = tasks[q.task];
      const [want] = await predictTexts(m, [q.t], { maxLength: 16 });
      m.head.labels.forEach((l, i) => assert.ok(Math.abs((got.scores[l] as number) - (want?.probs[i] as number)) < 1e-5, `${q.task} ${l}: ${got.scores[l]} vs ${want?.probs[i]}`));
    }
  } finally {
    await server.close();
    await backend.dispose();
    for (const m of Object.values(tasks)) await m.dispose();
  }
});
