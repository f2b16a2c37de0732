/**
 * A run training a fusion with `temperature: true`: the checkpoint's `trainer.json` carries the
 * fusion's forward calls (training steps and dev evaluation batches), a resumed run restores them
 * and is bit-identical to an uninterrupted one, a checkpoint whose counts were lost gives another
 * run (so the comparison can fail), and missing or malformed counts are BAD_FILE naming the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import { parseComposition } from '../../src/adapters/composition.js';
import { fusionConfig } from '../../src/adapters/fusion.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { train, type TrainEvent, type TrainOptions } from '../../src/train/trainer.js';
import { toyExamples } from './toy-task.js';
import { tempDir } from '../temp-dir.js';

const trainSet = toyExamples(64, 1);
const dev = toyExamples(24, 2);
const head = headConfig({ kind: 'classification', labels: ['negative', 'positive'] });
const base = await loadBase('test/fixtures/models/tiny-bert');
const PF = methodConfig('pfeiffer', { reduction_factor: 8, init_weights: 'bert' });

/** A fresh fused model: two frozen adapters, a fusion with temperature true; `counted` tallies its forward calls. */
function fusedModel(counted?: { calls: number }, fusion: Record<string, unknown> = { temperature: true }): TaskModel {
  const m = TaskModel.create(base, {
    mode: { kind: 'adapters', adapters: [{ name: 'a', config: PF, trainable: false }, { name: 'b', config: PF, trainable: false }], active: parseComposition('Fuse(a, b)'), fusions: [{ name: 'a,b', adapters: ['a', 'b'], config: fusionConfig(fusion) }] },
    head, seed: 7, threads: 1,
  });
  if (counted) {
    const [step, predict] = [m.trainStep.bind(m), m.predict.bind(m)];
    m.trainStep = (...a) => (counted.calls++, step(...a));
    m.predict = (...a) => (counted.calls++, predict(...a));
  }
  return m;
}

const opts = (outDir: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  outDir, taskName: 'fused', metrics: ['accuracy'], epochs: 2, batchSize: 16, maxLength: 16, lr: 1e-2, seed: 3, evalEvery: 3, ...extra,
});

async function run(dir: string, extra: Partial<TrainOptions> = {}, counted?: { calls: number }, fusion?: Record<string, unknown>): Promise<{ events: TrainEvent[]; error?: unknown; counts: Record<string, number[]> }> {
  const events: TrainEvent[] = [];
  const model = fusedModel(counted, fusion);
  try {
    await train(model, trainSet, dev, opts(dir, { ...extra, onEvent: (e) => { events.push(e); extra.onEvent?.(e); } }));
    return { events, counts: model.fusionCallCounts };
  } catch (error) {
    return { events, error, counts: model.fusionCallCounts };
  } finally {
    await model.dispose();
  }
}

function logLines(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const { time: _t, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
}

/** Every file under `dir` (a fused task has a folder per adapter and fusion), by relative path. */
function files(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = join(rel, e.name);
    if (e.isDirectory()) Object.assign(out, files(dir, r));
    else out[r] = readFileSync(join(dir, r)).toString('base64');
  }
  return out;
}

async function interrupted(step: number, fusion?: Record<string, unknown>): Promise<string> {
  const dir = tempDir('ak-fusion-resume-');
  const ac = new AbortController();
  const r = await run(dir, { signal: ac.signal, onEvent: (e) => { if (e.type === 'step' && e.step === step) ac.abort(); } }, undefined, fusion);
  assert.equal((r.error as AdapterkitError).code, 'INTERRUPTED');
  return dir;
}

describe('resuming a run whose fusion anneals its temperature', () => {
  const reference = tempDir('ak-fusion-resume-ref-');

  test('the checkpoint keeps the forward calls (steps and evaluation batches); a resumed run is bit-identical to an uninterrupted one', async () => {
    const counted = { calls: 0 };
    const ref = await run(reference, {}, counted);
    assert.equal(ref.error, undefined, String(ref.error));
    const state = JSON.parse(readFileSync(join(reference, 'checkpoint', 'trainer.json'), 'utf8')) as { step: number; fusionCalls: Record<string, number[]> };
    assert.ok(counted.calls > state.step, `evaluation counts too: ${counted.calls} calls in ${state.step} steps`);
    assert.deepEqual(state.fusionCalls, { 'a,b': [counted.calls, counted.calls] }, 'every trainStep and predict call of the run, in both layers');
    assert.deepEqual(ref.counts, state.fusionCalls);
    const dir = await interrupted(5);
    const r = await run(dir, { resume: true });
    assert.equal(r.error, undefined, String(r.error));
    assert.deepEqual(logLines(dir), logLines(reference));
    assert.deepEqual(files(join(dir, 'checkpoint')), files(join(reference, 'checkpoint')));
    assert.deepEqual(files(join(dir, 'best')), files(join(reference, 'best')));
    // the saved task holds no count: loaded, it starts at T = 50 again (as AdapterHub's BertFusion)
    const back = await loadSavedTask(base, join(reference, 'best'));
    assert.deepEqual(back.model.fusionCallCounts, { 'a,b': [0, 0] });
    await back.model.dispose();
  });

  test('another custom fusion config (both describe as "custom + temperature") does not resume the run', async () => {
    const custom = { temperature: true, query_before_ln: true };
    const dir = await interrupted(5, custom);
    const r = await run(dir, { resume: true }, undefined, { ...custom, residual_before: true });
    assert.ok(r.error instanceof AdapterkitError && r.error.code === 'BAD_CONFIG', String(r.error));
    assert.match(r.error.message, /cannot resume .*: the run was started with different setup \(mode\.fusions\[0\]\.config\.residual_before false then, true now\)$/);
    const same = await run(dir, { resume: true }, undefined, custom);
    assert.equal(same.error, undefined, String(same.error));
  });

  test('counts lost from the checkpoint give another run; missing or malformed counts are BAD_FILE naming trainer.json', async () => {
    const dir = await interrupted(5);
    const path = join(dir, 'checkpoint', 'trainer.json');
    const good = readFileSync(path, 'utf8');
    const state = JSON.parse(good) as Record<string, unknown>;
    assert.deepEqual(Object.keys(state.fusionCalls as object), ['a,b']);
    writeFileSync(path, JSON.stringify({ ...state, fusionCalls: { 'a,b': [0, 0] } }));
    const zeroed = await run(dir, { resume: true });
    assert.equal(zeroed.error, undefined, String(zeroed.error));
    assert.notDeepEqual(logLines(dir), logLines(reference), 'T restarted at 50 mid-run: other losses');

    const dir2 = await interrupted(5);
    const path2 = join(dir2, 'checkpoint', 'trainer.json');
    const { fusionCalls: _gone, ...without } = JSON.parse(readFileSync(path2, 'utf8')) as Record<string, unknown>;
    for (const [bad, re] of [
      [without, /trainer\.json: has no "fusionCalls", the forward calls of the fusion a,b, whose temperature anneals with them; the checkpoint cannot be resumed/],
      [{ ...without, fusionCalls: { 'a,b': [3] } }, /trainer\.json: "fusionCalls": fusion a,b must list 2 non-negative integers \(forward calls per layer\), got \[3\]; the checkpoint cannot be resumed/],
      [{ ...without, fusionCalls: { 'a,b': [3, 3], 'b,a': [1, 1] } }, /trainer\.json: "fusionCalls": fusion b,a has no annealed temperature in this model/],
    ] as const) {
      writeFileSync(path2, JSON.stringify(bad));
      const r = await run(dir2, { resume: true });
      assert.ok(r.error instanceof AdapterkitError && r.error.code === 'BAD_FILE', String(r.error));
      assert.match(r.error.message, re);
    }
  });
});
