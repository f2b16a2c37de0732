/**
 * `adapterkit export`: help, summary and steps, int8 (model_quantized.onnx, the guard's flags),
 * coded refusals (an unsupported head, stray int8 flags, an existing --out), and the atomic
 * output directory: a refused or failed export leaves nothing half-written (no directory, or the
 * old one untouched, and no temporary sibling).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { exportTask } from '../../src/export/index.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { saveTask } from '../../src/train/task-io.js';
import { cli } from '../cli/harness.js';
import { exportRoot, perturbedTask, TINY_BERT } from './helpers.js';

let root: string;
let bert: BaseModel;
let taskDir: string;
let regressionDir: string;

/** Entries of `root` that are left-over temporary or backup directories of an export. */
const leftovers = () => readdirSync(root).filter((n) => /\.tmp-|\.old-/.test(n));

before(async () => {
  root = exportRoot();
  bert = await loadBase(TINY_BERT);
  const m = perturbedTask(bert, methodConfig('lora', { r: 2 }), { kind: 'classification', labels: ['neg', 'pos'] }, 5);
  taskDir = join(root, 'task');
  await saveTask(m, taskDir, { name: 'toy', maxLength: 24 });
  await m.dispose();
  const r = perturbedTask(bert, undefined, { kind: 'regression', labels: [] }, 6);
  regressionDir = join(root, 'regression-task');
  await saveTask(r, regressionDir, { name: 'sts', maxLength: 24 });
  await r.dispose();
});
after(() => rmSync(root, { recursive: true, force: true }));

test('export --help shows the layout, the options and examples; the command list has export', async () => {
  const r = await cli('export', '--help');
  assert.equal(r.code, 0);
  for (const s of ['<task-dir>', '--out', '--base', '--max-length', '--force', '--external-data', '--frozen-precision', '--json', 'onnx/model.onnx', 'config.json', 'tokenizer.json', 'use-lite', 'Examples:', 'pipeline(']) {
    assert.ok(r.stdout.includes(s), `export --help lacks ${s}:\n${r.stdout}`);
  }
  assert.match((await cli('--help')).stdout, /^\s+export\b/m);
});

test('export writes the layout, prints steps to stderr and a summary to stdout; --json; an existing --out needs --force', async () => {
  const out = join(root, 'out');
  const r = await cli('export', taskDir, '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /loading .*task\.\.\.\n/);
  assert.match(r.stderr, /writing onnx\/model\.onnx/);
  assert.match(r.stdout, /^exported toy to .*out in /);
  for (const s of ['config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json', 'BertForSequenceClassification', 'input_ids, attention_mask, token_type_ids', 'merged into the frozen weights', "env.allowRemoteModels = false; await pipeline('text-classification', '/"]) {
    assert.ok(r.stdout.includes(s), `summary lacks ${s}:\n${r.stdout}`);
  }
  assert.deepEqual(readdirSync(out).sort(), ['config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json']);
  assert.equal(JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')).model_max_length, 24, 'the training max length');
  const before = readFileSync(join(out, 'onnx', 'model.onnx'));

  const again = await cli('export', taskDir, '--out', out);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /error \[BAD_CONFIG\]: .*out already exists; choose another directory or replace it with --force/);
  assert.ok(readFileSync(join(out, 'onnx', 'model.onnx')).equals(before), 'the existing export is untouched');

  const forced = await cli('export', taskDir, '--out', out, '--force', '--json', '--max-length', '16');
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(forced.stderr, '', 'no step lines with --json');
  const j = JSON.parse(forced.stdout) as { task: string; outputs: string[]; merged: boolean; files: { path: string }[] };
  assert.equal(j.task, 'toy');
  assert.deepEqual(j.outputs, ['logits']);
  assert.equal(j.merged, true);
  assert.equal(JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')).model_max_length, 16);
  assert.deepEqual(leftovers(), []);
});

test('a regression head is refused with what transformers.js cannot express; nothing is written', async () => {
  const out = join(root, 'regression-out');
  const r = await cli('export', regressionDir, '--out', out);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /error \[UNSUPPORTED_MODEL\]: a regression head cannot be exported: transformers\.js's text-classification pipeline turns the logits into softmax scores/);
  assert.ok(!existsSync(out));
  assert.deepEqual(leftovers(), []);
});

test('--frozen-precision int8 writes onnx/model_quantized.onnx and prints the guard\'s plan and the size; --guard-input; bad values; a missing task directory is NOT_FOUND', async () => {
  const texts = join(root, 'guard.txt');
  writeFileSync(texts, 'the cat sat on the mat .\na good book\n\nrain at night\n');
  const out = join(root, 'int8');
  const r = await cli('export', taskDir, '--out', out, '--frozen-precision', 'int8', '--guard-input', texts, '--int8-tolerance', '0.05');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /int8 frozen base: 12 of 12 matmuls int8, 0 int8-block, 0 fp32 \(tolerance 0\.05, worst int8 error [\d.]+\)/);
  assert.match(r.stderr, /writing onnx\/model_quantized\.onnx/);
  assert.match(r.stdout, /onnx\/model_quantized\.onnx is \d+ % of model\.onnx; 12 DynamicQuantizeMatMul, 0 MatMulNBits nodes, 0 frozen matmuls kept fp32/);
  assert.ok(r.stdout.includes("{ dtype: 'q8' })"), r.stdout);
  assert.deepEqual(readdirSync(join(out, 'onnx')).sort(), ['model.onnx', 'model_quantized.onnx']);
  const help = await cli('export', '--help');
  for (const s of ['--int8-tolerance', '--guard-input', 'model_quantized.onnx', "dtype: 'q8'"]) assert.ok(help.stdout.includes(s), `export --help lacks ${s}`);

  const stray = await cli('export', taskDir, '--out', join(root, 'z'), '--guard-input', texts);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /error \[BAD_CONFIG\]: --guard-input applies to --frozen-precision int8 only/);
  const tol = await cli('export', taskDir, '--out', join(root, 'z'), '--int8-tolerance', '0.1');
  assert.equal(tol.code, 2);
  assert.match(tol.stderr, /--int8-tolerance 0\.1 applies to --frozen-precision int8 only/);
  const external = await cli('export', taskDir, '--out', join(root, 'z'), '--frozen-precision', 'int8', '--external-data', 'always');
  assert.equal(external.code, 2);
  assert.match(external.stderr, /int8 with the weights in onnx\/model\.onnx_data is not implemented/);
  assert.ok(!existsSync(join(root, 'z')));
  const bad = await cli('export', taskDir, '--out', join(root, 'x'), '--frozen-precision', 'fp16');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Allowed choices are fp32, int8/);
  const missing = await cli('export', join(root, 'nope'), '--out', join(root, 'y'));
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /error \[NOT_FOUND\]: task directory .*nope does not exist/);
});

test('an export that fails while writing leaves no directory, and an overwrite that fails keeps the old one', async () => {
  const m = perturbedTask(bert, methodConfig('houlsby', { reduction_factor: 8 }), { kind: 'classification', labels: ['a', 'b'] }, 9);
  const boom = (line: string) => {
    if (line.startsWith('writing config.json')) throw new Error('disk full (simulated)');
  };
  const out = join(root, 'failed');
  await assert.rejects(exportTask(m, out, { onStep: boom }), /disk full \(simulated\)/);
  assert.ok(!existsSync(out), 'no half-written export');
  assert.deepEqual(leftovers(), []);

  const old = join(root, 'old');
  mkdirSync(old);
  writeFileSync(join(old, 'keep.txt'), 'previous export');
  await assert.rejects(exportTask(m, old, { onStep: boom, overwrite: true }), /disk full/);
  assert.deepEqual(readdirSync(old), ['keep.txt'], 'the old export is untouched');
  const r = await exportTask(m, old, { overwrite: true });
  assert.deepEqual(readdirSync(old).sort(), ['config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json']);
  assert.equal(r.merged, false);
  assert.deepEqual(leftovers(), []);
  await assert.rejects(exportTask(m, join(root, 'q8'), { frozenPrecision: 'int8' }), /frozen precision int8 \(onnx\/model_quantized\.onnx\) needs the task model created with frozenPrecision: 'int8'/);
  await assert.rejects(exportTask(m, join(root, 'long'), { maxLength: 41 }), /max length must be an integer from 2 to the base's limit of 40 tokens, got 41/);
  await m.dispose();
});
