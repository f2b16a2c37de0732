/**
 * Exported tasks run in transformers.js (its own pipelines, local files only) and in plain
 * onnxruntime-node with adapterkit's scores, to 1e-4: a bottleneck adapter and a merged LoRA task
 * (text classification), a tagging task (token classification), a two-layer multi-label head,
 * QA's start/end outputs, weights in external data, and the USE-lite base (onnxruntime only).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { exportTask } from '../../src/export/index.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import type { TaskModel } from '../../src/train/task-model.js';
import { bareTwin, exportRoot, maxDiff, onnxSummary, perturbedTask, rows, runOrt, sigmoid, softmax, TINY_BERT, transformersLocal } from './helpers.js';

const TEXTS = [
  'the cat sat on the mat .',
  'a good book',
  'rain at night is not very fine',
  'Café texts, tokenizing the LONG sentence!',
  'they learn to adapt the model fast',
];
const MAX_LENGTH = 24;
const TOL = 1e-4;

let root: string;
let bert: BaseModel;
let tf: Awaited<ReturnType<typeof transformersLocal>>;

before(async () => {
  root = exportRoot();
  bert = await loadBase(TINY_BERT);
  tf = await transformersLocal(root);
});
after(() => rmSync(root, { recursive: true, force: true }));

/** adapterkit's logits of TEXTS as one padded batch, [texts, n] (or [texts, seq, n]). */
async function akLogits(m: TaskModel): Promise<{ flat: Float32Array; batch: ReturnType<BaseModel['tokenizer']['encode']> }> {
  const batch = m.base.tokenizer.encode(TEXTS, MAX_LENGTH);
  return { flat: await m.predict(batch), batch };
}

/** Scores transformers.js gives per text, by label, one text at a time and all in one batch. */
async function pipelineScores(name: string): Promise<{ single: Record<string, number>[]; batched: Record<string, number>[] }> {
  const p = await tf.pipeline('text-classification', name);
  const byLabel = (r: unknown) => Object.fromEntries((r as { label: string; score: number }[]).map((x) => [x.label, x.score]));
  const single: Record<string, number>[] = [];
  for (const t of TEXTS) single.push(byLabel(await p(t, { top_k: null })));
  const batched = ((await p(TEXTS, { top_k: null })) as unknown[]).map(byLabel);
  await p.dispose();
  return { single, batched };
}

/** Exports a sentence-classification task and checks transformers.js and onnxruntime against adapterkit. */
async function checkClassification(m: TaskModel, name: string, score: (logits: number[]) => number[], t: { diagnostic(s: string): void }): Promise<void> {
  const dir = join(root, name);
  const r = await exportTask(m, dir, { maxLength: MAX_LENGTH, name });
  assert.deepEqual(r.files.map((f) => f.path), ['config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json']);
  const n = m.head.labels.length;
  const { flat, batch } = await akLogits(m);
  const want = rows(flat, n).map(score);
  const twin = bareTwin(m);
  const bare = rows(await twin.predict(batch), n);
  await twin.dispose();
  assert.ok(maxDiff(flat, bare.flat()) > 0.05, `${name}: the adapter must move the logits (differs from the bare base by ${maxDiff(flat, bare.flat())})`);

  const got = await pipelineScores(name);
  let worst = 0;
  for (const [i, w] of want.entries()) {
    for (const g of [got.single[i], got.batched[i]]) {
      assert.deepEqual(Object.keys(g ?? {}).sort(), [...m.head.labels].sort());
      worst = Math.max(worst, maxDiff(m.head.labels.map((l) => (g as Record<string, number>)[l] as number), w));
    }
  }
  const o = await runOrt(dir, batch, bert.encoder.usesTokenTypes);
  assert.deepEqual(o.inputNames, ['input_ids', 'attention_mask', 'token_type_ids']);
  assert.deepEqual(o.outputNames, ['logits']);
  const ortDiff = maxDiff(o.outputs.logits as Float32Array, flat);
  t.diagnostic(`${name}: transformers.js scores vs adapterkit max |diff| ${worst.toExponential(2)}; onnxruntime-node logits ${ortDiff.toExponential(2)}`);
  assert.ok(worst < TOL, `${name}: transformers.js scores differ by ${worst}`);
  assert.ok(ortDiff < TOL, `${name}: onnxruntime logits differ by ${ortDiff}`);
}

test('a bottleneck adapter: transformers.js text-classification and onnxruntime-node give adapterkit\'s scores', async (t) => {
  const m = perturbedTask(bert, methodConfig('houlsby', { reduction_factor: 8 }), { kind: 'classification', labels: ['neg', 'pos', 'meh'] }, 3);
  await checkClassification(m, 'houlsby', softmax, t);
  const cfg = JSON.parse(readFileSync(join(root, 'houlsby', 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg.model_type, 'bert');
  assert.deepEqual(cfg.architectures, ['BertForSequenceClassification']);
  assert.deepEqual(cfg.id2label, { 0: 'neg', 1: 'pos', 2: 'meh' });
  assert.deepEqual(cfg.label2id, { neg: 0, pos: 1, meh: 2 });
  assert.equal(cfg.num_labels, 3);
  assert.equal(cfg.problem_type, 'single_label_classification');
  assert.deepEqual(cfg['transformers.js_config'], { dtype: 'fp32' });
  assert.equal(cfg.hidden_size, 32, 'the base config is kept');
  const tok = JSON.parse(readFileSync(join(root, 'houlsby', 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(tok.model_max_length, MAX_LENGTH);
  assert.equal(tok.tokenizer_class, 'BertTokenizer');
  assert.equal(onnxSummary(join(root, 'houlsby')).metadata['adapterkit.task'], 'houlsby');
  await m.dispose();
});

test('a LoRA task is merged for the export: the graph is the bare base\'s, the scores the adapter\'s, the task stays unmerged', async (t) => {
  const lora = methodConfig('lora', { r: 4, alpha: 8, attn_matrices: ['q', 'k', 'v'], intermediate_lora: true, output_lora: true });
  const m = perturbedTask(bert, lora, { kind: 'classification', labels: ['no', 'yes'] }, 11);
  await checkClassification(m, 'lora', softmax, t);
  assert.equal(m.isMerged, false);
  const bare = perturbedTask(bert, undefined, { kind: 'classification', labels: ['no', 'yes'] }, 12);
  const r = await exportTask(bare, join(root, 'bare'), { maxLength: MAX_LENGTH });
  assert.equal(r.merged, false);
  assert.deepEqual(onnxSummary(join(root, 'lora')).ops, onnxSummary(join(root, 'bare')).ops, 'the merged graph has the bare base\'s nodes');
  const cfg = JSON.parse(readFileSync(join(root, 'lora', 'config.json'), 'utf8')) as { adapterkit: { merged: boolean } };
  assert.equal(cfg.adapterkit.merged, true);
  await m.dispose();
  await bare.dispose();
});

test('a two-layer multi-label head: problem_type multi_label_classification, transformers.js\'s sigmoid scores are adapterkit\'s', async (t) => {
  const m = perturbedTask(bert, methodConfig('pfeiffer', { reduction_factor: 4 }), { kind: 'multilabel', labels: ['animal', 'weather', 'reading'], layers: 2 }, 21);
  await checkClassification(m, 'multilabel', (z) => z.map(sigmoid), t);
  const cfg = JSON.parse(readFileSync(join(root, 'multilabel', 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg.problem_type, 'multi_label_classification');
  await m.dispose();
});

test('a tagging task: transformers.js token-classification gives adapterkit\'s tag and score at every token', async (t) => {
  const labels = ['O', 'B-THING', 'I-THING', 'B-ACT'];
  const m = perturbedTask(bert, methodConfig('houlsby', { reduction_factor: 4 }), { kind: 'tagging', labels, scheme: 'BIO' }, 31);
  const dir = join(root, 'tagging');
  const r = await exportTask(m, dir, { maxLength: MAX_LENGTH });
  assert.equal(r.architecture, 'BertForTokenClassification');
  assert.equal(r.pipeline, 'token-classification');
  const p = await tf.pipeline('token-classification', 'tagging');
  let worst = 0;
  let checked = 0;
  for (const text of TEXTS) {
    const batch = bert.tokenizer.encode([text], MAX_LENGTH);
    const logits = rows(await m.predict(batch), labels.length); // [seq, labels]
    const got = (await p(text, { ignore_labels: [] })) as { entity: string; score: number; index: number; word: string }[];
    // transformers.js skips the special tokens ([CLS], [SEP], and [UNK] too: its decoding is empty).
    const sp = bert.tokenizer.specialIds;
    const words = Array.from(batch.inputIds).filter((id) => id !== sp?.cls && id !== sp?.sep && id !== sp?.unk).length;
    assert.equal(got.length, words, `${text}: every token but the special ones is tagged`);
    for (const g of got) {
      const probs = softmax(logits[g.index] as number[]);
      const k = probs.indexOf(Math.max(...probs));
      assert.equal(g.entity, labels[k], `${text}, token ${g.index}`);
      worst = Math.max(worst, Math.abs(g.score - (probs[k] as number)));
      checked++;
    }
    const o = await runOrt(dir, batch, true);
    worst = Math.max(worst, maxDiff(o.outputs.logits as Float32Array, logits.flat()));
  }
  await p.dispose();
  t.diagnostic(`tagging: ${checked} tokens, transformers.js scores and onnxruntime logits vs adapterkit max |diff| ${worst.toExponential(2)}`);
  assert.ok(worst < TOL, `tagging scores differ by ${worst}`);
  const twin = bareTwin(m);
  const batch = bert.tokenizer.encode(TEXTS, MAX_LENGTH);
  assert.ok(maxDiff(await m.predict(batch), await twin.predict(batch)) > 0.05, 'the adapter must move the logits');
  await twin.dispose();
  await m.dispose();
});

for (const [family, arch, inputs] of [
  ['distilbert', 'DistilBertForSequenceClassification', ['input_ids', 'attention_mask']],
  ['electra', 'ElectraForSequenceClassification', ['input_ids', 'attention_mask', 'token_type_ids']],
] as const) {
  test(`${family}: ${arch}, inputs ${inputs.join(', ')}, transformers.js gives adapterkit's scores`, async () => {
    const base = await loadBase(`test/fixtures/models/tiny-${family}`);
    const m = perturbedTask(base, methodConfig('houlsby', { reduction_factor: 8 }), { kind: 'classification', labels: ['x', 'y'] }, 81);
    const r = await exportTask(m, join(root, family), { maxLength: MAX_LENGTH });
    assert.equal(r.architecture, arch);
    assert.deepEqual(r.inputs, inputs);
    const { flat } = await akLogits(m);
    const got = await pipelineScores(family);
    const worst = Math.max(...rows(flat, 2).map((z, i) => Math.max(maxDiff(softmax(z), ['x', 'y'].map((l) => got.single[i]?.[l] as number)), maxDiff(softmax(z), ['x', 'y'].map((l) => got.batched[i]?.[l] as number)))));
    assert.ok(worst < TOL, `${family}: scores differ by ${worst}`);
    await m.dispose();
  });
}

test('a QA task exports start_logits and end_logits [batch, seq]: the two channels of adapterkit\'s logits', async () => {
  const m = perturbedTask(bert, methodConfig('lora', { r: 2 }), { kind: 'qa', labels: [] }, 41);
  const dir = join(root, 'qa');
  const r = await exportTask(m, dir, { maxLength: MAX_LENGTH });
  assert.equal(r.architecture, 'BertForQuestionAnswering');
  assert.deepEqual(r.outputs, ['start_logits', 'end_logits']);
  const batch = bert.tokenizer.encode([['what sat on the mat ?', 'the cat sat on the mat .'], ['where', 'in the house']], MAX_LENGTH);
  const logits = Array.from(await m.predict(batch)); // [B, T, 2]
  const o = await runOrt(dir, batch, true);
  assert.deepEqual(o.outputNames, ['start_logits', 'end_logits']);
  assert.ok(maxDiff(o.outputs.start_logits as Float32Array, logits.filter((_, i) => i % 2 === 0)) < TOL);
  assert.ok(maxDiff(o.outputs.end_logits as Float32Array, logits.filter((_, i) => i % 2 === 1)) < TOL);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg.id2label, undefined);
  const qa = await tf.pipeline('question-answering', 'qa');
  const a = (await qa('what sat on the mat ?', 'the cat sat on the mat .')) as { answer: string; score: number };
  assert.equal(typeof a.answer, 'string'); // transformers.js runs it (its own span decoding)
  await qa.dispose();
  await m.dispose();
});

test('weights in onnx/model.onnx_data load in transformers.js (use_external_data_format) with the same scores', async () => {
  const m = perturbedTask(bert, methodConfig('houlsby', { reduction_factor: 8 }), { kind: 'classification', labels: ['neg', 'pos'] }, 51);
  const dir = join(root, 'external');
  await exportTask(m, dir, { maxLength: MAX_LENGTH, externalData: true });
  assert.deepEqual(readdirSync(join(dir, 'onnx')).sort(), ['model.onnx', 'model.onnx_data']);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(cfg['transformers.js_config'], { dtype: 'fp32', use_external_data_format: { 'model.onnx': 1 } });
  const { flat } = await akLogits(m);
  const got = await pipelineScores(dir); // an absolute path works too
  const worst = Math.max(...rows(flat, 2).map((z, i) => maxDiff(softmax(z), ['neg', 'pos'].map((l) => got.single[i]?.[l] as number))));
  assert.ok(worst < TOL, `external data: scores differ by ${worst}`);
  await m.dispose();
});

test('a base with tokenizer.json: it is copied byte for byte, and the one written from vocab.txt tokenizes as adapterkit\'s WordPiece does', async () => {
  // The tokenizer.json written for tiny-bert's vocab.txt, loaded by adapterkit (@huggingface/tokenizers)...
  const { cpSync, writeFileSync } = await import('node:fs');
  const withJson = join(root, 'tiny-bert-json');
  cpSync(TINY_BERT, withJson, { recursive: true });
  cpSync(join(root, 'houlsby', 'tokenizer.json'), join(withJson, 'tokenizer.json'));
  const jsonBase = await loadBase(withJson);
  assert.equal(jsonBase.tokenizer.summary().kind !== bert.tokenizer.summary().kind, true, 'the copy loads through tokenizer.json');
  const probe = [...TEXTS, 'UNKNOWN wordz ???', '中国 is far', 'tree-house  tab\tcafé naïve'];
  for (const text of probe) {
    assert.deepEqual(Array.from(jsonBase.tokenizer.encode([text], 40).inputIds), Array.from(bert.tokenizer.encode([text], 40).inputIds), text);
  }
  const pairs = bert.tokenizer.encode([['a good book', 'the cat']], 40);
  assert.deepEqual(Array.from(jsonBase.tokenizer.encode([['a good book', 'the cat']], 40).tokenTypeIds), Array.from(pairs.tokenTypeIds));
  // ...and an export from that base copies it unchanged.
  writeFileSync(join(withJson, 'tokenizer.json'), readFileSync(join(withJson, 'tokenizer.json'), 'utf8').replace(/\n$/, ' \n'));
  const jb = await loadBase(withJson);
  const m = perturbedTask(jb, undefined, { kind: 'classification', labels: ['a', 'b'] }, 61);
  const r = await exportTask(m, join(root, 'copied'), { maxLength: MAX_LENGTH });
  assert.equal(r.tokenizer, 'copied');
  assert.ok(readFileSync(join(root, 'copied', 'tokenizer.json')).equals(readFileSync(join(withJson, 'tokenizer.json'))));
  await m.dispose();
});

test('USE-lite: onnx/model.onnx and config.json only, and onnxruntime-node with adapterkit\'s tokenizer gives its logits', async () => {
  const use = await loadBase('use-lite');
  const m = perturbedTask(use, methodConfig('houlsby', { reduction_factor: 16 }), { kind: 'classification', labels: ['ham', 'spam'] }, 71, 0.05);
  const dir = join(root, 'use-lite');
  const r = await exportTask(m, dir, { maxLength: 64 });
  assert.deepEqual(r.files.map((f) => f.path), ['config.json', 'onnx/model.onnx']);
  assert.equal(r.tokenizer, 'none');
  assert.equal(r.runsWith, 'onnxruntime + adapterkit tokenizer');
  assert.ok(r.notes.some((n) => /no transformers\.js tokenizer/.test(n)), r.notes.join('\n'));
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg.model_type, 'use-lite');
  assert.equal(cfg.architectures, undefined);
  assert.deepEqual(cfg.id2label, { 0: 'ham', 1: 'spam' });
  const batch = use.tokenizer.encode(['Win a FREE cruise, click now', 'see you at lunch'], 64);
  const o = await runOrt(dir, batch, use.encoder.usesTokenTypes);
  const d = maxDiff(o.outputs.logits as Float32Array, await m.predict(batch));
  assert.ok(d < TOL, `USE-lite logits differ by ${d}`);
  assert.ok(!existsSync(join(dir, 'tokenizer.json')));
  await m.dispose();
});
