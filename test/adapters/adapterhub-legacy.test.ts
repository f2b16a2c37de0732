/**
 * Older AdapterHub files load as AdapterHub loads them (loading.py):
 * - `_fix_backward_compat`: a LoRA or IA³ file saved by `adapters` before 1.1.0 was trained at
 *   scaling 1 whatever its alpha, and loads with alpha = r;
 * - `legacy_weights_mapping`: adapter-transformers' key names (`layer_text_task_adapters`…);
 * - `in_base_model`: keys without the base prefix (`encoder.layer…`, saved from a model without a
 *   head) are relative to the base model;
 * - a head_config.json without `use_pooler` reads the first token (its heads' default is false).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterHubModuleConfig } from '../../src/adapters/adapterhub.js';
import { loadBase } from '../../src/models/base.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { predictTexts } from '../../src/train/evaluate.js';
import { readWeights, writeSafetensors, type TensorToWrite } from '../../src/models/weights/index.js';
import { tempDir } from '../temp-dir.js';

const lora = { architecture: 'lora', composition_mode: 'add', r: 8, alpha: 16 };

test('files of adapters releases before 1.1.0 with r ≠ alpha get alpha = r; others are unchanged', () => {
  for (const v of ['adapters.1.0.1', 'adapters.0.2.2', 'adapters.1.1.0.dev0', 'adapters.1.1.0rc1', 'adapters.1']) {
    assert.deepEqual(adapterHubModuleConfig({ version: v, config: lora }), { ...lora, alpha: 8 }, v);
  }
  const ia3 = { architecture: 'lora', composition_mode: 'scale', r: 1, alpha: 2 };
  assert.deepEqual(adapterHubModuleConfig({ version: 'adapters.1.0.0', config: ia3 }), { ...ia3, alpha: 1 });
  for (const v of ['adapters.1.1.0', 'adapters.1.1.0.post1', 'adapters.1.2.0', 'adapters.2.0', '3.2.1', 'not a version']) {
    assert.equal(adapterHubModuleConfig({ version: v, config: lora }), lora, v);
  }
  assert.equal(adapterHubModuleConfig({ config: lora }), lora, 'no version');
  const same = { ...lora, alpha: 8 };
  assert.equal(adapterHubModuleConfig({ version: 'adapters.1.0.1', config: same }), same);
  const bn = { architecture: 'bottleneck', reduction_factor: 16 };
  assert.equal(adapterHubModuleConfig({ version: 'adapters.1.0.1', config: bn }), bn);
});

test('an adapters 1.0.1 LoRA file predicts as the same file with alpha = r', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const fixture = 'test/fixtures/methods/lora';
  const cfg = JSON.parse(readFileSync(join(fixture, 'adapter_config.json'), 'utf8')) as { config: { r: number; alpha: number }; version: string };
  assert.notEqual(cfg.config.r, cfg.config.alpha, 'the fixture must have r ≠ alpha for this test to mean anything');
  const variant = (name: string, edit: (c: typeof cfg) => void): string => {
    const dir = join(tempDir('adapterkit-legacy-'), name);
    cpSync(fixture, dir, { recursive: true });
    const c = structuredClone(cfg);
    edit(c);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(c));
    return dir;
  };
  const texts = ['the cat is good .', 'a dog was bad'];
  const probs = async (dir: string) => (await predictTexts(await loadSavedTask(base, dir), texts)).map((p) => p.logits);
  const legacy = await probs(variant('legacy', (c) => { c.version = 'adapters.1.0.1'; }));
  const rescaled = await probs(variant('rescaled', (c) => { c.config.alpha = c.config.r; }));
  const current = await probs(fixture);
  assert.deepEqual(legacy, rescaled);
  assert.notDeepEqual(legacy, current);
});

test('adapter-transformers key names and keys without the base prefix load as the same adapter', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const fixture = 'test/fixtures/methods/houlsby';
  const texts = ['the cat is good .', 'a dog was bad'];
  const logits = async (dir: string) => (await predictTexts(await loadSavedTask(base, dir), texts)).map((p) => p.logits);
  const want = await logits(fixture);
  const renamed = async (name: string, rename: (k: string) => string): Promise<string> => {
    const dir = join(tempDir('adapterkit-legacy-keys-'), name);
    cpSync(fixture, dir, { recursive: true });
    rmSync(join(dir, 'pytorch_adapter.bin'));
    const file = join(dir, 'adapter.safetensors');
    const m = await readWeights(file);
    const out = new Map<string, TensorToWrite>([...m].map(([k, t]) => [rename(k), t]));
    assert.notDeepEqual([...out.keys()], [...m.keys()], 'the keys must change for this test to mean anything');
    await writeSafetensors(file, out, { format: 'pt' });
    return dir;
  };
  const legacy = await renamed('legacy', (k) => k.replace('.attention.output.adapters.', '.attention.output.attention_text_task_adapters.').replace(/\.output\.adapters\./, '.output.layer_text_task_adapters.'));
  assert.deepEqual(await logits(legacy), want);
  const relative = await renamed('relative', (k) => k.replace(/^bert\./, ''));
  assert.deepEqual(await logits(relative), want);
});

test('a head_config.json without use_pooler reads the first token, as use_pooler false does', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const fixture = 'test/fixtures/methods/houlsby';
  const texts = ['the cat is good .', 'a dog was bad'];
  const logits = async (dir: string) => (await predictTexts(await loadSavedTask(base, dir), texts)).map((p) => p.logits);
  const head = (name: string, edit: (c: Record<string, unknown>) => void): string => {
    const dir = join(tempDir('adapterkit-use-pooler-'), name);
    cpSync(fixture, dir, { recursive: true });
    const hc = JSON.parse(readFileSync(join(dir, 'head_config.json'), 'utf8')) as { config: Record<string, unknown> };
    edit(hc.config);
    writeFileSync(join(dir, 'head_config.json'), JSON.stringify(hc));
    return dir;
  };
  const missing = await logits(head('missing', (c) => { delete c.use_pooler; }));
  assert.deepEqual(missing, await logits(head('false', (c) => { c.use_pooler = false; })));
  assert.notDeepEqual(missing, await logits(fixture), 'the fixture reads the pooler (use_pooler true)');
});
