/**
 * PEFT's prompt (prompt-peft) enters before the position embeddings, so its P virtual tokens take
 * P of the base's positions: inputs get at most limit − P tokens, capped in the library and the
 * server, refused by name when asked for explicitly. AdapterHub's prompt (after the embeddings)
 * takes none. (Before this, an input of more than limit − P tokens crashed in ONNX Runtime's Gather.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { resolveMaxLength } from '../../src/train/max-length.js';
import { predictTexts } from '../../src/train/evaluate.js';
import { checkMaxLength } from '../../src/train/trainer-options.js';
import { TaskModel } from '../../src/train/task-model.js';
import { saveTask } from '../../src/train/task-io.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import type { ClassifyOutput } from '../../src/serve/backend.js';
import { tempDir } from '../temp-dir.js';

const LONG = Array.from({ length: 80 }, (_, i) => `word${i % 7}`).join(' ');

test('resolveMaxLength subtracts the positions taken, and says so when it refuses', () => {
  assert.equal(resolveMaxLength(40, undefined, { taken: 10 }), 30);
  assert.equal(resolveMaxLength(40, 36, { taken: 10 }), 30);
  assert.equal(resolveMaxLength(40, 30, { over: 'fail', taken: 10 }), 30);
  assert.throws(() => resolveMaxLength(40, 31, { over: 'fail', name: '--max-length', taken: 10 }), (e: unknown) => e instanceof AdapterkitError && e.code === 'BAD_CONFIG'
    && e.message === "--max-length 31 exceeds the limit of 30 tokens (the base's 40 positions, less the 10 that the adapter's prompt takes)");
  assert.throws(() => resolveMaxLength(40, undefined, { taken: 39 }), /the adapter's prompt takes 39 of the base's 40 positions, which leaves no room for an input/);
});

test('a prompt-peft task predicts long texts at limit − P tokens, refuses more when asked, and serves them', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  assert.equal(base.encoder.maxLength, 40);
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('prompt-peft') }, head: headConfig({ kind: 'classification', labels: ['a', 'b'], layers: 1 }), seed: 1 });
  assert.equal(model.positionsTaken, 10);
  assert.equal(model.maxTokens, 30);
  const [capped] = await predictTexts(model, [LONG], { maxLength: 40 });
  const [at30] = await predictTexts(model, [LONG], { maxLength: 30 });
  assert.deepEqual(capped!.logits, at30!.logits);
  assert.equal(capped!.truncated, true);
  assert.throws(() => checkMaxLength(model, 31), /max length 31 exceeds the limit of 30 tokens \(the base's 40 positions, less the 10 that the adapter's prompt takes\)/);
  assert.equal(checkMaxLength(model, undefined), 30);

  const dir = join(tempDir('adapterkit-prompt-positions-'), 'task');
  await saveTask(model, dir, { name: 'pp', maxLength: 30 });
  const backend = new ModelBackend(base, { maxLength: 40 });
  try {
    await backend.load('pp', dir);
    const [served] = (await backend.classify([{ task: 'pp', input: LONG }])) as [ClassifyOutput];
    assert.equal(served.truncated, true);
    ['a', 'b'].forEach((l, i) => assert.ok(Math.abs(served.scores[l]! - at30!.probs[i]!) < 1e-5, `${l}: ${served.scores[l]} vs ${at30!.probs[i]}`));
  } finally {
    await backend.dispose();
    await model.dispose();
  }
});

test('an AdapterHub prompt (joined after the embeddings) takes no positions', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('prompt') }, head: headConfig({ kind: 'classification', labels: ['a', 'b'], layers: 1 }), seed: 1 });
  assert.equal(model.positionsTaken, 0);
  assert.equal(model.maxTokens, 40);
  await model.dispose();
});
