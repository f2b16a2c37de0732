/**
 * Our fusion files load in AdapterHub itself: for the dynamic and static presets and a config with
 * every switch flipped, a fused task with perturbed fusion tensors is saved with saveTask, then
 * AdapterHub's unchanged `BertFusion` (../shared/interop/adapterhub, run by
 * test/interop/adapterhub_fusion.py) is built from our `adapter_fusion_config.json`, loaded
 * strictly from our `pytorch_model_adapter_fusion.bin`, and must give at one site what adapterkit's
 * fusion gives on the same query, up-projections and residual. The other way round, a fusion folder
 * holding AdapterHub's own BertFusion state dicts (torch.save) reads with readFusionDir into a fusion
 * that computes what AdapterHub's module computes. With `temperature: true`, AdapterHub's module
 * called 990 times on the same inputs: its T before every call is ours exactly, and its outputs at
 * calls across the run and the floor are what our fusion gives fed that T.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseComposition } from '../../src/adapters/composition.js';
import { fuseAt, fusionConfig, type FusionConfig, type NamedFusion } from '../../src/adapters/fusion.js';
import { fusionTemperature } from '../../src/adapters/fusion-temperature.js';
import { readFusionDir } from '../../src/adapters/task-files/fusion-files.js';
import type { MethodContext } from '../../src/adapters/method.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { f32, Graph, Session, type HostTensor } from '../../src/engine/index.js';
import { headConfig } from '../../src/heads/head.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';
import { adapterHubMissing, runPython, tempDir, tinyBase } from './helpers.js';

const CONFIGS: [string, FusionConfig][] = [
  ['dynamic', fusionConfig('dynamic')],
  ['static', fusionConfig('static')],
  ['no key, residual before, value after the softmax', fusionConfig({ key: false, residual_before: true, value_before_softmax: false })],
  ['no query', fusionConfig({ query: false })],
];
const B = 2;
const T = 3;
const N = 3;
const D = 32;

test('AdapterHub\'s BertFusion, built from our adapter_fusion_config.json and loaded strictly from our pytorch_model_adapter_fusion.bin, computes what our fusion computes', async (t) => {
  const why = await adapterHubMissing();
  if (why) return t.skip(why);
  const base = await tinyBase();
  const { dir, cleanup } = tempDir('adapterkit-fusion-interop-');
  try {
    const rng = new Rng(11);
    const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const requests: Record<string, unknown>[] = [];
    const ours: Float32Array[] = [];
    for (const [i, [label, config]] of CONFIGS.entries()) {
      const adapters = ['a', 'b', 'c'].map((name) => ({ name, config: methodConfig('pfeiffer', { reduction_factor: 8 }), trainable: false }));
      const m = TaskModel.create(base, {
        mode: { kind: 'adapters', adapters, active: parseComposition('Fuse(a, b, c)'), fusions: [{ name: 'a,b,c', adapters: ['a', 'b', 'c'], config }] },
        head: headConfig({ kind: 'classification', labels: ['x', 'y'] }), seed: i,
      });
      for (const [k, v] of m.owned) if (k.startsWith('adapters.fusion[')) for (let j = 0; j < v.data.length; j++) v.data[j] = (v.data[j] as number) + 0.1 * rng.normal();
      const task = join(dir, `t${i}`);
      await saveTask(m, task, { name: `t${i}`, maxLength: 16 });
      const query = rand(B * T * D);
      const ups = Array.from({ length: N }, () => rand(B * T * D));
      const residual = rand(B * T * D);
      // our fusion at site 1.ffn on the same inputs
      const g = new Graph(`fusion-${i}`);
      const c = (name: string, x: HostTensor<'float32'>) => g.constant(name, x);
      const ctx: MethodContext = {
        w: (name) => c(name.replace(/[[\]:,]/g, '_'), m.owned.get(name) as HostTensor<'float32'>), gathered: false, dropout: (x) => x, layerNorm: () => assert.fail('no layer norm'),
      };
      const shape = [B, T, D];
      const out = fuseAt({ name: 'a,b,c', adapters: ['a', 'b', 'c'], config }, '1.ffn', ctx, 0, {
        query: c('query', f32(shape, query)), ups: ups.map((u, j) => c(`up${j}`, f32(shape, u))), residual: c('residual', f32(shape, residual)),
      });
      g.output(out);
      const s = await Session.create(g, { outputs: [out] });
      ours.push((await s.run({}))[out.name]?.data as Float32Array);
      await s.dispose();
      await m.dispose();
      const nest = (x: Float32Array) => Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, tt) => Array.from(x.subarray((b * T + tt) * D, (b * T + tt + 1) * D))));
      requests.push({ label, dir: task, fusion: 'a,b,c', prefix: 'bert.encoder.layer.1.output.adapter_fusion_layer.a,b,c.', query: nest(query), ups: ups.map(nest), residual: nest(residual) });
    }
    const r = await runPython(['test/interop/adapterhub_fusion.py'], { input: JSON.stringify({ requests }) });
    assert.equal(r.code, 0, r.stderr);
    const results = (JSON.parse(r.stdout) as { results: { output?: number[][][]; error?: string; parameters?: string[] }[] }).results;
    for (const [i, res] of results.entries()) {
      const label = CONFIGS[i]?.[0];
      assert.equal(res.error, undefined, `${label}: ${res.error}`);
      const want = (res.output as number[][][]).flat(2);
      const got = ours[i] as Float32Array;
      let worst = 0;
      want.forEach((v, j) => (worst = Math.max(worst, Math.abs((got[j] as number) - v))));
      t.diagnostic(`${label}: AdapterHub parameters ${res.parameters?.join(', ')}; max |diff| ${worst.toExponential(2)}`);
      assert.ok(worst < 1e-5, `${label}: max |diff| ${worst}`);
    }
  } finally {
    cleanup();
  }
});

test('a fusion folder of AdapterHub\'s own BertFusion state dicts reads with readFusionDir and computes what AdapterHub computes', async (t) => {
  const why = await adapterHubMissing();
  if (why) return t.skip(why);
  const base = await tinyBase();
  const { dir, cleanup } = tempDir('adapterkit-fusion-interop-read-');
  try {
    const rng = new Rng(12);
    const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const nest = (x: Float32Array) => Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, tt) => Array.from(x.subarray((b * T + tt) * D, (b * T + tt + 1) * D))));
    const inputs = CONFIGS.map(() => ({ query: rand(B * T * D), ups: Array.from({ length: N }, () => rand(B * T * D)), residual: rand(B * T * D) }));
    const writes = CONFIGS.map(([, config], i) => ({
      dir: join(dir, `f${i}`), name: 'a,b,c', adapter_names: ['a', 'b', 'c'], config, hidden_size: D, seed: i,
      prefixes: [0, 1].map((l) => `bert.encoder.layer.${l}.output.adapter_fusion_layer.a,b,c.`),
      query: nest(inputs[i]!.query), ups: inputs[i]!.ups.map(nest), residual: nest(inputs[i]!.residual),
    }));
    const r = await runPython(['test/interop/adapterhub_fusion.py'], { input: JSON.stringify({ requests: [], writes }) });
    assert.equal(r.code, 0, r.stderr);
    const results = (JSON.parse(r.stdout) as { writes: { output?: number[][][]; error?: string }[] }).writes;
    const configs = new Map(['a', 'b', 'c'].map((n) => [n, methodConfig('pfeiffer', { reduction_factor: 8 })]));
    for (const [i, res] of results.entries()) {
      const label = CONFIGS[i]?.[0] as string;
      assert.equal(res.error, undefined, `${label}: ${res.error}`);
      const { fusion, tensors } = await readFusionDir(join(dir, `f${i}`), configs, base.encoder);
      assert.deepEqual(fusion.config, CONFIGS[i]?.[1], `${label}: the config read back`);
      const g = new Graph(`read-${i}`);
      const ctx: MethodContext = {
        w: (name) => g.constant(name.replace(/[[\]:,]/g, '_'), tensors.get(name) as HostTensor<'float32'>), gathered: false, dropout: (x) => x, layerNorm: () => assert.fail('no layer norm'),
      };
      const shape = [B, T, D];
      const inp = inputs[i]!;
      const out = fuseAt(fusion as NamedFusion, '0.ffn', ctx, 0, {
        query: g.constant('query', f32(shape, inp.query)), ups: inp.ups.map((u, j) => g.constant(`up${j}`, f32(shape, u))), residual: g.constant('residual', f32(shape, inp.residual)),
      });
      g.output(out);
      const s = await Session.create(g, { outputs: [out] });
      const got = (await s.run({}))[out.name]?.data as Float32Array;
      await s.dispose();
      const want = (res.output as number[][][]).flat(2);
      let worst = 0;
      want.forEach((v, j) => (worst = Math.max(worst, Math.abs((got[j] as number) - v))));
      t.diagnostic(`${label}: max |diff| ${worst.toExponential(2)}`);
      assert.ok(worst < 1e-5, `${label}: max |diff| ${worst}`);
    }
  } finally {
    cleanup();
  }
});

test('temperature true: AdapterHub\'s BertFusion from our files, called 990 times, lowers T exactly as we count it, and each call\'s output is ours fed that T; its own folder reads back with temperature true', async (t) => {
  const why = await adapterHubMissing();
  if (why) return t.skip(why);
  const base = await tinyBase();
  const { dir, cleanup } = tempDir('adapterkit-fusion-interop-temperature-');
  try {
    const rng = new Rng(13);
    const rand = (n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * rng.normal());
    const configs: [string, FusionConfig][] = [['dynamic + temperature', fusionConfig({ temperature: true })], ['static + temperature, residual before', fusionConfig({ ...fusionConfig('static'), temperature: true, residual_before: true })]];
    const at = [0, 1, 2, 500, 979, 980, 981, 989];
    const nest = (x: Float32Array) => Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, tt) => Array.from(x.subarray((b * T + tt) * D, (b * T + tt + 1) * D))));
    const requests: Record<string, unknown>[] = [];
    const ours: Map<number, Float32Array>[] = [];
    for (const [i, [, config]] of configs.entries()) {
      const adapters = ['a', 'b', 'c'].map((name) => ({ name, config: methodConfig('pfeiffer', { reduction_factor: 8 }), trainable: false }));
      const fusion: NamedFusion = { name: 'a,b,c', adapters: ['a', 'b', 'c'], config };
      const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters, active: parseComposition('Fuse(a, b, c)'), fusions: [fusion] }, head: headConfig({ kind: 'classification', labels: ['x', 'y'] }), seed: i });
      for (const [k, v] of m.owned) if (k.startsWith('adapters.fusion[')) for (let j = 0; j < v.data.length; j++) v.data[j] = (v.data[j] as number) + 0.1 * rng.normal();
      const task = join(dir, `t${i}`);
      await saveTask(m, task, { name: `t${i}`, maxLength: 16 });
      // a query 10 times larger: scores large enough for T to matter at every call
      const query = rand(B * T * D, 10);
      const ups = Array.from({ length: N }, () => rand(B * T * D));
      const residual = rand(B * T * D);
      const g = new Graph(`fusion-temperature-${i}`);
      const c = (name: string, x: HostTensor<'float32'>) => g.constant(name, x);
      const ctx: MethodContext = {
        w: (name) => c(name.replace(/[[\]:,]/g, '_'), m.owned.get(name) as HostTensor<'float32'>), gathered: false, dropout: (x) => x, layerNorm: () => assert.fail('no layer norm'),
      };
      const shape = [B, T, D];
      const temperature = g.input('T', 'float32', []);
      const out = fuseAt(fusion, '1.ffn', ctx, 0, { query: c('query', f32(shape, query)), ups: ups.map((u, j) => c(`up${j}`, f32(shape, u))), residual: c('residual', f32(shape, residual)), temperature });
      g.output(out);
      const s = await Session.create(g, { outputs: [out] });
      const got = new Map<number, Float32Array>();
      for (const k of at) got.set(k, (await s.run({ T: f32([], [fusionTemperature(k)]) }))[out.name]?.data as Float32Array);
      ours.push(got);
      await s.dispose();
      await m.dispose();
      requests.push({ dir: task, fusion: 'a,b,c', prefix: 'bert.encoder.layer.1.output.adapter_fusion_layer.a,b,c.', query: nest(query), ups: ups.map(nest), residual: nest(residual), calls: 990, at });
    }
    const first = requests[0] as { query: unknown; ups: unknown; residual: unknown };
    const writes = [{
      dir: join(dir, 'theirs'), name: 'a,b,c', adapter_names: ['a', 'b', 'c'], config: configs[0]?.[1], hidden_size: D, seed: 5,
      prefixes: [0, 1].map((l) => `bert.encoder.layer.${l}.output.adapter_fusion_layer.a,b,c.`), query: first.query, ups: first.ups, residual: first.residual,
    }];
    const r = await runPython(['test/interop/adapterhub_fusion.py'], { input: JSON.stringify({ requests, writes }) });
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { results: { outputs?: Record<string, number[][][]>; temperatures?: number[]; error?: string }[]; writes: { output?: number[][][]; error?: string }[] };
    for (const [i, x] of res.results.entries()) {
      const label = configs[i]?.[0];
      assert.equal(x.error, undefined, `${label}: ${x.error}`);
      assert.equal(x.temperatures?.length, 990);
      (x.temperatures as number[]).forEach((tk, k) => assert.ok(Object.is(fusionTemperature(k), tk), `${label}: call ${k}: AdapterHub's T ${tk}, ours ${fusionTemperature(k)}`));
      const atFirst = (x.outputs?.['0'] as number[][][]).flat(2);
      let worst = 0;
      let spread = 0;
      let size = 0;
      for (const k of at) {
        const want = (x.outputs?.[String(k)] as number[][][]).flat(2);
        const got = ours[i]?.get(k) as Float32Array;
        want.forEach((v, j) => {
          worst = Math.max(worst, Math.abs((got[j] as number) - v));
          spread = Math.max(spread, Math.abs(v - (atFirst[j] as number)));
          size = Math.max(size, Math.abs(v));
        });
      }
      t.diagnostic(`${label}: T ${x.temperatures?.[0]} … ${x.temperatures?.[989]}; max |diff| ${worst.toExponential(2)} (outputs up to ${size.toFixed(1)}); the outputs move by up to ${spread.toExponential(2)} over the calls`);
      assert.ok(worst < 1e-6 * Math.max(10, size), `${label}: max |diff| ${worst} with outputs up to ${size}`);
      assert.ok(spread > 1e-2, `${label}: T moves the output by ${spread} only: the comparison could not fail`);
    }
    const w = res.writes[0] as { output?: number[][][]; error?: string };
    assert.equal(w.error, undefined, w.error);
    const back = await readFusionDir(join(dir, 'theirs'), new Map(['a', 'b', 'c'].map((n) => [n, methodConfig('pfeiffer', { reduction_factor: 8 })])), base.encoder);
    assert.deepEqual(back.fusion.config, configs[0]?.[1], 'AdapterHub\'s own adapter_fusion_config.json with temperature true reads back as written');
  } finally {
    cleanup();
  }
});
