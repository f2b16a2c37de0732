/**
 * POST /v1/tag and POST /v1/answer over loopback: trained token-level tasks loaded through the
 * admin API next to a classification task, answers equal to the library's predictions, and
 * bad inputs refused with the same codes as /v1/classify.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { trainOn } from '../../src/train/trainer.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { predictAnswers, predictTags, qaTrainingData, taggingTrainingData } from '../../src/train/token-tasks/index.js';
import { call, classify, errorOf, listen } from '../serve/helpers.js';
import { toyQa, toyTagged } from './toy-tokens.js';
import { tempDir } from '../temp-dir.js';

const tmp = () => tempDir('ak-serve-tokens-');

test('tagging and QA tasks served next to a classification task; bad inputs refused', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const adapters: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8 }) };
  const pos = TaskModel.create(base, { mode: adapters, head: headConfig({ kind: 'tagging', labels: ['O', 'A', 'N'] }), seed: 1 });
  await trainOn(pos, taggingTrainingData(pos, toyTagged(160, 1), undefined, { maxLength: 32 }), { outDir: tmp(), taskName: 'pos', epochs: 3, batchSize: 16, maxLength: 32, lr: 1e-2 });
  // A full fine-tuned QA task: token-level tasks run on their own session, so any mode can be served.
  const qa = TaskModel.create(base, { mode: { kind: 'full' }, head: headConfig({ kind: 'qa', labels: [] }), seed: 1 });
  await trainOn(qa, qaTrainingData(qa, toyQa(64, 1), undefined, { maxLength: 32 }), { outDir: tmp(), taskName: 'qa', epochs: 1, batchSize: 16, maxLength: 32, lr: 1e-4 });
  const cls = TaskModel.create(base, { mode: adapters, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 1 });
  const dirs = { pos: join(tmp(), 'pos'), qa: join(tmp(), 'qa'), cls: join(tmp(), 'cls') };
  await saveTask(pos, dirs.pos, { name: 'pos', maxLength: 32 });
  await saveTask(qa, dirs.qa, { name: 'qa', maxLength: 32 });
  await saveTask(cls, dirs.cls, { name: 'cls', maxLength: 32 });

  const backend = new ModelBackend(base, { maxLength: 32 });
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: 't' }, maxInputs: 4 });
  const url = server.url;
  try {
    for (const [name, dir] of Object.entries(dirs)) {
      const r = await call(`${url}/v1/adapters`, 'POST', { name, dir }, { authorization: 'Bearer t' });
      assert.equal(r.status, 201, r.text);
    }
    const listed = (await call(`${url}/v1/adapters`, 'GET')).body as { adapters: { name: string; kind: string }[] };
    assert.deepEqual(Object.fromEntries(listed.adapters.map((a) => [a.name, a.kind])), { pos: 'tagging', qa: 'qa', cls: 'classification' });

    // Tagging: a raw text (split at whitespace and punctuation, with character spans) and a word list.
    const tag = await call(`${url}/v1/tag`, 'POST', { task: 'pos', inputs: ['the big cats, on a book', ['we', 'ran']] });
    assert.equal(tag.status, 200, tag.text);
    const tb = tag.body as { task: string; truncated: number; results: { words: { word: string; tag: string; score: number; start?: number; end?: number }[]; truncated: boolean }[] };
    assert.equal(tb.task, 'pos');
    assert.deepEqual(tb.results[0]!.words.map((w) => w.word), ['the', 'big', 'cats', ',', 'on', 'a', 'book']);
    assert.deepEqual(tb.results[0]!.words.map((w) => [w.start, w.end]).slice(2, 4), [[8, 12], [12, 13]]);
    const want = await predictTags(pos, [{ tokens: ['the', 'big', 'cats', ',', 'on', 'a', 'book'] }, { tokens: ['we', 'ran'] }], { maxLength: 32 });
    assert.deepEqual(tb.results.map((r) => r.words.map((w) => w.tag)), want.map((p) => p.tags));
    assert.equal(tb.results[1]!.words[0]!.start, undefined);
    for (const w of tb.results[0]!.words) assert.ok(w.score > 0 && w.score <= 1);

    // QA: answer text, score and its character span in the context.
    const ex = toyQa(2, 7);
    const ans = await call(`${url}/v1/answer`, 'POST', { task: 'qa', inputs: ex.map((e) => ({ question: e.question, context: e.context })) });
    assert.equal(ans.status, 200, ans.text);
    const ab = ans.body as { results: { answer: string; score: number; start: number | null; end: number | null }[] };
    const wantAns = await predictAnswers(qa, ex, { maxLength: 32 });
    ab.results.forEach((r, i) => {
      assert.equal(r.answer, wantAns[i]!.text);
      assert.ok(Math.abs(r.score - wantAns[i]!.score) < 1e-4);
      if (r.answer) assert.equal(ex[i]!.context.slice(r.start!, r.end!), r.answer);
    });

    // Classification still works next to them.
    assert.equal((await classify(url, 'cls', ['a good book'])).status, 200);

    // Bad inputs: the same codes as /v1/classify.
    const bad = async (route: string, body: unknown, status: number, code: string, message: RegExp) => {
      const r = await call(`${url}${route}`, 'POST', body);
      assert.equal(r.status, status, r.text);
      const e = errorOf(r);
      assert.equal(e.code, code);
      assert.match(e.message, message);
    };
    await bad('/v1/tag', [], 400, 'BAD_REQUEST', /request body must be a JSON object/);
    await bad('/v1/tag', { inputs: ['x'] }, 400, 'BAD_REQUEST', /field "task" is missing/);
    await bad('/v1/tag', { task: 'pos' }, 400, 'BAD_REQUEST', /field "inputs" is missing/);
    await bad('/v1/tag', { task: 'pos', inputs: [] }, 400, 'BAD_REQUEST', /field "inputs" is empty/);
    await bad('/v1/tag', { task: 'pos', inputs: ['a', 'b', 'c', 'd', 'e'] }, 413, 'TOO_MANY_INPUTS', /at most 4/);
    await bad('/v1/tag', { task: 'nope', inputs: ['a'] }, 404, 'NOT_FOUND', /unknown task 'nope'; loaded tasks: cls, pos, qa/);
    await bad('/v1/tag', { task: 'pos', inputs: ['  '] }, 400, 'BAD_REQUEST', /inputs\[0\] is an empty text/);
    await bad('/v1/tag', { task: 'pos', inputs: [['a', 'b c']] }, 400, 'BAD_REQUEST', /inputs\[0\]\[1\] must be a non-empty word without whitespace, got "b c"/);
    await bad('/v1/tag', { task: 'pos', inputs: [['a', 3]] }, 400, 'BAD_REQUEST', /inputs\[0\]\[1\] must be a non-empty word without whitespace, got a number/);
    await bad('/v1/tag', { task: 'pos', inputs: [{}] }, 400, 'BAD_REQUEST', /inputs\[0\] must be a text or an array of words, got an object/);
    await bad('/v1/tag', { task: 'qa', inputs: ['a'] }, 400, 'INPUT_KIND_MISMATCH', /task 'qa' is a qa task; \/v1\/tag does not serve it: send it to POST \/v1\/answer/);
    await bad('/v1/answer', { task: 'qa', inputs: ['what?'] }, 400, 'BAD_REQUEST', /inputs\[0\] must be an object \{ "question": string, "context": string \}, got a string/);
    await bad('/v1/answer', { task: 'qa', inputs: [{ question: 'q' }] }, 400, 'BAD_REQUEST', /inputs\[0\]\.context must be a string, got nothing/);
    await bad('/v1/answer', { task: 'qa', inputs: [{ question: ' ', context: 'c' }] }, 400, 'BAD_REQUEST', /inputs\[0\]\.question is empty/);
    await bad('/v1/answer', { task: 'pos', inputs: [{ question: 'q', context: 'c' }] }, 400, 'INPUT_KIND_MISMATCH', /task 'pos' is a tagging task; \/v1\/answer does not serve it: send it to POST \/v1\/tag/);
    await bad('/v1/classify', { task: 'pos', inputs: ['a'] }, 400, 'INPUT_KIND_MISMATCH', /task 'pos' is a tagging task; \/v1\/classify does not serve it: send it to POST \/v1\/tag/);
    const notJson = await call(`${url}/v1/answer`, 'POST', '{"task": ');
    assert.equal(errorOf(notJson).code, 'INVALID_JSON');

    // Unloading a token-level task frees it; requests then get NOT_FOUND.
    assert.equal((await call(`${url}/v1/adapters/pos`, 'DELETE', undefined, { authorization: 'Bearer t' })).status, 200);
    await bad('/v1/tag', { task: 'pos', inputs: ['a'] }, 404, 'NOT_FOUND', /unknown task 'pos'/);
  } finally {
    await server.close();
    await backend.dispose();
    for (const m of [pos, qa, cls]) await m.dispose();
  }
});
