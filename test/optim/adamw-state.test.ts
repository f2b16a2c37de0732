// AdamW state: in-memory and on-disk round trips continue bit-identically; loading validates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/models/weights/index.js';
import { ADAMW_STATE_FORMAT, AdamW, clipByGlobalNorm, linearWarmupDecay, loadAdamWStateFile, saveAdamWState, type AdamWState } from '../../src/train/optim/index.js';
import { fixture, gradsOf, initialParams, rejectsCoded, throwsCoded, withTempDir } from './helpers.js';

const s = fixture.settings;
const lrAt = linearWarmupDecay({ peakLr: s.peak_lr, totalSteps: s.total_steps, warmupSteps: s.warmup_steps });
const options = { lr: s.peak_lr, betas: s.betas, eps: s.eps, weightDecay: s.weight_decay };

function runSteps(opt: AdamW, from: number, to: number): void {
  for (let k = from; k < to; k++) {
    const g = gradsOf(k);
    clipByGlobalNorm(g, s.max_norm);
    opt.step(g, lrAt(opt.stepCount));
  }
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
const snapshot = (ps: Array<{ name: string; data: Float32Array }>) => ps.map((p) => ({ name: p.name, data: p.data.slice() }));

/** Bit pattern of every parameter after 5 uninterrupted steps. */
function uninterrupted(): Uint32Array[] {
  const params = initialParams();
  runSteps(new AdamW(params, options), 0, 5);
  return params.map((p) => bits(p.data));
}

test('state() / loadState() round trip continues bit-identically', () => {
  const want = uninterrupted();
  const params = initialParams();
  const first = new AdamW(params, options);
  runSteps(first, 0, 2);
  const state = first.state();
  const saved = snapshot(params);
  runSteps(first, 2, 5); // state() is a copy: later steps must not change it
  assert.equal(state.step, 2);

  const resumed = new AdamW(saved, { lr: 1, betas: [0.5, 0.5], eps: 1, weightDecay: 0 });
  resumed.loadState(state);
  assert.deepEqual(resumed.hyperParameters, { ...options, lr: lrAt(1) });
  assert.equal(resumed.stepCount, 2);
  runSteps(resumed, 2, 5);
  saved.forEach((p, i) => assert.deepEqual(bits(p.data), want[i], `parameter ${p.name}`));
});

test('saveAdamWState / loadAdamWStateFile round trip continues bit-identically', async () => {
  await withTempDir(async (dir) => {
    const want = uninterrupted();
    const params = initialParams();
    const first = new AdamW(params, options);
    runSteps(first, 0, 3);
    const path = join(dir, 'optimizer.safetensors');
    await saveAdamWState(first, path);
    const saved = snapshot(params);

    const loaded = await loadAdamWStateFile(path);
    assert.equal(loaded.step, 3);
    assert.deepEqual([...loaded.m.keys()].sort(), [...fixture.names].sort());
    const inMemory = first.state();
    for (const n of fixture.names) {
      assert.deepEqual(loaded.m.get(n), inMemory.m.get(n));
      assert.deepEqual(loaded.v.get(n), inMemory.v.get(n));
    }
    const resumed = new AdamW(saved, { lr: 123 });
    resumed.loadState(loaded);
    assert.deepEqual(resumed.hyperParameters, first.hyperParameters);
    runSteps(resumed, 3, 5);
    saved.forEach((p, i) => assert.deepEqual(bits(p.data), want[i], `parameter ${p.name}`));
  });
});

test('hyper-parameters survive the file exactly', async () => {
  await withTempDir(async (dir) => {
    const opt = new AdamW([{ name: 'w', data: new Float32Array(2) }], { lr: 0.1 + 0.2, betas: [1 / 3, 0.999], eps: 1e-12, weightDecay: 0.07 });
    await saveAdamWState(opt, join(dir, 's.safetensors'));
    const st = await loadAdamWStateFile(join(dir, 's.safetensors'));
    assert.deepEqual(st.hyper, { lr: 0.1 + 0.2, betas: [1 / 3, 0.999], eps: 1e-12, weightDecay: 0.07 });
    assert.equal(st.step, 0);
  });
});

function stateFor(opt: AdamW, edit: (st: AdamWState) => void): AdamWState {
  const st = opt.state();
  edit(st);
  return st;
}

test('loadState rejects a state that does not fit, and changes nothing', () => {
  const opt = new AdamW(initialParams(), options);
  runSteps(opt, 0, 1);
  const before = opt.state();
  const [a, b] = fixture.names as [string, string];
  throwsCoded(() => opt.loadState(stateFor(opt, (st) => st.m.delete(a))), 'BAD_CONFIG', new RegExp(`state\\.m lacks parameter '${a.replace('.', '\\.')}'`));
  throwsCoded(() => opt.loadState(stateFor(opt, (st) => st.v.set('extra', new Float32Array(1)))), 'BAD_CONFIG', /state\.v has unknown parameter 'extra'/);
  throwsCoded(() => opt.loadState(stateFor(opt, (st) => st.v.set(b, new Float32Array(7)))), 'SHAPE_MISMATCH', /state\.v of parameter 'encoder\.LayerNorm\.weight' has 7 elements but the parameter has 4/);
  throwsCoded(() => opt.loadState(stateFor(opt, (st) => { st.step = -1; })), 'BAD_CONFIG', /step must be a non-negative integer, got -1/);
  throwsCoded(() => opt.loadState(stateFor(opt, (st) => { st.hyper.betas = [0.9, 1]; })), 'BAD_CONFIG', /beta2 must be in \[0, 1\), got 1/);
  throwsCoded(
    () => opt.loadState(stateFor(opt, (st) => { st.step = 9; st.m.set(a, new Float32Array(4).fill(5)); st.v.set(a, new Float32Array(3)); })),
    'SHAPE_MISMATCH', /state\.v of parameter 'encoder\.dense\.bias' has 3 elements/,
  );
  assert.deepEqual(opt.state(), before);
});

test('loadAdamWStateFile explains what is wrong with a file', async () => {
  await withTempDir(async (dir) => {
    const t = (n: number) => ({ dtype: 'float32' as const, shape: [n], data: new Float32Array(n) });
    const meta = { format: ADAMW_STATE_FORMAT, step: '2', lr: '0.1', beta1: '0.9', beta2: '0.999', eps: '1e-8', weight_decay: '0' };
    const file = async (name: string, tensors: Record<string, ReturnType<typeof t>>, metadata?: Record<string, string>) => {
      const path = join(dir, name);
      await writeSafetensors(path, tensors, metadata);
      return path;
    };
    const plain = await file('plain.safetensors', { w: t(2) });
    await rejectsCoded(() => loadAdamWStateFile(plain), 'BAD_FILE', /plain\.safetensors: not an AdamW state file \(metadata format is null/);
    const stray = await file('stray.safetensors', { 'm.w': t(2), 'v.w': t(2), 'x.w': t(2) }, meta);
    await rejectsCoded(() => loadAdamWStateFile(stray), 'BAD_FILE', /stray\.safetensors: tensor x\.w is neither/);
    const unpaired = await file('unpaired.safetensors', { 'm.w': t(2) }, meta);
    await rejectsCoded(() => loadAdamWStateFile(unpaired), 'BAD_FILE', /tensor m\.w has no matching v\.w/);
    const uneven = await file('uneven.safetensors', { 'm.w': t(2), 'v.w': t(3) }, meta);
    await rejectsCoded(() => loadAdamWStateFile(uneven), 'BAD_FILE', /m\.w has 2 elements but v\.w has 3/);
    const badStep = await file('step.safetensors', { 'm.w': t(2), 'v.w': t(2) }, { ...meta, step: 'two' });
    await rejectsCoded(() => loadAdamWStateFile(badStep), 'BAD_FILE', /metadata "step" must be a number, got "two"/);
    const badBeta = await file('beta.safetensors', { 'm.w': t(2), 'v.w': t(2) }, { ...meta, beta1: '1.5' });
    await rejectsCoded(() => loadAdamWStateFile(badBeta), 'BAD_FILE', /beta\.safetensors: beta1 must be in \[0, 1\), got 1\.5/);
    await rejectsCoded(() => loadAdamWStateFile(join(dir, 'missing.safetensors')), 'BAD_FILE', /missing\.safetensors/);
    // a good file loads, and then fits only an optimiser with the same parameters
    const good = await file('good.safetensors', { 'm.w': t(2), 'v.w': t(2) }, meta);
    const st = await loadAdamWStateFile(good);
    throwsCoded(() => new AdamW([{ name: 'w', data: new Float32Array(3) }], { lr: 1 }).loadState(st), 'SHAPE_MISMATCH', /parameter 'w' has 2 elements but the parameter has 3/);
    new AdamW([{ name: 'w', data: new Float32Array(2) }], { lr: 1 }).loadState(st);
  });
});
