/**
 * AdapterFusion with `temperature: true` against an independent PyTorch implementation of
 * AdapterHub's annealing (scripts/fixtures/make_fusion_fixtures.py, fusion-temperature.json): T
 * exactly as repeated float64 subtraction gives it at every call; per call (three SGD steps, then
 * an evaluation call) the temperatures, logits, loss and every trained gradient; a model resumed
 * after 979 calls crossing the floor. Then the counting rules: per layer, AdapterDrop's skipped
 * layers and inactive fusions do not count, restoring counts is checked, export and a composition
 * running an annealed fusion twice are refused, a frozen-layer cache stops below it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseComposition } from '../../src/adapters/composition.js';
import type { NamedAdapter } from '../../src/adapters/compose.js';
import { fusionConfig, type NamedFusion } from '../../src/adapters/fusion.js';
import { fusionTemperature, temperatureInputName } from '../../src/adapters/fusion-temperature.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { loadBase } from '../../src/models/base.js';
import { describeMode } from '../../src/train/modes.js';
import { TaskModel } from '../../src/train/task-model.js';
import { close } from '../util/reference-compare.js';
import { batchOf, FIXTURE_HEAD, fixtureModel, type FixtureCase, type FixtureInputs, type Rec } from './fusion-fixture.js';

interface Call {
  train: boolean;
  temperatures: number[];
  logits: Rec;
  loss: number;
  gradients?: Record<string, Rec>;
}
interface Case extends FixtureCase {
  start_calls: number;
  sgd_lr: number;
  calls: Call[];
}
interface Fixture {
  temperatures: number[];
  inputs: FixtureInputs;
  labels: number[];
  cases: Case[];
}

const FIXTURE = JSON.parse(readFileSync('test/fixtures/compositions/fusion-temperature.json', 'utf8')) as Fixture;
const TINY = 'test/fixtures/models/tiny-bert';

test('the temperature of each call is what repeated float64 subtraction gives, exactly, down to the floor of 1 and after', () => {
  const want = FIXTURE.temperatures;
  assert.equal(want.length, 982, 'Python reaches 1.0 at call 981');
  want.forEach((t, k) => assert.ok(Object.is(fusionTemperature(k), t), `call ${k}: ${fusionTemperature(k)} vs Python's ${t}`));
  assert.equal(fusionTemperature(980), 1.0000000000007025, 'not the closed form max(50 - 0.05 k, 1), which is 1 at call 980');
  for (const k of [981, 982, 5000, 1e9]) assert.equal(fusionTemperature(k), 1);
  for (const bad of [-1, 1.5, NaN]) assert.throws(() => fusionTemperature(bad), /forward call count must be a non-negative integer/);
});

for (const c of FIXTURE.cases) {
  test(`${c.name}: ${c.composition}: per call (three SGD steps, an evaluation) temperatures, logits, loss and gradients match PyTorch`, async (t) => {
    const base = await loadBase(TINY);
    const { model, keyOf, fileAt } = fixtureModel(base, c);
    assert.deepEqual(model.trainable.map((x) => keyOf(x.name)).sort(), [...c.trainable].sort());
    const fusion = c.fusions[0]?.name as string;
    const layers = base.encoder.numLayers;
    if (c.start_calls) model.setFusionCallCounts({ [fusion]: new Array<number>(layers).fill(c.start_calls) }, 'the resumed counts');
    const batch = batchOf(FIXTURE.inputs);
    let worst = 0;
    for (const [k, call] of c.calls.entries()) {
      const counts = model.fusionCallCounts[fusion] as number[];
      assert.deepEqual(counts, new Array<number>(layers).fill(c.start_calls + k), `call ${k}: one count per layer`);
      assert.deepEqual([...new Set(counts.map(fusionTemperature))], call.temperatures, `call ${k}: the temperature`);
      const out = call.train ? await model.trainStep(batch, FIXTURE.labels) : { logits: await model.predict(batch), loss: undefined, grads: [] };
      if (out.loss !== undefined) assert.ok(close(out.loss, call.loss, 1e-5, 1e-6), `call ${k}: loss ${out.loss} vs ${call.loss}`);
      call.logits.data.forEach((v, i) => {
        worst = Math.max(worst, Math.abs((out.logits[i] as number) - v));
        assert.ok(close(out.logits[i] as number, v, 1e-5, 1e-5), `call ${k}, logit ${i}: ${out.logits[i]} vs ${v}`);
      });
      if (call.gradients) {
        model.trainable.forEach((tt, j) => {
          const r = call.gradients?.[keyOf(tt.name)] as Rec;
          const g = out.grads[j] as Float32Array;
          for (let i = 0; i < g.length; i++) assert.ok(close(g[i] as number, r.data[fileAt(tt.name, tt.shape, i)] as number, 1e-3, 2e-6), `call ${k}, ${keyOf(tt.name)}[${i}]`);
        });
      }
      if (call.train) {
        model.trainable.forEach((tt, j) => {
          const g = out.grads[j] as Float32Array;
          for (let i = 0; i < g.length; i++) tt.data[i] = (tt.data[i] as number) - c.sgd_lr * (g[i] as number);
        });
      }
    }
    assert.deepEqual(model.fusionCallCounts[fusion], new Array<number>(layers).fill(c.start_calls + c.calls.length), 'the evaluation call counted too');
    // the comparison can fail: the evaluation call one count early gives other logits
    const last = c.calls.at(-1) as Call;
    model.setFusionCallCounts({ [fusion]: new Array<number>(layers).fill(c.start_calls + c.calls.length - 2) });
    const early = await model.predict(batch);
    const shift = Math.max(...last.logits.data.map((v, i) => Math.abs((early[i] as number) - v)));
    if (c.start_calls + c.calls.length - 2 < 981) assert.ok(shift > 20 * worst && shift > 1e-4, `T of one call earlier moves the logits by ${shift}, the comparison's worst |diff| is ${worst}`);
    t.diagnostic(`worst logit |diff| ${worst.toExponential(2)}; one call early: ${shift.toExponential(2)}`);
    await model.dispose();
  });
}

const PF = methodConfig('pfeiffer', { reduction_factor: 8 });
const ADAPTERS: NamedAdapter[] = [{ name: 'a', config: PF, trainable: false }, { name: 'b', config: PF, trainable: false }];
const annealed = (name = 'a,b', adapters = ['a', 'b']): NamedFusion => ({ name, adapters, config: fusionConfig({ temperature: true }) });

test('calls count per layer: static AdapterDrop\'s layers and robust AdapterDrop\'s skipped layers do not, an inactive fusion does not; evaluation does', async () => {
  const base = await loadBase(TINY);
  const batch = base.tokenizer.encode(['a good book', 'the cat sat'], 8);
  const make = (o: { adapterDrop?: { kind: 'static'; layers: number } | { kind: 'robust'; maxLayers: number } } = {}) => TaskModel.create(base, {
    mode: { kind: 'adapters', adapters: ADAPTERS, active: parseComposition('Fuse(a, b)'), fusions: [annealed(), { name: 'other', adapters: ['b', 'a'], config: fusionConfig({ temperature: true }) }], ...o },
    head: FIXTURE_HEAD, seed: 2,
  });
  const m = make();
  assert.deepEqual(m.fusionCallCounts, { 'a,b': [0, 0], other: [0, 0] }, 'a new model: every fusion with temperature at 0 calls');
  await m.trainStep(batch, [0, 1]);
  await m.predict(batch);
  assert.deepEqual(m.fusionCallCounts, { 'a,b': [2, 2], other: [0, 0] }, 'a training step and a prediction each count; the inactive fusion does not');
  m.activate(parseComposition('Fuse(b, a, name=other)'));
  await m.predict(batch);
  assert.deepEqual(m.fusionCallCounts, { 'a,b': [2, 2], other: [1, 1] });
  assert.match(describeMode(m.mode, base.encoder), /fusion a,b = AdapterFusion \(dynamic \+ temperature\)/);
  await m.dispose();

  const drop = make({ adapterDrop: { kind: 'static', layers: 1 } });
  await drop.trainStep(batch, [0, 1]);
  assert.deepEqual(drop.fusionCallCounts['a,b'], [0, 1], 'static AdapterDrop: layer 0 calls no fusion');
  await drop.dispose();

  const robust = make({ adapterDrop: { kind: 'robust', maxLayers: 1 } });
  for (let s = 0; s < 8; s++) await robust.trainStep(batch, [0, 1]);
  const [l0, l1] = robust.fusionCallCounts['a,b'] as [number, number];
  assert.equal(l1, 8, 'layer 1 is never dropped with maxLayers 1');
  assert.ok(l0 > 0 && l0 < 8, `layer 0 counts the steps that did not drop it (${l0} of 8)`);
  await robust.predict(batch);
  assert.deepEqual(robust.fusionCallCounts['a,b'], [l0 + 1, 9], 'robust AdapterDrop keeps every layer at inference');
  await robust.dispose();
});

test('a layer\'s temperature is its own count\'s: the logits follow the counts set, and match a model that made those calls', async () => {
  const base = await loadBase(TINY);
  const batch = base.tokenizer.encode(['a good book', 'the cat sat on the mat'], 8);
  const make = () => {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters: ADAPTERS, active: parseComposition('Fuse(a, b)'), fusions: [annealed()] }, head: FIXTURE_HEAD, seed: 5, dropout: 0 });
    for (const [k, t] of m.owned) if (k.startsWith('adapters.')) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) * 4 + Math.sin(i + k.length); // scores far from 0
    return m;
  };
  const a = make();
  const b = make();
  for (let s = 0; s < 3; s++) await a.predict(batch);
  b.setFusionCallCounts({ 'a,b': [3, 3] });
  assert.deepEqual(Array.from(await a.predict(batch)), Array.from(await b.predict(batch)), 'three calls made, or three calls restored');
  b.setFusionCallCounts({ 'a,b': [0, 3] });
  const mixed = await b.predict(batch);
  b.setFusionCallCounts({ 'a,b': [3, 0] });
  assert.notDeepEqual(Array.from(await b.predict(batch)), Array.from(mixed), 'each layer reads its own temperature');
  for (const [bad, msg] of [
    [{}, /the counts: no entry for fusion a,b \(its forward calls per layer\)/],
    [{ 'a,b': [1] }, /the counts: fusion a,b must list 2 non-negative integers \(forward calls per layer\), got \[1\]/],
    [{ 'a,b': [1, -1] }, /must list 2 non-negative integers/],
    [{ 'a,b': [1, 1], c: [0, 0] }, /the counts: fusion c has no annealed temperature in this model \(its fusions with temperature true: a,b\)/],
    [[1, 2], /the counts must be an object of forward call counts per fusion, got an array/],
  ] as const) {
    assert.throws(() => b.setFusionCallCounts(bad as never, 'the counts'), msg, JSON.stringify(bad));
  }
  assert.deepEqual(b.fusionCallCounts, { 'a,b': [4, 1] }, 'a refused restore changes nothing');
  // calls made at once each take their own T (a call counts when it starts)
  const [c, d] = [make(), make()];
  const one = [await c.predict(batch), await c.predict(batch), await c.predict(batch)].map((x) => Array.from(x));
  await d.predict(batch);
  const both = (await Promise.all([d.predict(batch), d.predict(batch)])).map((x) => Array.from(x));
  assert.notDeepEqual(both[0], both[1]);
  assert.deepEqual(new Set(both.map((x) => JSON.stringify(x))), new Set(one.slice(1).map((x) => JSON.stringify(x))), 'two calls at once: T_1 and T_2, as two calls one after the other');
  assert.deepEqual(d.fusionCallCounts, { 'a,b': [3, 3] });
  for (const m of [a, b, c, d]) await m.dispose();
});

test('export, a fusion with temperature run twice and a frozen-layer cut above it are refused, naming the fusion', async () => {
  const base = await loadBase(TINY);
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters: ADAPTERS, active: parseComposition('Fuse(a, b)'), fusions: [annealed()] }, head: FIXTURE_HEAD, seed: 1 });
  assert.throws(() => m.inferenceGraph(), /fusion a,b has temperature true: its softmax temperature falls with every forward call .* exporting such a task is not implemented/);
  assert.throws(() => m.activate(parseComposition('Stack(Fuse(a, b), Fuse(a, b))')), /runs the fusion a,b 2 times; with temperature true each run would anneal its temperature again/);
  await m.dispose();
  // frozen fusion, trained adapter above: the cut stops where the annealed temperature is read
  const c = methodConfig('pfeiffer', { reduction_factor: 8, leave_out: [0] });
  const f = TaskModel.create(base, {
    mode: { kind: 'adapters', adapters: [...ADAPTERS, { name: 'c', config: c }], active: parseComposition('Stack(Fuse(a, b), c)'), fusions: [{ ...annealed(), trainable: false }] },
    head: FIXTURE_HEAD, seed: 1,
  });
  const frozen = f.frozenLayers();
  assert.equal(frozen.layers, 0);
  assert.ok(frozen.why.includes(`${temperatureInputName('a,b')} (fed anew at every forward call: an AdapterFusion temperature annealed per call) is read in layer 0`), frozen.why);
  await f.dispose();
});
