/**
 * Task files: AdapterHub key names and layouts, the manifest, the fingerprint check, round trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseComposition } from '../../src/adapters/composition.js';
import { adapterConfig, methodConfig } from '../../src/adapters/methods/index.js';
import { AdapterkitError } from '../../src/errors.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { readSafetensors } from '../../src/models/weights/index.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { cpuMsOfFailure } from '../util/cpu-time.js';
import { tempDir } from '../temp-dir.js';

test('saved files use AdapterHub names and [out, in] Linear layouts, and round-trip exactly', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = TaskModel.create(base, {
    mode: { kind: 'adapters', adapter: adapterConfig({ size: 4, leave_out: [0] }) },
    head: headConfig({ kind: 'classification', labels: ['neg', 'pos'], layers: 2 }), seed: 1,
  });
  const dir = join(tempDir('ak-files-'), 'sst');
  const notes = await saveTask(m, dir, { name: 'sst', maxLength: 32 });
  assert.deepEqual(readdirSync(dir).sort(), [
    'adapter.safetensors', 'adapter_config.json', 'adapterkit.json', 'head_config.json', 'model_head.safetensors', 'pytorch_adapter.bin', 'pytorch_model_head.bin',
    'trained_base.safetensors',
  ]);
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, /layer norms this adapter trained are in trained_base\.safetensors/);
  const ad = await readSafetensors(join(dir, 'adapter.safetensors'));
  assert.deepEqual([...ad.keys()].sort(), [
    'bert.encoder.layer.1.attention.output.adapters.sst.adapter_down.0.bias',
    'bert.encoder.layer.1.attention.output.adapters.sst.adapter_down.0.weight',
    'bert.encoder.layer.1.attention.output.adapters.sst.adapter_up.bias',
    'bert.encoder.layer.1.attention.output.adapters.sst.adapter_up.weight',
    'bert.encoder.layer.1.output.adapters.sst.adapter_down.0.bias',
    'bert.encoder.layer.1.output.adapters.sst.adapter_down.0.weight',
    'bert.encoder.layer.1.output.adapters.sst.adapter_up.bias',
    'bert.encoder.layer.1.output.adapters.sst.adapter_up.weight',
  ]);
  const down = ad.get('bert.encoder.layer.1.output.adapters.sst.adapter_down.0.weight')!;
  assert.deepEqual(down.shape, [4, 32]); // PyTorch Linear(32 -> 4): [out, in]
  const ours = m.owned.get('adapters.adapter.1.ffn.down.weight')!; // [in, out]
  assert.equal((down.data as Float32Array)[1 * 32 + 5], ours.data[5 * 4 + 1]);
  const headT = await readSafetensors(join(dir, 'model_head.safetensors'));
  assert.deepEqual([...headT.keys()].sort(), ['heads.sst.1.bias', 'heads.sst.1.weight', 'heads.sst.4.bias', 'heads.sst.4.weight']);
  assert.deepEqual(headT.get('heads.sst.4.weight')!.shape, [2, 32]);
  const trained = await readSafetensors(join(dir, 'trained_base.safetensors'));
  assert.ok(trained.has('bert.encoder.layer.0.attention.output.LayerNorm.weight'));
  const ac = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  assert.equal(ac.config.reduction_factor, 8);
  assert.deepEqual(ac.config.leave_out, [0]);
  assert.equal(ac.config.non_linearity, 'gelu');
  assert.equal(ac.version, 'adapters.1.2.0');
  assert.match(readFileSync(join(dir, 'adapter_config.json'), 'utf8'), /"scaling": 1\.0,/); // a Python float: AdapterHub rejects the int 1
  const hc = JSON.parse(readFileSync(join(dir, 'head_config.json'), 'utf8'));
  assert.deepEqual(hc.config.label2id, { neg: 0, pos: 1 });
  const back = await loadSavedTask(base, dir);
  for (const [k, t] of m.owned) assert.deepEqual(Array.from(back.model.owned.get(k)!.data), Array.from(t.data), k);
  const batch = base.tokenizer.encode(['a good book', 'the dog ran'], 16);
  assert.deepEqual(Array.from(await back.model.predict(batch)), Array.from(await m.predict(batch)));
  await m.dispose();
  await back.model.dispose();
});

test('an adapter trained on one base is refused by another, with both named', async () => {
  const bert = await loadBase('test/fixtures/models/tiny-bert');
  const other = await loadBase('test/fixtures/models/tiny-bert-prefixed');
  const m = TaskModel.create(bert, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 1 });
  const dir = join(tempDir('ak-fp-'), 'task');
  await saveTask(m, dir, { name: 'task', maxLength: 32 });
  await assert.rejects(loadSavedTask(other, dir), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ADAPTER_MISMATCH');
    assert.match(e.message, /was trained on base test\/fixtures\/models\/tiny-bert .*but the loaded base is test\/fixtures\/models\/tiny-bert-prefixed/);
    return true;
  });
  await assert.rejects(saveTask(m, dir, { name: 'bad name!', maxLength: 32 }), /may only contain letters, digits/);
  await assert.rejects(loadSavedTask(bert, join(dir, 'nope')), /does not exist/);
  await m.dispose();
});

test('an adapter task that trained the pooler (--train-pooler) saves it and loads back; so does an older manifest without the flag', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = TaskModel.create(base, {
    mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 1, trainPooler: true,
  });
  assert.ok(m.trainable.some((t) => t.name === 'pooler.dense.weight'));
  for (const t of m.trainable) if (t.name.startsWith('pooler.')) t.data[0] = (t.data[0] as number) + 0.5; // differ from the base
  const dir = join(tempDir('ak-pooler-'), 'task');
  await saveTask(m, dir, { name: 'task', maxLength: 32 });
  const trained = await readSafetensors(join(dir, 'trained_base.safetensors'));
  assert.ok(trained.has('bert.pooler.dense.weight'));
  const batch = base.tokenizer.encode(['a good book', 'the dog ran'], 16);
  const want = Array.from(await m.predict(batch));
  const back = await loadSavedTask(base, dir);
  assert.equal(back.model.trainPooler, true);
  assert.deepEqual(Array.from(await back.model.predict(batch)), want);
  // a manifest written before the flag existed: the pooler in trained_base.safetensors tells
  const manifestPath = join(dir, 'adapterkit.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  delete manifest.mode.trainPooler;
  writeFileSync(manifestPath, JSON.stringify(manifest));
  const old = await loadSavedTask(base, dir);
  assert.deepEqual(Array.from(await old.model.predict(batch)), want);
  for (const x of [m, back.model, old.model]) await x.dispose();
});

test('a version-1 manifest (camelCase bottleneck config) still loads, as the paper preset', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4, mh_adapter: false }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 1 });
  const dir = join(tempDir('ak-v1-'), 'task');
  await saveTask(m, dir, { name: 'task', maxLength: 32 });
  const manifestPath = join(dir, 'adapterkit.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  manifest.version = 1;
  manifest.mode.adapter = { size: 4, activation: 'gelu', initStd: 0.01, points: ['ffn_output'], leaveOut: [], trainLayerNorms: true };
  writeFileSync(manifestPath, JSON.stringify(manifest));
  const back = await loadSavedTask(base, dir);
  const c = back.model.mode.kind === 'adapters' ? back.model.mode.adapter : undefined;
  assert.ok(c?.method === 'bottleneck' && c.size === 4 && !c.mh_adapter && c.output_adapter && c.preset === 'paper');
  const batch = base.tokenizer.encode(['a good book'], 16);
  assert.deepEqual(Array.from(await back.model.predict(batch)), Array.from(await m.predict(batch)));
  manifest.mode.adapter = { method: 'bottleneck', size: 4 };
  manifest.version = 2;
  writeFileSync(manifestPath, JSON.stringify(manifest));
  await assert.rejects(loadSavedTask(base, dir), /mode\.adapter: mh_adapter must be true or false, got undefined/);
  for (const x of [m, back.model]) await x.dispose();
});

test('Compacter files: PHM tensors under AdapterHub\'s names (shared ones in shared_parameters), read back from .safetensors and from .bin', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const config = methodConfig('compacter++', { reduction_factor: 4, shared_phm_rule: false, factorized_phm_rule: true, shared_W_phm: true, phm_rank: 2 });
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: config }, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 2 });
  for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + 0.05 * Math.sin(7 * i + t.data.length); // away from the init
  const root = tempDir('ak-phm-');
  const dir = join(root, 'sst');
  assert.deepEqual(await saveTask(m, dir, { name: 'sst', maxLength: 32 }), []);
  const ad = await readSafetensors(join(dir, 'adapter.safetensors'));
  const shapes = Object.fromEntries([...ad].map(([k, t]) => [k, t.shape]));
  const site = 'bert.encoder.layer.1.output.adapters.sst.';
  assert.deepEqual(Object.keys(shapes).sort(), [
    'bert.encoder.layer.0.output.adapters.sst.adapter_down.0.b', 'bert.encoder.layer.0.output.adapters.sst.adapter_down.0.phm_rule_left',
    'bert.encoder.layer.0.output.adapters.sst.adapter_down.0.phm_rule_right', 'bert.encoder.layer.0.output.adapters.sst.adapter_up.b',
    'bert.encoder.layer.0.output.adapters.sst.adapter_up.phm_rule_left', 'bert.encoder.layer.0.output.adapters.sst.adapter_up.phm_rule_right',
    `${site}adapter_down.0.b`, `${site}adapter_down.0.phm_rule_left`, `${site}adapter_down.0.phm_rule_right`, `${site}adapter_up.b`,
    `${site}adapter_up.phm_rule_left`, `${site}adapter_up.phm_rule_right`,
    'bert.shared_parameters.sst.W_down_left', 'bert.shared_parameters.sst.W_down_right', 'bert.shared_parameters.sst.W_up_left', 'bert.shared_parameters.sst.W_up_right',
  ].sort());
  assert.deepEqual([shapes[`${site}adapter_down.0.phm_rule_left`], shapes[`${site}adapter_down.0.phm_rule_right`], shapes[`${site}adapter_up.b`]], [[4, 4, 1], [4, 1, 4], [32]]);
  assert.deepEqual(['W_down_left', 'W_down_right', 'W_up_left', 'W_up_right'].map((k) => shapes[`bert.shared_parameters.sst.${k}`]), [[4, 8, 2], [4, 2, 2], [4, 2, 2], [4, 2, 8]]);
  // the file's [n, a, r] tensor holds the internal [n·a, r] matrix byte for byte
  assert.deepEqual(Array.from(ad.get('bert.shared_parameters.sst.W_down_left')!.data as Float32Array), Array.from(m.owned.get('adapters.adapter.shared.W_down_left')!.data));
  const ac = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  assert.deepEqual([ac.config.phm_layer, ac.config.shared_W_phm, ac.config.shared_phm_rule, ac.config.factorized_phm_rule, ac.config.phm_rank, ac.config.reduction_factor], [true, true, false, true, 2, 4]);
  assert.match(readFileSync(join(dir, 'adapter_config.json'), 'utf8'), /"phm_init_range": 0\.0001,/);
  const batch = base.tokenizer.encode(['a good book', 'the dog ran'], 16);
  const want = Array.from(await m.predict(batch));
  // as AdapterHub's folder (no adapterkit.json): once with only adapter.safetensors, once with only pytorch_adapter.bin
  for (const keep of ['adapter.safetensors', 'pytorch_adapter.bin']) {
    const foreign = join(root, `foreign-${keep}`);
    mkdirSync(foreign);
    for (const f of ['adapter_config.json', 'head_config.json', 'model_head.safetensors', keep]) copyFileSync(join(dir, f), join(foreign, f));
    const back = await loadSavedTask(base, foreign);
    assert.equal(back.origin, 'adapterhub');
    const c = (back.model.mode as { adapter: typeof config }).adapter;
    assert.deepEqual({ ...c, preset: undefined }, { ...config, preset: undefined }, keep);
    for (const [k, t] of m.owned) assert.deepEqual(Array.from(back.model.owned.get(k)!.data), Array.from(t.data), `${keep}: ${k}`);
    assert.deepEqual(Array.from(await back.model.predict(batch)), want, keep);
    await back.model.dispose();
  }
  await m.dispose();
});

test('a setup of two Compacters (Stack(lang, task), lang frozen) keeps each one\'s shared rule under its own name, trains only the task\'s, and loads back exactly', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = TaskModel.create(base, {
    mode: {
      kind: 'adapters', active: parseComposition('Stack(lang, task)'),
      adapters: [{ name: 'lang', config: methodConfig('compacter', { reduction_factor: 4 }), trainable: false }, { name: 'task', config: methodConfig('compacter++', { reduction_factor: 4 }) }],
    },
    head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 1,
  });
  assert.deepEqual(m.trainable.map((t) => t.name).filter((n) => n.includes('.shared.')), ['adapters.task.shared.phm_rule']);
  const batch = base.tokenizer.encode(['the cat sat', 'a dog'], 8);
  const want = Array.from(await m.predict(batch));
  const dir = join(tempDir('ak-phm-setup-'), 'setup');
  await saveTask(m, dir, { name: 'setup', maxLength: 16 });
  for (const name of ['lang', 'task']) {
    const keys = [...(await readSafetensors(join(dir, name, 'adapter.safetensors'))).keys()];
    assert.deepEqual(keys.filter((k) => k.includes('shared_parameters')), [`bert.shared_parameters.${name}.phm_rule`]);
  }
  const back = await loadSavedTask(base, dir);
  assert.deepEqual(Array.from(await back.model.predict(batch)), want);
  await Promise.all([m.dispose(), back.model.dispose()]);
});

test('a task directory with broken head fields is refused with a coded error naming the field (found by the fuzzer)', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('compacter', { reduction_factor: 4 }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 1 });
  const root = tempDir('ak-bad-head-');
  const dir = join(root, 'task');
  await saveTask(m, dir, { name: 'task', maxLength: 32 });
  await m.dispose();
  // adapterkit.json: head.labels missing, not a list, or not all strings (was a TypeError from headConfig)
  const manifestPath = join(dir, 'adapterkit.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  for (const labels of [undefined, 2, { a: 0 }, ['a', 3]]) {
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, head: { ...manifest.head, labels } }));
    await assert.rejects(loadSavedTask(base, dir), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'BAD_FILE', e.message);
      assert.match(e.message, /adapterkit\.json: head\.labels must be a list of label names/);
      return true;
    });
  }
  // AdapterHub's head_config.json: a num_labels the head weights cannot hold is refused before
  // millions of LABEL_i names are made up for it (it took seconds of CPU, and a larger one ran out of memory)
  const hub = join(root, 'hub');
  cpSync('test/fixtures/methods/compacter', hub, { recursive: true });
  const headPath = join(hub, 'head_config.json');
  const hc = JSON.parse(readFileSync(headPath, 'utf8'));
  hc.config.num_labels = 300_000_000;
  writeFileSync(headPath, JSON.stringify(hc));
  const { error, ms } = await cpuMsOfFailure(() => loadSavedTask(base, hub));
  assert.ok(error instanceof AdapterkitError && error.code === 'BAD_FILE', String(error));
  assert.match(error.message, /head_config\.json: config\.num_labels 300000000 is more than .*model_head\.safetensors can hold \(\d+ values\)/);
  assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms of CPU`);
});
