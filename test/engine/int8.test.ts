/**
 * The int8 frozen matmul kernels (engine/ops/quantized.ts): quantisation layouts, forward and
 * input gradient against fp32 with stated bounds, the bias gradient against finite differences
 * (exact: the bias enters linearly), the fp32 weight left out of the session, and the probe that
 * exposes outlier channels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import { f32 } from '../../src/engine/index.js';
import { gradcheck, randn, relErr } from './gradcheck.js';

const [K, N] = [40, 24]; // K not a multiple of the block, so the last block is padded

/** x [M, K] @ w [K, N] in JS. */
function matmulJs(x: Float32Array, w: Float32Array, m: number, k: number, n: number): Float32Array {
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) for (let c = 0; c < n; c++) y[i * n + c] = (y[i * n + c] as number) + (x[i * k + j] as number) * (w[j * n + c] as number);
  return y;
}

test('quantizeColumns: one scale per output column, |q| <= 127, dequantised within half a step; the transposed copy is quantised per its own columns', () => {
  const w = randn([K, N], 1).data;
  const { q, scale } = E.quantizeColumns(w, K, N);
  assert.deepEqual(q.shape, [K, N]);
  assert.deepEqual(scale.shape, [N]);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const s = scale.data[n] as number;
      assert.ok(Math.abs((q.data[k * N + n] as number) * s - (w[k * N + n] as number)) <= s / 2 + 1e-7);
    }
  }
  assert.ok(Array.from(q.data).some((v) => Math.abs(v) === 127), 'the largest value of a column maps to ±127');
  const t = E.quantizeColumns(w, K, N, true);
  assert.deepEqual(t.q.shape, [N, K]);
  assert.deepEqual(t.scale.shape, [K]);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) assert.ok(Math.abs((t.q.data[n * K + k] as number) * (t.scale.data[k] as number) - (w[k * N + n] as number)) <= (t.scale.data[k] as number) / 2 + 1e-7);
});

test('quantizeBlocks: MatMulNBits layout [N, blocks, 32] with zero point 128 and the padded last block at 128', () => {
  const w = randn([K, N], 2).data;
  const b = E.quantizeBlocks(w, K, N);
  const kb = Math.ceil(K / E.INT8_BLOCK);
  assert.deepEqual(b.q.shape, [N, kb, E.INT8_BLOCK]);
  assert.deepEqual(b.scale.shape, [N, kb]);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < kb * E.INT8_BLOCK; k++) {
      const q = b.q.data[n * kb * E.INT8_BLOCK + k] as number;
      if (k >= K) assert.equal(q, 128);
      else {
        const s = b.scale.data[n * kb + Math.floor(k / E.INT8_BLOCK)] as number;
        assert.ok(Math.abs((q - 128) * s - (w[k * N + n] as number)) <= s / 2 + 1e-7);
      }
    }
  }
});

/** y = linear(x, w, b) with `kernel`, and d sum(y * r) / dx, db. */
async function runKernel(kernel: E.ForwardKernel, x: E.HostTensor<'float32'>, w: E.HostTensor<'float32'>, r: E.HostTensor<'float32'>, backward?: E.FrozenKernel) {
  const g = new E.Graph(`k-${kernel}`);
  const xv = g.param('x', x);
  const wv = g.constant('w', w);
  const bv = g.param('b', randn([N], 9));
  const info = E.installFrozenKernel(wv, kernel, backward);
  const y = E.linear(xv, wv, bv);
  const [dx, db] = E.gradients(E.reduceSum(E.mul(y, g.constant('r', r))), [xv, bv]) as [E.Value, E.Value];
  g.output(y, dx, db);
  const s = await E.Session.create(g);
  const out = await s.run({});
  const names = s.model.initializers.map((v) => v.name);
  const ops = s.model.outputs.length ? g.nodes.map((n) => n.opType) : [];
  /** block_size of each MatMulNBits node, forward first (the graph's order). */
  const blocks = g.nodes.filter((n) => n.opType === 'MatMulNBits').map((n) => (n.attrs.block_size as { i: number }).i);
  await s.dispose();
  return { info, y: out[y.name]?.data as Float32Array, dx: out[dx.name]?.data as Float32Array, db: out[db.name]?.data as Float32Array, initializers: names, ops, blocks };
}

test('int8 and int8-block kernels: forward and input gradient within 3e-2 of fp32; bias gradient exact; the fp32 weight is not stored; bytes about half', async () => {
  const [B, T] = [3, 16];
  const x = randn([B, T, K], 3);
  const w = randn([K, N], 4, -0.2, 0.2);
  const r = randn([B, T, N], 5);
  const ref = await runKernel('fp32', x, w, r);
  // Independent references: x @ w and r @ wᵀ in JS.
  const want = matmulJs(x.data, w.data, B * T, K, N);
  const wT = E.transposeMatrix(w.data, K, N);
  const wantDx = matmulJs(r.data, wT, B * T, N, K);
  assert.ok(relErr(ref.dx, wantDx) < 1e-5);
  assert.deepEqual(ref.info, { weight: 'w', shape: [K, N], kernel: 'fp32', backward: 'fp32', bytes: 4 * K * N });
  for (const kernel of ['int8', 'int8-block'] as const) {
    const q = await runKernel(kernel, x, w, r);
    const yNoBias = want.map((v, i) => (ref.y[i] as number) - v); // the bias, per element
    const e = relErr(q.y.map((v, i) => v - (yNoBias[i] as number)), want);
    assert.ok(e > 1e-5 && e < 3e-2, `${kernel}: forward relative error ${e}`);
    const ed = relErr(q.dx, wantDx);
    assert.ok(ed > 1e-5 && ed < 3e-2, `${kernel}: input gradient relative error ${ed}`);
    assert.ok(relErr(q.db, ref.db) < 1e-6, `${kernel}: the bias gradient is the same sum of r`);
    assert.ok(!q.initializers.includes('w'), `${kernel}: fp32 weight stored in the session (${q.initializers.join(', ')})`);
    assert.ok(q.ops.includes(kernel === 'int8' ? 'DynamicQuantizeMatMul' : 'MatMulNBits'));
    assert.ok(!q.ops.includes('MatMul') && !q.ops.includes('Gemm'), `${kernel}: fp32 matmul left in ${q.ops.join(', ')}`);
    // int8: both copies at one byte per value plus their scales; blocks: padded to 32 along each inner axis
    const bytes = kernel === 'int8' ? 2 * K * N + 4 * (K + N) : 36 * (N * Math.ceil(K / 32) + K * Math.ceil(N / 32));
    assert.equal(q.info.bytes, bytes, `${kernel}: ${q.info.bytes} bytes`);
  }
});

test('a quantised forward with another input-gradient kernel: int8 forward, fp32, int8-block256 or int8-block backward (what the guard picks for an input gradient that is off)', async () => {
  const [B, T] = [2, 8];
  const x = randn([B, T, K], 13);
  const w = randn([K, N], 14, -0.2, 0.2);
  const r = randn([B, T, N], 15);
  const ref = await runKernel('fp32', x, w, r);
  const int8 = await runKernel('int8', x, w, r);
  for (const backward of ['fp32', 'int8-block256', 'int8-block'] as const) {
    const q = await runKernel('int8', x, w, r, backward);
    assert.deepEqual(q.y, int8.y, `${backward}: the forward is the int8 kernel's`);
    const ed = relErr(q.dx, ref.dx);
    if (backward === 'fp32') assert.ok(ed < 1e-6, `fp32 input gradient: ${ed}`);
    else assert.ok(ed > 1e-5 && ed < 3e-2, `${backward} input gradient: ${ed}`);
    assert.ok(q.ops.includes('DynamicQuantizeMatMul') && (backward === 'fp32' ? q.ops.includes('MatMul') : q.ops.includes('MatMulNBits')), q.ops.join(', '));
    // the transposed copy [N, K] in blocks along N: N = 24 is one block of 32 for both block kernels (a block of
    // 256 would only pad the same block further), one fp32 scale per block
    const block = 32;
    assert.deepEqual(q.blocks, backward === 'fp32' ? [] : [block], `${backward}: the input gradient's block length`);
    assert.ok(!q.initializers.includes('w'), `${backward}: the fp32 W itself is not stored (${q.initializers.join(', ')})`);
    const back = backward === 'fp32' ? 4 * K * N : (block + 4) * K * Math.ceil(N / block);
    assert.equal(q.info.bytes, K * N + 4 * N + back, `${backward}: the int8 forward copy and the transposed copy as its kernel stores it`);
    assert.equal(q.info.backward, backward);
  }
});

test('int8-block256 follows the rows of dY: two rows x30 of 256 put the per-tensor int8 input gradient over 3e-2, blocks of 256 within 1.5e-2 of fp32', async () => {
  const [M, K2, N2] = [256, 32, 512]; // dY [M, 512]: two blocks of 256 per row
  const x = randn([M, K2], 23);
  const w = randn([K2, N2], 24, -0.2, 0.2);
  const loud = (m: number) => m === 0 || m === 133; // e.g. the rows of the tokens the loss reads
  const r = f32([M, N2], randn([M, N2], 25).data.map((v, i) => (loud(Math.floor(i / N2)) ? 30 * v : v)));
  const wantDx = matmulJs(r.data, E.transposeMatrix(w.data, K2, N2), M, N2, K2); // r Wᵀ in JS
  const dxOf = async (backward: E.FrozenKernel) => {
    const g = new E.Graph(`rows-${backward}`);
    const xv = g.param('x', x);
    const wv = g.constant('w', w);
    E.installFrozenKernel(wv, 'int8', backward);
    const [dx] = E.gradients(E.reduceSum(E.mul(E.linear(xv, wv), g.constant('r', r))), [xv]) as [E.Value];
    const s = await E.Session.create(g, { outputs: [dx] });
    const out = (await s.run({}))[dx.name]?.data as Float32Array;
    await s.dispose();
    return relErr(out, wantDx);
  };
  const [e8, e256, e32] = [await dxOf('int8'), await dxOf('int8-block256'), await dxOf('int8-block')];
  assert.ok(e8 > 3e-2, `per-tensor int8: ${e8}`); // the loud rows set the step of the 254 others
  assert.ok(e256 > 1e-5 && e256 < 1.5e-2 && e256 < e8 / 3, `blocks of 256: ${e256} (int8 ${e8})`);
  assert.ok(e32 > 1e-5 && e32 < 1.5e-2, `blocks of 32: ${e32}`);
});

test('blockLength: a block kernel on an inner width shorter than its block stores the least power of two holding it, and MatMulNBits gives the same product as with the padded block', async () => {
  assert.equal(E.blockLength('int8-block256', 768), 256);
  assert.equal(E.blockLength('int8-block256', 1152), 256); // ModernBERT-base's intermediate: 4.5 blocks, the last padded
  assert.equal(E.blockLength('int8-block256', 128), 128);
  assert.equal(E.blockLength('int8-block256', 37), 64);
  assert.equal(E.blockLength('int8-block', 40), 32);
  assert.equal(E.blockLength('int8-block', 20), 32);
  assert.equal(E.blockLength('int8-block', 10), 16); // MatMulNBits' shortest block
  for (const [kernel, k, n, padded] of [['int8-block256', 37, 24, 256], ['int8-block256', 128, 16, 256], ['int8-block', 10, 8, 32]] as const) {
    const x = randn([6, k], 31);
    const w = randn([k, n], 32, -0.2, 0.2);
    const run = async (block: number) => {
      const g = new E.Graph(`block-${block}`);
      const b = E.quantizeBlocks(w.data, k, n, block);
      const y = E.matMulNBits(g.constant('x', x), g.constant('q', b.q), g.constant('s', b.scale), { k, n, block });
      g.output(y);
      const s = await E.Session.create(g);
      const out = (await s.run({}))[y.name]?.data as Float32Array;
      await s.dispose();
      return { out, bytes: b.q.data.byteLength + b.scale.data.byteLength };
    };
    const block = E.blockLength(kernel, k);
    const [short, long] = [await run(block), await run(padded)];
    assert.ok(relErr(short.out, long.out) < 1e-6, `${kernel}, K = ${k}: block ${block} against ${padded}: ${relErr(short.out, long.out)}`);
    assert.ok(relErr(short.out, matmulJs(x.data, w.data, 6, k, n)) < 3e-2, 'and close to fp32');
    assert.equal(short.bytes, n * (block + 4), `${kernel}, K = ${k}: one block of ${block} per column`);
    assert.ok(short.bytes < long.bytes);
  }
});

test('the bias gradient through both kernels matches finite differences', async () => {
  for (const kernel of ['int8', 'int8-block'] as const) {
    await gradcheck({
      params: { b: randn([N], 11) },
      feeds: { x: randn([5, K], 12) },
      build: (p, x, g) => {
        const w = g.constant(`w_${kernel}`, randn([K, N], 13, -0.3, 0.3));
        E.installFrozenKernel(w, kernel);
        return E.linear(x.x as E.Value, w, p.b);
      },
    });
  }
});

test('no gradient flows to an int8 weight; an int8 node without a transposed copy cannot be differentiated', () => {
  const g = new E.Graph('no-copy');
  const x = g.param('x', randn([2, K], 14));
  const q = E.quantizeColumns(randn([K, N], 15).data, K, N);
  const y = E.dynamicQuantizeMatMul(x, g.constant('q', q.q), g.constant('s', q.scale));
  assert.throws(() => E.gradients(E.reduceSum(y), [x]), /node DynamicQuantizeMatMul_\d+: its int8 weight q has no transposed copy/);
  assert.throws(() => E.dynamicQuantizeMatMul(g.param('z', f32([2, 8])), g.constant('q2', q.q), g.constant('s2', q.scale)), /DynamicQuantizeMatMul: A z float32\[2, 8\] has 8 columns, B q2 int8\[40, 24\] has 40 rows/);
  assert.throws(() => E.installFrozenKernel(x, 'int8'), /frozen kernel int8: x float32\[2, 40\] must be a frozen 2-D constant/);
});

test('the probe measures each kernel against fp32: two outlier channels x30 of 768 push the per-tensor int8 error over 0.05, the block kernel stays near 1e-2', async () => {
  const [M, K, N] = [32, 768, 8]; // the harm is to the other channels, so it grows with the width
  const clean = randn([M, K], 16);
  const outlier = f32([M, K], clean.data.map((v, i) => (i % K === 3 || i % K === 517 ? v * 30 : v)));
  const errors: Record<string, Record<string, number>> = {};
  for (const [name, xt] of [['clean', clean], ['outlier', outlier]] as const) {
    const g = new E.Graph(`probe-${name}`);
    const x = g.input('x', 'float32', ['m', K]);
    const w = g.constant('w', randn([K, N], 17, -0.2, 0.2));
    const probes: E.FrozenProbe[] = [];
    E.installFrozenProbe(w, (p) => probes.push(p));
    const y = E.linear(x, w);
    assert.equal(probes.length, 1);
    const p = probes[0] as E.FrozenProbe;
    const [e8, eb] = [p.errors.int8, p.errors['int8-block']] as [E.Value, E.Value];
    g.output(y, e8, eb);
    const s = await E.Session.create(g);
    const out = await s.run({ x: xt });
    assert.ok(relErr(out[y.name]?.data as Float32Array, matmulJs(xt.data, g.dataOf(w).data as Float32Array, M, K, N)) < 1e-6, 'the probe keeps the fp32 result');
    errors[name] = { int8: (out[e8.name]?.data as Float32Array)[0] as number, block: (out[eb.name]?.data as Float32Array)[0] as number };
    await s.dispose();
  }
  const { clean: c, outlier: o } = errors as Record<'clean' | 'outlier', Record<'int8' | 'block', number>>;
  assert.ok(c.int8 > 1e-4 && c.int8 < 0.02, `clean int8 error ${c.int8}`);
  assert.ok(o.int8 > 0.05, `outlier int8 error ${o.int8}`);
  assert.ok(o.block < 0.03, `outlier block error ${o.block}`);
});

test('an all-zero column quantises to zeros with step 1, in both copies', () => {
  const w = Float32Array.from([1, 0, -2, 0, 0.5, 0]); // [3, 2], column 1 all zero
  const { q, scale } = E.quantizeColumns(w, 3, 2);
  assert.deepEqual(Array.from(q.data), [64, 0, -127, 0, 32, 0]);
  assert.deepEqual(Array.from(scale.data), [Math.fround(2 / 127), 1]);
  const t = E.quantizeColumns(w, 3, 2, true); // Wᵀ [2, 3]: its columns are the rows of w
  assert.deepEqual(Array.from(t.q.data), [127, -127, 127, 0, 0, 0]);
});

test('int8 weights go to the external data file like floats (models over 2 GB), with the same outputs', async () => {
  const g = new E.Graph('int8-external');
  const x = g.input('x', 'float32', ['m', K]);
  const w = g.constant('w', randn([K, N], 21));
  E.installFrozenKernel(w, 'int8');
  const y = E.linear(x, w);
  g.output(y);
  const feeds = { x: randn([3, K], 22) };
  const inline = await E.Session.create(g);
  const ext = await E.Session.create(g, { externalDataThreshold: 0 });
  assert.deepEqual(Array.from((await ext.run(feeds))[y.name]?.data as Float32Array), Array.from((await inline.run(feeds))[y.name]?.data as Float32Array));
  assert.ok(ext.model.path, 'loaded from a file');
  // A forward-only graph holds the forward int8 copy alone (the transposed one is pruned).
  assert.ok(ext.model.bytes.byteLength < K * N, `the ${K * N} int8 values are not inline (model ${ext.model.bytes.byteLength} bytes)`);
  assert.ok(inline.model.bytes.byteLength > K * N, `inline: ${inline.model.bytes.byteLength} bytes`);
  await inline.dispose();
  await ext.dispose();
});
