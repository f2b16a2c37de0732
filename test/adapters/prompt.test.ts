/**
 * Prompt tuning beyond the PyTorch parity fixtures (test/adapters/methods.test.ts runs `prompt` and
 * `prompt-bos`): the prompt lengthens the sequence inside the encoder only, so padding, pair inputs,
 * tagging and QA heads see the input's own positions; finite differences through the other encoder
 * families; AdapterHub's files written and read back; the initialisation from a text; the clear
 * refusals (PEFT's other function, fields, mixed batches, compositions, two prompts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseComposition } from '../../src/adapters/composition.js';
import { composeHooks, type MethodContext } from '../../src/adapters/method.js';
import { fromPeftConfigFields, methodConfig, methodOf, promptConfig, promptFromText, type PromptConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { readSafetensors } from '../../src/models/weights/index.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { mixedTrainingRefusal } from '../../src/train/multi-task-train-model.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { cli, tempDir, TINY_BERT, writeToyCsv } from '../cli/harness.js';
import type { ClassifyOutput } from '../../src/serve/backend.js';

const texts = ['the cat sat on the mat .', 'a good book', 'rain at night in the house'];
const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'], dropout: 0 });
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

function promptModel(base: BaseModel, c: PromptConfig, h = head, seed = 2): TaskModel {
  return TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head: h, seed, dropout: 0 });
}

test('the prompt is inside the encoder only: padding, pair inputs, tagging and QA heads give what each row gives alone', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const rows: (string | [string, string])[] = ['a good book', ['the cat sat on the mat .', 'rain at night'], 'rain'];
  const batch = base.tokenizer.encode(rows, 16);
  const bare = TaskModel.create(base, { mode: { kind: 'head-only' }, head, seed: 2 });
  for (const combine of ['prefix', 'prefix_after_bos'] as const) {
    const c = promptConfig({ prompt_length: 4, combine });
    const m = promptModel(base, c);
    const all = await m.predict(batch);
    assert.ok(maxAbs(all, await bare.predict(batch)) > 1e-3, `${combine}: the prompt changes the logits`);
    for (let r = 0; r < rows.length; r++) {
      const one = await m.predict(base.tokenizer.encode([rows[r] as string], 16));
      assert.ok(maxAbs(one, all.subarray(3 * r, 3 * r + 3)) < 1e-5, `${combine} row ${r}: alone vs in the padded batch`);
    }
    for (const h of [headConfig({ kind: 'tagging', labels: ['O', 'B', 'I'], dropout: 0 }), headConfig({ kind: 'qa', labels: [], dropout: 0 })]) {
      const t = promptModel(base, c, h);
      const plain = TaskModel.create(base, { mode: { kind: 'head-only' }, head: h, seed: 2 });
      const out = await t.predict(batch);
      const k = h.kind === 'qa' ? 2 : 3;
      assert.equal(out.length, batch.batchSize * batch.seqLen * k, `${combine} ${h.kind}: one output per input token, none for the prompt`);
      assert.ok(maxAbs(out, await plain.predict(batch)) > 1e-3, `${combine} ${h.kind}: the prompt changes the token outputs`);
      const short = base.tokenizer.encode([rows[0] as string], 16);
      assert.ok(maxAbs(await t.predict(short), out.subarray(0, short.seqLen * k)) < 1e-5, `${combine} ${h.kind}: the first row alone vs padded`);
      // the token loss reads [B, T] labels: the prompt positions are not tokens to tag
      const labels = Array.from({ length: batch.batchSize }, (_, r) => Array.from({ length: batch.seqLen }, (_, j) => (batch.attentionMask[r * batch.seqLen + j] ? j % 3 : -100)));
      if (h.kind === 'tagging') assert.ok(Number.isFinite((await t.trainStep(batch, labels)).loss));
      await t.dispose();
      await plain.dispose();
    }
    await m.dispose();
  }
  await bare.dispose();
});

test('finite differences through the prompt on DistilBERT, XLM-R (RoBERTa positions), ELECTRA (projected embeddings), ALBERT and USE-lite', async () => {
  const cases: [string, PromptConfig][] = [
    ['test/fixtures/models/tiny-distilbert', promptConfig({ prompt_length: 3 })],
    ['test/fixtures/models/tiny-xlmr', promptConfig({ prompt_length: 2, combine: 'prefix_after_bos' })],
    ['test/fixtures/models/tiny-electra', promptConfig({ prompt_length: 2 })],
    ['test/fixtures/models/tiny-albert', promptConfig({ prompt_length: 2 })],
    ['use-lite', promptConfig({ prompt_length: 2 })],
  ];
  for (const [dir, c] of cases) {
    const base = await loadBase(dir);
    const batch = base.tokenizer.encode(texts, 16);
    const m = promptModel(base, c);
    const labels = [0, 2, 1];
    const { grads } = await m.trainStep(batch, labels);
    const k = m.trainable.findIndex((t) => t.origin === 'adapter');
    const t = m.trainable[k]!;
    assert.deepEqual(t.shape, [c.prompt_length, base.encoder.sites.embeddings.width]);
    const g = grads[k] as Float32Array;
    const eps = 2e-3;
    for (const i of [0, g.length - 1]) {
      const orig = t.data[i]!;
      t.data[i] = orig + eps;
      const lp = (await m.trainStep(batch, labels)).loss;
      t.data[i] = orig - eps;
      const lm = (await m.trainStep(batch, labels)).loss;
      t.data[i] = orig;
      const numeric = (lp - lm) / (2 * eps);
      assert.ok(Math.abs(numeric) > 1e-6, `${dir}: the loss does not depend on the prompt`);
      assert.ok(Math.abs(g[i]! - numeric) <= 5e-4 + 5e-2 * Math.abs(numeric), `${dir} prompt[${i}]: analytic ${g[i]}, numeric ${numeric}`);
    }
    await m.dispose();
  }
});

test('AdapterHub files: key, config, read back from .safetensors and from .bin alone; PEFT\'s layout is refused with the reason', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = promptModel(base, promptConfig({ prompt_length: 3, combine: 'prefix_after_bos' }));
  const root = tempDir('ak-prompt-');
  const dir = join(root, 'pr');
  const notes = await saveTask(m, dir, { name: 'pr', maxLength: 16 });
  const ad = await readSafetensors(join(dir, 'adapter.safetensors'));
  assert.deepEqual(Object.fromEntries([...ad].map(([k, t]) => [k, t.shape])), { 'bert.prompt_tuning.prompt_tunings.pr.prompt_embedding.weight': [3, 32] });
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).config, {
    architecture: 'prompt_tuning', combine: 'prefix_after_bos', init_weights_seed: null, prompt_init: 'random_uniform', prompt_init_text: null, prompt_length: 3,
  });
  assert.ok(!readdirSync(dir).includes('peft'));
  assert.ok(notes.some((n) => /PEFT cannot load this adapter \(PEFT's prompt tuning joins its prompt to the word embeddings, before positions, token types and LayerNorm/.test(n)), notes.join('\n'));
  const batch = base.tokenizer.encode(texts, 16);
  const want = await m.predict(batch);
  const back = await loadSavedTask(base, dir);
  assert.deepEqual(back.model.mode, m.mode);
  assert.ok(maxAbs(await back.model.predict(batch), want) < 1e-6);
  rmSync(join(dir, 'adapterkit.json'));
  rmSync(join(dir, 'adapter.safetensors'));
  const hub = await loadSavedTask(base, dir);
  assert.equal(hub.origin, 'adapterhub');
  assert.ok(maxAbs(await hub.model.predict(batch), want) < 1e-6);
  // PEFT's prompt tuning is the prompt-peft preset (placement "peft")
  const fromPeft = fromPeftConfigFields({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, token_dim: 32 }, base.encoder, 'peft/adapter_config.json', () => []);
  assert.deepEqual(fromPeft, promptConfig({ prompt_length: 4 }, 'prompt-peft'));
  assert.throws(() => fromPeftConfigFields({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, token_dim: 64 }, base.encoder, 'p', () => []), /p: token_dim 64 does not fit the bert encoder \(32\)/);
  for (const x of [back, hub]) await x.model.dispose();
  await m.dispose();
  rmSync(root, { recursive: true, force: true });
});

test('PEFT\'s placement (before the word embeddings): padding and RoBERTa positions, finite differences, PEFT\'s files read back, AdapterHub\'s refused', async () => {
  for (const dir of ['test/fixtures/models/tiny-bert', 'test/fixtures/models/tiny-xlmr', 'test/fixtures/models/tiny-distilbert']) {
    const base = await loadBase(dir);
    const c = promptConfig({ prompt_length: 3 }, 'prompt-peft');
    const m = promptModel(base, c);
    const batch = base.tokenizer.encode(texts, 16);
    const all = await m.predict(batch);
    for (let r = 0; r < texts.length; r++) {
      const one = await m.predict(base.tokenizer.encode([texts[r]!], 16));
      assert.ok(maxAbs(one, all.subarray(3 * r, 3 * r + 3)) < 1e-5, `${dir} row ${r}: alone vs in the padded batch`);
    }
    const { grads } = await m.trainStep(batch, [0, 2, 1]);
    const k = m.trainable.findIndex((t) => t.origin === 'adapter');
    const t = m.trainable[k]!;
    const eps = 2e-3;
    const orig = t.data[1]!;
    t.data[1] = orig + eps;
    const lp = (await m.trainStep(batch, [0, 2, 1])).loss;
    t.data[1] = orig - eps;
    const lm = (await m.trainStep(batch, [0, 2, 1])).loss;
    t.data[1] = orig;
    const numeric = (lp - lm) / (2 * eps);
    assert.ok(Math.abs(numeric) > 1e-6 && Math.abs(grads[k]![1]! - numeric) <= 5e-4 + 5e-2 * Math.abs(numeric), `${dir}: analytic ${grads[k]![1]}, numeric ${numeric}`);
    await m.dispose();
  }
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = promptModel(base, promptConfig({ prompt_length: 3 }, 'prompt-peft'));
  const root = tempDir('ak-prompt-');
  const dir = join(root, 'pp');
  const notes = await saveTask(m, dir, { name: 'pp', maxLength: 16 });
  assert.ok(notes.some((n) => /AdapterHub joins its prompt to the embeddings' output; this one \(placement "peft"\) is joined before the word embeddings/.test(n)), notes.join('\n'));
  const peft = JSON.parse(readFileSync(join(dir, 'peft', 'adapter_config.json'), 'utf8'));
  assert.deepEqual({ ...peft, base_model_name_or_path: undefined }, {
    auto_mapping: null, base_model_name_or_path: undefined, inference_mode: true, modules_to_save: ['classifier', 'score'], num_attention_heads: 4, num_layers: 2,
    num_transformer_submodules: 1, num_virtual_tokens: 3, peft_type: 'PROMPT_TUNING', peft_version: '0.20.1.dev0@UNKNOWN', prompt_tuning_init: 'RANDOM',
    prompt_tuning_init_text: null, revision: null, task_type: 'SEQ_CLS', token_dim: 32, tokenizer_kwargs: null, tokenizer_name_or_path: null,
  });
  const pw = await readSafetensors(join(dir, 'peft', 'adapter_model.safetensors'));
  assert.deepEqual(pw.get('prompt_embeddings')?.shape, [3, 32]);
  const batch = base.tokenizer.encode(texts, 16);
  const back = await loadSavedTask(base, join(dir, 'peft'));
  assert.deepEqual(back.model.mode, m.mode);
  assert.ok(maxAbs(await back.model.predict(batch), await m.predict(batch)) < 1e-6);
  await back.model.dispose();
  await m.dispose();
  rmSync(root, { recursive: true, force: true });
  assert.throws(() => promptConfig({ combine: 'prefix_after_bos' }, 'prompt-peft'), /combine "prefix_after_bos": PEFT's prompt \(placement "peft"\) always comes before every token/);
  const albert = await loadBase('test/fixtures/models/tiny-albert');
  assert.throws(() => promptModel(albert, promptConfig({}, 'prompt-peft')), /placement "peft" \(before the word embeddings\) is implemented for the BERT family encoders \(bert, roberta, xlm-roberta, distilbert, electra\), not albert/);
});

test('prompt_init "from_string": the word embeddings of the text\'s tokens (special tokens included), repeated to the prompt length', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const c = promptConfig({ prompt_length: 5, prompt_init: 'from_string', prompt_init_text: 'good book' });
  const start = promptFromText(c, base, 'adapter');
  const p = start.get('adapters.adapter.shared.prompt_embedding')!;
  assert.deepEqual(p.shape, [5, 32]);
  const enc = base.tokenizer.encode(['good book'], 16);
  const ids = Array.from(enc.inputIds.subarray(0, enc.lengths[0]));
  assert.equal(ids.length, 4); // [CLS] good book [SEP]
  const table = base.weights.get('embeddings.word_embeddings.weight')!;
  for (let i = 0; i < 5; i++) assert.deepEqual(Array.from(p.data.subarray(i * 32, (i + 1) * 32)), Array.from(table.data.subarray(ids[i % 4]! * 32, (ids[i % 4]! + 1) * 32)), `row ${i}`);
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head, seed: 1, adapterWeights: start });
  assert.deepEqual(Array.from(m.owned.get('adapters.adapter.shared.prompt_embedding')!.data), Array.from(p.data));
  await m.dispose();
  const electra = await loadBase('test/fixtures/models/tiny-electra');
  assert.throws(() => promptFromText(c, electra, 'adapter'), /prompt_init "from_string": the electra encoder projects its 16-wide embeddings to 32: AdapterHub joins its prompt before that projection, adapterkit after it/);
  assert.match(JSON.stringify(methodOf(c).adapterHub.config(c, electra.encoder)), /"unsupported":"the electra encoder projects its 16-wide embeddings to 32/);
});

test('refusals: fields, USE-lite without a sequence-start token, PEFT\'s placement in mixed-task batches, compositions, two prompts', async () => {
  assert.throws(() => promptConfig({ leave_out: [0] }), /leave_out \[0\]: a prompt joins the input of the first layer, there are no layers to leave out/);
  assert.throws(() => promptConfig({ combine: 'suffix' as never }), /combine "suffix" is not one of "prefix", "prefix_after_bos"/);
  assert.throws(() => promptConfig({ prompt_init: 'from_string' }), /prompt_init "from_string" needs a prompt_init_text/);
  assert.throws(() => methodConfig('prompt', { prompt_length: 2.5 }), /prompt_length must be an integer >= 1, got 2.5/);
  assert.equal(methodConfig('prompt_tuning').preset, 'prompt');
  const lite = await loadBase('use-lite');
  assert.throws(() => promptModel(lite, promptConfig({ combine: 'prefix_after_bos' })), /combine "prefix_after_bos" keeps the sequence-start token first, and USE-lite's inputs have none/);
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = promptModel(base, promptConfig({ prompt_length: 2 }));
  assert.equal(mixedTrainingRefusal('p', m, base), undefined); // joins mixed-task training (test/train/multi-task-train.test.ts)
  assert.match(mixedTrainingRefusal('pp', promptModel(base, promptConfig({ placement: 'peft' })), base) ?? '', /task pp cannot share a mixed batch: PEFT's prompt joins before the word embeddings/);
  assert.throws(() => new MultiTaskModel(base).add('pp', promptModel(base, promptConfig({ placement: 'peft' }))), /task pp cannot share a mixed batch: PEFT's prompt joins before the word embeddings and shifts the positions of the input's tokens by its length/);
  assert.throws(() => TaskModel.create(base, {
    mode: { kind: 'adapters', active: parseComposition('Stack(p, q)'), adapters: [{ name: 'p', config: promptConfig() }, { name: 'q', config: methodConfig('lora') }] },
    head, seed: 1,
  }), /Stack\(p, q\): adapter p is prompt tuning \(P=10, prefix\), which cannot be composed: AdapterHub joins the prompt of an active setup's first adapter only \(PromptTuningLayer.forward: adapter_setup.first\(\)\) to every row and ignores a prompt-tuning adapter anywhere else in it/);
  const ctx = { w: () => { throw new Error('unused'); }, gathered: false, dropout: (x: unknown) => x, layerNorm: () => { throw new Error('unused'); } } as unknown as MethodContext;
  const one = methodOf(promptConfig()).hooks(promptConfig(), base.encoder, 'a', ctx);
  assert.throws(() => composeHooks([one, one]), /2 adapters join prompts to the input; one prompt-tuning adapter fits a model/);
  // the server mixes it with other tasks (more in test/serve/mixed-positions.test.ts)
  const backend = new ModelBackend(base, { maxLength: 16 });
  backend.attach('p', m);
  const out = await backend.classify([{ task: 'p', input: texts[1]! }]);
  const logits = await m.predict(base.tokenizer.encode([texts[1]!], 16));
  const e = Array.from(logits, (v) => Math.exp(v));
  assert.ok(maxAbs(Object.values((out[0] as ClassifyOutput).scores), e.map((v) => v / e.reduce((a, b) => a + b, 0))) < 1e-5);
  await backend.dispose();
});

test('adapterkit train --method prompt with --prompt-length and --prompt-init-text, then eval', async () => {
  const dir = tempDir('ak-cli-prompt-');
  writeToyCsv(join(dir, 'train.csv'), 48, 1);
  writeToyCsv(join(dir, 'dev.csv'), 16, 2);
  const data = ['--train', join(dir, 'train.csv'), '--dev', join(dir, 'dev.csv'), '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--epochs', '1', '--batch-size', '16', '--max-length', '16', '--seed', '3'];
  const r = await cli('train', ...data, '--method', 'prompt', '--prompt-length', '3', '--prompt-init-text', 'good', '--prompt-combine', 'prefix_after_bos', '--out', join(dir, 'run'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /mode:\s+prompt tuning \(P=3, prefix_after_bos, from "good"\)/);
  const best = join(dir, 'run', 'best');
  assert.deepEqual(JSON.parse(readFileSync(join(best, 'adapter_config.json'), 'utf8')).config.prompt_init_text, 'good');
  const ev = await cli('eval', best, '--dev', join(dir, 'dev.csv'), '--text', 'sentence', '--label', 'sentiment', '--json');
  assert.equal(ev.code, 0, ev.stderr);
  const wrong = await cli('train', ...data, '--method', 'prefix', '--prompt-length', '3', '--out', join(dir, 'x'));
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /--prompt-length does not apply to --method prefix \(a prefix_tuning method\)/);
});
