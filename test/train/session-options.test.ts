/**
 * The session settings a model is given reach ONNX Runtime: a MultiTaskModel and a TaskModel
 * built with `threads` and `spinning: false` create their sessions with that many intra-op
 * threads and spinning turned off (session config `session.intra_op.allow_spinning` = "0"), and
 * without the option ONNX Runtime's default (spinning on) is left alone. Observed at the runtime
 * backend (setRuntimeBackend, the seam for tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setRuntimeBackend, type OrtSessionOptions, type RuntimeBackend } from '../../src/engine/runtime/backend.js';
import { defaultRuntimeBackend } from '../../src/engine/runtime/ort-node.js';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { TaskModel } from '../../src/train/task-model.js';

const base = await loadBase('test/fixtures/models/tiny-bert');
const head = headConfig({ kind: 'classification', labels: ['a', 'b'] });
const task = (seed: number) => TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head, seed });
const texts = ['the cat sat on the mat', 'a dog ran'];

/** Runs `f` with a backend that records the options of every session it creates. */
async function recording(f: () => Promise<void>): Promise<OrtSessionOptions[]> {
  const seen: OrtSessionOptions[] = [];
  const backend: RuntimeBackend = { ...defaultRuntimeBackend, createSession: (m, o) => (seen.push(o), defaultRuntimeBackend.createSession(m, o)) };
  setRuntimeBackend(backend);
  try {
    await f();
  } finally {
    setRuntimeBackend(defaultRuntimeBackend);
  }
  return seen;
}

const spinningOf = (o: OrtSessionOptions) => (o as { extra?: { session?: { intra_op?: { allow_spinning?: string } } } }).extra?.session?.intra_op?.allow_spinning;

test('MultiTaskModel passes threads and spinning: false to its session', async () => {
  const models = [task(1), task(2)];
  const seen = await recording(async () => {
    const multi = new MultiTaskModel(base, { threads: 1, spinning: false });
    multi.add('a', models[0] as TaskModel);
    multi.add('b', models[1] as TaskModel);
    await multi.predict(multi.encode(texts, 16), ['a', 'b']);
    await multi.dispose();
  });
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.intraOpNumThreads, 1);
  assert.equal(spinningOf(seen[0] as OrtSessionOptions), '0');
  for (const m of models) await m.dispose();
});

test('MultiTaskModel without the option leaves ONNX Runtime\'s spinning default alone', async () => {
  const m = task(3);
  const seen = await recording(async () => {
    const multi = new MultiTaskModel(base);
    multi.add('a', m);
    await multi.predict(multi.encode(texts, 16), ['a', 'a']);
    await multi.dispose();
  });
  assert.equal(seen.length, 1);
  assert.equal(spinningOf(seen[0] as OrtSessionOptions), undefined);
  await m.dispose();
});

test('TaskModel passes spinning: false to its prediction session', async () => {
  const seen = await recording(async () => {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) }, head, seed: 4, threads: 2, spinning: false });
    await m.predict(base.tokenizer.encode(texts, 16));
    await m.dispose();
  });
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.intraOpNumThreads, 2);
  assert.equal(spinningOf(seen[0] as OrtSessionOptions), '0');
});
