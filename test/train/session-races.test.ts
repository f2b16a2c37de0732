/**
 * Calls that overlap on a fresh model (tiny BERT fixture): two predict, trainStep or layerInputs
 * calls made at once build one session between them (counted at the runtime backend, the seam
 * setRuntimeBackend documents for tests) and each gives what the same call gives alone on a twin
 * model; dispose() during a build releases the session once built; a failed build is retried by
 * the next call; the int8 outlier guard runs once for calls made at once; a mixed-task trainer's
 * steps share one session. After dispose every session that was created has been released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setRuntimeBackend, type OrtSession, type RuntimeBackend } from '../../src/engine/runtime/backend.js';
import { defaultRuntimeBackend } from '../../src/engine/runtime/ort-node.js';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { MixedTaskTrainer } from '../../src/train/multi-task-train-model.js';
import { TaskModel, type TaskModelOptions } from '../../src/train/task-model.js';
import type { FrozenPlan } from '../../src/train/frozen-precision.js';
import { toyExamples } from './toy-task.js';

const base = await loadBase('test/fixtures/models/tiny-bert');
const examples = toyExamples(8, 3);
const texts = examples.map((e) => e.textA);
const labels = examples.map((e) => e.label as number);
const batch1 = base.tokenizer.encode(texts.slice(0, 4), 16);
const batch2 = base.tokenizer.encode(texts.slice(4), 16);
const labels1 = labels.slice(0, 4);
const labels2 = labels.slice(4);

/** Dropout off everywhere, so that a step's result does not depend on which run of a session it is. */
const options: TaskModelOptions = {
  mode: { kind: 'adapters', adapter: adapterConfig({ size: 4 }) },
  head: headConfig({ kind: 'classification', labels: ['negative', 'positive'], dropout: 0 }),
  seed: 2, dropout: 0, threads: 1,
};
const fresh = (o: Partial<TaskModelOptions> = {}) => TaskModel.create(base, { ...options, ...o });

/**
 * The default backend, counting the sessions it creates and releases. `failures`: that many
 * creations fail first; `gate`: creations wait until it resolves (`reached` resolves once one waits).
 */
function counting(o: { failures?: number; gate?: Promise<void> } = {}) {
  let failures = o.failures ?? 0;
  let reach = () => {};
  const c = { attempts: 0, created: 0, released: 0, reached: new Promise<void>((r) => (reach = r)) };
  const backend: RuntimeBackend = {
    ...defaultRuntimeBackend,
    createSession: async (model, opts) => {
      c.attempts++;
      reach();
      await o.gate;
      if (failures > 0) {
        failures--;
        throw new Error('planted failure');
      }
      const s = await defaultRuntimeBackend.createSession(model, opts);
      c.created++;
      const counted: OrtSession = {
        run: (feeds, fetches) => s.run(feeds, fetches),
        release: async () => {
          c.released++;
          await s.release();
        },
      };
      return counted;
    },
  };
  return { counts: c, backend };
}

/** Runs `f` with `backend` as the runtime backend. */
async function withBackend<T>(backend: RuntimeBackend, f: () => Promise<T>): Promise<T> {
  setRuntimeBackend(backend);
  try {
    return await f();
  } finally {
    setRuntimeBackend(undefined);
  }
}

/** What predict gives, call after call, on a twin model. */
async function sequentialPredict(...batches: (typeof batch1)[]): Promise<Float32Array[]> {
  const twin = fresh();
  const out: Float32Array[] = [];
  for (const b of batches) out.push(await twin.predict(b));
  await twin.dispose();
  return out;
}

test('two predict calls at once on a fresh task model build one session, each with the logits of a call alone', async () => {
  const [ref1, ref2] = await sequentialPredict(batch1, batch2);
  const { counts, backend } = counting();
  await withBackend(backend, async () => {
    const m = fresh();
    const [a, b] = await Promise.all([m.predict(batch1), m.predict(batch2)]);
    assert.equal(counts.created, 1, 'one prediction session for both calls');
    assert.deepEqual(a, ref1);
    assert.deepEqual(b, ref2);
    assert.equal((await m.predict(batch1)).length, ref1?.length, 'a later call');
    assert.equal(counts.created, 1, 'a later call reuses the session');
    await m.dispose();
    assert.equal(counts.released, 1, 'dispose releases it');
  });
});

test('two trainStep calls at once build one training session, each with the loss and gradients of a step alone', async () => {
  const twin = fresh();
  const ref1 = await twin.trainStep(batch1, labels1);
  const ref2 = await twin.trainStep(batch2, labels2); // no optimizer: the weights are those of the first step
  await twin.dispose();
  const { counts, backend } = counting();
  await withBackend(backend, async () => {
    const m = fresh();
    const [a, b] = await Promise.all([m.trainStep(batch1, labels1), m.trainStep(batch2, labels2)]);
    assert.equal(counts.created, 1, 'one training session for both steps');
    assert.notEqual(ref1.loss, ref2.loss, 'the two batches differ');
    assert.deepEqual(a, ref1);
    assert.deepEqual(b, ref2);
    await m.dispose();
    assert.equal(counts.released, 1);
  });
});

test('layerInputs calls at once: one session per layer, each call the input of its own layer', async () => {
  const twin = fresh();
  const ref1 = await twin.layerInputs(batch1, 1);
  const ref0 = await twin.layerInputs(batch2, 0);
  await twin.dispose();
  assert.notDeepEqual(ref1.data, ref0.data);
  const { counts, backend } = counting();
  await withBackend(backend, async () => {
    const m = fresh();
    const same = await Promise.all([m.layerInputs(batch1, 1), m.layerInputs(batch1, 1)]);
    assert.equal(counts.created, 1, 'one session for two calls at the same layer');
    assert.deepEqual(same, [ref1, ref1]);
    // a call at another layer while one runs: the first still reads its own session's output
    const [a, b] = await Promise.all([m.layerInputs(batch1, 1), m.layerInputs(batch2, 0)]);
    assert.deepEqual(a, ref1);
    assert.deepEqual(b, ref0);
    assert.equal(counts.created, 2, 'layer 1 reused, layer 0 built');
    await m.dispose();
    assert.equal(counts.released, 2, 'the layer-1 session was released once its call was done, the layer-0 one by dispose');
  });
});

test('dispose() while the session is being built releases it once built; the call building it still answers', async () => {
  const [ref] = await sequentialPredict(batch1);
  let open = () => {};
  const gate = new Promise<void>((r) => (open = r));
  const { counts, backend } = counting({ gate });
  await withBackend(backend, async () => {
    const m = fresh();
    const p = m.predict(batch1);
    await counts.reached; // ONNX Runtime is loading the graph
    let disposed = false;
    const d = m.dispose().then(() => (disposed = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(disposed, false, 'dispose waits for the session being built');
    open();
    assert.deepEqual(await p, ref);
    await d;
    assert.deepEqual([counts.created, counts.released], [1, 1], 'built once, released by the dispose made during the build');
    // the model stays usable: the next call builds a session of its own
    assert.deepEqual(await m.predict(batch1), ref);
    assert.equal(counts.created, 2);
    await m.dispose();
    assert.equal(counts.released, 2);
  });
});

test('a failed build fails the calls waiting on it and leaves the slot empty: the next call builds again', async () => {
  const [ref] = await sequentialPredict(batch1);
  const { counts, backend } = counting({ failures: 1 });
  await withBackend(backend, async () => {
    const m = fresh();
    const results = await Promise.allSettled([m.predict(batch1), m.predict(batch1)]);
    assert.equal(counts.attempts, 1, 'both calls waited on one build');
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.match(String((r as PromiseRejectedResult).reason), /ONNX Runtime could not load graph task-predict: planted failure/);
    }
    assert.deepEqual(await m.predict(batch1), ref);
    assert.deepEqual([counts.attempts, counts.created], [2, 1]);
    await m.dispose();
    assert.equal(counts.released, 1);
  });
});

test('int8 frozen base: two predict calls at once run the outlier guard once and build the sessions of one call', async () => {
  const alone = counting();
  const plansAlone: FrozenPlan[] = [];
  const ref = await withBackend(alone.backend, async () => {
    const twin = fresh({ frozenPrecision: 'int8', onFrozenPlan: (p) => plansAlone.push(p) });
    const out = await twin.predict(batch1);
    await twin.dispose();
    return out;
  });
  assert.equal(plansAlone.length, 1);
  assert.ok(alone.counts.created >= 2, 'the guard\'s probe session(s) and the prediction session');
  const { counts, backend } = counting();
  const plans: FrozenPlan[] = [];
  await withBackend(backend, async () => {
    const m = fresh({ frozenPrecision: 'int8', onFrozenPlan: (p) => {
      assert.equal(m.frozenPlan, p, 'the plan is kept when the callback sees it');
      plans.push(p);
    } });
    const [a, b] = await Promise.all([m.predict(batch1), m.predict(batch1)]);
    assert.equal(plans.length, 1, 'one guard run');
    assert.deepEqual(plans[0], plansAlone[0]);
    assert.equal(counts.created, alone.counts.created, 'as many sessions as one call alone builds');
    assert.deepEqual(a, ref);
    assert.deepEqual(b, ref);
    await m.dispose();
    assert.equal(counts.released, counts.created);
  });
});

test('a mixed-task trainer\'s two steps at once build one session, each with the result of a step alone', async () => {
  const tasks = () => [{ name: 'a', model: fresh() }, { name: 'b', model: fresh({ seed: 4 }) }];
  const taskOf = [0, 1, 1, 0];
  const twin = new MixedTaskTrainer(base, tasks(), { dropout: 0 });
  const ref1 = await twin.step(batch1, taskOf, labels1);
  const ref2 = await twin.step(batch2, taskOf, labels2);
  await twin.dispose();
  const { counts, backend } = counting();
  await withBackend(backend, async () => {
    const trainer = new MixedTaskTrainer(base, tasks(), { dropout: 0 });
    const [a, b] = await Promise.all([trainer.step(batch1, taskOf, labels1), trainer.step(batch2, taskOf, labels2)]);
    assert.equal(counts.created, 1);
    assert.deepEqual(a, ref1);
    assert.deepEqual(b, ref2);
    await trainer.dispose();
    assert.equal(counts.released, 1);
  });
});
