/**
 * The frozen-layer cache (train/frozen-cache.ts): with dropout off, a run that trains from the
 * cached input of its lowest trained layer logs the losses of the same run without the cache, over
 * two epochs of shuffled, length-bucketed batches: AdapterDrop, leave_out and top-k on the tiny
 * BERT, leave_out on the embedded USE-lite; in memory and in a file; resumed after an interruption;
 * with an int8 frozen base; and the refusals.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import type { BaseModel } from '../../src/models/base-model.js';
import { collate, tokenizeAll } from '../../src/train/batching.js';
import { FrozenLayerCache } from '../../src/train/frozen-cache.js';
import { TaskModel, type TaskModelOptions } from '../../src/train/task-model.js';
import { train, type TrainEvent, type TrainOptions } from '../../src/train/trainer.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { toyExamples } from './toy-task.js';
import { tempDir } from '../temp-dir.js';

const trainSet = toyExamples(72, 1);
const dev = toyExamples(16, 2);
const head = headConfig({ kind: 'classification', labels: ['negative', 'positive'] });
const bert = await loadBase('test/fixtures/models/tiny-bert');
const adapter = adapterConfig({ size: 8, trainLayerNorms: false });
const dropTwo: TrainingMode = { kind: 'adapters', adapters: [{ name: 'a', config: adapter }], active: 'a', adapterDrop: { kind: 'static', layers: 1 } };

interface Run { losses: number[]; notes: string[]; error?: unknown; dir: string }

/** Trains a fresh model on the toy task; returns the logged losses and the notes. */
async function run(base: BaseModel, mode: TrainingMode, extra: Partial<TrainOptions> = {}, model: Partial<TaskModelOptions> = {}, dir = tempDir('ak-cache-')): Promise<Run> {
  const events: TrainEvent[] = [];
  const m = TaskModel.create(base, { mode, head, seed: 7, threads: 1, dropout: 0, ...model });
  let error: unknown;
  try {
    await train(m, trainSet, dev, {
      outDir: dir, taskName: 'toy', metrics: ['accuracy'], epochs: 2, batchSize: 8, maxLength: 16, lr: 1e-2, seed: 3, ...extra,
      onEvent: (e) => { events.push(e); extra.onEvent?.(e); },
    });
  } catch (e) {
    error = e;
  } finally {
    await m.dispose();
  }
  const log = join(dir, 'metrics.jsonl');
  const losses = !existsSync(log) ? [] : readFileSync(log, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { type: string; loss?: number }).filter((l) => l.type === 'train').map((l) => l.loss as number);
  return { losses, notes: events.flatMap((e) => (e.type === 'note' ? [e.message] : [])), error, dir };
}

function assertSameLosses(a: readonly number[], b: readonly number[], tol = 1e-5): void {
  assert.equal(a.length, b.length);
  assert.ok(a.length >= 18, `two epochs of 9 steps, got ${a.length}`);
  a.forEach((x, i) => assert.ok(Math.abs(x - (b[i] as number)) <= tol * Math.max(1, Math.abs(x)), `step ${i + 1}: ${x} without the cache, ${b[i]} with it`));
}

describe('frozen-layer cache', () => {
  test('tiny BERT, AdapterDrop n = 1: the cached run logs the uncached losses over two epochs, from memory', async () => {
    const plain = await run(bert, dropTwo);
    const cached = await run(bert, dropTwo, { cacheFrozenLayers: true });
    assert.equal(cached.error, undefined);
    assertSameLosses(plain.losses, cached.losses);
    assert.match(cached.notes.join('\n'), /frozen-layer cache: the input of layer 1 for 72 rows, 0\.\d MiB in memory \(budget 2048\.0 MiB\); layer 0 and the embeddings run once, without dropout/);
    assert.ok(!existsSync(join(cached.dir, 'frozen-cache')));
  });

  test('a budget too small for the rows puts them in a file in the run directory, deleted at the end: the same losses', async () => {
    const plain = await run(bert, dropTwo);
    const cached0 = tempDir('ak-cache-file-');
    let sawFile = false;
    const cached = await run(bert, dropTwo, {
      cacheFrozenLayers: true, cacheMemoryBytes: 1000,
      onEvent: (e) => { if (e.type === 'step' && e.step === 1) sawFile = readdirSync(join(cached0, 'frozen-cache')).includes('layer-1.f32'); },
    }, {}, cached0);
    assert.equal(cached.error, undefined);
    assert.ok(sawFile, 'the rows were in frozen-cache/layer-1.f32 while training ran');
    assert.match(cached.notes.join('\n'), /frozen-layer cache: the input of layer 1 for 72 rows, 0\.\d MiB in .*frozen-cache\/layer-1\.f32 \(over the memory budget of 0\.0 MiB; read back by offset each batch\)/);
    assert.deepEqual(readdirSync(join(cached.dir, 'frozen-cache')), []);
    assertSameLosses(plain.losses, cached.losses);
  });

  test('leave_out [0] and top-k 1 train from layer 1 with the uncached losses', async () => {
    const leaveOut: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8, trainLayerNorms: false, leave_out: [0] }) };
    assertSameLosses((await run(bert, leaveOut)).losses, (await run(bert, leaveOut, { cacheFrozenLayers: true })).losses);
    const topK: TrainingMode = { kind: 'top-k', k: 1 };
    assertSameLosses((await run(bert, topK)).losses, (await run(bert, topK, { cacheFrozenLayers: true })).losses);
  });

  test('resumed after an interruption: the cache is computed again and the losses are those of an uninterrupted cached run', async () => {
    const whole = await run(bert, dropTwo, { cacheFrozenLayers: true, cacheMemoryBytes: 1000 });
    const ac = new AbortController();
    const dir = tempDir('ak-cache-resume-');
    const cut = await run(bert, dropTwo, { cacheFrozenLayers: true, cacheMemoryBytes: 1000, signal: ac.signal, onEvent: (e) => { if (e.type === 'step' && e.step === 11) ac.abort(); } }, {}, dir);
    assert.equal((cut.error as AdapterkitError).code, 'INTERRUPTED');
    const resumed = await run(bert, dropTwo, { cacheFrozenLayers: true, cacheMemoryBytes: 1000, resume: true }, {}, dir);
    assert.equal(resumed.error, undefined);
    assert.deepEqual(resumed.losses, whole.losses);
    // the signature keeps the setting: a cached run does not resume without the cache (its dropout differs)
    const again = await run(bert, dropTwo, { resume: true, epochs: 2 }, {}, dir);
    assert.match(String((again.error as Error).message), /cannot resume .*: the run was started with different cacheFrozenLayers \(true then, undefined now\)/);
  });

  test('interrupted while the cache is computed, or killed leaving half a file: the resumed run recomputes it and logs the uninterrupted losses', async () => {
    const whole = await run(bert, dropTwo, { cacheFrozenLayers: true, cacheMemoryBytes: 1000 });
    const ac = new AbortController();
    const dir = tempDir('ak-cache-prepass-');
    const cut = await run(bert, dropTwo, { cacheFrozenLayers: true, cacheMemoryBytes: 1000, signal: ac.signal, onEvent: (e) => { if (e.type === 'note' && /computing the input/.test(e.message)) ac.abort(); } }, {}, dir);
    assert.equal((cut.error as AdapterkitError).code, 'INTERRUPTED');
    assert.deepEqual(cut.losses, []);
    mkdirSync(join(dir, 'frozen-cache'), { recursive: true });
    writeFileSync(join(dir, 'frozen-cache', 'layer-1.f32'), Buffer.alloc(1000, 7)); // what a kill in the middle of writing leaves
    const resumed = await run(bert, dropTwo, { cacheFrozenLayers: true, cacheMemoryBytes: 1000, resume: true }, {}, dir);
    assert.equal(resumed.error, undefined);
    assert.deepEqual(resumed.losses, whole.losses);
  });

  test('USE-lite, leave_out [0]: the cached run logs the uncached losses', async () => {
    const lite = await loadBase('use-lite');
    const leaveOut: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8, trainLayerNorms: false, leave_out: [0] }) };
    const plain = await run(lite, leaveOut, { epochs: 2 });
    const cached = await run(lite, leaveOut, { epochs: 2, cacheFrozenLayers: true });
    assertSameLosses(plain.losses, cached.losses);
    assert.match(cached.notes.join('\n'), /the input of layer 1 for 72 rows/);
  });

  test('an int8 frozen base composes: the guard measures the same first batch, and the losses stay within int8 noise of the uncached int8 run', async () => {
    const plain = await run(bert, dropTwo, {}, { frozenPrecision: 'int8' });
    const cached = await run(bert, dropTwo, { cacheFrozenLayers: true }, { frozenPrecision: 'int8' });
    assert.equal(cached.error, undefined);
    assertSameLosses(plain.losses, cached.losses, 2e-2); // dynamic activation scales are per batch: the pre-pass batches differ from the training ones
  });

  test('padding: a row read back at a longer batch length is its own row followed by zeros', async () => {
    const m = TaskModel.create(bert, { mode: dropTwo, head, seed: 7, threads: 1 });
    const rows = tokenizeAll(bert.tokenizer, trainSet.slice(0, 5), false, 16);
    const cache = await FrozenLayerCache.build(m, rows, 1, { dir: tmpdir() });
    const alone = await m.layerInputs(collate([rows[2] as (typeof rows)[number]], bert.tokenizer.padId), 1);
    const len = (rows[2] as (typeof rows)[number]).ids.length;
    const got = cache.batch([2], len + 3).data;
    assert.equal(got.length, (len + 3) * 32);
    for (let i = 0; i < len * 32; i++) assert.ok(Math.abs((got[i] as number) - (alone.data[i] as number)) <= 1e-5, `value ${i}`);
    assert.ok(got.subarray(len * 32).every((x) => x === 0));
    cache.close();
    await m.dispose();
  });

  test('every family: a step from the cached rows (zero-padded) gives the loss and gradients of the full step', async () => {
    const families = ['tiny-distilbert', 'tiny-electra', 'tiny-xlmr', 'tiny-albert', 'tiny-deberta-v2', 'tiny-deberta-v3', 'tiny-mpnet', 'tiny-modernbert'];
    for (const name of families) {
      const base = await loadBase(`test/fixtures/models/${name}`);
      const k = base.encoder.numLayers - 1;
      const mode: TrainingMode = { kind: 'adapters', adapters: [{ name: 'a', config: adapter }], active: 'a', adapterDrop: { kind: 'static', layers: k } };
      const [full, cut] = [0, 1].map(() => TaskModel.create(base, { mode, head, seed: 7, threads: 1, dropout: 0 })) as [TaskModel, TaskModel];
      assert.equal(cut.frozenLayers().layers, k, name);
      const rows = tokenizeAll(base.tokenizer, trainSet.slice(0, 6), false, 16);
      const cache = await FrozenLayerCache.build(cut, rows, k, { dir: tmpdir(), batchSize: 2 }); // other batches than the step's: other padding
      const idx = [5, 0, 3, 1];
      const batch = collate(idx.map((i) => rows[i] as (typeof rows)[number]), base.tokenizer.padId);
      const labels = idx.map((i) => trainSet[i]?.label as number);
      const a = await full.trainStep(batch, labels, { step: 0 });
      const b = await cut.trainStep(batch, labels, { step: 0, layerInput: cache.batch(idx, batch.seqLen) });
      assert.ok(Math.abs(a.loss - b.loss) <= 1e-5, `${name}: loss ${a.loss} vs ${b.loss}`);
      a.grads.forEach((g, i) => g.forEach((x, j) => assert.ok(Math.abs(x - ((b.grads[i] as Float32Array)[j] as number)) <= 1e-5, `${name}: ${full.trainable[i]?.name}[${j}]`)));
      cache.close();
      await full.dispose();
      await cut.dispose();
    }
  });

  test('refused when layer 0 or the embeddings train, naming the tensor; a budget without the cache is refused', async () => {
    const everywhere: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8 }) };
    const r = await run(bert, everywhere, { cacheFrozenLayers: true });
    assert.ok(r.error instanceof AdapterkitError && r.error.code === 'BAD_CONFIG');
    assert.match(r.error.message, /cacheFrozenLayers: no layer's input can be cached, since embeddings\.LayerNorm\.weight \(and \d+ more\) trains in the embeddings \(before layer 0\)/);
    const noLn: TrainingMode = { kind: 'adapters', adapter };
    const r2 = await run(bert, noLn, { cacheFrozenLayers: true });
    assert.match((r2.error as Error).message, /since adapters\.adapter\.0\.attention\.down\.weight \(and 7 more\) trains in layer 0, so the input of layer 1 changes as training goes/);
    // a setup changed after a cached step: the next one checks its layer again
    const m = TaskModel.create(bert, { mode: dropTwo, head, seed: 7, threads: 1 });
    const rows = tokenizeAll(bert.tokenizer, trainSet.slice(0, 4), false, 16);
    const batch = collate(rows, bert.tokenizer.padId);
    const labels = trainSet.slice(0, 4).map((e) => e.label as number);
    const li = { layer: 1, data: (await m.layerInputs(batch, 1)).data };
    await m.trainStep(batch, labels, { layerInput: li });
    m.activate('a', { adapterDrop: null });
    await assert.rejects(m.trainStep(batch, labels, { layerInput: li }), /trainStep: cannot start at layer 1: adapters\.a\.0\.attention\.down\.weight \(and 7 more\) trains in layer 0/);
    await m.dispose();
    await assert.rejects(run(bert, dropTwo, { cacheMemoryBytes: 1e6 }).then((x) => { throw x.error; }), /cacheMemoryBytes is the budget of the frozen-layer cache: it needs cacheFrozenLayers: true/);
  });
});
