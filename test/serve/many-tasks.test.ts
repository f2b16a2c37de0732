/**
 * One input, many tasks' answers: POST /v1/classify with `"tasks"`. The API and its bad-input
 * errors on the fake backend; on the tiny BERT, the answers equal each task served alone and the
 * shared lower layers see each distinct input once, a tagging task's answer included (the same
 * as POST /v1/tag gives).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterConfig, methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import type { ClassifyOutput, TagOutput, TaskInfo } from '../../src/serve/backend.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import type { ManyTasksResponse } from '../../src/serve/plugins/inference.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import { toPrediction } from '../../src/train/evaluate.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { TaskModel } from '../../src/train/task-model.js';
import { predictTags } from '../../src/train/token-tasks/index.js';
import { Rng } from '../../src/util/random.js';
import { FakeBackend, defaultTasks, expectedOutput, expectedTags } from './fake-backend.js';
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

test('POST /v1/classify with "tasks": a tagging task answers next to sentence-level tasks, in the tagging route\'s shape', async () => {
  const pos: TaskInfo = { name: 'pos', kind: 'tagging', labels: ['N', 'V'], pair: false, bytes: 10 };
  const backend = new FakeBackend({ tasks: [...defaultTasks(), pos] });
  const server = await listen(backend, { maxInputs: 8 });
  try {
    const a = await many(server.url, { tasks: ['sentiment', 'pos'], inputs: ['a fine day', 'rain'] });
    assert.equal(a.status, 200, a.text);
    const t = (n: string) => defaultTasks().find((x) => x.name === n) as TaskInfo;
    assert.deepEqual((a.body as ManyTasksResponse).results, ['a fine day', 'rain'].map((x) => ({ sentiment: expectedOutput(t('sentiment'), x), pos: expectedTags(x) })));
    assert.deepEqual(backend.calls.at(-1)?.map((i) => i.task), ['sentiment', 'pos', 'sentiment', 'pos'], 'one batch: the tagging items are merged with the others');
    const tag = await call(`${server.url}/v1/tag`, 'POST', { task: 'pos', inputs: ['a fine day'] });
    assert.deepEqual((tag.body as { results: TagOutput[] }).results[0], (a.body as ManyTasksResponse).results[0]?.pos);
  } finally {
    await server.close();
  }
});

test('POST /v1/classify with "tasks": bad requests name the field and what is allowed', async () => {
  const backend = new FakeBackend({ tasks: [...defaultTasks(), { name: 'pos', kind: 'tagging', labels: ['N', 'V'], pair: false, bytes: 10 }, { name: 'squad', kind: 'qa', labels: [], pair: true, bytes: 10 }] });
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
    await expectError({ tasks: ['sentiment', 'nope'], inputs: ['x'] }, 404, 'NOT_FOUND', /unknown task 'nope'; loaded tasks: nli, pos, sentiment, squad, stsb, topics/);
    await expectError({ tasks: ['sentiment', 'squad'], inputs: ['x'] }, 400, 'INPUT_KIND_MISMATCH', /task 'squad' is a qa task; "tasks" takes classification, regression, multilabel, tagging tasks \(a QA task answers a question over a context, not a text\): send it to POST \/v1\/answer on its own/);
    await expectError({ tasks: ['nli', 'pos'], inputs: [['a', 'b']] }, 400, 'INPUT_KIND_MISMATCH', /tasks 'nli' \(sentence pairs\) and 'pos' \(single texts\) take different inputs/);
    await expectError({ tasks: ['sentiment', 'pos'], inputs: ['a', ' '] }, 400, 'BAD_REQUEST', /inputs\[1\] is an empty text: tagging task 'pos' needs at least one word/);
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
      for (const name of dropped) assert.deepEqual(Object.keys((firstBody.results[i]?.[name] as ClassifyOutput).scores), Object.keys((body.results[i]?.[name] as ClassifyOutput).scores));
    });
    for (const name of names) {
      const m = models[name] as TaskModel;
      const alone = await classify(server.url, name, texts);
      assert.equal(alone.status, 200, alone.text);
      const solo = await m.predict(base.tokenizer.encode(texts, 32));
      const n = m.head.labels.length;
      texts.forEach((_, i) => {
        const got = body.results[i]?.[name] as ClassifyOutput | undefined;
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

test('the model backend answers one text for a classification and a tagging task in one pass: the classification as the task alone, the tags as POST /v1/tag and the tagging task\'s own model give them; QA in "tasks" is refused', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const spam = perturbed(base, { kind: 'adapters', adapter: methodConfig('lora', { r: 4 }) }, ['ham', 'spam'], 5);
  const pos = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('pfeiffer', { reduction_factor: 8 }) }, head: headConfig({ kind: 'tagging', labels: ['O', 'A', 'N'] }), seed: 6 });
  const r = new Rng(6);
  for (const t of pos.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
  const squad = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('lora', { r: 2 }) }, head: headConfig({ kind: 'qa', labels: [] }), seed: 7 });
  const backend = new ModelBackend(base, { maxLength: 32 });
  backend.attach('spam', spam);
  backend.attach('pos', pos);
  backend.attach('squad', squad);
  const seen: { rows: number; tasks: string[] }[] = [];
  const predict = MultiTaskModel.prototype.predict;
  MultiTaskModel.prototype.predict = function (this: MultiTaskModel, batch: EncodedBatch, tasks: readonly string[], o?: { rows?: readonly number[] }) {
    seen.push({ rows: batch.batchSize, tasks: [...tasks] });
    return predict.call(this, batch, tasks, o);
  };
  const server = await listen(backend, { windowMs: 1 });
  try {
    const texts = ['the big cats, on a book', 'we ran at night'];
    const a = await many(server.url, { tasks: ['spam', 'pos'], inputs: texts });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(seen, [{ rows: 2, tasks: ['spam', 'pos', 'spam', 'pos'] }], 'one pass of the shared graph; each text runs once below the fan-out layer for both tasks (it tokenizes alike for both)');
    const body = a.body as ManyTasksResponse;
    const solo = await spam.predict(base.tokenizer.encode(texts, 32));
    const tagged = await call(`${server.url}/v1/tag`, 'POST', { task: 'pos', inputs: texts });
    assert.equal(tagged.status, 200, tagged.text);
    assert.deepEqual(seen.at(-1), { rows: 2, tasks: ['pos', 'pos'] }, 'the tagging route runs the shared graph too');
    const route = (tagged.body as { results: TagOutput[] }).results;
    const own = await predictTags(pos, texts.map((x) => ({ tokens: (route[texts.indexOf(x)] as TagOutput).words.map((w) => w.word) })), { maxLength: 32 });
    texts.forEach((_, i) => {
      const s = body.results[i]?.spam as ClassifyOutput;
      const want = toPrediction(spam.head, Array.from(solo.subarray(i * 2, i * 2 + 2)), false);
      spam.head.labels.forEach((l, c) => assert.ok(Math.abs((s.scores[l] as number) - (want.probs[c] as number)) < 1e-5, `spam text ${i} ${l}`));
      const got = body.results[i]?.pos as TagOutput;
      const viaRoute = route[i] as TagOutput;
      assert.deepEqual(got.words.map(({ score: _, ...w }) => w), viaRoute.words.map(({ score: _, ...w }) => w), `text ${i}: the same words, spans and tags as POST /v1/tag`);
      assert.equal(got.truncated, viaRoute.truncated);
      got.words.forEach((w, k) => {
        assert.ok(Math.abs(w.score - (viaRoute.words[k]?.score as number)) < 1e-5, `text ${i} word ${k}: score vs POST /v1/tag`);
        assert.equal(w.tag, own[i]?.tags[k], `text ${i} word ${k}: tag vs the task's own model`);
        assert.ok(Math.abs(w.score - (own[i]?.scores[k] as number)) < 1e-5, `text ${i} word ${k}: score vs the task's own model`);
      });
    });
    assert.deepEqual((body.results[0]?.pos as TagOutput).words.map((w) => [w.word, w.start, w.end]), [['the', 0, 3], ['big', 4, 7], ['cats', 8, 12], [',', 12, 13], ['on', 14, 16], ['a', 17, 18], ['book', 19, 23]]);
    const qa = await many(server.url, { tasks: ['spam', 'squad'], inputs: texts });
    assert.equal(qa.status, 400, qa.text);
    assert.equal(errorOf(qa).code, 'INPUT_KIND_MISMATCH');
    assert.match(errorOf(qa).message, /task 'squad' is a qa task; "tasks" takes classification, regression, multilabel, tagging tasks \(a QA task answers a question over a context, not a text\): send it to POST \/v1\/answer on its own/);
  } finally {
    MultiTaskModel.prototype.predict = predict;
    await server.close();
    await backend.dispose();
  }
});
