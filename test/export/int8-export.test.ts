/**
 * `frozenPrecision: 'int8'` exports: onnx/model_quantized.onnx runs the frozen matmuls with the
 * kernels of the task's int8 outlier guard, and gives, in plain onnxruntime-node and in
 * transformers.js (`dtype: 'q8'`), what adapterkit's own int8 path predicts (to 1e-4), within
 * int8 error of the fp32 export; the per-tensor, block (MatMulNBits) and fp32 choices of the
 * guard, ALBERT's shared weights, every family's fixture, an unmerged LoRA beside the int8 base,
 * and the refusals.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { exportTask } from '../../src/export/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';
import { exportRoot, maxDiff, onnxSummary, runOrt, softmax, TINY_BERT, transformersLocal } from './helpers.js';

const TEXTS = ['the cat sat on the mat .', 'a good book', 'rain at night is not very fine', 'they learn to adapt the model fast'];
const MAX_LENGTH = 24;
const TOL = 1e-4;
/** What int8 may move the scores of these tiny tasks by, against fp32 (measured: at most 0.02). */
const INT8_SCORE_TOL = 0.05;

let root: string;
let bert: BaseModel;
let tf: Awaited<ReturnType<typeof transformersLocal>>;
before(async () => {
  root = exportRoot();
  bert = await loadBase(TINY_BERT);
  tf = await transformersLocal(root);
});
after(() => rmSync(root, { recursive: true, force: true }));

/** The same task twice, its trainable tensors moved alike: one with an int8 frozen base, one fp32. */
function twins(base: BaseModel, adapter: MethodConfig, seed: number, int8Tolerance?: number): { int8: TaskModel; fp32: TaskModel } {
  const make = (frozenPrecision: 'fp32' | 'int8') => {
    const m = TaskModel.create(base, {
      mode: { kind: 'adapters', adapter }, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed, frozenPrecision,
      ...(frozenPrecision === 'int8' && int8Tolerance !== undefined ? { int8Tolerance } : {}),
    });
    const r = new Rng(seed + 100);
    for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.3);
    return m;
  };
  return { int8: make('int8'), fp32: make('fp32') };
}

/** Logits of `<dir>/onnx/model_quantized.onnx` in plain onnxruntime-node. */
async function runQuantized(dir: string, batch: EncodedBatch): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(join(dir, 'onnx', 'model_quantized.onnx'));
  const t = (a: Int32Array) => new ort.Tensor('int64', BigInt64Array.from(a, (x) => BigInt(x)), [batch.batchSize, batch.seqLen]);
  const feeds: Record<string, ort.Tensor> = { input_ids: t(batch.inputIds), attention_mask: t(batch.attentionMask) };
  if (s.inputNames.includes('token_type_ids')) feeds.token_type_ids = t(batch.tokenTypeIds);
  const out = (await s.run(feeds)).logits?.data as Float32Array;
  await s.release();
  return out;
}

const count = (ops: string[], op: string) => ops.filter((o) => o === op).length;
/** Matrix products of a model: x @ W is a MatMul, a dense layer with a bias a Gemm (its bias the C input; engine/ops/matmul.ts). */
const products = (ops: string[]) => count(ops, 'MatMul') + count(ops, 'Gemm');

test('a Houlsby task: model_quantized.onnx gives adapterkit\'s int8 logits in onnxruntime-node and its int8 scores in transformers.js (q8), within int8 error of fp32', async (t) => {
  const { int8, fp32 } = twins(bert, methodConfig('houlsby', { reduction_factor: 8 }), 11);
  const batch = bert.tokenizer.encode(TEXTS, MAX_LENGTH);
  const dir = join(root, 'houlsby');
  const r = await exportTask(int8, dir, { maxLength: MAX_LENGTH, frozenPrecision: 'int8', guardBatch: batch });
  assert.deepEqual(r.files.map((f) => f.path), ['config.json', 'onnx/model.onnx', 'onnx/model_quantized.onnx', 'tokenizer.json', 'tokenizer_config.json']);
  const q = r.quantized;
  assert.ok(q, 'the result describes the int8 file');
  assert.deepEqual(q.nodes, { int8: 12, 'int8-block': 0 }, q.plan); // 2 layers x 6 frozen matmuls
  assert.deepEqual(q.fp32Weights, []);
  const fp = onnxSummary(dir);
  const qs = onnxSummary(dir, 'model_quantized.onnx');
  assert.equal(count(qs.ops, 'DynamicQuantizeMatMul'), 12);
  assert.equal(products(fp.ops) - products(qs.ops), 12, 'each frozen product replaced');
  assert.equal(count(fp.ops, 'Gemm') - count(qs.ops, 'Gemm'), 12, 'every frozen dense layer with its bias (a Gemm) is one DynamicQuantizeMatMul with the bias fused; the adapter\'s and head\'s Gemms stay');
  assert.equal(count(fp.ops, 'Add'), count(qs.ops, 'Add'), 'no bias Add added or left behind');
  assert.equal(qs.metadata['adapterkit.frozen_precision'], 'int8');
  assert.equal(qs.metadata['adapterkit.int8_plan'], q.plan);
  assert.equal(qs.metadata['adapterkit.head'], fp.metadata['adapterkit.head']);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { adapterkit: { int8?: { file: string; dtype: string; plan: string } }; 'transformers.js_config': unknown };
  assert.deepEqual(cfg.adapterkit.int8, { file: 'onnx/model_quantized.onnx', dtype: 'q8', plan: q.plan });
  assert.deepEqual(cfg['transformers.js_config'], { dtype: 'fp32' }, 'model.onnx stays the default');

  const ak8 = await int8.predict(batch);
  const ak32 = await fp32.predict(batch);
  const fileDiff = maxDiff(await runQuantized(dir, batch), ak8);
  assert.ok(fileDiff < TOL, `model_quantized.onnx vs adapterkit int8: ${fileDiff}`);
  const fp32File = await runOrt(dir, batch, true);
  assert.ok(maxDiff(fp32File.outputs.logits as Float32Array, ak32) < TOL, 'model.onnx is the fp32 model');

  const p = await tf.pipeline('text-classification', 'houlsby', { dtype: 'q8' });
  let worst = 0;
  let vsFp32 = 0;
  for (const text of TEXTS) {
    const got = Object.fromEntries(((await p(text, { top_k: null })) as { label: string; score: number }[]).map((x) => [x.label, x.score]));
    const one = bert.tokenizer.encode([text], MAX_LENGTH); // one text, as the pipeline runs it: int8 activations are quantised per batch
    const scores = ['neg', 'pos'].map((l) => got[l] as number);
    worst = Math.max(worst, maxDiff(scores, softmax(Array.from(await int8.predict(one)))));
    vsFp32 = Math.max(vsFp32, maxDiff(scores, softmax(Array.from(await fp32.predict(one)))));
  }
  await p.dispose();
  const ratio = q.sizeRatio;
  t.diagnostic(`houlsby int8: transformers.js q8 vs adapterkit int8 max |diff| ${worst.toExponential(2)}; vs fp32 scores ${vsFp32.toFixed(4)}; fp32 vs int8 logits ${maxDiff(ak8, ak32).toFixed(4)}; model_quantized.onnx / model.onnx ${ratio.toFixed(3)} (${q.plan})`);
  assert.ok(worst < TOL, `q8 scores vs adapterkit int8: ${worst}`);
  assert.ok(vsFp32 < INT8_SCORE_TOL, `int8 moved the scores by ${vsFp32} (allowed ${INT8_SCORE_TOL})`);
  assert.ok(vsFp32 > 0, 'the int8 file is not the fp32 one');
  assert.ok(ratio < 0.7, `the int8 file is ${ratio} of the fp32 one`);
  await int8.dispose();
  await fp32.dispose();
});

test('a LoRA task: model.onnx has it merged, model_quantized.onnx beside the int8 base as adapterkit runs it; both give adapterkit\'s logits', async () => {
  const { int8, fp32 } = twins(bert, methodConfig('lora', { r: 2 }), 12);
  const batch = bert.tokenizer.encode(TEXTS, MAX_LENGTH);
  await int8.guardFrozen(batch); // a plan made before the export is the one exported
  const dir = join(root, 'lora');
  const r = await exportTask(int8, dir, { maxLength: MAX_LENGTH, frozenPrecision: 'int8' });
  assert.equal(r.merged, true);
  assert.ok(r.notes.some((n) => n.startsWith('onnx/model_quantized.onnx keeps the adapter unmerged')), r.notes.join('\n'));
  assert.equal(int8.isMerged, false, 'the task is unmerged again');
  const fpOps = onnxSummary(dir).ops;
  const qOps = onnxSummary(dir, 'model_quantized.onnx').ops;
  assert.equal(count(qOps, 'DynamicQuantizeMatMul'), 12);
  assert.equal(products(qOps) + 12 - products(fpOps), 4 * 2, 'the 12 frozen products replaced; LoRA\'s A and B on query and value of 2 layers added, fp32');
  const ak8 = await int8.predict(batch);
  assert.ok(maxDiff(await runQuantized(dir, batch), ak8) < TOL);
  assert.ok(maxDiff((await runOrt(dir, batch, true)).outputs.logits as Float32Array, await fp32.predict(batch)) < TOL);
  await int8.dispose();
  await fp32.dispose();
});

test('the guard\'s block (MatMulNBits) and fp32 choices are exported as chosen and still give adapterkit\'s int8 logits', async () => {
  const batch = bert.tokenizer.encode(TEXTS, MAX_LENGTH);
  const probe = twins(bert, methodConfig('houlsby', { reduction_factor: 8 }), 13);
  const measured = (await probe.int8.guardFrozen(batch))?.choices.map((c) => c.errors.int8).sort((a, b) => a - b) ?? [];
  await probe.int8.dispose();
  await probe.fp32.dispose();
  const tolerance = measured[Math.floor(measured.length / 2)] as number; // about half the matmuls over it
  const { int8, fp32 } = twins(bert, methodConfig('houlsby', { reduction_factor: 8 }), 13, tolerance);
  const dir = join(root, 'mixed');
  const r = await exportTask(int8, dir, { maxLength: MAX_LENGTH, frozenPrecision: 'int8', guardBatch: batch });
  const plan = int8.frozenPlan;
  assert.ok(plan && r.quantized);
  const kernels = plan.choices.map((c) => c.kernel);
  assert.ok(kernels.includes('int8') && kernels.some((k) => k !== 'int8'), `a mixed plan: ${kernels.join(', ')}`);
  assert.deepEqual(r.quantized.nodes, { int8: kernels.filter((k) => k === 'int8').length, 'int8-block': kernels.filter((k) => k === 'int8-block').length });
  assert.deepEqual(r.quantized.fp32Weights, plan.choices.filter((c) => c.kernel === 'fp32').map((c) => c.weight));
  const qOps = onnxSummary(dir, 'model_quantized.onnx').ops;
  assert.equal(count(qOps, 'MatMulNBits'), r.quantized.nodes['int8-block']);
  const d = maxDiff(await runQuantized(dir, batch), await int8.predict(batch));
  assert.ok(d < TOL, `mixed plan: ${d}`);
  await int8.dispose();
  await fp32.dispose();
});

test('a predict-only task (as adapterkit export loads it): its adapter matmuls are in the plan and in model_quantized.onnx, which gives its int8 logits', async () => {
  const { int8, fp32 } = twins(bert, methodConfig('houlsby', { reduction_factor: 8 }), 15, 1); // tolerance 1: every product int8
  const served = TaskModel.create(bert, { mode: int8.mode, head: int8.head, seed: 15, weights: int8.owned, frozenPrecision: 'int8', int8Tolerance: 1, predictOnly: true });
  const batch = bert.tokenizer.encode(TEXTS, MAX_LENGTH);
  const dir = join(root, 'predict-only');
  const r = await exportTask(served, dir, { maxLength: MAX_LENGTH, frozenPrecision: 'int8', guardBatch: batch });
  const plan = served.frozenPlan;
  assert.ok(plan && r.quantized);
  const adapters = plan.adapters ?? [];
  assert.equal(adapters.length, 8, 'down and up at both sites of both layers');
  assert.ok(adapters.every((c) => c.kernel === 'int8'));
  assert.deepEqual(r.quantized.nodes, { int8: plan.choices.length + adapters.length, 'int8-block': 0 });
  assert.equal(count(onnxSummary(dir, 'model_quantized.onnx').ops, 'DynamicQuantizeMatMul'), plan.choices.length + adapters.length);
  const d = maxDiff(await runQuantized(dir, batch), await served.predict(batch));
  assert.ok(d < TOL, `the file against the predict-only task's int8 logits: ${d}`);
  assert.ok(maxDiff(await runQuantized(dir, batch), await int8.predict(batch)) > d, 'and further from a trainable task\'s (fp32 adapter products)');
  for (const m of [int8, fp32, served]) await m.dispose();
});

test('ALBERT: a weight its layers share is quantised once and read by every layer\'s node', async () => {
  const albert = await loadBase('test/fixtures/models/tiny-albert');
  const { int8, fp32 } = twins(albert, methodConfig('houlsby', { reduction_factor: 8 }), 14);
  const batch = albert.tokenizer.encode(TEXTS, MAX_LENGTH);
  const dir = join(root, 'albert');
  const r = await exportTask(int8, dir, { maxLength: MAX_LENGTH, frozenPrecision: 'int8', guardBatch: batch });
  const planned = int8.frozenPlan?.choices.length ?? 0;
  assert.ok(r.quantized && r.quantized.nodes.int8 > planned, `${r.quantized?.nodes.int8} nodes for ${planned} weights`);
  assert.ok(maxDiff(await runQuantized(dir, batch), await int8.predict(batch)) < TOL);
  await int8.dispose();
  await fp32.dispose();
});

test('int8 refusals: a task model without an int8 base, no plan and no guard batch, external data', async () => {
  const { int8, fp32 } = twins(bert, methodConfig('houlsby', { reduction_factor: 8 }), 15);
  await assert.rejects(exportTask(fp32, join(root, 'r1'), { frozenPrecision: 'int8' }), /frozen precision int8 \(onnx\/model_quantized\.onnx\) needs the task model created with frozenPrecision: 'int8'/);
  await assert.rejects(exportTask(int8, join(root, 'r2'), { frozenPrecision: 'int8' }), /the task model has no int8 plan yet; pass guardBatch/);
  await int8.guardFrozen(bert.tokenizer.encode(TEXTS, MAX_LENGTH));
  await assert.rejects(exportTask(int8, join(root, 'r3'), { frozenPrecision: 'int8', externalData: true }), /int8 with the weights in onnx\/model\.onnx_data is not implemented/);
  await assert.rejects(exportTask(int8, join(root, 'r4'), { frozenPrecision: 'fp16' as 'int8' }), /unknown frozen precision "fp16" \(fp32, int8\)/);
  await int8.dispose();
  await fp32.dispose();
});

test('every family: model_quantized.onnx gives adapterkit\'s int8 logits (DeBERTa\'s relative projections through the shared query and key weights quantised as adapterkit does)', async (t) => {
  const lines: string[] = [];
  // tiny-deberta-v2's 17th is its embedding projection (E = 16 to D = 32)
  for (const [fixture, nodes] of [['tiny-xlmr', 12], ['tiny-distilbert', 12], ['tiny-electra', 13], ['tiny-deberta-v2', 17], ['tiny-deberta-v3', 16], ['tiny-modernbert', 12], ['tiny-mpnet', 12]] as const) {
    const base = await loadBase(`test/fixtures/models/${fixture}`);
    const { int8, fp32 } = twins(base, methodConfig('lora', { r: 2 }), 16);
    const batch = base.tokenizer.encode(TEXTS, MAX_LENGTH);
    const dir = join(root, `family-${fixture}`);
    const r = await exportTask(int8, dir, { maxLength: MAX_LENGTH, frozenPrecision: 'int8', guardBatch: batch });
    assert.equal(r.quantized?.nodes.int8, nodes, `${fixture}: ${r.quantized?.plan}`);
    const d = maxDiff(await runQuantized(dir, batch), await int8.predict(batch));
    lines.push(`${fixture} ${d.toExponential(1)}`);
    assert.ok(d < TOL, `${fixture}: ${d}`);
    await int8.dispose();
    await fp32.dispose();
  }
  t.diagnostic(`model_quantized.onnx vs adapterkit int8, max |diff|: ${lines.join(', ')}`);
});
