/**
 * A PEFT directory's `target_modules` in Python's regex syntax selects what PEFT selects, and its head (`modules_to_save` classifier / qa_outputs) is read only when it is the
 * Hugging Face head adapterkit rebuilds exactly, as float32 with the shapes of a Linear on the
 * encoder's hidden size; anything else is an error naming the tensor or the reason, never a
 * different function.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import { loraConfig } from '../../src/adapters/methods/index.js';
import { loadBase } from '../../src/models/base.js';
import { readWeights, writeSafetensors, type TensorToWrite } from '../../src/models/weights/index.js';
import { headConfig } from '../../src/heads/head.js';
import { TaskModel } from '../../src/train/task-model.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { predictTexts } from '../../src/train/evaluate.js';
import { tempDir } from '../temp-dir.js';

const FIXTURE = 'test/fixtures/methods/lora-peft';
const W = 'base_model.model.classifier.weight';
const B = 'base_model.model.classifier.bias';

/** A copy of a PEFT directory whose safetensors and config are edited. */
async function edited(from: string, tensors: (m: Map<string, TensorToWrite>) => void, config: (c: Record<string, unknown>) => void = () => {}): Promise<string> {
  const dir = join(tempDir('adapterkit-peft-head-'), 'peft');
  cpSync(from, dir, { recursive: true });
  const file = join(dir, 'adapter_model.safetensors');
  const m = new Map<string, TensorToWrite>(await readWeights(file));
  tensors(m);
  await writeSafetensors(file, m, { format: 'pt' });
  const c = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  config(c);
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(c));
  return dir;
}

const rejects = async (p: Promise<unknown>, code: string, re: RegExp) =>
  assert.rejects(p, (e: unknown) => e instanceof AdapterkitError && e.code === code && re.test(e.message) ? true : assert.fail(`${String(e)}`));

test('the fixture loads as it is (the edits below are what fails)', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const t = await loadSavedTask(base, FIXTURE);
  assert.deepEqual(t.model.head.labels, ['LABEL_0', 'LABEL_1', 'LABEL_2']);
});

test('a head weight that is not float32 is BAD_FILE naming the tensor and its dtype', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  for (const dtype of ['int64', 'int32'] as const) {
    const dir = await edited(FIXTURE, (m) => {
      const w = m.get(W)!;
      m.set(W, { dtype, shape: w.shape, data: dtype === 'int64' ? new BigInt64Array(96) : new Int32Array(96) });
    });
    await rejects(loadSavedTask(base, dir), 'BAD_FILE', new RegExp(`tensor ${W.replace(/\./g, '\\.')} is ${dtype}, expected float32$`));
  }
});

test('head tensors of the wrong shape are ADAPTER_MISMATCH naming the shape expected', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const reshaped = (key: string, shape: number[]) => edited(FIXTURE, (m) => { const t = m.get(key)!; m.set(key, { ...t, shape }); });
  await rejects(loadSavedTask(base, await reshaped(W, [3, 32, 1])), 'ADAPTER_MISMATCH', /classifier\.weight has shape \[3, 32, 1\], expected \[labels, 32\]/);
  await rejects(loadSavedTask(base, await reshaped(W, [96])), 'ADAPTER_MISMATCH', /classifier\.weight has shape \[96\], expected \[labels, 32\]/);
  await rejects(loadSavedTask(base, await reshaped(B, [1, 3])), 'ADAPTER_MISMATCH', /classifier\.bias has shape \[1, 3\], expected \[3\]/);
});

test('a PEFT sequence classification head on a DistilBERT (whose Hugging Face head has a pre_classifier) is refused', async () => {
  const base = await loadBase('test/fixtures/models/tiny-distilbert');
  const out = join(tempDir('adapterkit-peft-distil-'), 'task');
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: loraConfig({ r: 2 }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'], layers: 1 }), seed: 1 });
  await saveTask(model, out, { name: 'distil', maxLength: 32 });
  const h = base.encoder.hiddenSize;
  const dir = await edited(join(out, 'peft'), (m) => {
    m.set(W, { dtype: 'float32', shape: [2, h], data: new Float32Array(2 * h).fill(0.01) });
    m.set(B, { dtype: 'float32', shape: [2], data: new Float32Array(2) });
  }, (c) => { c.task_type = 'SEQ_CLS'; c.modules_to_save = ['classifier', 'score']; });
  await rejects(loadSavedTask(base, dir), 'ADAPTER_MISMATCH',
    /cannot rebuild this PEFT SEQ_CLS head \(classifier\): adapterkit knows the Hugging Face sequence classification head of bert and deberta-v2 bases with a pooler \(a Linear on the pooler output\), not the one of this distilbert base$/);
  // the same tensors as a token classification head are DistilBertForTokenClassification's: they load
  const token = await edited(dir, () => {}, (c) => { c.task_type = 'TOKEN_CLS'; });
  assert.equal((await loadSavedTask(base, token)).model.head.kind, 'tagging');
});

test('a target_modules regex in Python syntax selects the same projections; one that cannot run is BAD_CONFIG naming the file', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const texts = ['the cat is good .', 'a dog was bad'];
  const want = (await predictTexts(await loadSavedTask(base, FIXTURE), texts)).map((p) => p.logits);
  const py = await edited(FIXTURE, () => {}, (c) => {
    c.target_modules = '(?i).*ENCODER\\.layer\\.\\d+\\.(?P<m>attention\\.self\\.(query|value)|attention\\.output\\.dense|intermediate\\.dense|output\\.dense)\\Z';
  });
  assert.deepEqual((await predictTexts(await loadSavedTask(base, py), texts)).map((p) => p.logits), want);
  const bad = await edited(FIXTURE, () => {}, (c) => { c.target_modules = '.*(query'; });
  await rejects(loadSavedTask(base, bad), 'BAD_CONFIG', /adapter_config\.json: target_modules "\.\*\(query" is not a regular expression adapterkit can run/);
});

test('a PEFT LoRA on ALBERT (one module per shared layer) says why no projection is selected', async () => {
  const base = await loadBase('test/fixtures/models/tiny-albert');
  const dir = await edited(FIXTURE, () => {}, (c) => { c.target_modules = ['query', 'value']; });
  await rejects(loadSavedTask(base, dir), 'BAD_CONFIG', /target_modules \["query","value"\] selects no projection of the albert encoder \(the albert base runs shared layers at several depths; adapterkit keeps one adapter per depth, AdapterHub and PEFT one per shared layer, so PEFT's module names do not name adapterkit's sites\)$/);
});
