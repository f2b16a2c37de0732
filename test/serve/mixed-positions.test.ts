/**
 * Prefix- and prompt-tuning tasks in mixed-task batches: on the tiny BERT, a batch mixing prefix
 * tasks (MLP and flat, other lengths, a left-out layer), prompt tasks (two lengths), MAM, a
 * bottleneck, a LoRA and a head-only task gives each example the logits of its task alone; the
 * same through the server's HTTP API with the tasks loaded from their saved directories. Tasks
 * that cannot share the batch (PEFT's prompt placement, a second prompt layout, gates beside a
 * prompt) are served on sessions of their own, with the same answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { ModelBackend } from '../../src/serve/model-backend.js';
import { toPrediction } from '../../src/train/evaluate.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel, type TaskModelOptions } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';
import { call, classify, listen } from './helpers.js';
import { tempDir } from '../temp-dir.js';

const TINY_BERT = 'test/fixtures/models/tiny-bert';
const LENGTH = 16;
const texts = ['the cat sat on the mat', 'rain', 'a good book to read at night by the fire', 'dogs run'];

/** The mixed tasks: name -> adapter (undefined: head only) and labels. */
const MIXED: Record<string, { adapter?: MethodConfig; labels: string[] }> = {
  prefix: { adapter: methodConfig('prefix', { prefix_length: 3, bottleneck_size: 8 }), labels: ['a', 'b'] },
  prefix5: { adapter: methodConfig('prefix', { prefix_length: 5, bottleneck_size: 6 }), labels: ['a', 'b', 'c'] },
  flat: { adapter: methodConfig('prefix-flat', { prefix_length: 2, leave_out: [1] }), labels: ['a', 'b'] },
  prompt: { adapter: methodConfig('prompt', { prompt_length: 4 }), labels: ['x', 'y', 'z'] },
  prompt2: { adapter: methodConfig('prompt', { prompt_length: 2 }), labels: ['x', 'y'] },
  mam: { adapter: methodConfig('mam', { configs: [methodConfig('prefix', { prefix_length: 2, bottleneck_size: 5 }), methodConfig('parallel', { size: 4 })] }), labels: ['a', 'b'] },
  bottleneck: { adapter: methodConfig('paper', { size: 4 }), labels: ['a', 'b'] },
  lora: { adapter: methodConfig('lora', { r: 2 }), labels: ['a', 'b', 'c'] },
  head: { labels: ['p', 'q'] },
};

/** A task with its trainable tensors moved away from their start (a fresh bottleneck or LoRA is the identity). */
function task(base: BaseModel, seed: number, adapter: MethodConfig | undefined, labels: string[], pooling?: 'cls' | 'mean'): TaskModel {
  const mode: TaskModelOptions['mode'] = adapter ? { kind: 'adapters', adapter } : { kind: 'head-only' };
  const m = TaskModel.create(base, { mode, head: headConfig({ kind: 'classification', labels, ...(pooling ? { pooling } : {}) }), seed });
  const r = new Rng(seed);
  for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.2);
  return m;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  return Math.max(...Array.from(a, (x, i) => Math.abs(x - (b[i] as number))));
}

/** Every task with every text, interleaved so that each batch mixes tasks with and without prompts and prefixes. */
function rows(names: readonly string[]): { task: string; text: string }[] {
  return names.flatMap((task, i) => texts.map((_, j) => ({ task, text: texts[(i + j) % texts.length] as string })));
}

test('a mixed batch of prefix, prompt, MAM, bottleneck, LoRA and head-only tasks gives each example its logits alone', async () => {
  const base = await loadBase(TINY_BERT);
  const multi = new MultiTaskModel(base);
  const models = new Map<string, TaskModel>();
  let seed = 0;
  for (const [name, s] of Object.entries(MIXED)) {
    const m = task(base, ++seed, s.adapter, s.labels);
    models.set(name, m);
    multi.add(name, m);
  }
  // a task whose head reads the first token's state: with prompts in the batch, its first token must stay first
  const cls = task(base, seed + 1, methodConfig('lora', { r: 2 }), ['a', 'b'], 'cls');
  models.set('cls', cls);
  multi.add('cls', cls);
  // heads that average the last hidden state over the input's tokens (the prompt positions taken out), with and without a prompt
  for (const [name, adapter] of [['mean', methodConfig('lora', { r: 2 })], ['prompt-mean', methodConfig('prompt', { prompt_length: 3 })]] as const) {
    const m = task(base, seed + name.length, adapter, ['a', 'b'], 'mean');
    models.set(name, m);
    multi.add(name, m);
  }
  const batch = rows([...models.keys()]);
  const out = await multi.predict(multi.encode(batch.map((r) => r.text), LENGTH), batch.map((r) => r.task));
  for (const [k, r] of batch.entries()) {
    const alone = await (models.get(r.task) as TaskModel).predict(base.tokenizer.encode([r.text], LENGTH));
    assert.ok(maxAbs(out[k] as Float32Array, alone) < 1e-5, `${r.task} on "${r.text}": ${maxAbs(out[k] as Float32Array, alone)}`);
  }
  // the prompt and prefix tasks change the logits (a neutral adapter would pass the test above trivially)
  const plain = task(base, 1, undefined, ['a', 'b']);
  const same = await plain.predict(base.tokenizer.encode([texts[0] as string], LENGTH));
  const prefixed = await (models.get('prefix') as TaskModel).predict(base.tokenizer.encode([texts[0] as string], LENGTH));
  assert.ok(maxAbs(same, prefixed) > 1e-3);
  await multi.dispose();
  await plain.dispose();
  for (const m of models.values()) await m.dispose();
});

test('tasks that cannot share the batch are refused by name, and the server answers them on sessions of their own', async () => {
  const base = await loadBase(TINY_BERT);
  const multi = new MultiTaskModel(base);
  const prompt = task(base, 1, methodConfig('prompt', { prompt_length: 3 }), ['a', 'b']);
  multi.add('prompt', prompt);
  const peft = task(base, 2, methodConfig('prompt-peft', { prompt_length: 2 }), ['a', 'b']);
  const bos = task(base, 3, methodConfig('prompt', { prompt_length: 2, combine: 'prefix_after_bos' }), ['a', 'b']);
  const gated = task(base, 4, methodConfig('unipelt'), ['a', 'b']);
  assert.throws(() => multi.add('peft', peft), /task peft cannot share a mixed batch: PEFT's prompt joins before the word embeddings and shifts the positions of the input's tokens by its length, so rows of other tasks \(or other lengths\) would see other positions; serve it on its own TaskModel/);
  assert.throws(() => multi.add('bos', bos), /task bos cannot share a mixed batch: it joins prompt tokens otherwise than task prompt \(prompt tuning \(P=3, prefix\)\), and the rows of one batch share one sequence layout/);
  assert.throws(() => multi.add('gated', gated), /task gated cannot share a mixed batch: its gates average over every position of a row \(padding included, as AdapterHub's\), and the prompt tokens of task prompt \(prompt tuning \(P=3, prefix\)\) join the rows of a mixed batch/);
  // and the other way round: a prompt next to gates
  const gatedFirst = new MultiTaskModel(base);
  gatedFirst.add('gated', gated);
  assert.throws(() => gatedFirst.add('prompt', prompt), /task prompt cannot share a mixed batch: its prompt tokens would join the rows of task gated \(union \(.*\)\), whose gates average over every position of a row/);
  await gatedFirst.dispose();
  await multi.dispose();

  const backend = new ModelBackend(base, { maxLength: LENGTH });
  const models = { prompt, peft, bos, gated };
  for (const [name, m] of Object.entries(models)) backend.attach(name, m);
  const items = Object.keys(models).flatMap((t) => texts.map((input) => ({ task: t, input })));
  const got = await backend.classify(items);
  for (const [k, it] of items.entries()) {
    const m = models[it.task as keyof typeof models];
    // a gated task's output depends on its batch's padding (its gates average over every position): compare it in the batch the server gave it
    const inputs = it.task === 'gated' ? texts : [it.input];
    const logits = await m.predict(base.tokenizer.encode(inputs, LENGTH));
    const n = m.head.labels.length;
    const row = it.task === 'gated' ? texts.indexOf(it.input) : 0;
    const want = toPrediction(m.head, Array.from(logits.subarray(row * n, (row + 1) * n)), false);
    assert.ok(maxAbs(Object.values((got[k] as { scores: Record<string, number> }).scores), want.probs) < 1e-5, `${it.task} on "${it.input}"`);
  }
  await backend.dispose();
});

test('through the server: prefix and prompt tasks loaded over HTTP answer concurrent mixed requests as each task alone', async () => {
  const base = await loadBase(TINY_BERT);
  const models = new Map<string, TaskModel>();
  const dirs = new Map<string, string>();
  let seed = 10;
  for (const [name, s] of Object.entries(MIXED)) {
    const m = task(base, ++seed, s.adapter, s.labels);
    const dir = join(tempDir('ak-serve-mixed-'), name);
    await saveTask(m, dir, { name, maxLength: LENGTH });
    models.set(name, m);
    dirs.set(name, dir);
  }
  const backend = new ModelBackend(base, { maxLength: LENGTH });
  const server = await listen(backend, { env: { ADAPTERKIT_ADMIN_TOKEN: 'sekrit' }, windowMs: 20 });
  try {
    for (const [name, dir] of dirs) {
      const res = await call(`${server.url}/v1/adapters`, 'POST', { name, dir }, { authorization: 'Bearer sekrit' });
      assert.equal(res.status, 201, res.text);
    }
    const reqs = rows([...models.keys()]);
    const answers = await Promise.all(reqs.map((r) => classify(server.url, r.task, [r.text])));
    for (const [k, r] of reqs.entries()) {
      const a = answers[k] as { status: number; text: string; body: unknown };
      assert.equal(a.status, 200, a.text);
      const got = (a.body as { results: { label: string; scores: Record<string, number> }[] }).results[0] as { label: string; scores: Record<string, number> };
      const m = models.get(r.task) as TaskModel;
      const want = toPrediction(m.head, Array.from(await m.predict(base.tokenizer.encode([r.text], LENGTH))), false);
      assert.equal(got.label, m.head.labels[want.value as number], `${r.task} on "${r.text}"`);
      m.head.labels.forEach((l, i) => assert.ok(Math.abs((got.scores[l] as number) - (want.probs[i] as number)) < 1e-5, `${r.task} ${l} on "${r.text}"`));
    }
  } finally {
    await server.close();
    for (const m of models.values()) await m.dispose();
  }
});
