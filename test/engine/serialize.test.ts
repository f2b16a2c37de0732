/**
 * ONNX serialisation: deterministic bytes, dead-node pruning, parameters as inputs or initializers,
 * and the external-data path (initializers in a side file at 4096-aligned offsets) used above
 * protobuf's 2 GB limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import * as E from '../../src/engine/index.js';
import { bool, f32, i64, type HostTensor } from '../../src/engine/index.js';
import { ONNX_SCHEMA } from '../../src/engine/onnx/schema.js';
import { randn } from './gradcheck.js';
import { defaultRuntimeBackend, modelDirPrefix, removeStaleModelDirs } from '../../src/engine/runtime/ort-node.js';
import { tempDir } from '../temp-dir.js';

const ModelProto = protobuf.parse(ONNX_SCHEMA, { keepCase: true }).root.lookupType('onnx.ModelProto');

interface DecodedTensor {
  name: string;
  dims: number[];
  raw_data?: Uint8Array;
  data_location?: number;
  external_data?: { key: string; value: string }[];
}
interface DecodedModel {
  graph: {
    node: { name: string; op_type: string; input: string[]; output: string[] }[];
    initializer: DecodedTensor[];
    input: { name: string }[];
    output: { name: string }[];
  };
}

function decode(bytes: Uint8Array): DecodedModel {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, arrays: true, defaults: false }) as unknown as DecodedModel;
}

function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** One small post-norm attention block with a loss and its gradients. Shapes: B batch, T seq, D 8, H 2, Dh 4. */
function transformerish(): { g: E.Graph; loss: E.Value; grads: E.Value[] } {
  const g = new E.Graph('tiny-attention');
  const D = 8;
  const x = g.input('x', 'float32', ['batch', 'seq', D]);
  const mask = g.input('mask', 'int64', ['batch', 'seq']);
  const train = g.input('train', 'bool', []);
  const w = (name: string, shape: number[], seed: number) => g.param(name, randn(shape, seed, -0.5, 0.5));
  const [wq, wk, wv, wo] = [w('wq', [D, D], 1), w('wk', [D, D], 2), w('wv', [D, D], 3), w('wo', [D, D], 4)];
  const lnS = g.param('ln.weight', f32([D], new Float32Array(D).fill(1)));
  const lnB = g.param('ln.bias', f32([D]));
  const frozen = g.constant('frozen.bias', randn([D], 5));
  const heads = (h: E.Value) => E.transpose(E.reshape(h, ['batch', 'seq', 2, 4]), [0, 2, 1, 3]); // [B, H, T, Dh]
  const q = heads(E.linear(x, wq, frozen));
  const k = heads(E.linear(x, wk));
  const v = heads(E.linear(x, wv));
  const bias = E.unsqueeze(E.mul(E.sub(1, E.cast(mask, 'float32')), -1e9), [1, 2]); // [B, 1, 1, T]
  const probs = E.softmax(E.add(E.matmul(E.mul(q, 0.5), E.transpose(k, [0, 1, 3, 2])), bias)); // [B, H, T, T]
  const ctx = E.reshape(E.transpose(E.matmul(probs, v), [0, 2, 1, 3]), ['batch', 'seq', D]); // [B, T, D]
  const o = E.dropout(E.linear(ctx, wo), { ratio: 0.1, seed: 7, training: train });
  const y = E.layerNorm(E.add(x, E.gelu(o)), lnS, lnB, 1e-12);
  const loss = E.reduceMean(E.mul(y, y));
  const grads = E.gradients(loss, [wq, wk, wv, wo, lnS, lnB]);
  g.output(loss, ...grads);
  return { g, loss, grads };
}

test('building the same graph twice gives byte-identical ModelProto bytes', () => {
  const a = E.serializeGraph(transformerish().g).bytes;
  const b = E.serializeGraph(transformerish().g).bytes;
  assert.ok(a.byteLength > 2000, `${a.byteLength} bytes`);
  assert.ok(Buffer.from(a).equals(Buffer.from(b)), 'two builds of the same graph serialise differently');
  const g = transformerish().g;
  assert.ok(Buffer.from(E.serializeGraph(g).bytes).equals(Buffer.from(E.serializeGraph(g).bytes)), 'serialising twice differs');
  const m = decode(a);
  assert.ok(m.graph.node.some((n) => n.name.startsWith('grad/')), 'the backward graph is in the model');
  assert.deepEqual(m.graph.output.slice(0, 7).map((o) => o.name), E.serializeGraph(g).outputs.map((v) => v.name).slice(0, 7));
});

test('dead nodes, unused constants and unused inputs are pruned', () => {
  const g = new E.Graph('prune');
  const x = g.input('x', 'float32', ['n', 3]);
  const unused = g.input('unused', 'float32', [2]);
  const p = g.param('p', f32([3], [1, 2, 3]));
  const q = g.param('q_unused', f32([3], [1, 2, 3]));
  const c = g.constant('c_dead', f32([3], [4, 5, 6]));
  const live = E.mul(x, p);
  const dead = E.exp(E.add(E.mul(x, c), q));
  const deadToo = E.tanh(dead);
  g.output(live);
  const s = E.serializeGraph(g);
  const m = decode(s.bytes);
  const names = m.graph.node.map((n) => n.name);
  assert.deepEqual(names, [live.producer?.name]);
  for (const v of [dead, deadToo]) assert.ok(!names.includes(v.producer?.name ?? '?'), `${v.name} was written`);
  assert.deepEqual(m.graph.input.map((i) => i.name), ['x', 'p']);
  assert.deepEqual(m.graph.initializer.map((t) => t.name), []);
  assert.deepEqual(s.inputs.map((v) => v.name), ['x', 'p']);
  assert.ok(!s.inputs.includes(unused) && !s.inputs.includes(q) && !s.initializers.includes(c));
  const { nodes } = E.liveNodes(g, [deadToo]);
  assert.deepEqual(nodes.map((n) => n.opType), ['Mul', 'Add', 'Exp', 'Tanh']);
});

test('parameters as graph inputs (training) or as initializers (inference export)', async () => {
  const build = () => {
    const g = new E.Graph('params-as');
    const x = g.input('x', 'float32', ['n', 2]);
    const w = g.param('w', f32([2, 2], [1, 2, 3, 4]));
    const b = g.constant('b', f32([2], [0.5, -0.5]));
    const y = E.linear(x, w, b);
    g.output(y);
    return { g, x, w, b, y };
  };
  const { g, w, y } = build();
  const asInputs = decode(E.serializeGraph(g).bytes);
  assert.deepEqual(asInputs.graph.input.map((i) => i.name), ['x', 'w']);
  assert.deepEqual(asInputs.graph.initializer.map((t) => t.name), ['b']);
  const asInits = E.serializeGraph(g, { paramsAs: 'initializers' });
  const m = decode(asInits.bytes);
  assert.deepEqual(m.graph.input.map((i) => i.name), ['x']);
  assert.deepEqual(m.graph.initializer.map((t) => t.name).sort(), ['b', 'w']);
  const wProto = m.graph.initializer.find((t) => t.name === 'w') as DecodedTensor;
  assert.deepEqual(wProto.dims, [2, 2]);
  assert.ok(Buffer.from(wProto.raw_data ?? []).equals(Buffer.from(bytesOf(g.dataOf(w)))));

  const feeds = { x: f32([3, 2], [1, 0, 0, 1, 1, 1]) };
  const fed = await E.Session.create(g);
  const frozen = await E.Session.create(g, { freezeParams: true });
  assert.deepEqual(fed.inputNames, ['x']);
  assert.deepEqual(frozen.inputNames, ['x']);
  const a = (await fed.run(feeds))[y.name]?.data;
  const b = (await frozen.run(feeds))[y.name]?.data;
  assert.deepEqual(Array.from(a as Float32Array), [1.5, 1.5, 3.5, 3.5, 4.5, 5.5]);
  assert.deepEqual(b, a);
  // A fed parameter is read at each run; a frozen one was baked in.
  g.setData(w, f32([2, 2], [0, 0, 0, 0]));
  assert.deepEqual(Array.from((await fed.run(feeds))[y.name]?.data as Float32Array), [0.5, -0.5, 0.5, -0.5, 0.5, -0.5]);
  assert.deepEqual((await frozen.run(feeds))[y.name]?.data, a);
  await fed.dispose();
  await frozen.dispose();
});

test('externalDataThreshold 0 puts every float initializer in a side file at 4096-aligned offsets; same outputs; removed on dispose', async () => {
  const { g, loss, grads } = transformerish();
  // Frozen constants of several sizes, including one over a page, so the alignment padding shows.
  const big = g.constant('big', randn([40, 40], 11)); // 6400 bytes
  const extra = E.reduceSum(E.matmul(E.reduceMean(E.transpose(g.inputs[0] as E.Value, [0, 2, 1]), [2]), E.slice(big, [0, 0], [8, 40])));
  g.output(extra);
  const feeds = {
    x: randn([2, 3, 8], 20),
    mask: i64([2, 3], [1, 1, 1, 1, 1, 0]),
    train: bool([], [false]),
  };
  const mem = await E.Session.create(g);
  assert.equal(mem.model.path, undefined);
  const ext = await E.Session.create(g, { externalDataThreshold: 0 });
  const path = ext.model.path as string;
  assert.ok(path && path.endsWith('model.onnx'), String(path));
  const dir = dirname(path);
  assert.deepEqual(readdirSync(dir).sort(), ['model.data', 'model.onnx']);
  assert.ok(Buffer.from(readFileSync(path)).equals(Buffer.from(ext.model.bytes)));

  const m = decode(ext.model.bytes);
  const data = readFileSync(join(dir, 'model.data'));
  assert.ok(m.graph.initializer.length >= 5, `${m.graph.initializer.length} initializers`);
  assert.deepEqual(m.graph.initializer.map((t) => t.name), ext.model.initializers.map((v) => v.name));
  let external = 0;
  for (const t of m.graph.initializer) {
    const value = ext.model.initializers.find((v) => v.name === t.name) as E.Value;
    const want = bytesOf(g.dataOf(value));
    if (value.dtype !== 'float32') {
      // Shapes, axes and indices stay inline: ONNX Runtime's shape inference cannot read external data.
      assert.ok(!t.data_location, `${t.name} (${value.dtype}) should be inline`);
      assert.ok(Buffer.from(t.raw_data ?? []).equals(Buffer.from(want)), t.name);
      continue;
    }
    external++;
    assert.equal(t.data_location, 1, `${t.name} is not external`);
    assert.equal(t.raw_data?.length ?? 0, 0, `${t.name} also has raw data`);
    const kv = Object.fromEntries((t.external_data ?? []).map((e) => [e.key, e.value]));
    assert.equal(kv.location, 'model.data');
    const offset = Number(kv.offset);
    const length = Number(kv.length);
    assert.equal(offset % 4096, 0, `${t.name} at offset ${offset}`);
    assert.equal(length, want.byteLength, t.name);
    assert.ok(data.subarray(offset, offset + length).equals(Buffer.from(want)), `bytes of ${t.name} in model.data`);
  }
  // Every float constant (weights, biases, scalar literals such as 0.5 and the dropout ratio) is external.
  const floats = ext.model.initializers.filter((v) => v.dtype === 'float32');
  assert.equal(external, floats.length);
  assert.ok(external >= 5, `${external} external initializers`);
  assert.ok(floats.includes(big) && floats.some((v) => v.shape.length === 0), 'big weight and scalar literals are external');
  assert.ok(data.length >= 4096 * (external - 1) + 4, `model.data is ${data.length} bytes for ${external} aligned tensors`);

  const a = await mem.run(feeds);
  const b = await ext.run(feeds);
  for (const v of [loss, ...grads, extra]) assert.deepEqual(b[v.name]?.data, a[v.name]?.data, v.name);
  await mem.dispose();
  await ext.dispose();
  assert.ok(!existsSync(dir), `${dir} was not removed on dispose`);
});

test('serializeGraph with externalData writes <file>.onnx and <file>.data; small tensors stay inline', () => {
  const dir = tempDir('adapterkit-serialize-');
  try {
    const g = new E.Graph('ext');
    const x = g.input('x', 'float32', ['n', 16]);
    const w = g.constant('w', randn([16, 16], 30)); // 1024 bytes: the default threshold
    const w2 = g.constant('w2', randn([16, 17], 31)); // 1088 bytes
    const small = g.constant('small', randn([16], 32)); // 64 bytes
    const p = g.param('p', randn([16], 33));
    g.output(E.add(E.matmul(E.add(E.matmul(x, w), small), w2), E.slice(E.concat([p, p], 0), [0], [17])));
    const s = E.serializeGraph(g, { externalData: { dir, file: 'enc' }, paramsAs: 'initializers' });
    assert.equal(s.path, join(dir, 'enc.onnx'));
    assert.deepEqual(readdirSync(dir).sort(), ['enc.data', 'enc.onnx']);
    assert.ok(Buffer.from(readFileSync(join(dir, 'enc.onnx'))).equals(Buffer.from(s.bytes)));
    const m = decode(s.bytes);
    const byName = new Map(m.graph.initializer.map((t) => [t.name, t]));
    const data = readFileSync(join(dir, 'enc.data'));
    const offsets: number[] = [];
    for (const v of [w, w2]) {
      const t = byName.get(v.name) as DecodedTensor;
      assert.equal(t.data_location, 1, v.name);
      const kv = Object.fromEntries((t.external_data ?? []).map((e) => [e.key, e.value]));
      assert.equal(kv.location, 'enc.data');
      const off = Number(kv.offset);
      offsets.push(off);
      assert.equal(off % 4096, 0);
      assert.ok(data.subarray(off, off + Number(kv.length)).equals(Buffer.from(bytesOf(g.dataOf(v)))), v.name);
    }
    assert.deepEqual(offsets, [0, 4096]);
    assert.equal(data.length, 4096 + 1088);
    for (const v of [small, p]) {
      const t = byName.get(v.name) as DecodedTensor;
      assert.ok(!t.data_location, `${v.name} should be inline`);
      assert.ok(Buffer.from(t.raw_data ?? []).equals(Buffer.from(bytesOf(g.dataOf(v)))), v.name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('by default a model whose weights reach EXTERNAL_MEMORY_BYTES loads its weights from a side file (where the backend has files); smaller ones stay inline', async () => {
  assert.equal(E.externalDataDefault(E.EXTERNAL_MEMORY_BYTES - 1, true), undefined);
  assert.equal(E.externalDataDefault(E.EXTERNAL_MEMORY_BYTES, true), 64 * 1024);
  assert.equal(E.externalDataDefault(E.EXTERNAL_MEMORY_BYTES, false), undefined, 'a browser backend keeps them inline');
  assert.equal(E.externalDataDefault(1.6 * 2 ** 30, false), 1024, 'over 1.5 GB: external whatever the backend (Session.create then refuses without files)');
  const g = new E.Graph('big');
  const x = g.input('x', 'float32', [1, 8192]);
  const n = Math.ceil(E.EXTERNAL_MEMORY_BYTES / 4 / 8192);
  const w = new Float32Array(8192 * n);
  w[3 * n + 5] = 2; // y[5] = 2 x[3]
  const b = g.constant('b', f32([n], new Float32Array(n).fill(0.5)));
  g.output(E.add(E.matmul(x, g.constant('w', f32([8192, n], w))), b));
  const s = await E.Session.create(g);
  try {
    const path = s.model.path as string;
    assert.ok(path, 'written to a file');
    const dir = dirname(path);
    assert.deepEqual(readdirSync(dir).sort(), ['model.data', 'model.onnx']);
    const m = decode(s.model.bytes);
    assert.deepEqual(m.graph.initializer.filter((t) => t.data_location === 1).map((t) => t.name), ['w'], 'the bias (under 64 kB) stays inline');
    const xs = new Float32Array(8192);
    xs[3] = 1.5;
    const y = (await s.run({ x: f32([1, 8192], xs) }))[g.outputs[0]?.name as string]?.data as Float32Array;
    assert.equal(y[5], 3.5);
    assert.equal(y[6], 0.5);
  } finally {
    const dir = dirname(s.model.path as string);
    await s.dispose();
    assert.equal(existsSync(dir), false, 'removed on dispose');
  }
});

test('a session whose graph cannot be serialised leaves no temporary model folder behind', async () => {
  const g = new E.Graph('no-outputs');
  g.input('x', 'float32', [2]);
  const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('adapterkit-model-')));
  await assert.rejects(E.Session.create(g, { externalDataThreshold: 0 }), /graph no-outputs has no outputs to compute/);
  const leaked = readdirSync(tmpdir()).filter((n) => n.startsWith('adapterkit-model-') && !before.has(n));
  assert.deepEqual(leaked, []);
});

/** A child process that makes a temporary model directory, prints it, then exits (`exit`) or waits to be killed. */
async function childDir(then: 'exit' | 'wait'): Promise<{ dir: string; child: ReturnType<typeof spawn> }> {
  const code = `import { defaultRuntimeBackend } from './src/engine/runtime/ort-node.ts';
    import { writeFileSync } from 'node:fs';
    const dir = defaultRuntimeBackend.files.makeTempDir();
    writeFileSync(dir + '/model.onnx_data', 'weights');
    console.log(dir);
    ${then === 'wait' ? 'setInterval(() => {}, 1000);' : ''}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
  return { dir: String(first.value), child };
}

test('temporary model folders: removed when the process exits without disposing; a killed process\'s folder goes when the next is made', async () => {
  const exited = await childDir('exit');
  await new Promise((r) => exited.child.once('exit', r));
  assert.equal(existsSync(exited.dir), false, `${exited.dir} outlived its process`);

  const killed = await childDir('wait');
  const pid = killed.child.pid as number;
  killed.child.kill('SIGKILL');
  await new Promise((r) => killed.child.once('exit', r));
  assert.ok(existsSync(killed.dir), 'a killed process cannot clean up');
  assert.ok(killed.dir.includes(modelDirPrefix(pid)), killed.dir);
  const mine = defaultRuntimeBackend.files!.makeTempDir(); // sweeps the dead process's folder
  assert.equal(existsSync(killed.dir), false, `${killed.dir} survived the sweep`);
  assert.ok(existsSync(mine));
  defaultRuntimeBackend.files!.removeDir(mine);

  // the sweep leaves folders of running processes, of other hosts and of older versions (no host and pid in the name)
  const tmp = tempDir('ak-sweep-');
  const keep = [`${modelDirPrefix(process.pid)}aaaaaa`, `${modelDirPrefix(process.ppid)}bbbbbb`, 'adapterkit-model-otherhost-999999999-cccccc', 'adapterkit-model-dddddd'];
  for (const n of [...keep, `${modelDirPrefix(pid)}eeeeee`]) {
    mkdirSync(join(tmp, n));
    writeFileSync(join(tmp, n, 'model'), 'x');
  }
  assert.deepEqual(removeStaleModelDirs(tmp), [`${modelDirPrefix(pid)}eeeeee`]);
  assert.deepEqual(readdirSync(tmp).sort(), [...keep].sort());
  rmSync(tmp, { recursive: true });
});

test('outputNames renames outputs wherever the model mentions them; onnxruntime returns them under the new names', async () => {
  const g = new E.Graph('named');
  const x = g.input('x', 'float32', ['n', 2]);
  const y = E.mul(x, 2); // [n, 2]
  const z = E.add(y, 1); // reads y: its consumer must see the new name too
  const s = E.serializeGraph(g, { outputs: [z, y], outputNames: ['logits', 'scaled'] });
  assert.deepEqual(s.outputNames, ['logits', 'scaled']);
  const m = decode(s.bytes);
  assert.deepEqual(m.graph.output.map((o) => o.name), ['logits', 'scaled']);
  assert.deepEqual(m.graph.node.map((n) => n.output[0]), ['scaled', 'logits']);
  assert.deepEqual(m.graph.node[1]?.input[0], 'scaled');
  assert.ok(!m.graph.node.some((n) => [...n.input, ...n.output].includes(y.name) || [...n.input, ...n.output].includes(z.name)), 'an old name is left');
  const ort = await import('onnxruntime-node');
  const sess = await ort.InferenceSession.create(s.bytes);
  assert.deepEqual(sess.outputNames, ['logits', 'scaled']);
  const out = await sess.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2]), [1, 2]) });
  assert.deepEqual(Array.from(out.logits?.data as Float32Array), [3, 5]);
  assert.deepEqual(Array.from(out.scaled?.data as Float32Array), [2, 4]);
  await sess.release();
  // Without names the generated ones stay.
  assert.deepEqual(E.serializeGraph(g, { outputs: [z] }).outputNames, [z.name]);

  assert.throws(() => E.serializeGraph(g, { outputs: [z], outputNames: ['a', 'b'] }), /2 output names for 1 outputs/);
  assert.throws(() => E.serializeGraph(g, { outputs: [z], outputNames: ['x'] }), /output name "x" is already used in the model/);
  assert.throws(() => E.serializeGraph(g, { outputs: [z, y], outputNames: ['same', 'same'] }), /output name "same" is already used/);
  assert.throws(() => E.serializeGraph(g, { outputs: [z], outputNames: ['no spaces'] }), /invalid output name "no spaces"/);
  assert.throws(() => E.serializeGraph(g, { outputs: [x], outputNames: ['logits'] }), /output x is a graph input; only node outputs can be renamed/);
});

test('externalData.dataFile names the side file (transformers.js looks for model.onnx_data)', async () => {
  const g = new E.Graph('ext-name');
  const x = g.input('x', 'float32', ['n', 4]);
  const w = g.constant('w', randn([4, 4], 3));
  const y = E.matmul(x, w);
  const dir = tempDir('ak-ser-');
  try {
    const s = E.serializeGraph(g, { outputs: [y], outputNames: ['logits'], externalData: { dir, file: 'model', dataFile: 'model.onnx_data', threshold: 0 } });
    assert.deepEqual(readdirSync(dir).sort(), ['model.onnx', 'model.onnx_data']);
    const t = decode(s.bytes).graph.initializer.find((i) => i.name === 'w') as DecodedTensor;
    assert.equal(Object.fromEntries((t.external_data ?? []).map((e) => [e.key, e.value])).location, 'model.onnx_data');
    const ort = await import('onnxruntime-node');
    const sess = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const out = await sess.run({ x: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 0]), [1, 4]) });
    assert.deepEqual(Array.from(out.logits?.data as Float32Array), Array.from(g.dataOf(w).data.subarray(0, 4) as Float32Array));
    await sess.release();
    assert.throws(() => E.serializeGraph(g, { outputs: [y], externalData: { dir, dataFile: '../escape' } }), /must be a plain file name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
