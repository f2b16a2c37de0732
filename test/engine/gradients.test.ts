/**
 * Finite-difference checks of every gradient rule, including broadcasting cases.
 * Each case builds a tiny graph, differentiates it and compares against central differences.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import { i64, bool, f32 } from '../../src/engine/index.js';
import { PREVIOUS_VARIANTS, setBuildVariants, type BuildVariants } from '../../src/engine/variants.js';
import { gradcheck, randn } from './gradcheck.js';

const away = (shape: number[], seed: number) => {
  // values in ±[0.3, 1.2]: away from kinks (Relu, Abs) and zero (Div, Log after abs)
  const t = randn(shape, seed, 0.3, 1.2);
  const s = randn(shape, seed + 99);
  return f32(shape, t.data.map((v, i) => ((s.data[i] as number) < 0 ? -v : v)));
};
const pos = (shape: number[], seed: number) => randn(shape, seed, 0.5, 1.5);

describe('element-wise binary ops with broadcasting', () => {
  test('Add [2,3] + [3]', () => gradcheck({ params: { a: randn([2, 3], 1), b: randn([3], 2) }, build: (p) => E.add(p.a!, p.b!) }));
  test('Sub [2,1,3] - [4,1]', () => gradcheck({ params: { a: randn([2, 1, 3], 3), b: randn([4, 1], 4) }, build: (p) => E.sub(p.a!, p.b!) }));
  test('Mul [2,3] * [2,1]', () => gradcheck({ params: { a: randn([2, 3], 5), b: randn([2, 1], 6) }, build: (p) => E.mul(p.a!, p.b!) }));
  test('Div [2,3] / [3]', () => gradcheck({ params: { a: randn([2, 3], 7), b: pos([3], 8) }, build: (p) => E.div(p.a!, p.b!) }));
  test('Div [2,3] / [] (a rank-0 divisor, as a fusion\'s temperature)', () => gradcheck({ params: { a: randn([2, 3], 14), b: pos([], 15) }, build: (p) => E.div(p.a!, p.b!) }));
  test('Pow [2,3] ** [3] (base and exponent)', () => gradcheck({ params: { a: pos([2, 3], 9), b: pos([3], 10) }, build: (p) => E.pow(p.a!, p.b!) }));
  test('Pow with a constant exponent', () => gradcheck({ params: { a: pos([4], 11) }, build: (p) => E.pow(p.a!, 3) }));
  test('scalar operand on the left', () => gradcheck({ params: { a: pos([4], 12) }, build: (p) => E.sub(2, E.div(1, p.a!)) }));
  test('same input used twice accumulates', () => gradcheck({ params: { a: randn([3], 13) }, build: (p) => E.mul(p.a!, E.add(p.a!, p.a!)) }));
});

describe('element-wise unary ops', () => {
  const cases: [string, (x: E.Value) => E.Value, (s: number[], k: number) => E.HostTensor<'float32'>][] = [
    ['Neg', E.neg, randn],
    ['Abs', E.abs, away],
    ['Sqrt', E.sqrt, pos],
    ['Exp', E.exp, randn],
    ['Log', E.log, pos],
    ['Erf', E.erf, randn],
    ['Tanh', E.tanh, randn],
    ['Relu', E.relu, away],
    ['Sigmoid', E.sigmoid, randn],
    ['Identity', E.identity, randn],
    ['Gelu (exact)', (x) => E.gelu(x), randn],
    ['Gelu (tanh)', (x) => E.gelu(x, 'tanh'), randn],
    ['SiLU (composed)', E.silu, randn],
  ];
  cases.forEach(([name, f, init], k) => {
    test(name, () => gradcheck({ params: { x: init([2, 3], 20 + k) }, build: (p) => f(p.x!) }));
  });
  test('Gelu (exact) at 0, near 0 and at large |x|', () =>
    gradcheck({ params: { x: f32([8], [0, -0, 1e-6, -1e-6, -9, 9, -4.5, 3.25]) }, build: (p) => E.gelu(p.x!), eps: 1e-3 }));
  test('Sign has zero gradient', () => gradcheck({ params: { x: away([3], 40), w: randn([3], 41) }, build: (p) => E.mul(E.sign(p.x!), p.w!) }));
});

describe('Where and Cast', () => {
  test('Where with broadcast branches', () =>
    gradcheck({
      params: { a: randn([2, 3], 50), b: randn([3], 51) },
      build: (p, _x, g) => E.where(g.constant('cond', bool([2, 3], [true, false, true, false, false, true])), p.a!, p.b!),
    }));
  test('Cast float32 -> float16 -> float32', () =>
    gradcheck({ params: { x: randn([4], 52) }, build: (p) => E.cast(E.cast(p.x!, 'float16'), 'float32'), atol: 2e-2, rtol: 2e-2, eps: 5e-2 }));
});

describe('reductions and softmax', () => {
  test('ReduceSum axis 1', () => gradcheck({ params: { x: randn([2, 3, 2], 60) }, build: (p) => E.reduceSum(p.x!, [1]) }));
  test('ReduceSum keepdims, negative axis', () => gradcheck({ params: { x: randn([2, 3], 61) }, build: (p) => E.reduceSum(p.x!, [-1], true) }));
  test('ReduceMean over axes 0 and 2', () => gradcheck({ params: { x: randn([2, 3, 4], 62) }, build: (p) => E.reduceMean(p.x!, [0, 2]) }));
  test('ReduceMean over all axes', () => gradcheck({ params: { x: randn([3, 2], 63) }, build: (p) => E.reduceMean(p.x!) }));
  test('ReduceMean over a symbolic axis', () =>
    gradcheck({
      params: { w: randn([3], 64) },
      feeds: { x: randn([4, 3], 65) },
      shapes: { x: ['batch', 3] },
      build: (p, x) => E.reduceMean(E.mul(x.x!, p.w!), [0]),
    }));
  test('Softmax last axis', () => gradcheck({ params: { x: randn([2, 4], 66) }, build: (p) => E.softmax(p.x!) }));
  test('Softmax axis 1 of 3', () => gradcheck({ params: { x: randn([2, 3, 2], 67) }, build: (p) => E.softmax(p.x!, 1) }));
  test('LogSoftmax', () => gradcheck({ params: { x: randn([3, 4], 68) }, build: (p) => E.logSoftmax(p.x!) }));
});

describe('matrix products', () => {
  test('MatMul 2-D', () => gradcheck({ params: { a: randn([2, 3], 70), b: randn([3, 4], 71) }, build: (p) => E.matmul(p.a!, p.b!) }));
  test('MatMul 3-D x 2-D (dense layer)', () => gradcheck({ params: { a: randn([2, 2, 3], 72), b: randn([3, 4], 73) }, build: (p) => E.matmul(p.a!, p.b!) }));
  test('MatMul batched 3-D x 3-D', () => gradcheck({ params: { a: randn([2, 2, 3], 74), b: randn([2, 3, 4], 75) }, build: (p) => E.matmul(p.a!, p.b!) }));
  test('MatMul with broadcast batch axes', () => gradcheck({ params: { a: randn([2, 1, 2, 3], 76), b: randn([3, 3, 2], 77) }, build: (p) => E.matmul(p.a!, p.b!) }));
  test('MatMul 3-D x 2-D whose sequence axis is an expression (a prompt joined along a symbolic seq)', () =>
    gradcheck({
      params: { p: randn([1, 2, 3], 86), b: randn([3, 2], 87) }, feeds: { a: randn([2, 4, 3], 88) }, shapes: { a: ['batch', 'seq', 3] },
      // [batch, 2+seq, 3] @ [3, 2], summed over the sequence so that the gradient keeps the symbolic 2+seq
      build: (p, x) => E.reduceSum(E.matmul(E.concat([E.expand(p.p!, ['batch', 2, 3]), x.a!], 1), p.b!), [1]),
    }));
  test('MatMul with a symbolic batch', () =>
    gradcheck({ params: { b: randn([3, 2], 78) }, feeds: { a: randn([2, 4, 3], 79) }, shapes: { a: ['batch', 'seq', 3] }, build: (p, x) => E.matmul(x.a!, p.b!) }));
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    test(`Gemm transA=${ta} transB=${tb} alpha, beta, broadcast C`, () =>
      gradcheck({
        params: { a: randn(ta ? [3, 2] : [2, 3], 80), b: randn(tb ? [4, 3] : [3, 4], 81), c: randn([4], 82) },
        build: (p) => E.gemm(p.a!, p.b!, p.c!, { transA: ta, transB: tb, alpha: 0.7, beta: 1.3 }),
      }));
  }
  test('linear (one Gemm with the bias)', () => gradcheck({ params: { x: randn([2, 3], 83), w: randn([3, 2], 84), b: randn([2], 85) }, build: (p) => E.linear(p.x!, p.w!, p.b!) }));
  test('linear over symbolic batch and sequence axes (rows folded into one Gemm with the bias)', () =>
    gradcheck({
      params: { w: randn([3, 2], 86), b: randn([2], 87) },
      feeds: { x: randn([2, 4, 3], 88) },
      shapes: { x: ['batch', 'seq', 3] },
      build: (p, x) => E.mul(E.linear(x.x!, p.w!, p.b!), E.linear(x.x!, p.w!, p.b!)),
    }));
  test('linear over a rank-3 parameter input: the input gradient through the row reshape', () =>
    gradcheck({ params: { x: randn([2, 2, 3], 89), w: randn([3, 4], 180), b: randn([4], 181) }, build: (p) => E.linear(p.x!, p.w!, p.b!) }));
});

describe('layer normalisation', () => {
  test('over the last axis: x, scale and bias', () =>
    gradcheck({
      params: { x: randn([2, 3, 4], 90), s: pos([4], 91), b: randn([4], 92) },
      build: (p) => E.layerNorm(p.x!, p.s!, p.b!, 1e-5),
    }));
  test('over the last two axes', () =>
    gradcheck({ params: { x: randn([2, 3, 4], 93), s: pos([3, 4], 94), b: randn([3, 4], 95) }, build: (p) => E.layerNorm(p.x!, p.s!, p.b!, 1e-6, -2) }));
  test('frozen scale, rows with a large mean against their spread (the form without xhat)', () =>
    gradcheck({
      params: { x: f32([2, 4], [40.1, 39.7, 40.6, 39.2, -25.3, -24.1, -25.9, -24.8]) },
      build: (p, _x, g) => E.layerNorm(p.x!, g.constant('s', pos([4], 182)), g.constant('b', randn([4], 183)), 1e-5),
      eps: 1e-2, atol: 2e-3, rtol: 1e-2,
    }));
  test('frozen scale and no bias, over the last two axes', () =>
    gradcheck({ params: { x: randn([2, 3, 4], 184) }, build: (p, _x, g) => E.layerNorm(p.x!, g.constant('s', pos([3, 4], 185)), undefined, 1e-5, -2) }));
  test('with a symbolic batch and frozen scale', () =>
    gradcheck({
      params: { b: randn([4], 96) },
      feeds: { x: randn([3, 4], 97) },
      shapes: { x: ['batch', 4] },
      build: (p, x, g) => E.layerNorm(E.mul(x.x!, E.add(p.b!, 2)), g.constant('s', pos([4], 98)), p.b!, 1e-12),
    }));
});

describe('shape ops', () => {
  test('Reshape', () => gradcheck({ params: { x: randn([2, 6], 100) }, build: (p) => E.mul(E.reshape(p.x!, [3, -1]), randn([3, 4], 101).data[0]!) }));
  test('Reshape with symbolic dims (flatten and restore)', () =>
    gradcheck({
      params: { w: randn([3, 2], 102) },
      feeds: { x: randn([2, 4, 3], 103) },
      shapes: { x: ['batch', 'seq', 3] },
      build: (p, x) => E.reshape(E.matmul(E.reshape(x.x!, [-1, 3]), p.w!), ['batch', 'seq', 2]),
    }));
  test('Transpose', () => gradcheck({ params: { x: randn([2, 3, 4], 104) }, build: (p) => E.transpose(p.x!, [2, 0, 1]) }));
  test('Unsqueeze and Squeeze', () => gradcheck({ params: { x: randn([2, 3], 105) }, build: (p) => E.squeeze(E.mul(E.unsqueeze(p.x!, [0, 2]), 2), [0]) }));
  test('Expand', () => gradcheck({ params: { x: randn([3, 1], 106) }, build: (p) => E.expand(p.x!, [2, 3, 4]) }));
  test('Gather axis 0 with repeated indices (embedding)', () =>
    gradcheck({ params: { e: randn([5, 3], 107) }, build: (p, _x, g) => E.gather(p.e!, g.constant('ids', i64([2, 3], [1, 4, 1, 0, 1, 2])), 0) }));
  test('Gather axis 1', () =>
    gradcheck({ params: { e: randn([2, 4, 3], 108) }, build: (p, _x, g) => E.gather(p.e!, g.constant('ids', i64([2], [3, 3])), 1) }));
  test('Gather scalar index (CLS token)', () =>
    gradcheck({ params: { h: randn([2, 3, 4], 109) }, build: (p, _x, g) => E.gather(p.h!, g.constant('ids', i64([], [0])), 1) }));
  test('GatherElements along the last axis with repeated indices (relative-position scores)', () =>
    gradcheck({
      params: { s: randn([2, 3, 4], 130) },
      build: (p, _x, g) => E.gatherElements(p.s!, g.constant('idx', i64([2, 3, 3], [0, 1, 1, 3, 3, 2, 2, 0, 0, 1, 2, 3, 0, 0, 0, 3, 1, 2])), -1),
    }));
  test('GatherElements along axis 0 of an expanded index (fewer rows than the data)', () =>
    gradcheck({
      params: { s: randn([4, 3], 131) },
      build: (p, _x, g) => E.gatherElements(p.s!, E.expand(g.constant('idx', i64([1, 3], [3, 0, 3])), [2, 3]), 0),
    }));
  test('Concat of three along axis 1', () =>
    gradcheck({ params: { a: randn([2, 1], 110), b: randn([2, 3], 111), c: randn([2, 2], 112) }, build: (p) => E.concat([p.a!, p.b!, p.c!], 1) }));
  test('Concat along a symbolic axis', () =>
    gradcheck({
      params: { w: randn([3], 113) },
      feeds: { x: randn([2, 3], 114) },
      shapes: { x: ['n', 3] },
      build: (p, x) => E.concat([E.mul(x.x!, p.w!), E.add(x.x!, p.w!)], 0),
    }));
  test('Slice with negative start', () => gradcheck({ params: { x: randn([3, 5], 115) }, build: (p) => E.slice(p.x!, [-3], [Infinity], [1]) }));
  test('Slice over a symbolic axis', () =>
    gradcheck({
      params: { w: randn([4], 116) },
      feeds: { x: randn([2, 5, 4], 117) },
      shapes: { x: ['batch', 'seq', 4] },
      build: (p, x) => E.slice(E.mul(x.x!, p.w!), [1, 0], [3, 2], [1, 2]),
    }));
  test('Split (through splitLike)', () =>
    gradcheck({
      params: { x: randn([2, 5], 118) },
      build: (p, _x, g) => {
        const [a, b] = E.splitLike(p.x!, 1, [g.constant('l1', f32([2, 2])), g.constant('l2', f32([2, 3]))]);
        return E.concat([E.mul(a!, 3), b!], 1);
      },
    }));
});

describe('losses', () => {
  test('softmax cross-entropy with class indices', () =>
    gradcheck({ params: { z: randn([3, 4], 120, -2, 2) }, build: (p, _x, g) => E.softmaxCrossEntropy(p.z!, g.constant('y', i64([3], [0, 3, 1]))) }));
  test('mean squared error', () => gradcheck({ params: { z: randn([3, 2], 121) }, build: (p, _x, g) => E.meanSquaredError(p.z!, g.constant('t', randn([3, 2], 122))) }));
  test('sigmoid binary cross-entropy (multi-label)', () =>
    gradcheck({
      params: { z: away([2, 3], 123) },
      build: (p, _x, g) => E.sigmoidBinaryCrossEntropy(p.z!, g.constant('t', f32([2, 3], [1, 0, 1, 0, 0, 1]))),
    }));
});

describe('dropout', () => {
  test('gradient equals the kept mask times 1/(1-p), read from the same run', async () => {
    const g = new E.Graph('dropout');
    const x = g.param('x', randn([4, 8], 130, 0.5, 1.5));
    const y = E.dropout(x, { ratio: 0.25, seed: 5 });
    const loss = E.reduceSum(E.mul(y, 3));
    const [dx] = E.gradients(loss, [x]);
    const s = await E.Session.create(g, { outputs: [y, dx!] });
    const out = await s.run({});
    const yv = out[y.name]!.data as Float32Array;
    const dv = out[dx!.name]!.data as Float32Array;
    const xv = g.dataOf(x).data as Float32Array;
    let dropped = 0;
    for (let i = 0; i < yv.length; i++) {
      if (yv[i] === 0) {
        dropped++;
        assert.equal(dv[i], 0);
      } else {
        assert.ok(Math.abs((yv[i] as number) - (xv[i] as number) / 0.75) < 1e-5);
        assert.ok(Math.abs((dv[i] as number) - 3 / 0.75) < 1e-5);
      }
    }
    assert.ok(dropped > 0 && dropped < yv.length, `dropped ${dropped} of ${yv.length}`);
    await s.dispose();
  });
  test('same seed gives the same masks in a new session; training=false is the identity', async () => {
    const masks: number[][] = [];
    for (let k = 0; k < 2; k++) {
      const g = new E.Graph('dropout');
      const train = g.input('train', 'bool', []);
      const x = g.constant('x', f32([64], new Float32Array(64).fill(1)));
      const y = E.dropout(x, { ratio: 0.5, seed: 42, training: train });
      g.output(y);
      const s = await E.Session.create(g);
      const a = Array.from((await s.run({ train: bool([], [true]) }))[y.name]!.data as Float32Array);
      const b = Array.from((await s.run({ train: bool([], [true]) }))[y.name]!.data as Float32Array);
      masks.push([...a, ...b]);
      assert.deepEqual(Array.from((await s.run({ train: bool([], [false]) }))[y.name]!.data as Float32Array), new Array(64).fill(1));
      await s.dispose();
    }
    assert.deepEqual(masks[0], masks[1]);
  });
  test('gradient through dropout in eval mode is the identity', () =>
    gradcheck({
      params: { x: randn([3, 4], 131) },
      feeds: { train: bool([], [false]) },
      build: (p, x) => E.dropout(p.x!, { ratio: 0.3, seed: 1, training: x.train }),
    }));
});

describe('dropout inside a graph', () => {
  test('stays active when nothing reads its mask (ONNX Runtime would otherwise remove it)', async () => {
    const g = new E.Graph('dropout-inner');
    const train = g.input('train', 'bool', []);
    const x = g.input('x', 'float32', ['n']);
    const w = g.constant('w', f32([1], [2]));
    const y = E.mul(E.relu(E.dropout(E.mul(x, w), { ratio: 0.5, seed: 3, training: train })), 1);
    g.output(y);
    const s = await E.Session.create(g, { optimization: 'all' });
    const ones = f32([256], new Float32Array(256).fill(1));
    const on = (await s.run({ x: ones, train: bool([], [true]) }))[y.name]!.data as Float32Array;
    const off = (await s.run({ x: ones, train: bool([], [false]) }))[y.name]!.data as Float32Array;
    const dropped = on.filter((v) => v === 0).length;
    assert.ok(dropped > 64 && dropped < 192, `${dropped} of 256 dropped with p = 0.5`);
    assert.ok(on.every((v) => v === 0 || v === 4)); // kept: 2 / (1 - 0.5)
    assert.ok(off.every((v) => v === 2));
    assert.deepEqual(s.outputNames, [y.name]);
    await s.dispose();
  });
});

describe('fewer passes (issue 13): the current forms against the previous ones', () => {
  /** A dense layer, GELU, and a layer norm with a frozen and one with a trainable scale, over symbolic [batch, seq]; its loss and gradients. */
  const build = (variants: Partial<BuildVariants> | 'current') => {
    const was = setBuildVariants(variants);
    try {
      const g = new E.Graph('variants');
      const x = g.input('x', 'float32', ['batch', 'seq', 3]);
      const w = g.param('w', randn([3, 5], 190));
      const b = g.param('b', randn([5], 191));
      const s = g.param('s', pos([5], 192));
      const h = E.gelu(E.linear(x, w, b));
      const y = E.layerNorm(E.layerNorm(E.add(h, 3), g.constant('s0', pos([5], 193)), undefined, 1e-5), s, b, 1e-5);
      const loss = E.reduceSum(E.mul(y, g.constant('r', randn([2, 4, 5], 194))));
      const grads = E.gradients(loss, [w, b, s]);
      g.output(loss, ...grads);
      return { g, grads, forward: g.nodes.filter((n) => !n.name.startsWith('grad/')), backward: g.nodes.filter((n) => n.name.startsWith('grad/')) };
    } finally {
      setBuildVariants(was);
    }
  };
  const ops = (nodes: readonly { opType: string }[]) => nodes.map((n) => n.opType);

  test('linear with a bias over [batch, seq, K] is one Gemm with the bias as C (no MatMul, no Add); the previous form is MatMul + Add', () => {
    const now = build('current');
    const gemms = now.forward.filter((n) => n.opType === 'Gemm');
    assert.equal(gemms.length, 1);
    assert.equal(gemms[0]?.inputs.length, 3, 'the bias is the Gemm C input');
    assert.ok(!ops(now.forward).includes('MatMul'));
    assert.equal(ops(now.forward).filter((o) => o === 'Add').length, 1, 'only the model add (h + 3) is left');
    const before = build(PREVIOUS_VARIANTS);
    assert.deepEqual(ops(before.forward).filter((o) => ['MatMul', 'Gemm', 'Add'].includes(o)).sort(), ['Add', 'Add', 'MatMul']);
  });

  test('the GELU and layer-norm gradients make fewer passes over activations (GELU one, frozen-scale layer norm two, trained-scale one); gradients equal the previous forms', async () => {
    const now = build('current');
    const before = build(PREVIOUS_VARIANTS);
    // passes over whole activations [batch, seq, 5] (not per-row statistics [batch, seq, 1])
    const passes = (b: ReturnType<typeof build>) => b.backward.filter((n) => n.opType !== 'Reshape' && n.outputs[0]?.rank === 3 && n.outputs[0].shape[2] === 5).length;
    assert.equal(passes(now), passes(before) - 4, `${passes(now)} passes over activations in the backward, previously ${passes(before)}`);
    const feeds = { x: randn([2, 4, 3], 195) };
    const run = async (b: ReturnType<typeof build>) => {
      const sess = await E.Session.create(b.g);
      const out = await sess.run(feeds);
      await sess.dispose();
      return b.grads.map((d) => Array.from(out[d.name]?.data as Float32Array));
    };
    const [a, c] = [await run(now), await run(before)];
    a.forEach((grad, k) => grad.forEach((v, i) => assert.ok(Math.abs(v - (c[k]?.[i] as number)) <= 1e-5 * (1 + Math.abs(v)), `gradient ${k} [${i}]: ${v} now, ${c[k]?.[i]} before`)));
  });
});
