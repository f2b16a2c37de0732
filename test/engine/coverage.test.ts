/**
 * Every op type the builder can emit has a gradient rule or is explicitly marked non-differentiable,
 * and the driver's failures name the op and the node.
 *
 * Op types are collected from the source of `src/engine/` (ops and gradient rules): string literals
 * passed to `addNode(`, to any helper whose first parameter is the op type and which forwards it to
 * `addNode` (found by scanning, e.g. `binary`, `unary`, `reduce`), and `const <name> = '<Op>'`
 * variables passed to `addNode`. A run-time cross-check builds one graph with every op builder and
 * confirms the scan saw each op type the builders actually emitted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../src/engine/index.js';
import { f32, i64 } from '../../src/engine/index.js';
import { AdapterkitError } from '../../src/errors.js';

const ENGINE_DIR = 'src/engine';

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && p !== join(ENGINE_DIR, 'graph.ts')) out.push(p);
  }
  return out;
}

interface Scan {
  /** Op type -> files that emit it. */
  ops: Map<string, Set<string>>;
  /** Helpers found that forward their first argument to addNode. */
  helpers: Set<string>;
  /** `addNode(<expr>` calls whose op type the scan could not resolve. */
  unresolved: string[];
}

/** Collects the op types the engine's source can emit (see the module comment). */
function scanEmittedOps(): Scan {
  const files = sourceFiles(ENGINE_DIR).map((f) => ({ file: f, text: readFileSync(f, 'utf8') }));
  const ops = new Map<string, Set<string>>();
  const note = (op: string, file: string) => {
    const s = ops.get(op) ?? new Set<string>();
    s.add(file);
    ops.set(op, s);
  };
  // Helpers: `function name(op: ...` whose body passes `op` to addNode.
  const helpers = new Set<string>();
  for (const { text } of files) {
    for (const m of text.matchAll(/function\s+(\w+)\s*\(\s*(\w+)\s*:[^)]*\)[^{]*\{([\s\S]*?)\n\}/g)) {
      const [, name = '', param = '', body = ''] = m;
      if (new RegExp(`addNode\\(\\s*${param}\\s*,`).test(body)) helpers.add(name);
    }
  }
  const unresolved: string[] = [];
  for (const { file, text } of files) {
    for (const m of text.matchAll(/addNode\(\s*'(\w+)'/g)) note(m[1] as string, file);
    for (const h of helpers) for (const m of text.matchAll(new RegExp(`\\b${h}\\(\\s*'(\\w+)'`, 'g'))) note(m[1] as string, file);
    // addNode(<identifier>, ...): a helper parameter (covered above) or a const holding a literal.
    const consts = new Map([...text.matchAll(/const\s+(\w+)\s*=\s*'(\w+)'/g)].map((m) => [m[1] as string, m[2] as string]));
    const params = new Set<string>();
    for (const m of text.matchAll(/function\s+(\w+)\s*\(\s*(\w+)\s*:/g)) if (helpers.has(m[1] as string)) params.add(m[2] as string);
    for (const m of text.matchAll(/addNode\(\s*([^'\s][^,]*),/g)) {
      const arg = (m[1] as string).trim();
      const lit = consts.get(arg);
      if (lit) note(lit, file);
      else if (!params.has(arg)) unresolved.push(`${file}: addNode(${arg}, ...)`);
    }
  }
  return { ops, helpers, unresolved };
}

test('the source scan resolves every addNode call and finds the known helpers', () => {
  const { ops, helpers, unresolved } = scanEmittedOps();
  assert.deepEqual(unresolved, [], 'addNode calls whose op type the scan cannot see; extend the scan');
  for (const h of ['binary', 'unary', 'reduce']) assert.ok(helpers.has(h), `helper ${h} not found (found ${[...helpers].join(', ')})`);
  // Spot checks from each family, so the scan cannot pass vacuously.
  for (const op of ['Add', 'Greater', 'Not', 'Gelu', 'ReduceMean', 'MatMul', 'Gemm', 'LayerNormalization', 'Dropout', 'Reshape', 'ScatterND', 'Cast']) {
    assert.ok(ops.has(op), `scan missed ${op}; found ${[...ops.keys()].sort().join(', ')}`);
  }
  assert.ok(ops.size >= 40, `only ${ops.size} op types found`);
});

test('every op type the builder can emit has a gradient rule or is marked non-differentiable', () => {
  const { ops } = scanEmittedOps();
  const registered = new Set(E.registeredOps());
  const missing = [...ops.keys()].filter((op) => !registered.has(op)).sort();
  const where = missing.map((op) => `${op} (emitted in ${[...(ops.get(op) ?? [])].join(', ')})`);
  assert.deepEqual(where, [], `op types without a gradient rule or a non-differentiable mark: ${where.join('; ')}`);
  for (const op of ops.keys()) assert.ok(E.gradientEntry(op), op);
});

test('the scan covers every op type the builders emit at run time', () => {
  const { ops } = scanEmittedOps();
  const g = new E.Graph('all-ops');
  const x = g.input('x', 'float32', ['batch', 4]);
  const ids = g.input('ids', 'int64', ['batch', 3]);
  const train = g.input('train', 'bool', []);
  const w = g.param('w', f32([4, 4], Array.from({ length: 16 }, (_, i) => i / 16)));
  const s = g.param('s', f32([4], [1, 1, 1, 1]));
  const emb = g.param('emb', f32([5, 4]));
  const ys: E.Value[] = [];
  const h = E.matmul(x, w); // [batch, 4]
  ys.push(E.gemm(h, w, s, { transB: true, alpha: 0.5 }));
  for (const f of [E.neg, E.abs, E.sign, E.sqrt, E.exp, E.log, E.erf, E.tanh, E.relu, E.sigmoid, E.identity, E.silu]) ys.push(f(h));
  ys.push(E.gelu(h), E.gelu(h, 'tanh'), E.add(h, 1), E.sub(h, s), E.mul(h, 2), E.div(h, s), E.pow(h, 2));
  ys.push(E.where(E.not(E.greater(h, 0)), h, E.where(E.less(h, 1), 0, h)), E.cast(E.equal(h, 0), 'float32'));
  ys.push(E.softmax(h), E.logSoftmax(h), E.layerNorm(h, s, s), E.dropout(h, { ratio: 0.1, seed: 1, training: train }));
  ys.push(E.reduceSum(h, [1], true), E.reduceMean(h, [1], true));
  const e = E.gather(emb, ids); // [batch, 3, 4]
  ys.push(E.reshape(E.transpose(e, [0, 2, 1]), ['batch', 12]));
  ys.push(E.squeeze(E.unsqueeze(h, [1]), [1]), E.expand(s, h), E.concat([h, h], 1), E.slice(h, [1], [3], [1]));
  ys.push(...E.splitLike(h, 1, [g.constant('l1', f32([1, 1])), g.constant('l2', f32([1, 3]))]));
  ys.push(E.reshapeLike(h, h), E.fill(h, 0), E.oneHot(E.cumsum(ids, 1), 4), E.cast(E.sizeOf(h), 'float32'), E.cast(E.shapeOf(h), 'float32'));
  const pads = g.constant('pads', i64([4], [0, 0, 0, 1]));
  ys.push(E.padTo(h, pads, ['batch', 5]), E.scatterNDAdd(E.fill(emb, 0), E.unsqueeze(ids, [-1]), e));
  ys.push(E.softmaxCrossEntropy(h, E.gather(ids, g.literal('int64', 0), 1)), E.meanSquaredError(h, h), E.sigmoidBinaryCrossEntropy(h, h));
  E.gradients(E.reduceSum(E.mul(h, h)), [w, s, emb]);
  // Gather along an int32 index adds the Cast the Gather rule emits itself.
  const e32 = E.gather(emb, E.cast(ids, 'int32'));
  E.gradients(E.reduceSum(e32), [emb]);
  const emitted = new Set(g.nodes.map((n) => n.opType));
  const unseen = [...emitted].filter((op) => !ops.has(op)).sort();
  assert.deepEqual(unseen, [], `op types emitted at run time that the source scan did not find: ${unseen.join(', ')}`);
  assert.ok(emitted.size >= 40, `only ${emitted.size} op types emitted`);
});

test('an op without a gradient rule reached by gradients throws NO_GRADIENT naming the op and the node', () => {
  const g = new E.Graph('no-rule');
  const p = g.param('p', f32([3], [1, 2, 3]));
  const [foo] = g.addNode('Foo', [E.mul(p, 2)], {}, [{ dtype: 'float32', shape: [3] }]);
  const loss = E.reduceSum(foo as E.Value);
  assert.throws(
    () => E.gradients(loss, [p]),
    (e: unknown) => {
      assert.ok(e instanceof AdapterkitError);
      assert.equal(e.code, 'NO_GRADIENT');
      assert.match(e.message, /no gradient rule for op Foo \(node Foo_\d+\)/);
      assert.equal(e.details?.op, 'Foo');
      assert.equal(e.details?.node, (foo as E.Value).producer?.name);
      return true;
    },
  );
});

test('an op without a rule off the differentiated path is fine', () => {
  const g = new E.Graph('no-rule-off-path');
  const p = g.param('p', f32([3], [1, 2, 3]));
  const c = g.constant('c', f32([3], [1, 1, 1]));
  const [foo] = g.addNode('Foo', [c], {}, [{ dtype: 'float32', shape: [3] }]);
  const [dp] = E.gradients(E.reduceSum(E.mul(p, foo as E.Value)), [p]);
  assert.ok(dp);
});

test('a marked op on a float path throws NO_GRADIENT with its reason', () => {
  const g = new E.Graph('marked');
  const p = g.param('p', f32([2, 3]));
  const padded = E.padTo(E.mul(p, 3), g.constant('pads', i64([4], [0, 1, 0, 1])), [2, 5]);
  assert.throws(() => E.gradients(E.reduceSum(padded), [p]), /op Pad \(node Pad_\d+\) is not differentiable: emitted only by gradient rules; second-order gradients are not supported/);
  const q = g.param('q', f32([4]));
  const cs = E.cumsum(E.mul(q, 2), 0);
  assert.throws(() => E.gradients(E.reduceSum(cs), [q]), (e: unknown) => {
    assert.ok(e instanceof AdapterkitError && e.code === 'NO_GRADIENT');
    assert.match(e.message, /op CumSum \(node CumSum_\d+\) is not differentiable: used on integer position ids only/);
    return true;
  });
});

test('marked ops on integer paths (shape queries, one-hot labels) do not stop differentiation', async () => {
  const g = new E.Graph('marked-ok');
  const x = g.input('x', 'float32', ['n', 3]);
  const labels = g.input('labels', 'int64', ['n']);
  const w = g.param('w', f32([3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1]));
  const logits = E.reshape(E.matmul(x, w), ['n', 3]); // symbolic reshape: Shape, Gather, Concat on int64
  const loss = E.softmaxCrossEntropy(logits, labels); // OneHot on int64 labels
  const [dw] = E.gradients(loss, [w]);
  g.output(loss, dw as E.Value);
  const s = await E.Session.create(g);
  const out = await s.run({ x: f32([2, 3], [1, 0, 0, 0, 1, 0]), labels: i64([2], [0, 1]) });
  assert.equal(out[(dw as E.Value).name]?.data.length, 9);
  await s.dispose();
});
