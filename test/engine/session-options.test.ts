/**
 * The ONNX Runtime options the sessions are created with: training sessions without the memory
 * pattern (it raised a BERT-base adapter step's peak RSS by half), prediction sessions with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setRuntimeBackend, type OrtSessionOptions, type RuntimeBackend } from '../../src/engine/runtime/backend.js';
import { defaultRuntimeBackend } from '../../src/engine/runtime/ort-node.js';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';

test('a task model trains on sessions without ONNX Runtime\'s memory pattern and predicts on one with it', async () => {
  const created: OrtSessionOptions[] = [];
  const recording: RuntimeBackend = {
    ...defaultRuntimeBackend,
    createSession: (model, options) => {
      created.push(options);
      return defaultRuntimeBackend.createSession(model, options);
    },
  };
  const base = await loadBase('test/fixtures/models/tiny-bert');
  setRuntimeBackend(recording);
  try {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 1 });
    const batch = base.tokenizer.encode(['a short text', 'another one'], 16);
    await m.trainStep(batch, [0, 1]);
    assert.equal(created.length, 1);
    assert.equal(created[0]?.enableMemPattern, false, 'the training session');
    await m.predict(batch);
    assert.equal(created.length, 2);
    assert.equal(created[1]?.enableMemPattern, true, 'the prediction session');
    await m.dispose();
  } finally {
    setRuntimeBackend(undefined);
  }
});
