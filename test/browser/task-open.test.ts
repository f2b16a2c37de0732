/**
 * A saved task opened in the ui for Predict, without a browser: the server reads it with
 * loadSavedTask (openTaskDir) and sends a TaskUpload as JSON; the worker builds its model from the
 * upload (taskModelFromUpload). For every method preset the embedded base takes, that model predicts what
 * `loadSavedTask(…, { inference: true })` predicts in Node, with an fp32 base and with an int8 one
 * (whose guard reports its plan). The browser run of the same path is in ui.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { methodConfig, PRESET_NAMES } from '../../src/adapters/methods/index.js';
import { openTaskDir, type OpenBases } from '../../src/browser/task-open.js';
import { taskModelFromUpload, type TaskUpload } from '../../src/browser/task-upload.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { predictTexts } from '../../src/train/evaluate.js';
import { summarizeFrozenPlan, type FrozenPlan } from '../../src/train/frozen-precision.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { tempDir } from '../temp-dir.js';

const TEXTS = ['Congratulations, you won a free prize! Click here now', "Can we move tomorrow's meeting to 3 pm?", 'ok'];
const maxDiff = (a: readonly number[], b: readonly number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] as number))), 0);
const logits = async (m: TaskModel) => (await predictTexts(m, TEXTS, { maxLength: 32 })).flatMap((p) => p.logits);

const embedded = await loadBase();
const bert = await loadBase('test/fixtures/models/tiny-bert');
/** What the ui server offers: the embedded base and a served tiny BERT. */
const served: OpenBases = { names: [{ name: 'use-lite' }, { name: 'tiny-bert', family: 'bert' }], load: async (n) => (n === 'use-lite' ? embedded : bert) };
const head = headConfig({ kind: 'classification', labels: ['ham', 'spam', 'other'] });

/** A saved task of `adapter` on `base` in `dir`, with trained-looking tensors (a fresh adapter is close to the identity, which would hide a wrong one). */
async function savedTask(base: BaseModel, adapter: ReturnType<typeof methodConfig>, dir: string, name: string): Promise<string> {
  const trained = TaskModel.create(base, { mode: { kind: 'adapters', adapter }, head, seed: 3 });
  for (const t of trained.trainable) t.data.forEach((x, j) => (t.data[j] = x + 0.05 * Math.sin(j * 0.37 + t.name.length)));
  const taskDir = join(dir, name);
  await saveTask(trained, taskDir, { name, maxLength: 32 });
  await trained.dispose();
  return taskDir;
}

/** The page's model from the upload against loadSavedTask's, in fp32 and in int8, on `base`. */
async function samePredictions(base: BaseModel, upload: TaskUpload, taskDir: string, what: string): Promise<void> {
  for (const precision of ['fp32', 'int8'] as const) {
    const plans: FrozenPlan[] = [];
    const inPage = taskModelFromUpload(base, upload, precision === 'int8' ? { frozenPrecision: 'int8', onFrozenPlan: (p) => plans.push(p) } : {});
    const inNode = await loadSavedTask(base, taskDir, { inference: true, ...(precision === 'int8' ? { frozenPrecision: 'int8' } : {}) });
    const [got, want] = [await logits(inPage), await logits(inNode.model)];
    // the same graph on the same tensors: only the order of float sums may differ
    assert.ok(maxDiff(got, want) < 1e-5, `${what}, ${precision}: logits ${got.join(', ')} against loadSavedTask's ${want.join(', ')}`);
    if (precision === 'int8') {
      assert.equal(plans.length, 1, `${what}: one guard plan`);
      assert.match(summarizeFrozenPlan(plans[0] as FrozenPlan), /^int8 frozen base: \d+ of \d+ matmuls int8, /, what);
    }
    await inPage.dispose();
    await inNode.model.dispose();
  }
}

test('every method preset opened for Predict (the upload the page gets) predicts what loadSavedTask predicts, with an fp32 and an int8 base', { timeout: 240_000 }, async () => {
  const dir = tempDir('adapterkit-task-open-');
  // prompt-peft joins its prompt before the word embeddings, which use-lite (the page's base) does not have
  for (const [i, preset] of PRESET_NAMES.filter((p) => p !== 'prompt-peft').entries()) {
    const taskDir = await savedTask(embedded, methodConfig(preset, /compacter/.test(preset) ? { reduction_factor: 4 } : {}), dir, `t${i}`);
    const upload = JSON.parse(JSON.stringify(await openTaskDir(served, taskDir))) as TaskUpload; // as the server sends it
    assert.equal(upload.base, undefined, `${preset}: on the embedded base`);
    await samePredictions(embedded, upload, taskDir, preset);
  }
});

test('a task trained on a served base opens on it (by its fingerprint); one on a base the server does not serve is refused by name', async () => {
  const dir = tempDir('adapterkit-task-open-');
  const taskDir = await savedTask(bert, methodConfig('paper', { reduction_factor: 4 }), dir, 'cats');
  const upload = JSON.parse(JSON.stringify(await openTaskDir(served, taskDir))) as TaskUpload;
  assert.equal(upload.base, 'tiny-bert');
  await samePredictions(bert, upload, taskDir, 'paper on tiny-bert');

  const embeddedOnly: OpenBases = { names: [{ name: 'use-lite' }], load: async () => embedded };
  await assert.rejects(openTaskDir(embeddedOnly, taskDir), {
    code: 'ADAPTER_MISMATCH',
    message: /^task cats was trained on base test\/fixtures\/models\/tiny-bert \(bert, sha256:[0-9a-f]{12}…\), which this server does not serve \(bases: use-lite\): start adapterkit ui with --base name=<that model's directory> to predict with it$/,
  });
  // a served base of the same family but other weights does not match either
  const electra = await loadBase('test/fixtures/models/tiny-electra');
  const other = await savedTask(electra, methodConfig('paper', { reduction_factor: 4 }), dir, 'other');
  await assert.rejects(openTaskDir({ names: [{ name: 'use-lite' }, { name: 'tiny-bert', family: 'electra' }], load: served.load }, other), /^AdapterkitError: task other was trained on base test\/fixtures\/models\/tiny-electra \(electra, .*\(bases: use-lite, tiny-bert \(electra\)\)/);
});
