/**
 * Models that only predict load adapters in their inference form (src/train/inference-form.ts):
 * a reparameterised prefix (alone, inside MAM's union, or as one adapter of a setup) is ejected
 * into the flat prefix at load, computing the same function; the server mixes such a task with
 * flat-prefix and bottleneck tasks in one batch; a model loaded to train further keeps the MLP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseComposition } from '../../src/adapters/composition.js';
import { methodConfig, prefixConfig, type MethodConfig, type PrefixConfig, type UnionConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import type { TrainingMode } from '../../src/train/modes.js';
import type { ClassifyOutput } from '../../src/serve/backend.js';
import { tempDir } from '../temp-dir.js';

const texts = ['the cat sat on the mat .', 'a good book', 'rain at night in the house'];
const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'], dropout: 0 });
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

/** A model whose adapter tensors are moved off their initial values (zero-initialised parts included). */
function model(base: BaseModel, mode: TrainingMode, seed = 2): TaskModel {
  const m = TaskModel.create(base, { mode, head, seed, dropout: 0 });
  for (const t of m.trainable) if (t.origin === 'adapter') for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) * 0.5 + 0.1 * Math.sin(3 * i + t.data.length);
  return m;
}

async function saved(m: TaskModel, name: string): Promise<string> {
  const dir = join(tempDir('ak-inference-form-'), name);
  await saveTask(m, dir, { name, maxLength: 16 });
  return dir;
}

const prefixOf = (c: MethodConfig): PrefixConfig => (c.method === 'union' ? (c as UnionConfig).configs.find((x) => x.method === 'prefix_tuning') : c) as PrefixConfig;
const mlpTensors = (m: TaskModel) => [...m.owned.keys()].filter((k) => /control_trans\.[02]\.|\.wte$/.test(k));

test('a prefix with its MLP, alone and in MAM, loads for inference as the flat prefix that predicts the same', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const batch = base.tokenizer.encode(texts, 16);
  for (const config of [prefixConfig({ prefix_length: 3, bottleneck_size: 7, leave_out: [1] }), methodConfig('mam')]) {
    const m = model(base, { kind: 'adapters', adapter: config });
    const want = await m.predict(batch);
    const dir = await saved(m, 't');
    const train = (await loadSavedTask(base, dir)).model;
    assert.equal(prefixOf((train.mode as { adapter: MethodConfig }).adapter).flat, false, 'a model loaded to train keeps the MLP');
    assert.ok(mlpTensors(train).length > 0);
    const infer = (await loadSavedTask(base, dir, { inference: true })).model;
    assert.equal(prefixOf((infer.mode as { adapter: MethodConfig }).adapter).flat, true, `${config.method}: not ejected`);
    assert.deepEqual(mlpTensors(infer), [], `${config.method}: the MLP's tensors are still loaded`);
    assert.ok(maxAbs(await infer.predict(batch), want) < 1e-5, `${config.method}: the inference form computes another function`);
    assert.ok(infer.stats().bytesPerTask < train.stats().bytesPerTask, 'the flat prefix is the smaller form here');
    for (const x of [m, train, infer]) await x.dispose();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('in a setup of named adapters, each prefix is ejected and the composition predicts the same', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const batch = base.tokenizer.encode(texts, 16);
  const m = model(base, { kind: 'adapters', active: parseComposition('Stack(p, q)'), adapters: [{ name: 'p', config: prefixConfig({ prefix_length: 2, bottleneck_size: 5 }) }, { name: 'q', config: methodConfig('pfeiffer', { size: 4 }) }] });
  const want = await m.predict(batch);
  const dir = await saved(m, 's');
  const infer = (await loadSavedTask(base, dir, { inference: true })).model;
  const mode = infer.mode as Extract<TrainingMode, { adapters: unknown }>;
  assert.equal(prefixOf(mode.adapters.find((a) => a.name === 'p')?.config as MethodConfig).flat, true);
  assert.equal(mode.adapters.find((a) => a.name === 'q')?.config.method, 'bottleneck');
  assert.ok(maxAbs(await infer.predict(batch), want) < 1e-5);
  await m.dispose();
  await infer.dispose();
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

test('the server loads an MLP-prefix task in its flat form and answers it in one batch with flat-prefix and bottleneck tasks', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const tasks = {
    mlp: model(base, { kind: 'adapters', adapter: prefixConfig({ prefix_length: 3, bottleneck_size: 6 }) }, 2),
    flat: model(base, { kind: 'adapters', adapter: prefixConfig({ prefix_length: 2, flat: true }) }, 3),
    bn: model(base, { kind: 'adapters', adapter: methodConfig('pfeiffer', { size: 4 }) }, 4),
  };
  const backend = new ModelBackend(base, { maxLength: 16 });
  const dirs: string[] = [];
  for (const [name, m] of Object.entries(tasks)) {
    const dir = await saved(m, name);
    dirs.push(dir);
    await backend.load(name, dir);
  }
  const names = Object.keys(tasks) as (keyof typeof tasks)[];
  const items = texts.flatMap((t, i) => names.map((task, j) => ({ task, input: texts[(i + j) % texts.length] as string })));
  const out = await backend.classify(items);
  const softmax = (l: ArrayLike<number>) => {
    const e = Array.from(l, (v) => Math.exp(v));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  for (let k = 0; k < items.length; k++) {
    const it = items[k] as (typeof items)[number];
    const want = softmax(await tasks[it.task].predict(base.tokenizer.encode([it.input], 16)));
    assert.ok(maxAbs(Object.values((out[k] as ClassifyOutput).scores), want) < 1e-5, `item ${k} (${it.task}) differs from its own model`);
  }
  await backend.dispose();
  for (const m of Object.values(tasks)) await m.dispose();
  for (const d of dirs) rmSync(join(d, '..'), { recursive: true, force: true });
});
