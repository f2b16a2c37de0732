/**
 * One input, many tasks' answers: POST /v1/classify with `"tasks"`. The API and its bad-input
 * errors on the fake backend; on the tiny BERT, the answers equal each task served alone and the
 * shared lower layers see each distinct input once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterConfig, methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import type { TaskInfo } from '../../src/serve/backend.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import type { ManyTasksResponse } from '../../src/serve/plugins/inference.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import { toPrediction } from '../../src/train/evaluate.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';
import { FakeBackend, defaultTasks, expectedOutput } from './fake-backend.js';
import { call, classify, errorOf, listen } from './helpers.js';

const many = (url: string, body: unknown) => call(`${url}/v1/classify`, 'POST', body);

test('POST /v1/classify with "tasks": each input answered by every task, in the order asked', async () => {
  const backend = new FakeBackend();
  const server = await listen(backend, { maxInputs: 8 });
  try {
    const a = await many(server.url, { tasks: ['topics', 'sentiment'], inputs: ['a fine day', 'x'.repeat(60)] });
    assert.equal(a.status, 200, a.text);
    const body = a.body as ManyTasksResponse;
    assert.deepEqual(body.tasks, ['topics', 'sentiment']);
    const t = (n: string) => defaultTasks().find((x) => x.name === n) as TaskInfo;
    assert.deepEqual(body.results, ['a fine day', 'x'.repeat(60)].map((x) => ({ topics: expectedOutput(t('topics'), x), sentiment: expectedOutput(t('sentiment'), x) })));
    assert.equal(body.truncated, 1);
    // one backend call holding both tasks of each input, input after input
    assert.deepEqual(backend.calls.at(-1)?.map((i) => i.task), ['topics', 'sentiment', 'topics', 'sentiment']);
    const pairs = await many(server.url, { tasks: ['nli', 'stsb'], inputs: [['a', 'b']] });
    assert.equal(pairs.status, 200, pairs.text);
    assert.deepEqual((pairs.body as ManyTasksResponse).results[0], { nli: expectedOutput(t('nli'), ['a', 'b']), stsb: expectedOutput(t('stsb'), ['a', 'b']) });
  } finally {
    await server.close();
  }
});

test('POST /v1/classify with "tasks": bad requests name the field and what is allowed', async () => {
  const backend = new FakeBackend({ tasks: [...defaultTasks(), { name: 'pos', kind: 'tagging', labels: ['N', 'V'], pair: false, bytes: 10 }] });
  const server = await listen(backend, { maxInputs: 8 });
  const expectError = async (body: unknown, status: number, code: string, message: RegExp) => {
    const a = await many(server.url, body);
    assert.equal(a.status, status, a.text);
    const e = errorOf(a);
    assert.equal(e.code, code, a.text);
    assert.match(e.message, message);
  };
  try {
    await expectError({ tasks: 'sentiment', inputs: ['x'] }, 400, 'BAD_REQUEST', /field "tasks" must be an array of task names, got a string/);
    await expectError({ tasks: [], inputs: ['x'] }, 400, 'BAD_REQUEST', /field "tasks" is empty: name at least one task/);
    await expectError({ tasks: ['sentiment', 3], inputs: ['x'] }, 400, 'BAD_REQUEST', /tasks\[1\] must be a non-empty string, got a number/);
    await expectError({ tasks: ['sentiment', 'topics', 'sentiment'], inputs: ['x'] }, 400, 'BAD_REQUEST', /tasks\[2\] 'sentiment' is listed twice \(at 0 and 2\)/);
    await expectError({ task: 'sentiment', tasks: ['topics'], inputs: ['x'] }, 400, 'BAD_REQUEST', /send either "task" \(one task\) or "tasks" \(several\), not both/);
    await expectError({ tasks: ['sentiment', 'nope'], inputs: ['x'] }, 404, 'NOT_FOUND', /unknown task 'nope'; loaded tasks: nli, pos, sentiment, stsb, topics/);
    await expectError({ tasks: ['sentiment', 'pos'], inputs: ['x'] }, 400, 'INPUT_KIND_MISMATCH', /task 'pos' is a tagging task; "tasks" takes sentence-level tasks .*send it to POST \/v1\/tag on its own/);
    await expectError({ tasks: ['sentiment', 'nli'], inputs: ['x'] }, 400, 'INPUT_KIND_MISMATCH', /tasks 'nli' \(sentence pairs\) and 'sentiment' \(single texts\) take different inputs; ask them in separate requests/);
    await expectError({ tasks: ['sentiment', 'topics'], inputs: [['a', 'b']] }, 400, 'INPUT_KIND_MISMATCH', /task 'sentiment' takes single texts; inputs\[0\] is a pair/);
    await expectError({ tasks: ['sentiment', 'topics'] }, 400, 'BAD_REQUEST', /field "inputs" is missing/);
    await expectError({ tasks: ['sentiment', 'topics'], inputs: [] }, 400, 'BAD_REQUEST', /field "inputs" is empty/);
    await expectError({ tasks: ['sentiment', 'topics'], inputs: ['a', 7] }, 400, 'BAD_REQUEST', /inputs\[1\] must be a string or a pair of exactly 2 strings, got a number/);
    await expectError({ tasks: ['sentiment', 'topics'], inputs: ['a', 'b', 'c', 'd', 'e'] }, 413, 'TOO_MANY_INPUTS', /5 inputs x 2 tasks ask 10 answers; at most 8 are allowed per request/);
    assert.equal(backend.calls.length, 0, 'no bad request reached the backend');
  } finally {
    await server.close();
  }
});

function perturbed(base: Awaited<ReturnType<typeof loadBase>>, mode: TrainingMode, labels: string[], seed: number): TaskModel {
  const m = TaskModel.create(base, { mode, head: headConfig({ kind: 'classification', labels }), seed });
  const r = new Rng(seed);
  for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
  return m;
}

test('the model backend answers one input for many tasks in one pass: same as each task alone (1e-5), the layers below the adapters see each input once, and a prefix-tuning task joins the pass (its prefix MLP acts outside the layers, so then the copy happens before the encoder)', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const drop = (config: ReturnType<typeof methodConfig>): TrainingMode => ({ kind: 'adapters', adapters: [{ name: 'adapter', config }], active: 'adapter', adapterDrop: { kind: 'static', layers: 1 } });
  const models: Record<string, TaskModel> = {
    spam: perturbed(base, drop(adapterConfig({ size: 4, trainLayerNorms: false })), ['ham', 'spam'], 1),
    sotu: perturbed(base, drop(methodConfig('lora', { r: 4 })), ['a', 'b', 'c'], 2),
    brown: perturbed(base, drop(methodConfig('ia3')), ['news', 'fiction'], 3),
    prefix: perturbed(base, { kind: 'adapters', adapter: methodConfig('prefix', { prefix_length: 2, bottleneck_size: 4 }) }, ['y', 'n'], 4),
  };
  const backend = new ModelBackend(base, { maxLength: 32 });
  for (const [n, m] of Object.entries(models)) if (n !== 'prefix') backend.attach(n, m);
  const seen: { rows: number; outputs: number; at: number | undefined }[] = [];
  const predict = MultiTaskModel.prototype.predict;
  MultiTaskModel.prototype.predict = function (this: MultiTaskModel, batch: EncodedBatch, tasks: readonly string[], o?: { rows?: readonly number[] }) {
    seen.push({ rows: batch.batchSize, outputs: tasks.length, at: this.fanoutLayer });
    return predict.call(this, batch, tasks, o);
  };
  const server = await listen(backend, { windowMs: 1 });
  try {
    const texts = ['the cat sat on the mat', 'rain at night'];
    const dropped = ['spam', 'sotu', 'brown'];
    const first = await many(server.url, { tasks: dropped, inputs: texts });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(seen, [{ rows: 2, outputs: 6, at: 1 }], 'one pass: 2 inputs below layer 1 (the dropped layer), 2 x 3 rows above it');
    backend.attach('prefix', models.prefix as TaskModel);
    seen.length = 0;
    const names = Object.keys(models);
    const a = await many(server.url, { tasks: names, inputs: texts });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(seen, [{ rows: 2, outputs: 8, at: undefined }], 'one pass of the shared graph for the 4 tasks, the inputs repeated before the encoder');
    const firstBody = first.body as ManyTasksResponse;
    const body = a.body as ManyTasksResponse;
    texts.forEach((_, i) => {
      for (const name of dropped) assert.deepEqual(Object.keys(firstBody.results[i]?.[name]?.scores ?? {}), Object.keys(body.results[i]?.[name]?.scores ?? {}));
    });
    for (const name of names) {
      const m = models[name] as TaskModel;
      const alone = await classify(server.url, name, texts);
      assert.equal(alone.status, 200, alone.text);
      const solo = await m.predict(base.tokenizer.encode(texts, 32));
      const n = m.head.labels.length;
      texts.forEach((_, i) => {
        const got = body.results[i]?.[name];
        const want = toPrediction(m.head, Array.from(solo.subarray(i * n, (i + 1) * n)), false);
        const served = (alone.body as { results: { label: string; scores: Record<string, number> }[] }).results[i];
        assert.equal(got?.label, m.head.labels[want.value as number], `${name} text ${i}`);
        m.head.labels.forEach((l, c) => {
          assert.ok(Math.abs((got?.scores[l] as number) - (want.probs[c] as number)) < 1e-5, `${name} text ${i} ${l}: vs the task model alone`);
          assert.ok(Math.abs((got?.scores[l] as number) - (served?.scores[l] as number)) < 1e-5, `${name} text ${i} ${l}: vs the task served alone`);
        });
      });
    }
  } finally {
    MultiTaskModel.prototype.predict = predict;
    await server.close();
    await backend.dispose();
  }
});
