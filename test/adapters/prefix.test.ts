/**
 * Prefix tuning beyond the PyTorch parity fixtures (test/adapters/methods.test.ts runs those):
 * prefixes only lengthen keys and values, so padding, pair inputs and token-level heads are as
 * without them; finite differences through the other encoder families; the files in AdapterHub's
 * and PEFT's layouts, written and read back; eject; and the clear refusals (config fields, PEFT's
 * layout, mixed-task batches, compositions).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseComposition } from '../../src/adapters/composition.js';
import { ejectPrefix, methodConfig, methodOf, prefixConfig, type PrefixConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { readSafetensors } from '../../src/models/weights/index.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import { mixedTrainingRefusal } from '../../src/train/multi-task-train-model.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { cli, tempDir, TINY_BERT, writeToyCsv } from '../cli/harness.js';
import type { ClassifyOutput } from '../../src/serve/backend.js';

const texts = ['the cat sat on the mat .', 'a good book', 'rain at night in the house'];
const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'], dropout: 0 });
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

/** A prefix model whose tensors are moved off their initial values (so that every check has something to see). */
function prefixModel(base: BaseModel, c: PrefixConfig, h = head, seed = 2): TaskModel {
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head: h, seed, dropout: 0 });
  for (const t of m.trainable) if (t.origin === 'adapter') for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) * 0.5 + 0.1 * Math.sin(3 * i + t.data.length);
  return m;
}

test('prefixes keep the sequence length: padding, pair inputs and token-level heads give what each row gives alone', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const c = prefixConfig({ prefix_length: 4, bottleneck_size: 8 });
  const rows: (string | [string, string])[] = ['a good book', ['the cat sat on the mat .', 'rain at night'], 'rain'];
  const batch = base.tokenizer.encode(rows, 16);
  const cls = prefixModel(base, c);
  const bare = TaskModel.create(base, { mode: { kind: 'head-only' }, head, seed: 2 });
  const all = await cls.predict(batch);
  assert.ok(maxAbs(all, await bare.predict(batch)) > 1e-3, 'the prefixes change the logits');
  for (let r = 0; r < rows.length; r++) {
    const one = await cls.predict(base.tokenizer.encode([rows[r] as string], 16)); // no padding at all
    assert.ok(maxAbs(one, all.subarray(3 * r, 3 * r + 3)) < 1e-5, `row ${r}: alone ${Array.from(one)} vs in the padded batch ${Array.from(all.subarray(3 * r, 3 * r + 3))}`);
  }
  // token-level heads read [B, T, …]: T positions, none for the prefix, padding-invariant on real tokens
  for (const h of [headConfig({ kind: 'tagging', labels: ['O', 'B', 'I'], dropout: 0 }), headConfig({ kind: 'qa', labels: [], dropout: 0 })]) {
    const m = prefixModel(base, c, h);
    const out = await m.predict(batch);
    const k = h.kind === 'qa' ? 2 : 3;
    assert.equal(out.length, batch.batchSize * batch.seqLen * k, `${h.kind}: one output per token position`);
    const short = base.tokenizer.encode([rows[0] as string], 16);
    const alone = await m.predict(short);
    assert.ok(maxAbs(alone, out.subarray(0, short.seqLen * k)) < 1e-5, `${h.kind}: the first row's real tokens alone vs padded`);
    await m.dispose();
  }
  await cls.dispose();
  await bare.dispose();
});

test('finite differences through the prefixes on DistilBERT, ALBERT (shared layers) and USE-lite (two attention widths; with gates)', async () => {
  const cases: [string, PrefixConfig][] = [
    ['test/fixtures/models/tiny-distilbert', prefixConfig({ prefix_length: 3, bottleneck_size: 6, non_linearity: 'relu' })],
    ['test/fixtures/models/tiny-albert', prefixConfig({ prefix_length: 2, bottleneck_size: 4 })],
    ['use-lite', prefixConfig({ prefix_length: 2 }, 'prefix-flat')],
    ['use-lite', prefixConfig({ prefix_length: 2, use_gating: true }, 'prefix-flat')],
  ];
  for (const [dir, c] of cases) {
    const base = await loadBase(dir);
    const batch = base.tokenizer.encode(texts, 16);
    const m = prefixModel(base, c);
    const labels = [0, 2, 1];
    const { grads } = await m.trainStep(batch, labels);
    const eps = 2e-3;
    let checked = 0;
    for (const [k, t] of m.trainable.entries()) {
      if (t.origin !== 'adapter') continue;
      const g = grads[k] as Float32Array;
      let top = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[top]!)) top = i;
      const orig = t.data[top]!;
      t.data[top] = orig + eps;
      const lp = (await m.trainStep(batch, labels)).loss;
      t.data[top] = orig - eps;
      const lm = (await m.trainStep(batch, labels)).loss;
      t.data[top] = orig;
      const numeric = (lp - lm) / (2 * eps);
      assert.ok(Math.abs(numeric) > 1e-5, `${dir} ${t.name}: the loss does not depend on it`);
      assert.ok(Math.abs(g[top]! - numeric) <= 5e-4 + 5e-2 * Math.abs(numeric), `${dir} ${t.name}[${top}]: analytic ${g[top]}, numeric ${numeric}`);
      checked++;
    }
    assert.equal(checked, (c.flat ? 1 : 5) + (c.use_gating ? 2 * base.encoder.numLayers : 0), dir);
    await m.dispose();
  }
});

test('eject turns the MLP into the flat prefix that computes the same function', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  for (const non_linearity of ['tanh', 'gelu'] as const) {
    const c = prefixConfig({ prefix_length: 3, bottleneck_size: 7, non_linearity, leave_out: [1] });
    const m = prefixModel(base, c);
    const batch = base.tokenizer.encode(texts, 16);
    const want = await m.predict(batch);
    const flat = ejectPrefix(c, base.encoder, m.adapterName, m.owned);
    assert.equal(flat.config.flat, true);
    assert.deepEqual(flat.tensors.get('adapters.adapter.shared.control_trans')?.shape, [3, 2 * 32]); // one layer: keys and values
    assert.equal([...flat.tensors.keys()].filter((k) => k.startsWith('adapters.')).length, 1);
    const e = TaskModel.create(base, { mode: { kind: 'adapters', adapter: flat.config }, head, seed: 2, weights: flat.tensors });
    assert.ok(maxAbs(await e.predict(batch), want) < 1e-5, `${non_linearity}: the ejected prefix computes another function`);
    await e.dispose();
    await m.dispose();
  }
});

test('AdapterHub and PEFT files: key names, configs, shapes, and both read back to the same predictions', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = prefixModel(base, prefixConfig({ prefix_length: 3, bottleneck_size: 5, dropout: 0.1 }));
  const root = tempDir('ak-prefix-');
  const dir = join(root, 'pt');
  await saveTask(m, dir, { name: 'pt', maxLength: 16 });
  const ad = await readSafetensors(join(dir, 'adapter.safetensors'));
  const at = 'bert.prefix_tuning.prefix_tunings.pt.self_prefix.';
  assert.deepEqual(Object.fromEntries([...ad].map(([k, t]) => [k, t.shape])), {
    [`${at}wte.weight`]: [3, 32], [`${at}control_trans.0.weight`]: [5, 32], [`${at}control_trans.0.bias`]: [5],
    [`${at}control_trans.2.weight`]: [2 * 2 * 32, 5], [`${at}control_trans.2.bias`]: [2 * 2 * 32],
  });
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).config, {
    architecture: 'prefix_tuning', bottleneck_size: 5, cross_prefix: true, dropout: 0.1, encoder_prefix: true, flat: false, init_weights_seed: null, leave_out: [],
    non_linearity: 'tanh', prefix_length: 3, shared_gating: true, use_gating: false,
  });
  assert.match(readFileSync(join(dir, 'adapter_config.json'), 'utf8'), /"dropout": 0\.1,/);
  const peft = JSON.parse(readFileSync(join(dir, 'peft', 'adapter_config.json'), 'utf8'));
  assert.deepEqual(
    { ...peft, base_model_name_or_path: undefined },
    {
      auto_mapping: null, base_model_name_or_path: undefined, encoder_hidden_size: 32, inference_mode: true, init_weights: null, modules_to_save: ['classifier', 'score'],
      num_attention_heads: 4, num_layers: 2, num_transformer_submodules: 1, num_virtual_tokens: 3, peft_type: 'PREFIX_TUNING', peft_version: '0.20.1.dev0@UNKNOWN',
      prefix_projection: false, revision: null, task_type: 'SEQ_CLS', token_dim: 32,
    },
  );
  const pw = await readSafetensors(join(dir, 'peft', 'adapter_model.safetensors'));
  assert.deepEqual([...pw.keys()].sort(), ['base_model.model.classifier.bias', 'base_model.model.classifier.weight', 'prompt_embeddings']);
  assert.deepEqual(pw.get('prompt_embeddings')?.shape, [3, 2 * 2 * 32]);

  const batch = base.tokenizer.encode(texts, 16);
  const want = await m.predict(batch);
  const back = await loadSavedTask(base, dir);
  assert.deepEqual(back.model.mode, m.mode);
  assert.ok(maxAbs(await back.model.predict(batch), want) < 1e-6);
  // AdapterHub's directory alone (no adapterkit.json), from pytorch_adapter.bin alone
  rmSync(join(dir, 'adapterkit.json'));
  rmSync(join(dir, 'adapter.safetensors'));
  rmSync(join(dir, 'trained_base.safetensors'), { force: true });
  const hub = await loadSavedTask(base, dir);
  assert.equal(hub.origin, 'adapterhub');
  assert.ok(maxAbs(await hub.model.predict(batch), want) < 1e-6);
  // PEFT's directory holds the ejected prefix: a flat config, the same function
  const p = await loadSavedTask(base, join(dir, 'peft'));
  assert.equal(p.origin, 'peft');
  assert.ok(p.model.mode.kind === 'adapters' && p.model.mode.adapter?.method === 'prefix_tuning' && p.model.mode.adapter.flat && p.model.mode.adapter.prefix_length === 3);
  assert.ok(maxAbs(await p.model.predict(batch), want) < 1e-5);
  for (const x of [back, hub, p]) await x.model.dispose();
  await m.dispose();
  rmSync(root, { recursive: true, force: true });
});

test('DistilBERT keeps its prefixes under AdapterHub\'s location key "self"; PEFT\'s layout refuses DistilBERT and left-out layers', async () => {
  const base = await loadBase('test/fixtures/models/tiny-distilbert');
  const m = prefixModel(base, prefixConfig({ prefix_length: 2, leave_out: [0] }, 'prefix-flat'));
  const root = tempDir('ak-prefix-');
  const dir = join(root, 'd');
  const notes = await saveTask(m, dir, { name: 'd', maxLength: 16 });
  assert.deepEqual([...(await readSafetensors(join(dir, 'adapter.safetensors'))).keys()], ['distilbert.prefix_tuning.prefix_tunings.d.self.control_trans']);
  assert.ok(!readdirSync(dir).includes('peft'));
  assert.ok(notes.some((n) => /PEFT cannot load this adapter \(PEFT passes prefixes as past_key_values, which Hugging Face's DistilBertModel does not take\)/.test(n)), notes.join('\n'));
  const bert = await loadBase('test/fixtures/models/tiny-bert');
  const lo = prefixConfig({ leave_out: [0] });
  assert.deepEqual(methodOf(lo).peft?.config(lo, bert.encoder), { unsupported: 'PEFT\'s prefix tuning has a prefix in every layer (this adapter leaves out 0)' });
  await m.dispose();
  rmSync(root, { recursive: true, force: true });
});

test('gates (use_gating): one per attention on its input, AdapterHub\'s prefix_gates keys, shared or not; PEFT refuses them', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  for (const shared_gating of [true, false]) {
    const c = prefixConfig({ prefix_length: 2, use_gating: true, shared_gating }, 'prefix-flat');
    const keys = methodOf(c).adapterHub.keys(c, base.encoder, 'a', 'g').filter((k) => k.key.includes('prefix_gates'));
    assert.deepEqual(keys.map((k) => [k.key, k.shape]), [0, 1].flatMap((l) => [
      [`bert.encoder.layer.${l}.attention.self.prefix_tuning.prefix_gates.g.weight`, [shared_gating ? 1 : 2, 32]],
      [`bert.encoder.layer.${l}.attention.self.prefix_tuning.prefix_gates.g.bias`, [shared_gating ? 1 : 2]],
    ]));
    assert.deepEqual(methodOf(c).peft?.config(c, base.encoder), { unsupported: 'PEFT\'s prefix tuning has no gates (use_gating)' });
  }
  // the gates read each example's own input: a row's output does not depend on the other rows
  const c = prefixConfig({ prefix_length: 2, use_gating: true, shared_gating: false }, 'prefix-flat');
  const m = prefixModel(base, c);
  const batch = base.tokenizer.encode(texts, 16);
  const all = await m.predict(batch);
  const one = await m.predict(base.tokenizer.encode([texts[1]!], 16));
  // AdapterHub's gate averages over every position, padding included: a padded row differs from the row alone
  assert.ok(maxAbs(one, all.subarray(3, 6)) > 1e-6, 'the gate of a padded row averages over its padding too');
  const full = await m.predict(base.tokenizer.encode([texts[0]!], 16)); // the longest row has no padding in the batch
  assert.ok(maxAbs(full, all.subarray(0, 3)) < 1e-5);
  await m.dispose();
});

test('config fields AdapterHub has but adapterkit cannot honour are refused by name', () => {
  assert.throws(() => prefixConfig({ encoder_prefix: false as never }), /encoder_prefix is false: adapterkit's encoders are encoder-only, so there would be no prefix anywhere/);
  assert.throws(() => methodConfig('prefix', { prefix_length: 0 }), /prefix config: prefix_length must be an integer >= 1, got 0/);
  assert.throws(() => methodConfig('prefix', { non_linearity: 'sigmoid' }), /non_linearity "sigmoid" is not one of/);
  assert.throws(() => methodConfig('prefix', { num_virtual_tokens: 4 }), /unknown field num_virtual_tokens/);
  assert.equal(methodConfig('prefix_tuning_flat').preset, 'prefix-flat'); // AdapterHub's preset names
  assert.deepEqual({ ...methodConfig('prefix_tuning'), preset: undefined }, { ...prefixConfig(), preset: undefined });
});

test('whole-layer refusals: every layer left out; mixed-task training takes it, a composition runs; the server mixes prefix tasks with others', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  assert.throws(() => TaskModel.create(base, { mode: { kind: 'adapters', adapter: prefixConfig({ leave_out: [0, 1] }) }, head, seed: 1 }), /every layer is left out; no prefix would be inserted/);
  const m = prefixModel(base, prefixConfig({ prefix_length: 2 }));
  assert.equal(mixedTrainingRefusal('p', m, base), undefined); // joins mixed-task training (test/train/multi-task-train.test.ts)
  // compositions of prefix tuning: test/composition/compositions.test.ts
  await TaskModel.create(base, {
    mode: { kind: 'adapters', active: parseComposition('Stack(p, q)'), adapters: [{ name: 'p', config: prefixConfig({ prefix_length: 2 }) }, { name: 'q', config: methodConfig('lora') }] },
    head, seed: 1,
  }).dispose();
  // the server mixes it with other tasks in one classify batch (more in test/serve/mixed-positions.test.ts)
  const backend = new ModelBackend(base, { maxLength: 16 });
  const lora = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('lora') }, head, seed: 3 });
  backend.attach('p', m);
  backend.attach('l', lora);
  const out = await backend.classify([{ task: 'p', input: texts[0]! }, { task: 'l', input: texts[1]! }, { task: 'p', input: texts[2]! }]);
  const want = await m.predict(base.tokenizer.encode([texts[0]!, texts[2]!], 16));
  const probs = (l: ArrayLike<number>) => {
    const e = Array.from(l, (v) => Math.exp(v));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  assert.ok(maxAbs(Object.values((out[0] as ClassifyOutput).scores), probs(want.subarray(0, 3))) < 1e-5);
  assert.ok(maxAbs(Object.values((out[2] as ClassifyOutput).scores), probs(want.subarray(3, 6))) < 1e-5);
  assert.equal(Object.keys((out[1] as ClassifyOutput).scores).length, 3);
  await backend.dispose(); // disposes the tasks attached to it
});

test('adapterkit train --method prefix trains, saves AdapterHub\'s and PEFT\'s files, and eval reads them back', async () => {
  const dir = tempDir('ak-cli-prefix-');
  writeToyCsv(join(dir, 'train.csv'), 48, 1);
  writeToyCsv(join(dir, 'dev.csv'), 16, 2);
  const data = ['--train', join(dir, 'train.csv'), '--dev', join(dir, 'dev.csv'), '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--epochs', '1', '--batch-size', '16', '--max-length', '16', '--seed', '3'];
  const r = await cli('train', ...data, '--method', 'prefix', '--prefix-length', '4', '--out', join(dir, 'run'), '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /mode:\s+prefix tuning \(P=4, MLP m=512 tanh\)/);
  const best = join(dir, 'run', 'best');
  assert.equal(JSON.parse(readFileSync(join(best, 'adapter_config.json'), 'utf8')).config.prefix_length, 4);
  assert.equal(JSON.parse(readFileSync(join(best, 'peft', 'adapter_config.json'), 'utf8')).peft_type, 'PREFIX_TUNING');
  const ev = await cli('eval', best, '--dev', join(dir, 'dev.csv'), '--text', 'sentence', '--label', 'sentiment', '--json');
  assert.equal(ev.code, 0, ev.stderr);
  const wrong = await cli('train', ...data, '--method', 'lora', '--prefix-length', '4', '--out', join(dir, 'x'));
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /--prefix-length does not apply to --method lora \(a lora method\)/);
});

test('prefix and prompt tuning are refused, with the reason, on encoders whose relative positions cannot cover the keys or tokens they add', async () => {
  const h = headConfig({ kind: 'classification', labels: ['a', 'b'] });
  const make = (base: BaseModel, preset: string) => () => TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig(preset as never) }, head: h, seed: 1 });
  const deberta = await loadBase('test/fixtures/models/tiny-deberta-v3');
  for (const p of ['prefix', 'mam', 'unipelt']) {
    assert.throws(make(deberta, p), /prefix_tuning config: prefix tuning does not work on the deberta-v2 encoder: its disentangled attention scores every key by its relative position/);
  }
  assert.throws(make(deberta, 'prompt'), /prompt_tuning config: prompt tuning does not work on the deberta-v2 encoder: its relative position tables/);
  const mpnet = await loadBase('test/fixtures/models/tiny-mpnet');
  assert.throws(make(mpnet, 'prompt'), /prompt_tuning config: prompt tuning does not work on the mpnet encoder: its relative position bias is bucketed over the input tokens only/);
  const modern = await loadBase('test/fixtures/models/tiny-modernbert');
  assert.throws(make(modern, 'prompt'), /prompt_tuning config: prompt tuning does not work on the modernbert encoder: its rotary tables and local attention windows/);
  const gated = await make(modern, 'unipelt')().predict(modern.tokenizer.encode(['a b', 'c d e f'], 8)); // the prefix gate reads the attention's (pre-normed) input
  assert.ok([...gated].every(Number.isFinite));
  const batch = mpnet.tokenizer.encode(['a b', 'c d e f'], 8);
  const logits = await make(mpnet, 'prefix')().predict(batch); // MPNet's bias gives prefix keys no position term (bert/encoder.ts leftPadKeys)
  assert.equal(logits.length, 4);
  assert.ok([...logits].every(Number.isFinite));
});
