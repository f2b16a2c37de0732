import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Graph, Session, add, bool, f32, gradients, layerNorm, mul, reduceSum, type HostTensor, type Value } from '../../src/engine/index.js';
import { buildEncoderGraph } from '../../src/models/build.js';
import { defaultSubLayer, type BuildContext } from '../../src/models/encoder.js';
import { createUseLiteEncoder, l2Normalize, useLiteBatchTensors } from '../../src/models/use-lite/encoder.js';
import { randn } from '../engine/gradcheck.js';
import { buildUseLiteGraph, cosine, feedsFor, maxAbsDiff, reference, runRows, useLite } from './encoder-harness.js';

/** A padded batch: short and long rows, an unknown-heavy row, and the empty text. */
const mixed = ['Hello world.', 'The quick brown fox jumps over the lazy dog', '東京は日本の首都です。', ''];

test('weightSpecs match the loaded weights exactly (names, shapes, order) and describe() counts them', async () => {
  const { encoder, weights } = await useLite();
  assert.deepEqual(encoder.weightSpecs.map((s) => s.name), [...weights.keys()]);
  for (const s of encoder.weightSpecs) assert.deepEqual([...(weights.get(s.name)?.shape ?? [])], [...s.shape], s.name);
  const byName = new Map(encoder.weightSpecs.map((s) => [s.name, s]));
  assert.deepEqual(byName.get('embeddings.weight')?.shape, [8002, 256]);
  assert.deepEqual(byName.get('layer.0.attention.qkv.weight'), { name: 'layer.0.attention.qkv.weight', shape: [256, 768], role: 'linear', layer: 0 });
  assert.deepEqual(byName.get('layer.0.residual.weight')?.shape, [256, 512]);
  assert.equal(byName.has('layer.1.residual.weight'), false);
  assert.deepEqual(byName.get('layer.1.attention.output.weight')?.shape, [512, 512]);
  assert.equal(byName.get('layer.1.ffn_norm.weight')?.role, 'norm');
  assert.equal(byName.get('layer.1.ffn.output.bias')?.role, 'bias');
  assert.equal(byName.get('pooler.dense.weight')?.role, 'pooler');
  assert.equal(encoder.weightSpecs.filter((s) => s.role === 'norm').length, 8);
  const total = [...weights.values()].reduce((n, t) => n + t.data.length, 0);
  assert.equal(encoder.describe().params, total);
  assert.equal(total, 6_975_744);
  const att0 = encoder.sites.sublayer(0, 'attention');
  assert.deepEqual([att0.width, att0.inputWidth, att0.norm, att0.normPrefix], [512, 256, 'pre', 'layer.0.attention_norm']);
  assert.equal(encoder.sites.sublayer(1, 'ffn').width, 512);
  assert.deepEqual(encoder.sites.linear(1, 'key').columns, [512, 1024]);
  assert.deepEqual([encoder.sites.linear(0, 'value').weight, encoder.sites.linear(0, 'value').inWidth], ['layer.0.attention.qkv.weight', 256]);
  assert.deepEqual([encoder.sites.linear(1, 'intermediate').outWidth, encoder.sites.attention(1).headDim], [1536, 128]);
  assert.throws(() => encoder.sites.sublayer(2, 'ffn'), /no sub-layer site 2\.ffn/);
  assert.equal(encoder.describe().family, 'use-lite');
});

test('embeddings match the TF.js graph on every reference sentence (batches of 8, padded)', async (t) => {
  const b = await buildUseLiteGraph();
  b.graph.output(b.embedding);
  const s = await Session.create(b.graph);
  let minCos = 1;
  let maxDiff = 0;
  for (let i = 0; i < reference.sentences.length; i += 8) {
    const chunk = reference.sentences.slice(i, i + 8);
    const rows = await runRows(s, b.embedding, chunk.map((c) => c.text));
    chunk.forEach((c, k) => {
      const cos = cosine(rows[k] as Float32Array, c.embedding);
      assert.ok(cos >= 0.9999, `sentence ${i + k} ${JSON.stringify(c.text.slice(0, 40))}: cosine ${cos}`);
      minCos = Math.min(minCos, cos);
      maxDiff = Math.max(maxDiff, maxAbsDiff(rows[k] as Float32Array, c.embedding));
    });
  }
  await s.dispose();
  t.diagnostic(`${reference.sentences.length} sentences: min cosine ${minCos}, max |diff| ${maxDiff.toExponential(2)}`);
  assert.ok(maxDiff < 1e-5, `max |diff| ${maxDiff}`);
});

test('with numLayers 1, hidden is the recorded layer-0 output at every real token', async () => {
  const b = await buildUseLiteGraph({ numLayers: 1 });
  b.graph.output(b.out.hidden);
  const s = await Session.create(b.graph);
  const withLayer0 = reference.sentences.filter((r) => r.layer0Output);
  assert.ok(withLayer0.length >= 3);
  const batch = withLayer0.map((r) => r.text);
  const out = (await s.run(await feedsFor(batch), [b.out.hidden]))[b.out.hidden.name] as HostTensor;
  await s.dispose();
  const [B, T, H] = out.shape as [number, number, number];
  assert.deepEqual([B, H], [withLayer0.length, 512]);
  const data = out.data as Float32Array;
  withLayer0.forEach((r, i) => {
    (r.layer0Output as number[][]).forEach((row, tok) => {
      const got = data.subarray((i * T + tok) * H, (i * T + tok + 1) * H);
      assert.ok(maxAbsDiff(got, row) < 1e-3 * Math.max(1, ...row.map(Math.abs)), `sentence ${i} token ${tok}`);
    });
  });
});

test('hooks that add zero are called at every sub-layer and projection site and leave outputs unchanged', async () => {
  const plain = await buildUseLiteGraph();
  plain.graph.output(plain.embedding);
  const calls: string[] = [];
  const hooked = await buildUseLiteGraph({
    hooks: {
      sublayer: (site, p) => {
        calls.push(`${site.key}:${p.output.shape.join('x')}:${p.input.shape[2]}`);
        return defaultSubLayer({ ...p, output: add(p.output, p.output.graph.constant(`zero_${site.key}`, f32([512]))) });
      },
      linear: (site, x, apply) => {
        calls.push(`${site.key}:${x.shape[2]}`);
        return apply(x);
      },
    },
  });
  hooked.graph.output(hooked.embedding, hooked.out.hidden);
  assert.deepEqual(calls, [
    '0.query:256', '0.key:256', '0.value:256', '0.attention_output:256', '0.attention:batchxseqx512:256', '0.intermediate:512', '0.output:1536', '0.ffn:batchxseqx512:512',
    '1.query:512', '1.key:512', '1.value:512', '1.attention_output:512', '1.attention:batchxseqx512:512', '1.intermediate:512', '1.output:1536', '1.ffn:batchxseqx512:512',
  ]);
  assert.ok(hooked.graph.nodes.length > plain.graph.nodes.length);
  const s1 = await Session.create(plain.graph);
  const s2 = await Session.create(hooked.graph);
  const a = await runRows(s1, plain.embedding, mixed);
  const b = await runRows(s2, hooked.embedding, mixed);
  await s1.dispose();
  await s2.dispose();
  a.forEach((row, i) => assert.ok(maxAbsDiff(row, b[i] as Float32Array) < 1e-6, `row ${i}`));
});

test('gradients w.r.t. the layer norms build, run and agree with finite differences', async (t) => {
  const b = await buildUseLiteGraph({ trainable: (name) => name.includes('_norm.') });
  assert.equal(b.params.length, 8);
  const texts3 = mixed.slice(0, 3);
  const r = b.graph.constant('r', randn([texts3.length, 512], 11));
  const loss = reduceSum(mul(b.out.pooled, r));
  const grads = gradients(loss, b.params);
  b.graph.output(loss, ...grads);
  const s = await Session.create(b.graph);
  const feeds = await feedsFor(texts3);
  const out = await s.run(feeds);
  for (const [k, gv] of grads.entries()) {
    const d = (out[gv.name] as HostTensor).data as Float32Array;
    assert.deepEqual(out[gv.name]?.shape, b.params[k]?.shape);
    assert.ok(d.every(Number.isFinite), `gradient of ${b.params[k]?.name} is finite`);
    assert.ok(d.some((x) => x !== 0), `gradient of ${b.params[k]?.name} is not all zero`);
  }
  const lossAt = async (): Promise<number> => ((await s.run(feeds, [loss]))[loss.name]?.data as Float32Array)[0] as number;
  // eps 1e-3: with 1e-2 the ReLU kinks and tanh make central differences off by up to 20% here
  // (they converge to the analytic values as eps shrinks); 1e-3 is still well above float32 noise.
  const eps = 1e-3;
  const checks: [string, number[]][] = [
    ['layer.1.ffn_norm.weight', [0, 7, 300, 511]],
    ['layer.1.attention_norm.weight', [5, 100]],
    ['layer.0.attention_norm.bias', [3, 200]],
  ];
  let worst = 0;
  for (const [name, elements] of checks) {
    const k = b.params.findIndex((p) => p.name === name);
    const p = b.params[k] as Value;
    const analytic = (out[(grads[k] as Value).name] as HostTensor).data as Float32Array;
    const data = b.graph.dataOf(p).data as Float32Array;
    for (const i of elements) {
      const orig = data[i] as number;
      data[i] = orig + eps;
      const lp = await lossAt();
      data[i] = orig - eps;
      const lm = await lossAt();
      data[i] = orig;
      const numeric = (lp - lm) / (2 * eps);
      const a = analytic[i] as number;
      const err = Math.abs(a - numeric);
      const tol = 1e-2 + 2e-2 * Math.abs(numeric);
      worst = Math.max(worst, err / tol);
      assert.ok(err <= tol, `${name}[${i}]: analytic ${a}, numeric ${numeric}`);
    }
  }
  await s.dispose();
  t.diagnostic(`worst error / tolerance ${worst.toFixed(3)}`);
});

test('dropout changes outputs only when training is true (training graph with gradients)', async () => {
  const plain = await buildUseLiteGraph();
  plain.graph.output(plain.embedding);
  const drop = await buildUseLiteGraph({ training: true, trainable: (name) => name.includes('_norm.') });
  const loss = reduceSum(mul(drop.out.pooled, drop.graph.constant('r', randn([mixed.length, 512], 5))));
  drop.graph.output(drop.embedding, loss, ...gradients(loss, drop.params));
  assert.equal(drop.graph.nodes.filter((n) => n.opType === 'Dropout').length, 6);
  assert.equal(plain.graph.nodes.filter((n) => n.opType === 'Dropout').length, 0);
  const s1 = await Session.create(plain.graph);
  const s2 = await Session.create(drop.graph);
  const base = await runRows(s1, plain.embedding, mixed);
  const off = await runRows(s2, drop.embedding, mixed, { training: bool([], [false]) });
  const on = await runRows(s2, drop.embedding, mixed, { training: bool([], [true]) });
  await s1.dispose();
  await s2.dispose();
  base.forEach((row, i) => assert.ok(maxAbsDiff(row, off[i] as Float32Array) < 1e-6, `row ${i} with training=false`));
  // The empty text (last row) pools nothing, so only rows with tokens change.
  for (let i = 0; i < 3; i++) assert.ok(maxAbsDiff(base[i] as Float32Array, on[i] as Float32Array) > 1e-3, `row ${i} with training=true`);
});

test('forward-only graph: dropout is active with training=true when ORT optimisations are off', async () => {
  // With optimisation 'basic' or higher, ONNX Runtime's EliminateDropout removes every Dropout
  // node whose mask output is unused, whatever the training input says (reported to the engine).
  const drop = await buildUseLiteGraph({ training: true });
  drop.graph.output(drop.embedding);
  const s = await Session.create(drop.graph, { optimization: 'disabled' });
  const off = await runRows(s, drop.embedding, mixed, { training: bool([], [false]) });
  const on = await runRows(s, drop.embedding, mixed, { training: bool([], [true]) });
  await s.dispose();
  assert.ok(cosine(off[0] as Float32Array, reference.sentences[0]?.embedding ?? []) > 0.9999);
  for (let i = 0; i < 3; i++) assert.ok(maxAbsDiff(off[i] as Float32Array, on[i] as Float32Array) > 1e-3, `row ${i}`);
});

test('build rejects bad inputs, bad numLayers and misshapen weights with specific messages', async () => {
  const { weights } = await useLite();
  const encoder = createUseLiteEncoder();
  const make = (o: { dtype?: 'int32' | 'int64'; numLayers?: number; swap?: string }) => {
    const g = new Graph('bad');
    const ids = g.input('input_ids', o.dtype ?? 'int64', ['batch', 'seq']);
    const mask = g.input('attention_mask', 'int64', ['batch', 'seq']);
    const ctx: BuildContext = {
      graph: g,
      weight: (n) => (n === o.swap ? g.constant(n, f32([3])) : g.constant(n, weights.get(n) as HostTensor<'float32'>)),
      nextSeed: () => 0,
      ...(o.numLayers !== undefined ? { numLayers: o.numLayers } : {}),
    };
    return encoder.build(ctx, { inputIds: ids, attentionMask: mask });
  };
  assert.throws(() => make({ dtype: 'int32' }), /inputIds \(input_ids int32\[batch, seq\]\) must be int64/);
  assert.throws(() => make({ numLayers: 3 }), /numLayers must be 1 or 2, got 3/);
  assert.throws(() => make({ swap: 'layer.1.ffn.output.weight' }), /weight "layer\.1\.ffn\.output\.weight" is layer\.1\.ffn\.output\.weight float32\[3\], expected float32\[1536, 512\]/);
  assert.equal(make({ numLayers: 1 }).hidden.shape[2], 512);
});

test('useLiteBatchTensors turns a tokenizer batch into int64 feeds', async () => {
  const { tokenizer } = await useLite();
  const t = useLiteBatchTensors(tokenizer.encodeBatch(['Hello world.', 'a']));
  assert.deepEqual(t.inputIds.shape, [2, 4]);
  assert.deepEqual([...t.inputIds.data], [341n, 4125n, 311n, 6n, ...(reference.sentences[7]?.ids ?? []).map(BigInt), 0n, 0n, 0n]);
  assert.deepEqual([...t.attentionMask.data], [1n, 1n, 1n, 1n, 1n, 0n, 0n, 0n]);
});

test('adapter module paths, checkpoint prefix and a layerNorm override', async () => {
  const encoder = createUseLiteEncoder();
  assert.equal(encoder.checkpointPrefix, '');
  assert.equal(encoder.sites.sublayer(0, 'attention').module, 'layer.0.attention.output');
  assert.equal(encoder.sites.sublayer(1, 'ffn').module, 'layer.1.ffn.output');
  assert.equal(encoder.sites.linear(1, 'query').module, 'layer.1.attention.query');
  const plain = await buildUseLiteGraph();
  plain.graph.output(plain.embedding);
  const prefixes: string[] = [];
  const over = await buildUseLiteGraph({
    layerNorm: (x, prefix, eps, weight) => {
      prefixes.push(`${prefix}@${eps}`);
      return layerNorm(x, weight(`${prefix}.weight`), weight(`${prefix}.bias`), eps);
    },
  });
  over.graph.output(over.embedding);
  assert.deepEqual(prefixes, ['layer.0.attention_norm@0.000001', 'layer.0.ffn_norm@0.000001', 'layer.1.attention_norm@0.000001', 'layer.1.ffn_norm@0.000001']);
  const s1 = await Session.create(plain.graph);
  const s2 = await Session.create(over.graph);
  const a = await runRows(s1, plain.embedding, mixed);
  const b = await runRows(s2, over.embedding, mixed);
  await s1.dispose();
  await s2.dispose();
  a.forEach((row, i) => assert.ok(maxAbsDiff(row, b[i] as Float32Array) < 1e-6, `row ${i}`));
});

test('works with the shared buildEncoderGraph (layer norms trainable) and matches the reference', async () => {
  const { encoder, weights } = await useLite();
  const built = buildEncoderGraph(encoder, weights, { trainable: (s) => s.role === 'norm', dropout: true });
  assert.deepEqual(built.params.map((p) => p.name), encoder.weightSpecs.filter((s) => s.role === 'norm').map((s) => s.name));
  const emb = l2Normalize(built.outputs.pooled);
  built.graph.output(emb);
  const s = await Session.create(built.graph);
  const refs = reference.sentences.slice(0, 5);
  const rows = await runRows(s, emb, refs.map((r) => r.text), { training: bool([], [false]) });
  await s.dispose();
  refs.forEach((r, i) => assert.ok(cosine(rows[i] as Float32Array, r.embedding) > 0.9999, r.text));
});
