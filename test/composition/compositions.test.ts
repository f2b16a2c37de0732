/**
 * Compositions of named adapters against an independent PyTorch implementation written from
 * AdapterHub's documented semantics (scripts/fixtures/make_composition_fixtures.py): on the tiny
 * BERT, every case's logits, loss and the gradient of every trained tensor (frozen adapters train
 * nothing but pass gradients through) must match. Then: a composition of one adapter is exactly
 * the plain adapter, nesting errors name the blocks, batch-size rules, robust AdapterDrop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { adapterHubKeys } from '../../src/adapters/adapterhub.js';
import { BatchSplit, Parallel, Stack, compositionFromDict, compositionToDict, formatComposition, parseComposition } from '../../src/adapters/composition.js';
import type { NamedAdapter } from '../../src/adapters/compose.js';
import type { FileTensorKey } from '../../src/adapters/method.js';
import { fromAdapterHubConfig, methodConfig, methodOf, type MethodConfig } from '../../src/adapters/methods/index.js';
import { f32, type HostTensor } from '../../src/engine/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';
import { fileIndex } from '../util/reference-compare.js';
import { FIXTURE_HEAD, batchOf, internal, type Rec } from './fusion-fixture.js';

interface Case {
  name: string;
  composition: string;
  adapter_drop: number;
  channels: number;
  adapters: { name: string; config: Record<string, unknown>; trainable: boolean; tensors: Record<string, Rec> }[];
  head: { weight: Rec; bias: Rec };
  trainable: string[];
  logits: Rec;
  loss: number;
  gradients: Record<string, Rec>;
}
interface Fixture {
  inputs: { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][] };
  labels: number[];
  cases: Case[];
}

const FIXTURE = JSON.parse(readFileSync('test/fixtures/compositions/compositions.json', 'utf8')) as Fixture;
const close = (got: number, want: number, rel: number, abs: number) => Math.abs(got - want) <= abs + rel * Math.abs(want);

for (const c of FIXTURE.cases) {
  test(`${c.name}: ${c.composition}${c.adapter_drop ? ` (AdapterDrop ${c.adapter_drop})` : ''}: logits, loss and every trained gradient match PyTorch`, async (t) => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const enc = base.encoder;
    const adapters: NamedAdapter[] = c.adapters.map((a) => ({ name: a.name, config: fromAdapterHubConfig(a.config, a.name), trainable: a.trainable }));
    const weights = new Map<string, HostTensor<'float32'>>();
    const keys = new Map<string, FileTensorKey>();
    for (const a of adapters) {
      const spec = c.adapters.find((x) => x.name === a.name) as Case['adapters'][number];
      const shapes = new Map(methodOf(a.config).tensors(a.config as never, enc, a.name).map((x) => [x.name, x.shape]));
      for (const k of adapterHubKeys(a.config, enc, a.name, a.name)) {
        const r = spec.tensors[k.key];
        assert.ok(r, `${a.name}: the fixture has no ${k.key}`);
        weights.set(k.internal, internal(k, r, shapes.get(k.internal) as number[]));
        keys.set(k.internal, k);
      }
    }
    weights.set('head.out.weight', internal({ internal: 'head.out.weight', key: 'head.weight', shape: c.head.weight.shape, transpose: true }, c.head.weight, [32, 3]));
    weights.set('head.out.bias', f32([3], c.head.bias.data));
    const model = TaskModel.create(base, {
      mode: { kind: 'adapters', adapters, active: parseComposition(c.composition), ...(c.adapter_drop ? { adapterDrop: { kind: 'static', layers: c.adapter_drop } } : {}) },
      head: FIXTURE_HEAD, seed: 1, dropout: 0, weights,
    });
    assert.equal(model.channels, c.channels);
    const keyOf = (name: string) => (name === 'head.out.weight' ? 'head.weight' : name === 'head.out.bias' ? 'head.bias' : (keys.get(name) as FileTensorKey).key);
    assert.deepEqual(model.trainable.map((x) => keyOf(x.name)).sort(), [...c.trainable].sort(), 'the trained tensors are the reference\'s (frozen adapters train nothing)');
    const out = await model.trainStep(batchOf(FIXTURE.inputs), FIXTURE.labels);
    assert.ok(close(out.loss, c.loss, 1e-5, 1e-6), `loss ${out.loss} vs ${c.loss}`);
    let worstLogit = 0;
    assert.equal(out.logits.length, c.logits.data.length);
    c.logits.data.forEach((v, i) => {
      worstLogit = Math.max(worstLogit, Math.abs((out.logits[i] as number) - v));
      assert.ok(close(out.logits[i] as number, v, 1e-4, 1e-5), `logit ${i}: ${out.logits[i]} vs ${v}`);
    });
    let worstGrad = 0;
    model.trainable.forEach((tt, j) => {
      const key = keyOf(tt.name);
      const r = c.gradients[key] as Rec;
      const g = out.grads[j] as Float32Array;
      const k = tt.name.startsWith('head.') ? (tt.shape.length === 2 ? { internal: tt.name, key, shape: [...tt.shape].reverse(), transpose: true } : undefined) : keys.get(tt.name);
      for (let i = 0; i < g.length; i++) {
        const want = r.data[fileIndex(k, tt.shape, i)] as number;
        worstGrad = Math.max(worstGrad, Math.abs((g[i] as number) - want));
        assert.ok(close(g[i] as number, want, 1e-3, 2e-6), `${key}[${i}]: ${g[i]} vs ${want}`);
      }
    });
    t.diagnostic(`max |diff|: loss ${Math.abs(out.loss - c.loss).toExponential(2)}, logits ${worstLogit.toExponential(2)}, gradients ${worstGrad.toExponential(2)}`);
    await model.dispose();
  });
}

test('a composition of one adapter is exactly the plain adapter, for every method (and with other adapters loaded but inactive)', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const batch = base.tokenizer.encode(['the cat sat on the mat .', 'a dog ran fast', 'good'], 16);
  const labels = [0, 2, 1];
  const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] });
  const configs: MethodConfig[] = [
    methodConfig('paper', { size: 4 }), methodConfig('houlsby', { reduction_factor: 8 }), methodConfig('pfeiffer', { reduction_factor: 8 }),
    methodConfig('parallel', { reduction_factor: 8, init_weights: 'bert' }), methodConfig('lora', { r: 2, init_weights: 'bert' }), methodConfig('ia3'), methodConfig('ia3-peft'),
    methodConfig('pfeiffer', { reduction_factor: 8, residual_before_ln: false }), // not additive: it replaces the residual connection
  ];
  for (const c of configs) {
    const plain = TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head, seed: 7, dropout: 0.1 });
    const want = await plain.predict(batch);
    const wantStep = await plain.trainStep(batch, labels);
    for (const mode of [
      { kind: 'adapters' as const, adapters: [{ name: 'adapter', config: c }], active: 'adapter' },
      { kind: 'adapters' as const, adapters: [{ name: 'adapter', config: c }, { name: 'other', config: methodConfig('lora', { r: 3, init_weights: 'bert' }), trainable: false }], active: Stack('adapter') },
    ]) {
      const m = TaskModel.create(base, { mode, head, seed: 7, dropout: 0.1 });
      assert.deepEqual(Array.from(await m.predict(batch)), Array.from(want), `${label(c)}: predictions differ`);
      const step = await m.trainStep(batch, labels);
      assert.equal(step.loss, wantStep.loss, `${label(c)}: the training loss differs (dropout on)`);
      plain.trainable.forEach((p, j) => {
        const i = m.trainable.findIndex((x) => x.name === p.name);
        assert.deepEqual(Array.from(step.grads[i] as Float32Array), Array.from(wantStep.grads[j] as Float32Array), `${label(c)}: gradient of ${p.name} differs`);
      });
      await m.dispose();
    }
    await plain.dispose();
  }
  function label(c: MethodConfig): string {
    return `${c.preset ?? c.method}${methodOf(c).structure(c as never) && 'unsupported' in methodOf(c).structure(c as never) ? ' (non-additive)' : ''}`;
  }
});

test('nestings AdapterHub does not allow are errors naming the outer and inner block; so are the parser\'s mistakes', () => {
  const cases: [string, RegExp][] = [
    ['Fuse(Fuse(a, b), c)', /cannot nest Fuse inside Fuse: Fuse may hold adapter names, Stack/],
    ['Fuse(Split(a, b, splits=128), c)', /cannot nest Split inside Fuse/],
    ['Split(a, Fuse(b, c), splits=128)', /cannot nest Fuse inside Split: Split may hold adapter names, Split, Stack, BatchSplit, Average/],
    ['Average(Parallel(a, b), c)', /cannot nest Parallel inside Average/],
    ['Parallel(a, Parallel(b, c))', /cannot nest Parallel inside Parallel/],
    ['BatchSplit(a, Fuse(b, c), batch_sizes=2)', /cannot nest Fuse inside BatchSplit/],
    ['Stack(a, Fuse(b, Stack(Fuse(c, d), e)))', /too deep: Fuse\(c, d\) at level 3/],
    ['Stack(a, Average(b, Stack(c, Split(d, e, splits=2))))', /too deep/],
    ['Stack(a, b', /expected "," or "\)" at position 10/],
    ['Mix(a, b)', /unknown block "Mix"/],
    ['BatchSplit(a, b)', /BatchSplit needs batch_sizes/],
    ['BatchSplit(a, b, batch_sizes=[1, 2, 3])', /batch_sizes has 3 entries for 2 children/],
    ['Average(a, b, weights=[1, -1])', /sum to 0/],
    ['Stack(a, splits=3)', /Stack has no argument splits/],
    ['Stack()', /Stack has no children/],
    ['Stack(a b)', /expected "," or "\)"/],
    ['Stack(a.b)', /is not an adapter name/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseComposition(text), re, text);
  // AdapterHub's own spelling parses, and the canonical text reads back
  assert.deepEqual(parseComposition('ac.Stack("a", ac.Average("b", "c", weights=[1, 3]))'), Stack('a', { type: 'Average', children: ['b', 'c'], weights: [0.25, 0.75] }));
  for (const t of ['Stack(lang, task)', 'Parallel(Stack(a, b), c)', 'BatchSplit(a, Stack(b, c), batch_sizes=[2, 2])', 'Split(a, b, splits=[3, 5])', 'Average(a, b, weights=[0.25, 0.75])', 'Average(a, b)', 'Fuse(a, b)', 'Average(a, b, weights=[2, 1], normalize_weights=false)']) {
    assert.equal(formatComposition(parseComposition(t)), t);
    assert.deepEqual(compositionFromDict(compositionToDict(parseComposition(t))), parseComposition(t));
  }
  assert.deepEqual(parseComposition('a'), Stack('a'));
  assert.deepEqual(BatchSplit('a', 'b', { batch_sizes: 2 }), { type: 'BatchSplit', children: ['a', 'b'], batch_sizes: [2, 2] });
  assert.deepEqual(Parallel('a', 'b'), { type: 'Parallel', children: ['a', 'b'] });
});

test('what adapters at one site cannot do together is an error naming the site and the adapters', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'] });
  const adapters: NamedAdapter[] = [
    { name: 'lang', config: methodConfig('pfeiffer', { reduction_factor: 8 }) },
    { name: 'p1', config: methodConfig('parallel', { reduction_factor: 8 }) },
    { name: 'p2', config: methodConfig('parallel', { reduction_factor: 4 }) },
    { name: 'l', config: methodConfig('lora', { r: 2, intermediate_lora: true }) },
    { name: 'm', config: methodConfig('lora', { r: 2, intermediate_lora: true }) },
    { name: 'i', config: methodConfig('ia3') },
  ];
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters, active: 'lang' }, head, seed: 1 });
  const bad: [string, RegExp][] = [
    ['Stack(l, i)', /projection 0\.value: Stack\(l, i\) composes l LoRA, i IA³ \(output scaling\) there/],
    ['Average(lang, p1)', /sub-layer 0\.ffn: adapters lang and p1 differ in is_parallel/],
    ['Stack(p1, p2)', /sub-layer 0\.ffn: Stack\(p1, p2\) stacks parallel bottleneck adapters \(p1, p2\)/],
    ['Stack(l, m)', /projection 0\.intermediate: in Stack\(l, m\), LoRA m follows a LoRA update 37 wide but its input is 32 wide/],
    ['Split(l, m, splits=[2, 2])', /Split is implemented for bottleneck adapters only/],
    ['Fuse(lang, p1)', /Fuse\(lang, p1\) runs the fusion lang,p1, which the model does not hold \(it holds none\)/],
    ['Stack(lang, nope)', /uses adapter nope, which the model does not hold \(it holds lang, p1, p2, l, m, i\)/],
    ['BatchSplit(p1, BatchSplit(p2, lang, batch_sizes=[1, 1]), batch_sizes=[2, 3])', /BatchSplit\(p2, lang, batch_sizes=\[1, 1\]\) splits 2 rows but receives 3/],
  ];
  for (const [text, re] of bad) assert.throws(() => m.activate(parseComposition(text)), re, text);
  assert.throws(() => TaskModel.create(base, { mode: { kind: 'adapters', adapters: [...adapters, adapters[0] as NamedAdapter], active: 'lang' }, head, seed: 1 }), /adapter lang is listed twice/);
  assert.throws(() => TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('lora') }, head, seed: 1 }).activate('x'), /activate\(\) needs a model created with several named adapters/);
  // BatchSplit and Split check the batch at run time
  m.activate(parseComposition('BatchSplit(p1, p2, batch_sizes=[1, 1])'));
  await assert.rejects(m.predict(base.tokenizer.encode(['a', 'b', 'c'], 8)), /the batch has 3 rows, but the active composition's BatchSplit needs exactly 2/);
  m.activate(parseComposition('Split(p1, p2, splits=[2, 2])'));
  await assert.rejects(m.predict(base.tokenizer.encode(['a good long sentence here', 'b'], 8)), /Split needs exactly 4 \(pad to that length\)/);
  await m.dispose();
});

test('Parallel gives each adapter\'s outputs channel after channel, each equal to that adapter alone (BERT, and USE-lite\'s pre-norm layers and mean pooling)', async () => {
  for (const source of ['test/fixtures/models/tiny-bert', 'use-lite']) {
    const base = await loadBase(source);
    const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] });
    const adapters: NamedAdapter[] = [
      { name: 'a', config: methodConfig('houlsby', { reduction_factor: 8, init_weights: 'bert' }) },
      { name: 'b', config: methodConfig('lora', { r: 2, init_weights: 'bert', leave_out: [0] }) },
      { name: 'c', config: methodConfig('pfeiffer', { reduction_factor: 8, init_weights: 'bert' }) },
    ];
    const batch = base.tokenizer.encode(['the cat sat on the mat .', 'a dog ran fast', 'good'], 16);
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters, active: Parallel('a', Stack('c', 'b')) }, head, seed: 2 });
    const both = await m.predict(batch);
    assert.equal(both.length, 2 * 3 * 3);
    for (const [i, alone] of ['a', 'Stack(c, b)'].entries()) {
      m.activate(parseComposition(alone));
      const want = await m.predict(batch);
      want.forEach((v, j) => assert.ok(Math.abs((both[i * 9 + j] as number) - v) < 1e-5, `${source}, channel ${alone} logit ${j}: ${both[i * 9 + j]} vs ${v}`));
    }
    await m.dispose();
  }
});

test('prefix tuning composes in Stack, Parallel and BatchSplit (AdapterHub\'s supported blocks); the other blocks, prompts and gated unions are refused naming the block and the method', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] });
  const adapters: NamedAdapter[] = [
    { name: 'p', config: methodConfig('prefix-flat', { prefix_length: 2 }) }, { name: 'q', config: methodConfig('prefix', { prefix_length: 3, bottleneck_size: 4 }) },
    { name: 'lang', config: methodConfig('pfeiffer', { reduction_factor: 8 }) }, { name: 'pr', config: methodConfig('prompt', { prompt_length: 2 }) }, { name: 'u', config: methodConfig('unipelt') },
  ];
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters, active: 'p' }, head, seed: 3 });
  const bad: [string, RegExp][] = [
    ['Average(p, q)', /attention 0\.self_attention: Average\(p, q\) averages the prefix-tuning adapters p, q; AdapterHub's prefix tuning composes in Stack, Parallel and BatchSplit only \(its PrefixTuningLayer\.mean is not implemented\)/],
    ['Split(p, lang, splits=[2, 2])', /attention 0\.self_attention: Split\(p, lang, splits=\[2, 2\]\) holds the prefix-tuning adapters p; AdapterHub's prefix tuning composes in Stack, Parallel and BatchSplit only/],
    ['Stack(lang, pr)', /Stack\(lang, pr\): adapter pr is prompt tuning \(P=2, prefix\), which cannot be composed: AdapterHub joins the prompt of an active setup's first adapter only/],
    ['Stack(u, lang)', /lora config: use_gating: a gated LoRA cannot be composed with other adapters in adapterkit yet/], // a union composes part by part (the union cases above): UniPELT's gated LoRA cannot
  ];
  for (const [text, re] of bad) assert.throws(() => m.activate(parseComposition(text)), re, text);
  const batch = base.tokenizer.encode(['the cat sat on the mat .', 'a dog ran fast', 'good'], 16);
  m.activate(parseComposition('Stack(p, lang)'), { adapterDrop: { kind: 'robust', maxLayers: 1 } });
  await assert.rejects(m.trainStep(batch, [0, 1, 2]), /robust AdapterDrop with the prefix-tuning adapters p: not implemented \(their prefixes change the attention's key length per batch\); use static AdapterDrop/);
  m.activate(parseComposition('Stack(p, lang)'), { adapterDrop: null });
  // a Stack of prefixes is their union of keys: order does not matter to the softmax
  m.activate(parseComposition('Stack(p, q)'));
  const pq = await m.predict(batch);
  m.activate(parseComposition('Stack(q, p)'));
  const qp = await m.predict(batch);
  pq.forEach((v, i) => assert.ok(Math.abs(v - (qp[i] as number)) < 1e-5));
  m.activate('p');
  const alone = await m.predict(batch);
  assert.ok(pq.some((v, i) => Math.abs(v - (alone[i] as number)) > 1e-4), 'q\'s prefix changes the outputs');
  await m.dispose();
});

test('robust AdapterDrop draws n per training batch: every step equals a static drop of some n, and several n occur; inference drops none', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'], dropout: 0 });
  const adapters: NamedAdapter[] = [{ name: 'a', config: methodConfig('houlsby', { reduction_factor: 8, init_weights: 'bert' }) }, { name: 'l', config: methodConfig('lora', { r: 2, init_weights: 'bert' }) }];
  const batch = base.tokenizer.encode(['the cat sat on the mat .', 'a dog ran fast', 'good'], 16);
  const labels = [0, 2, 1];
  const active = parseComposition('Stack(a, l)');
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters, active }, head, seed: 4, dropout: 0 });
  const statics: number[] = [];
  for (const n of [0, 1, 2]) {
    m.activate(active, { adapterDrop: { kind: 'static', layers: n } });
    statics.push((await m.trainStep(batch, labels)).loss);
  }
  assert.equal(new Set(statics).size, 3, 'dropping 0, 1 or 2 layers gives three different losses');
  m.activate(active, { adapterDrop: null });
  const full = await m.predict(batch);
  m.activate(active, { adapterDrop: { kind: 'robust', maxLayers: 2 } });
  const seen = new Set<number>();
  for (let s = 0; s < 12; s++) {
    const { loss } = await m.trainStep(batch, labels);
    const k = statics.findIndex((x) => Math.abs(x - loss) < 1e-6);
    assert.ok(k >= 0, `step ${s}: loss ${loss} is none of the static drops ${statics.join(', ')}`);
    seen.add(k);
  }
  assert.ok(seen.size >= 2, `robust AdapterDrop drew only n = ${[...seen].join(', ')}`);
  assert.deepEqual(Array.from(await m.predict(batch)), Array.from(full), 'inference with robust AdapterDrop runs every adapter');
  assert.throws(() => m.activate(active, { adapterDrop: { kind: 'static', layers: 3 } }), /AdapterDrop: layers must be an integer from 0 to 2/);
  await m.dispose();
});
