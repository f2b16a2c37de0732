/**
 * AdapterFusion against an independent PyTorch implementation written from the paper and
 * AdapterHub's config fields (scripts/fixtures/make_fusion_fixtures.py): on the tiny BERT, every
 * case's logits, loss (with the value-matrix regularization) and every trained gradient at the
 * start, then the losses of three plain SGD steps. Then: configs and their errors, AdapterHub's
 * inits, fusions refused for adapters they cannot fuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseComposition } from '../../src/adapters/composition.js';
import type { NamedAdapter } from '../../src/adapters/compose.js';
import { FUSION_PRESETS, fusionConfig, fusionLabel, type NamedFusion } from '../../src/adapters/fusion.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { f32, type HostTensor } from '../../src/engine/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';
import { close } from '../util/reference-compare.js';
import { batchOf, fixtureModel, type FixtureCase, type FixtureInputs, type Rec } from './fusion-fixture.js';

interface Case extends FixtureCase {
  logits: Rec;
  loss: number;
  gradients: Record<string, Rec>;
  sgd: { lr: number; losses: number[] };
}
interface Fixture {
  inputs: FixtureInputs;
  labels: number[];
  cases: Case[];
}

const FIXTURE = JSON.parse(readFileSync('test/fixtures/compositions/fusion.json', 'utf8')) as Fixture;
const HEAD = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'], dropout: 0 });

for (const c of FIXTURE.cases) {
  test(`${c.name}: ${c.composition}: logits, loss, every trained gradient and three SGD steps match PyTorch`, async (t) => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const { model, keyOf, fileAt } = fixtureModel(base, c);
    assert.deepEqual(model.trainable.map((x) => keyOf(x.name)).sort(), [...c.trainable].sort(), 'the fusion, the head and the adapters named trainable train; nothing else');
    const batch = batchOf(FIXTURE.inputs);
    const out = await model.trainStep(batch, FIXTURE.labels);
    assert.ok(close(out.loss, c.loss, 1e-5, 1e-6), `loss ${out.loss} vs ${c.loss}`);
    c.logits.data.forEach((v, i) => assert.ok(close(out.logits[i] as number, v, 1e-4, 1e-5), `logit ${i}: ${out.logits[i]} vs ${v}`));
    let worstGrad = 0;
    model.trainable.forEach((tt, j) => {
      const key = keyOf(tt.name);
      const r = c.gradients[key] as Rec;
      const g = out.grads[j] as Float32Array;
      for (let i = 0; i < g.length; i++) {
        const want = r.data[fileAt(tt.name, tt.shape, i)] as number;
        worstGrad = Math.max(worstGrad, Math.abs((g[i] as number) - want));
        assert.ok(close(g[i] as number, want, 1e-3, 2e-6), `${key}[${i}]: ${g[i]} vs ${want}`);
      }
    });
    // three plain SGD steps, the first from the gradients above
    const losses = [out.loss];
    let grads = out.grads;
    for (let s = 0; s < c.sgd.losses.length - 1; s++) {
      model.trainable.forEach((tt, j) => {
        const g = grads[j] as Float32Array;
        for (let i = 0; i < g.length; i++) tt.data[i] = (tt.data[i] as number) - c.sgd.lr * (g[i] as number);
      });
      const o = await model.trainStep(batch, FIXTURE.labels);
      losses.push(o.loss);
      grads = o.grads;
    }
    losses.forEach((l, s) => assert.ok(close(l, c.sgd.losses[s] as number, 1e-4, 1e-6), `SGD loss ${s}: ${l} vs ${c.sgd.losses[s]}`));
    t.diagnostic(`max |diff|: loss ${Math.abs(out.loss - c.loss).toExponential(2)}, gradients ${worstGrad.toExponential(2)}, last SGD loss ${Math.abs((losses.at(-1) as number) - (c.sgd.losses.at(-1) as number)).toExponential(2)}`);
    await model.dispose();
  });
}

test('fusion configs: the presets are AdapterHub\'s, objects override the dynamic preset, errors name the field', () => {
  assert.deepEqual(fusionConfig('dynamic'), FUSION_PRESETS.dynamic);
  assert.equal(fusionConfig('static').value, false);
  assert.equal(fusionConfig('static').regularization, false);
  const c = fusionConfig({ value_before_softmax: false, dropout_prob: 0.2 });
  assert.equal(c.value_before_softmax, false);
  assert.equal(c.value, true);
  assert.equal(c.dropout_prob, 0.2);
  const t = fusionConfig({ temperature: true });
  assert.deepEqual(t, { ...FUSION_PRESETS.dynamic, temperature: true }, 'temperature true over the dynamic preset (fusion-temperature.test.ts runs it)');
  assert.equal(fusionLabel(t), 'dynamic + temperature');
  assert.equal(fusionLabel(fusionConfig({ temperature: true, query: false })), 'custom + temperature');
  assert.equal(fusionLabel(fusionConfig('static')), 'static');
  for (const [raw, msg] of [
    ['medium', /unknown fusion preset "medium" \(presets: static, dynamic\)/],
    [{ querry: true }, /unknown field querry \(fields: key, query, value/],
    [{ key: 'yes' }, /key must be true or false, got "yes"/],
    [{ dropout_prob: 1.5 }, /dropout_prob must be null .* got 1.5/],
    [{ temperature: 1 }, /temperature must be true or false, got 1/],
    [[1], /must be a preset name \(static, dynamic\) or an object/],
  ] as const) {
    assert.throws(() => fusionConfig(raw, 'fusion a,b'), (e: Error) => msg.test(e.message) && e.message.startsWith('fusion a,b'), JSON.stringify(raw));
  }
});

test('fresh fusion tensors start as AdapterHub\'s: N(0, 0.02) query/key, zero biases, Wv the identity (+1e-6) with value_initialized; only the fusion and the head train; adapterWeights starts a fusion from trained tensors', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const pf = methodConfig('pfeiffer');
  const adapters: NamedAdapter[] = [{ name: 'a', config: pf, trainable: false }, { name: 'b', config: pf, trainable: false }];
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapters, active: parseComposition('Fuse(a, b)'), fusions: [{ name: 'a,b', adapters: ['a', 'b'], config: fusionConfig('dynamic') }] }, head: HEAD, seed: 3 });
  const names = model.trainable.map((t) => t.name);
  assert.deepEqual(names.filter((n) => !n.startsWith('adapters.fusion[a:b].')), ['head.out.weight', 'head.out.bias']);
  assert.deepEqual(names.filter((n) => n.startsWith('adapters.fusion[')).sort(), ['0', '1'].flatMap((l) => ['key.bias', 'key.weight', 'query.bias', 'query.weight', 'value.weight'].map((p) => `adapters.fusion[a:b].${l}.ffn.${p}`)).sort());
  const v = model.owned.get('adapters.fusion[a:b].0.ffn.value.weight') as HostTensor<'float32'>;
  assert.equal(v.data[0], 1);
  assert.equal(v.data[33], 1);
  assert.ok(Math.abs((v.data[1] as number) - 1e-6) < 1e-12);
  const q = model.owned.get('adapters.fusion[a:b].1.ffn.query.weight') as HostTensor<'float32'>;
  const std = Math.sqrt(q.data.reduce((s, x) => s + x * x, 0) / q.data.length);
  assert.ok(std > 0.015 && std < 0.025, `query weight std ${std}`);
  assert.ok((model.owned.get('adapters.fusion[a:b].1.ffn.query.bias') as HostTensor<'float32'>).data.every((x) => x === 0));
  // a new task can start a fusion from trained tensors (every tensor of it, as for an adapter)
  const trained = new Map([...model.owned].filter(([k]) => k.startsWith('adapters.fusion[')).map(([k, t]) => [k, f32(t.shape, t.data.map((x) => x + 0.5))]));
  const mode = { kind: 'adapters' as const, adapters, active: parseComposition('Fuse(a, b)'), fusions: [{ name: 'a,b', adapters: ['a', 'b'], config: fusionConfig('dynamic') }] };
  const started = TaskModel.create(base, { mode, head: HEAD, seed: 4, adapterWeights: trained });
  for (const [k, t] of trained) assert.deepEqual(Array.from(started.owned.get(k)?.data ?? []), Array.from(t.data), k);
  const partial = new Map([...trained].slice(1));
  assert.throws(() => TaskModel.create(base, { mode, head: HEAD, seed: 4, adapterWeights: partial }), /adapterWeights: fusion\[a:b\] lacks adapters\.fusion\[a:b\]\.0\.ffn\.query\.weight/);
  // the regularization counts the active fusions only (AdapterHub unfreezes those): with Wv far from
  // the identity, the loss of the same model is higher with Fuse(a, b) active than with a alone
  const quiet = TaskModel.create(base, { mode, head: HEAD, seed: 4, dropout: 0 });
  for (const [k, t] of quiet.owned) if (k.endsWith('.value.weight')) t.data.fill(0); // ‖I − 0‖² = 32 per block
  const batch = base.tokenizer.encode(['a good book', 'the cat sat'], 8);
  const crossEntropy = (logits: Float32Array) => [0, 1].reduce((sum, y, i) => {
    const row = [logits[i * 3] as number, logits[i * 3 + 1] as number, logits[i * 3 + 2] as number];
    const lse = Math.log(row.reduce((s2, v) => s2 + Math.exp(v), 0));
    return sum + (lse - (row[y] as number)) / 2;
  }, 0);
  const regOf = async () => (await quiet.trainStep(batch, [0, 1])).loss - crossEntropy(await quiet.predict(batch));
  assert.ok(Math.abs((await regOf()) - 0.01 * 32 * 2) < 1e-4, 'the active fusion adds 0.01 ‖I − Wv‖² over its two blocks');
  quiet.activate('a');
  assert.ok(Math.abs(await regOf()) < 1e-5, 'an inactive fusion adds nothing');
  await quiet.dispose();
  await model.dispose();
  await started.dispose();
});

test('Fuse is refused clearly for what it cannot fuse: other methods, parallel or gated adapters, mixed placements, a missing fusion', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const pf = methodConfig('pfeiffer');
  const make = (adapters: NamedAdapter[], active: string, fusions: NamedFusion[]) => TaskModel.create(base, { mode: { kind: 'adapters', adapters, active: parseComposition(active), fusions }, head: HEAD, seed: 1 });
  const fusion = (names: string[], config = fusionConfig('dynamic')): NamedFusion => ({ name: names.join(','), adapters: names, config });
  for (const [other, msg] of [
    [methodConfig('lora'), /adapter b is lora; AdapterFusion fuses bottleneck adapters only/],
    [methodConfig('parallel'), /adapter b cannot be fused: its is_parallel is true/],
    [methodConfig('pfeiffer', { use_gating: true }), /adapter b cannot be fused: its use_gating is true/],
    [methodConfig('houlsby'), /adapters a and b differ in mh_adapter \(false vs true\)/],
  ] as const) {
    assert.throws(() => make([{ name: 'a', config: pf }, { name: 'b', config: other }], 'Fuse(a, b)', [fusion(['a', 'b'])]), msg);
  }
  assert.throws(() => make([{ name: 'a', config: pf }, { name: 'b', config: pf }], 'Fuse(a, b)', []), /Fuse\(a, b\) runs the fusion a,b, which the model does not hold \(it holds none\)/);
  assert.throws(() => make([{ name: 'a', config: pf }, { name: 'b', config: pf }], 'Fuse(a, b)', [fusion(['b', 'a'])]), /runs the fusion a,b, which the model does not hold \(it holds b,a\)/);
  assert.throws(() => make([{ name: 'a', config: pf }, { name: 'b', config: pf }], 'Fuse(a, b, name=ab)', [{ ...fusion(['a']), name: 'ab' }]), /Fuse\(a, b, name=ab\) fuses a, b, but the model's fusion ab fuses a/);
  assert.throws(() => make([{ name: 'a', config: pf }], 'a', [fusion(['a', 'c'])]), /fusion a,c fuses adapter c, which the model does not hold/);
  // a Stack child whose first adapter sits at a block the fused (last) adapters do not
  assert.throws(() => make([{ name: 'h', config: methodConfig('houlsby') }, { name: 'a', config: pf }, { name: 'b', config: pf }], 'Fuse(Stack(h, a), b)', [fusion(['a', 'b'])]),
    /sub-layer 0\.attention: Fuse\(Stack\(h, a\), b\) has adapters there \(h\), but its fusion a,b sits only at the blocks its fused adapters \(a, b\) share/);
});
