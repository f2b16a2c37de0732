/**
 * AdapterHub's ConfigUnion (test/adapters/methods.test.ts checks the `mam` fixture against
 * PyTorch): the mam preset is AdapterHub's MAMConfig(), components share the adapter name in the
 * files, `leave_out` goes to every component, and what a union cannot be is refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromAdapterHubConfig, methodConfig, methodOf, type MethodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { mixedTrainingRefusal } from '../../src/train/multi-task-train-model.js';
import { TaskModel } from '../../src/train/task-model.js';
import { cli, tempDir, TINY_BERT, writeToyCsv } from '../cli/harness.js';

test('the mam preset is AdapterHub\'s MAMConfig(): prefix tuning (bottleneck 800) + par_bn, read back as mam', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const c = methodConfig('mam');
  const hub = methodOf(c).adapterHub.config(c, base.encoder);
  assert.ok('config' in hub);
  const cfg = hub.config as { architecture: string; configs: Record<string, unknown>[] };
  assert.equal(cfg.architecture, 'union');
  // BnConfig.to_dict() has no architecture field (AdapterHub's harness found this file byte-identical to MAMConfig().to_dict())
  assert.deepEqual(cfg.configs.map((x) => [x.architecture, x.bottleneck_size ?? x.reduction_factor, x.is_parallel, JSON.parse(JSON.stringify(x.scaling ?? null))]), [['prefix_tuning', 800, undefined, null], [undefined, 2, true, 4]]);
  const back = fromAdapterHubConfig(JSON.parse(JSON.stringify(cfg)), 'f');
  assert.equal(back.preset, 'mam');
  assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(c)));
  // the fixture's smaller MAM reads as a union of the two
  const small = fromAdapterHubConfig(JSON.parse(readFileSync('test/fixtures/methods/mam/adapter_config.json', 'utf8')).config, 'mam');
  assert.ok(small.method === 'union' && small.preset === 'union' && small.configs.length === 2);
  assert.equal(methodOf(small).describe(small, base.encoder), 'union (prefix tuning (P=3, MLP m=5 tanh) + bottleneck (parallel, m=4))');
  // keys: both components under the one name
  const keys = methodOf(small).adapterHub.keys(small, base.encoder, 'x', 'task').map((k) => k.key);
  assert.ok(keys.includes('bert.prefix_tuning.prefix_tunings.task.self_prefix.wte.weight') && keys.includes('bert.encoder.layer.1.output.adapters.task.adapter_up.weight'), keys.join('\n'));
});

test('leave_out goes to every component; nested unions, two components of one method and single components are refused', () => {
  const c = methodConfig('mam', { leave_out: [0] }) as Extract<MethodConfig, { method: 'union' }>;
  assert.deepEqual(c.configs.map((x) => [...x.leave_out]), [[0], [0]]);
  const p = methodConfig('prefix');
  const l = methodConfig('lora');
  assert.throws(() => methodConfig('mam', { configs: [p, methodConfig('mam')] }), /configs\[1\] is a union; a union is never a component of a union/);
  assert.throws(() => methodConfig('mam', { configs: [l, methodConfig('lora', { r: 2 })] }), /two lora components; a union holds at most one component per method/);
  assert.throws(() => methodConfig('mam', { configs: [p] }), /configs must list at least two method configs/);
  assert.throws(() => methodConfig('mam', { configs: [p, { ...l, r: 0 }] }), /configs\[1\]: r must be an integer >= 1, got 0/);
  assert.throws(() => fromAdapterHubConfig({ architecture: 'union', configs: [{ architecture: 'prefix_tuning' }, { architecture: 'prompt_tuning', combine: 'x' }] }, 'f'), /f: config\.configs\[1\]: config: combine "x" is not one of/);
});

test('a union of prefix tuning with LoRA and IA³-free parts trains (gradients reach every component), joins mixed serving and training batches', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const c = methodConfig('mam', { configs: [methodConfig('prefix', { prefix_length: 2, bottleneck_size: 4 }), methodConfig('lora', { init_weights: 'bert' })] });
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 1, dropout: 0 });
  const { grads } = await m.trainStep(base.tokenizer.encode(['a good book', 'rain'], 16), [0, 1]);
  const kinds = new Set(m.trainable.filter((t, i) => t.origin === 'adapter' && grads[i]!.some((g) => g !== 0)).map((t) => (t.name.includes('.shared.') ? 'prefix' : 'lora')));
  assert.deepEqual([...kinds].sort(), ['lora', 'prefix']);
  new MultiTaskModel(base).add('u', m); // served in mixed batches (test/serve/mixed-positions.test.ts)
  assert.equal(mixedTrainingRefusal('u', m, base), undefined); // and mixed-task training (MAM: test/train/multi-task-train.test.ts)
  await m.dispose();
});

test('the unipelt preset is AdapterHub\'s UniPELTConfig(): gated prefix tuning (P 10), seq_bn and LoRA (r 8, alpha 2); gated LoRA cannot merge or compose', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const c = methodConfig('unipelt') as Extract<MethodConfig, { method: 'union' }>;
  assert.deepEqual(c.configs.map((x) => [x.method, (x as { use_gating?: boolean }).use_gating]), [['prefix_tuning', true], ['bottleneck', true], ['lora', true]]);
  const hub = methodOf(c).adapterHub.config(c, base.encoder) as { config: Record<string, unknown> };
  assert.equal(fromAdapterHubConfig(JSON.parse(JSON.stringify(hub.config)), 'f').preset, 'unipelt');
  const lora = c.configs[2]!;
  const keys = methodOf(lora).adapterHub.keys(lora, base.encoder, 'a', 'u').map((k) => k.key);
  assert.ok(keys.includes('bert.encoder.layer.0.attention.self.query.loras.u.gate.weight'), keys.join('\n'));
  assert.throws(() => methodOf(lora).merge?.(lora, base.encoder, 'a', new Map(), base.weights), /a gated LoRA \(use_gating\) depends on its input through the gate, so it cannot be folded into the weights/);
  assert.deepEqual(methodOf(lora).peft?.config(lora, base.encoder), { unsupported: 'PEFT\'s LoRA has no gate (use_gating)' });
});

test('adapterkit train --method mam', async () => {
  const dir = tempDir('ak-cli-mam-');
  writeToyCsv(join(dir, 'train.csv'), 32, 1);
  writeToyCsv(join(dir, 'dev.csv'), 16, 2);
  const r = await cli('train', '--train', join(dir, 'train.csv'), '--dev', join(dir, 'dev.csv'), '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT,
    '--epochs', '1', '--batch-size', '16', '--max-length', '16', '--method', 'mam', '--out', join(dir, 'run'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /mode:\s+union \(prefix tuning \(P=30, MLP m=800 tanh\) \+ bottleneck \(parallel, m=16\)\)/);
  assert.equal(JSON.parse(readFileSync(join(dir, 'run', 'best', 'adapter_config.json'), 'utf8')).config.architecture, 'union');
});
