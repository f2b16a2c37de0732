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
import { openTaskDir } from '../../src/browser/task-open.js';
import { taskModelFromUpload, type TaskUpload } from '../../src/browser/task-upload.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { predictTexts } from '../../src/train/evaluate.js';
import { summarizeFrozenPlan, type FrozenPlan } from '../../src/train/frozen-precision.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { tempDir } from '../temp-dir.js';

const TEXTS = ['Congratulations, you won a free prize! Click here now', "Can we move tomorrow's meeting to 3 pm?", 'ok'];
const maxDiff = (a: readonly number[], b: readonly number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] as number))), 0);
const logits = async (m: TaskModel) => (await predictTexts(m, TEXTS, { maxLength: 32 })).flatMap((p) => p.logits);

test('every method preset opened for Predict (the upload the page gets) predicts what loadSavedTask predicts, with an fp32 and an int8 base', { timeout: 240_000 }, async () => {
  const base = await loadBase();
  const dir = tempDir('adapterkit-task-open-');
  // prompt-peft joins its prompt before the word embeddings, which use-lite (the page's base) does not have
  for (const [i, preset] of PRESET_NAMES.filter((p) => p !== 'prompt-peft').entries()) {
    const adapter = methodConfig(preset, /compacter/.test(preset) ? { reduction_factor: 4 } : {});
    const trained = TaskModel.create(base, { mode: { kind: 'adapters', adapter }, head: headConfig({ kind: 'classification', labels: ['ham', 'spam', 'other'] }), seed: 3 });
    // trained-looking tensors: a fresh adapter is close to the identity, which would hide a wrong one
    for (const t of trained.trainable) t.data.forEach((x, j) => (t.data[j] = x + 0.05 * Math.sin(j * 0.37 + t.name.length)));
    const taskDir = join(dir, `t${i}`);
    await saveTask(trained, taskDir, { name: `t${i}`, maxLength: 32 });
    await trained.dispose();

    const upload = JSON.parse(JSON.stringify(await openTaskDir(base, taskDir))) as TaskUpload; // as the server sends it
    for (const precision of ['fp32', 'int8'] as const) {
      const plans: FrozenPlan[] = [];
      const inPage = taskModelFromUpload(base, upload, precision === 'int8' ? { frozenPrecision: 'int8', onFrozenPlan: (p) => plans.push(p) } : {});
      const inNode = await loadSavedTask(base, taskDir, { inference: true, ...(precision === 'int8' ? { frozenPrecision: 'int8' } : {}) });
      const [got, want] = [await logits(inPage), await logits(inNode.model)];
      // the same graph on the same tensors: only the order of float sums may differ
      assert.ok(maxDiff(got, want) < 1e-5, `${preset}, ${precision}: logits ${got.join(', ')} against loadSavedTask's ${want.join(', ')}`);
      if (precision === 'int8') {
        assert.equal(plans.length, 1, `${preset}: one guard plan`);
        assert.match(summarizeFrozenPlan(plans[0] as FrozenPlan), /^int8 frozen base: \d+ of \d+ matmuls int8, /, preset);
      }
      await inPage.dispose();
      await inNode.model.dispose();
    }
  }
});
