/**
 * Finite-difference check through one whole post-norm Transformer layer (the BERT layer the models
 * use): frozen linear weights (graph constants), trainable layer norms and layer input, and an
 * attention mask with a padded position. Also checks that no weight gradient is built for the
 * frozen linear weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import { f32, i64, type Value } from '../../src/engine/index.js';
import { parseBertConfig } from '../../src/models/bert/config.js';
import { bertLayer, maskBias } from '../../src/models/bert/encoder.js';
import { layerNames } from '../../src/models/bert/names.js';
import type { BuildContext } from '../../src/models/encoder.js';
import { gradcheck, randn } from './gradcheck.js';

const config = parseBertConfig({
  model_type: 'bert', hidden_size: 8, num_attention_heads: 2, intermediate_size: 12, hidden_act: 'gelu',
  num_hidden_layers: 1, vocab_size: 10, max_position_embeddings: 8, layer_norm_eps: 1e-12,
});
const B = 2;
const T = 3;
const D = config.hiddenSize;
const F = config.intermediateSize;
const names = layerNames('bert', 0);
const LINEARS: [string, number, number][] = [
  [names.query, D, D], [names.key, D, D], [names.value, D, D], [names.attentionOutput, D, D], [names.intermediate, D, F], [names.output, F, D],
];
const NORMS = [names.attentionNorm, names.outputNorm];
/** Second example's last token is padding. */
const MASK = i64([B, T], [1, 1, 1, 1, 1, 0]);

/** Initial values of the trainable tensors: the layer input and both layer norms. */
function trainable(): Record<string, E.HostTensor<'float32'>> {
  const p: Record<string, E.HostTensor<'float32'>> = { h: randn([B, T, D], 1) };
  NORMS.forEach((n, i) => {
    p[`${n}.weight`] = randn([D], 10 + i, 0.7, 1.3);
    p[`${n}.bias`] = randn([D], 20 + i, -0.2, 0.2);
  });
  return p;
}

/** Builds the layer: linear weights and biases as frozen constants, norms from `p`. */
function layer(g: E.Graph, p: Record<string, Value>): { y: Value; frozen: Set<Value> } {
  const frozen = new Set<Value>();
  const constants = new Map<string, Value>();
  LINEARS.forEach(([n, nin, nout], i) => {
    const w = g.constant(`${n}.weight`, randn([nin, nout], 100 + i, -0.6, 0.6));
    frozen.add(w);
    constants.set(`${n}.weight`, w);
    constants.set(`${n}.bias`, g.constant(`${n}.bias`, randn([nout], 200 + i, -0.1, 0.1)));
  });
  let seed = 1;
  const ctx: BuildContext = {
    graph: g,
    weight: (name) => {
      const v = p[name] ?? constants.get(name);
      if (!v) throw new Error(`the layer asked for an unknown weight ${name}`);
      return v;
    },
    nextSeed: () => seed++,
  };
  const bias = maskBias(g.constant('attention_mask', MASK)); // [B, 1, 1, T]
  return { y: bertLayer(ctx, config, 0, p.h as Value, bias), frozen };
}

test('finite differences through a post-norm Transformer layer (frozen linears, padded key)', () =>
  gradcheck({
    params: trainable(),
    build: (p, _x, g) => layer(g, p).y,
  }));

test('the padded key gets no attention: changing its input changes only its own output row', async () => {
  const g = new E.Graph('padded');
  const p: Record<string, Value> = {};
  for (const [name, t] of Object.entries(trainable())) p[name] = g.param(name, t);
  const { y } = layer(g, p);
  g.output(y);
  const s = await E.Session.create(g);
  const before = Float32Array.from((await s.run({}))[y.name]?.data as Float32Array);
  const h = g.dataOf(p.h as Value).data as Float32Array;
  for (let k = 0; k < D; k++) h[(1 * T + 2) * D + k] = (h[(1 * T + 2) * D + k] as number) + 5; // example 1, token 2 (padding)
  const after = (await s.run({}))[y.name]?.data as Float32Array;
  await s.dispose();
  for (let t = 0; t < B * T; t++) {
    const row = (i: Float32Array) => Array.from(i.subarray(t * D, (t + 1) * D));
    if (t === 1 * T + 2) assert.notDeepEqual(row(after), row(before), 'the padded position still computes its own output');
    else assert.deepEqual(row(after), row(before), `row ${t} changed when only the padded key's input changed`);
  }
});

test('no weight gradient is built for the frozen linear weights', () => {
  const g = new E.Graph('frozen');
  const p: Record<string, Value> = {};
  for (const [name, t] of Object.entries(trainable())) p[name] = g.param(name, t);
  const { y, frozen } = layer(g, p);
  const loss = E.reduceSum(E.mul(y, g.constant('r', randn([B, T, D], 5))));
  const params = Object.values(p);
  const forward = g.nodes.length;
  const grads = E.gradients(loss, params);
  assert.equal(grads.length, params.length);
  grads.forEach((d, i) => assert.deepEqual(d.shape, (params[i] as Value).shape));
  const backward = g.nodes.slice(forward);
  assert.ok(backward.length > 0 && backward.every((n) => n.name.startsWith('grad/')), 'every backward node is in the grad scope');
  // Frozen weights are read only by the input-gradient products dX = dY @ W^T (Gemm with transB).
  const inputGradGemms = backward.filter((n) => n.opType === 'Gemm' && n.attrs.transB !== undefined);
  assert.equal(inputGradGemms.length, LINEARS.length, 'one input-gradient product per linear layer');
  for (const n of backward) {
    const readsFrozen = n.inputs.some((v) => v && frozen.has(v));
    if (!readsFrozen) continue;
    assert.equal(n.opType, 'Gemm', `${n.name} (${n.opType}) reads a frozen weight`);
    assert.ok(n.attrs.transB && 'i' in n.attrs.transB && n.attrs.transB.i === 1 && n.attrs.transA === undefined, `${n.name} is not an input-gradient product`);
    assert.equal(n.inputs[1] && frozen.has(n.inputs[1]), true, `${n.name} reads a frozen weight as its A operand`);
  }
  // The weight-gradient form (Gemm with transA: X^T @ dY) is never built: not on the layer input, not anywhere.
  const weightGrad = backward.filter((n) => n.opType === 'Gemm' && n.attrs.transA !== undefined);
  assert.deepEqual(weightGrad.map((n) => n.name), []);
  assert.ok(!backward.some((n) => n.inputs.includes(p.h as Value) && n.opType === 'Gemm'), 'a Gemm in the grad scope consumes the layer input');
  // Serialised for training: the loss plus one gradient per parameter, parameters fed as inputs.
  const model = E.serializeGraph(g, { outputs: [loss, ...grads] });
  assert.equal(model.outputs.length, 1 + params.length);
  assert.deepEqual(model.inputs.map((v) => v.name).sort(), params.map((v) => v.name).sort());
  for (const w of frozen) assert.ok(model.initializers.includes(w), `${w.name} is an initializer`);
});

test('the layer runs on symbolic batch and sequence sizes', async () => {
  const g = new E.Graph('symbolic');
  const x = g.input('x', 'float32', ['batch', 'seq', D]);
  const mask = g.input('mask', 'int64', ['batch', 'seq']);
  const consts = new Map<string, Value>();
  for (const [n, nin, nout] of LINEARS) {
    consts.set(`${n}.weight`, g.constant(`${n}.weight`, randn([nin, nout], 7)));
    consts.set(`${n}.bias`, g.constant(`${n}.bias`, f32([nout])));
  }
  for (const n of NORMS) {
    consts.set(`${n}.weight`, g.param(`${n}.weight`, f32([D], new Float32Array(D).fill(1))));
    consts.set(`${n}.bias`, g.param(`${n}.bias`, f32([D])));
  }
  const ctx: BuildContext = { graph: g, weight: (n) => consts.get(n) as Value, nextSeed: () => 1 };
  const y = bertLayer(ctx, config, 0, x, maskBias(mask));
  assert.deepEqual(y.shape, ['batch', 'seq', D]);
  const loss = E.reduceMean(E.mul(y, y));
  g.output(loss, ...E.gradients(loss, g.params));
  const s = await E.Session.create(g);
  for (const [b, t] of [[1, 5], [3, 2]] as const) {
    const out = await s.run({ x: randn([b, t, D], 3), mask: i64([b, t], new Array(b * t).fill(1)) });
    assert.ok(Number.isFinite((out[loss.name]?.data as Float32Array)[0]));
  }
  await s.dispose();
});
