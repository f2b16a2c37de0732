/**
 * Builder and session errors, checked by code and message: each names the op, the inputs and
 * the shapes or dtypes involved; a bad feed gives one BAD_FEED error listing every problem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import { f32, i64 } from '../../src/engine/index.js';
import { AdapterkitError, type ErrorCode } from '../../src/errors.js';

/** Asserts `fn` throws an AdapterkitError with `code` whose message matches every pattern. */
function throwsCoded(fn: () => unknown, code: ErrorCode, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AdapterkitError, `expected AdapterkitError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

test('MatMul with mismatched inner dimensions names the op, both inputs and both shapes', () => {
  const g = new E.Graph('errs');
  const a = g.input('acts', 'float32', ['batch', 3]);
  const b = g.constant('weights', f32([4, 5]));
  throwsCoded(() => E.matmul(a, b), 'SHAPE_MISMATCH', /^MatMul:/, /acts \[batch, 3\]/, /weights \[4, 5\]/, /3 columns/, /4 rows/);
  throwsCoded(() => E.gemm(g.constant('ga', f32([2, 3])), b, undefined, { transB: true }), 'SHAPE_MISMATCH', /^Gemm:/, /ga \[2, 3\]/, /weights \[4, 5\] \(transposed\)/);
});

test('Add that cannot broadcast names both shapes and the axis', () => {
  const g = new E.Graph('errs');
  const a = g.input('a', 'float32', ['batch', 2, 3]);
  const b = g.input('b', 'float32', [4]);
  throwsCoded(() => E.add(a, b), 'SHAPE_MISMATCH', /^Add: cannot broadcast/, /A \(a\) \[batch, 2, 3\]/, /B \(b\) \[4\]/, /axis -1: 3 vs 4/);
});

test('int64 + float32 is a dtype mismatch naming both inputs', () => {
  const g = new E.Graph('errs');
  const ids = g.input('ids', 'int64', ['batch']);
  const x = g.input('x', 'float32', ['batch']);
  throwsCoded(() => E.add(ids, x), 'DTYPE_MISMATCH', /^Add: inputs have different dtypes: ids int64\[batch\] and x float32\[batch\]/);
  throwsCoded(() => E.exp(ids), 'DTYPE_MISMATCH', /^Exp: input X \(ids int64\[batch\]\) must be float32 or float16/);
});

test('reshape to an incompatible size', () => {
  const g = new E.Graph('errs');
  const x = g.input('x', 'float32', [2, 3]);
  throwsCoded(() => E.reshape(x, [4, 2]), 'SHAPE_MISMATCH', /^Reshape: cannot reshape x float32\[2, 3\] \(6 elements\) to \[4, 2\] \(8 elements\)/);
  throwsCoded(() => E.reshape(x, [4, -1]), 'SHAPE_MISMATCH', /^Reshape: cannot reshape x float32\[2, 3\] to \[4, -1\]: 6 elements are not divisible by 4/);
  throwsCoded(() => E.reshape(x, [-1, -1]), 'SHAPE_MISMATCH', /at most one -1/);
  const y = g.input('y', 'float32', ['batch', 6]);
  throwsCoded(() => E.reshape(y, ['seq', -1]), 'SHAPE_MISMATCH', /cannot reshape y float32\[batch, 6\] to \[seq, -1\]/);
  // Same run-time sizes, different constant factor: caught at build time too.
  throwsCoded(() => E.reshape(y, ['batch', 4]), 'SHAPE_MISMATCH', /cannot reshape y float32\[batch, 6\] \(batch\*6 elements\) to \[batch, 4\] \(batch\*4 elements\)/);
  assert.deepEqual(E.reshape(y, [2, 'batch', 3]).shape, [2, 'batch', 3]);
  assert.deepEqual(E.reshape(g.input('z', 'float32', ['batch', 'seq', 6]), ['seq', 'batch', 6]).shape, ['seq', 'batch', 6]);
});

test('transpose with a bad perm', () => {
  const g = new E.Graph('errs');
  const x = g.input('x', 'float32', [2, 3, 4]);
  throwsCoded(() => E.transpose(x, [0, 0, 1]), 'SHAPE_MISMATCH', /^Transpose: perm \[0, 0, 1\] is not a permutation of the axes of x float32\[2, 3, 4\]/);
  throwsCoded(() => E.transpose(x, [1, 0]), 'SHAPE_MISMATCH', /perm \[1, 0\] is not a permutation/);
});

test('concat of inputs with different ranks, dtypes or sizes', () => {
  const g = new E.Graph('errs');
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [3]);
  throwsCoded(() => E.concat([a, b], 0), 'SHAPE_MISMATCH', /^Concat: input 1 \(b float32\[3\]\) has rank 1, input 0 \(a float32\[2, 3\]\) has 2/);
  throwsCoded(() => E.concat([a, g.input('c', 'float32', [2, 4])], 0), 'SHAPE_MISMATCH', /input 1 \(c float32\[2, 4\]\) differs from input 0 \(a float32\[2, 3\]\) on axis 1/);
  throwsCoded(() => E.concat([a, g.input('d', 'int64', [2, 3])], 0), 'DTYPE_MISMATCH', /input 1 \(d int64\[2, 3\]\) has dtype int64, input 0 has float32/);
});

test('layerNorm with a scale that does not fit the normalised axes', () => {
  const g = new E.Graph('errs');
  const x = g.input('x', 'float32', ['batch', 'seq', 8]);
  throwsCoded(
    () => E.layerNorm(x, g.constant('ln.weight', f32([6])), g.constant('ln.bias', f32([8]))),
    'SHAPE_MISMATCH',
    /^LayerNormalization: input Scale ln\.weight \[6\] does not fit the normalised axes \[8\] of X x \[batch, seq, 8\]/,
  );
  throwsCoded(() => E.layerNorm(x, g.constant('s', f32([8])), g.constant('b', f32([2, 8]))), 'SHAPE_MISMATCH', /input B b \[2, 8\]/);
});

test('gradients of a non-scalar loss', () => {
  const g = new E.Graph('errs');
  const w = g.param('w', f32([3], [1, 2, 3]));
  const y = E.mul(w, 2);
  throwsCoded(() => E.gradients(y, [w]), 'SHAPE_MISMATCH', /^gradients: loss Mul_\d+:out float32\[3\] must be a scalar \(shape \[\]\) or a seed gradient must be given/);
  throwsCoded(() => E.gradients(E.reduceSum(y), [g.input('ids', 'int64', [2])]), 'DTYPE_MISMATCH', /cannot differentiate with respect to ids int64\[2\]/);
});

test('a value from another graph', () => {
  const g1 = new E.Graph('first');
  const g2 = new E.Graph('second');
  const a = g1.input('a', 'float32', [2]);
  const b = g2.input('b', 'float32', [2]);
  throwsCoded(() => E.add(a, b), 'GRAPH_ERROR', /^Add: b belongs to graph second, not first/);
  throwsCoded(() => g1.output(b), 'GRAPH_ERROR', /^output: b belongs to graph second, not first/);
  const w = g2.param('w', f32([2]));
  throwsCoded(() => E.gradients(E.reduceSum(a), [w]), 'GRAPH_ERROR', /^gradients: w belongs to graph second, not first/);
});

test('duplicate and invalid value names', () => {
  const g = new E.Graph('names');
  g.input('x', 'float32', [2]);
  throwsCoded(() => g.input('x', 'float32', [3]), 'GRAPH_ERROR', /a value named "x" already exists in graph names/);
  throwsCoded(() => g.param('x', f32([2])), 'GRAPH_ERROR', /a value named "x" already exists/);
  throwsCoded(() => g.constant('has space', f32([1])), 'GRAPH_ERROR', /invalid value name "has space"/);
  throwsCoded(() => g.param('ints', i64([1], [1]) as unknown as E.HostTensor<'float32'>), 'DTYPE_MISMATCH', /parameter ints: trainable parameters must be float32, got int64/);
});

test('session feeds: one BAD_FEED error listing every problem', async () => {
  const g = new E.Graph('feeds');
  const a = g.input('a', 'float32', ['batch', 3]);
  const ids = g.input('ids', 'int64', ['batch', 'seq']);
  const c = g.input('c', 'float32', [2]);
  const d = g.input('d', 'float32', ['batch']);
  const e = g.input('e', 'float32', ['batch', 4]);
  const f = g.input('f', 'float32', [2, 2]);
  const parts = [E.reduceSum(a), E.reduceSum(E.cast(ids, 'float32')), E.reduceSum(c), E.reduceSum(d), E.reduceSum(e), E.reduceSum(f)];
  const out = parts.reduce((s, p) => E.add(s, p));
  g.output(out);
  const s = await E.Session.create(g);
  try {
    assert.deepEqual(s.inputNames, ['a', 'ids', 'c', 'd', 'e', 'f']);
    const good = {
      a: f32([2, 3]), ids: i64([2, 5], new Array(10).fill(0)), c: f32([2]), d: f32([2]), e: f32([2, 4]), f: f32([2, 2]),
    };
    assert.ok((await s.run(good))[out.name]);
    const bad: Record<string, E.HostTensor> = {
      a: f32([2, 3]), // fine: defines batch = 2
      // ids missing
      c: i64([2], [1, 2]), // wrong dtype
      d: f32([2, 1]), // wrong rank
      e: f32([3, 4]), // batch 3 here, 2 in a
      f: { dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }, // wrong data length
      zzz: f32([1]), // unknown
    };
    await assert.rejects(s.run(bad), (err: unknown) => {
      assert.ok(err instanceof AdapterkitError);
      assert.equal(err.code, 'BAD_FEED');
      const m = err.message;
      assert.match(m, /^graph feeds: /);
      assert.match(m, /unknown input 'zzz'/);
      assert.match(m, /missing input 'ids' \(int64\[batch, seq\]\)/);
      assert.match(m, /input 'c': expected dtype float32, got int64\[2\]/);
      assert.match(m, /input 'd': expected rank 1 \[batch\], got float32\[2, 1\]/);
      assert.match(m, /input 'e': dimension 'batch' is 3 here but 2 in 'a'/);
      assert.match(m, /input 'f': shape \[2, 2\] needs 4 elements, data has 3/);
      assert.equal((err.details?.problems as string[]).length, 6, m);
      return true;
    });
    // A static axis of the wrong size.
    await assert.rejects(s.run({ ...good, c: f32([3]) }), /input 'c': axis 0 must be 2 \(expected \[2\]\), got float32\[3\]/);
  } finally {
    await s.dispose();
  }
});

test('fetching a value that is not an output of the session', async () => {
  const g = new E.Graph('fetch');
  const x = g.input('x', 'float32', [2]);
  const hidden = E.exp(x);
  const y = E.mul(hidden, 2);
  g.output(y);
  const s = await E.Session.create(g);
  try {
    await assert.rejects(s.run({ x: f32([2]) }, [hidden]), (err: unknown) => {
      assert.ok(err instanceof AdapterkitError && err.code === 'BAD_FEED');
      assert.match(err.message, new RegExp(`'${hidden.name}' is not an output of this session \\(outputs: ${y.name}\\)`));
      return true;
    });
    await assert.rejects(s.run({ x: f32([2]) }, ['nope']), /'nope' is not an output of this session/);
  } finally {
    await s.dispose();
  }
});
