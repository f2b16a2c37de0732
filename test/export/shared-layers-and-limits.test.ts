/**
 * Export on the cases an audit found wrong:
 * - ALBERT's layers share their weights across depths while each depth has its own LoRA / IA³
 *   tensors, so merging would add every depth's update into the one shared matrix: merge() is
 *   refused there, and the export keeps the adapter in the graph (its logits are adapterkit's);
 * - a UniPELT (gated prefix) task on ALBERT saves one gate per depth and loads back;
 * - PEFT's prompt takes P of the base's positions: the default export length is limit − P, and more is refused;
 * - a sentence-pair task's export says to run the tokenizer and the model (the pipeline takes single texts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { AdapterkitError } from '../../src/errors.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { exportTask } from '../../src/export/index.js';
import { loadBase } from '../../src/models/base.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { exportRoot, maxDiff, perturbedTask, runOrt } from './helpers.js';

const TEXTS = ['the cats sat.', 'hello, world!', 'is it on the mat?'];
const MAX_LENGTH = 24;

for (const preset of ['lora', 'ia3'] as const) {
  test(`ALBERT + ${preset}: merge() is refused (shared layers), and the export runs the adapter unmerged with adapterkit's logits`, async () => {
    const base = await loadBase('test/fixtures/models/tiny-albert');
    const m = perturbedTask(base, methodConfig(preset), { kind: 'classification', labels: ['a', 'b', 'c'] }, 31);
    assert.match(m.mergeIssue ?? '', /cannot be merged into the frozen weights: the albert base runs shared layers at several depths; .*, and a merged weight would hold every depth's adapter$/);
    assert.throws(() => m.merge(), (e: unknown) => e instanceof AdapterkitError && e.code === 'BAD_CONFIG' && /shared layers/.test(e.message));
    const dir = join(exportRoot(), `albert-${preset}`);
    const r = await exportTask(m, dir, { maxLength: MAX_LENGTH });
    assert.equal(r.merged, false);
    const batch = base.tokenizer.encode(TEXTS, MAX_LENGTH);
    const want = Array.from(await m.predict(batch));
    const o = await runOrt(dir, batch, base.encoder.usesTokenTypes);
    assert.ok(maxDiff(o.outputs.logits as Float32Array, want) < 1e-4, `max diff ${maxDiff(o.outputs.logits as Float32Array, want)}`);
    await m.dispose();
  });
}

test('a LoRA task on BERT still merges for the export', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = perturbedTask(base, methodConfig('lora'), { kind: 'classification', labels: ['a', 'b'] }, 32);
  assert.equal(m.mergeIssue, undefined);
  const r = await exportTask(m, join(exportRoot(), 'bert-lora'), { maxLength: MAX_LENGTH });
  assert.equal(r.merged, true);
  await m.dispose();
});

test('ALBERT + UniPELT: every depth\'s prefix gate is saved under its own key and the task loads back', async () => {
  const base = await loadBase('test/fixtures/models/tiny-albert');
  const m = perturbedTask(base, methodConfig('unipelt'), { kind: 'classification', labels: ['a', 'b'] }, 33);
  const dir = join(exportRoot(), 'albert-unipelt');
  await saveTask(m, dir, { name: 'u', maxLength: MAX_LENGTH });
  const back = await loadSavedTask(base, dir);
  const batch = base.tokenizer.encode(TEXTS, MAX_LENGTH);
  assert.ok(maxDiff(await back.model.predict(batch), await m.predict(batch)) < 1e-6);
  await m.dispose();
  await back.model.dispose();
});

test('prompt-peft: the export\'s default length leaves the prompt its positions; a longer one is refused naming them', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = perturbedTask(base, methodConfig('prompt-peft'), { kind: 'classification', labels: ['a', 'b'] }, 34);
  const dir = join(exportRoot(), 'prompt-peft');
  await exportTask(m, dir);
  assert.equal(JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')).model_max_length, 30);
  await assert.rejects(exportTask(m, join(exportRoot(), 'pp2'), { maxLength: 40 }), (e: unknown) => e instanceof AdapterkitError && e.code === 'BAD_CONFIG'
    && e.message === "max length must be an integer from 2 to the limit of 30 tokens (the base's 40 positions, less the 10 that the adapter's prompt takes), got 40");
  await m.dispose();
});

test('a sentence-pair task\'s export says that the pipeline takes single texts: run the tokenizer and the model', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = perturbedTask(base, methodConfig('lora'), { kind: 'classification', labels: ['no', 'yes'], pair: true }, 35);
  const r = await exportTask(m, join(exportRoot(), 'pair'), { maxLength: MAX_LENGTH });
  assert.equal(r.pair, true);
  assert.ok(r.notes.some((n) => n.includes('tokenizer(text, { text_pair })')), r.notes.join('\n'));
  await m.dispose();
});
