/**
 * Sweeps on the tiny BERT fixture with the toy task: the plan of a grid, results appended as runs
 * finish, best-on-dev selection, resuming (finished runs skipped, an interrupted run continued
 * from its checkpoint), and the time budget.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBase } from '../../src/models/base.js';
import { AdapterkitError } from '../../src/errors.js';
import { InvalidArgumentError } from 'commander';
import { PRESET_NAMES } from '../../src/adapters/methods/index.js';
import { adapterMethodsArg } from '../../src/cli/commands/sweep.js';
import { planRuns, PAPER_GRID, runCost, runMode, sizeName } from '../../src/train/experiments/sweep-grid.js';
import { readSweepResults, resultKey, summarizeSweep, type SweepResult } from '../../src/train/experiments/sweep-results.js';
import { runSweep, sweepRunDir } from '../../src/train/experiments/sweep.js';
import { TINY_BERT, tempDir, toyTask } from './helpers.js';

const grid = { methods: ['adapters', 'head-only'] as const, lrs: [1e-3, 1e-2], epochs: [1], sizes: [8], seeds: [1] };
const opts = { batchSize: 16, maxLength: 16 };

function lines(path: string): SweepResult[] {
  return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as SweepResult);
}

describe('sweep grid', () => {
  test('the paper grid expands to every combination, cheapest first', () => {
    const runs = planRuns(PAPER_GRID);
    // adapters: 3 sizes x 3 lrs x 2 epochs x 3 seeds; baselines: full, top-1, top-2, layer-norm, head-only x 18
    assert.equal(runs.length, 3 * 18 + 5 * 18);
    assert.equal(new Set(runs.map((r) => `${r.method}/${r.id}`)).size, runs.length);
    assert.equal(runs[0]?.kind, 'head-only');
    assert.equal(runs[0]?.epochs, 3);
    assert.equal(runs.at(-1)?.kind, 'full');
    assert.equal(runs.at(-1)?.epochs, 20);
    const sizes = new Set(runs.filter((r) => r.kind === 'adapters').map((r) => r.method));
    assert.deepEqual([...sizes].sort(), ['adapters-m256', 'adapters-m64', 'adapters-m8']);
  });

  test('baselines use their own learning rates; invalid grids are refused with the value named', () => {
    const runs = planRuns({ ...PAPER_GRID, methods: ['adapters', 'full'], baselineLrs: [1e-5], epochs: [1], seeds: [1], sizes: [8] });
    assert.deepEqual(runs.filter((r) => r.kind === 'full').map((r) => r.lr), [1e-5]);
    assert.deepEqual(runs.filter((r) => r.kind === 'adapters').map((r) => r.lr).sort(), [3e-3, 3e-4, 3e-5].sort());
    assert.throws(() => planRuns({ ...PAPER_GRID, lrs: [] }), /lrs is empty/);
    assert.throws(() => planRuns({ ...PAPER_GRID, epochs: [0] }), /epochs holds 0/);
    assert.throws(() => planRuns({ ...PAPER_GRID, methods: ['top-k'], topK: [5] }, { numLayers: 2 } as never), /top-k holds 5; each must be an integer from 1 to 2/);
  });

  test('several adapter methods, each with its own sizes: ids name the preset and its size knob, modes build the config', () => {
    const runs = planRuns({
      ...PAPER_GRID, methods: ['adapters'], lrs: [1e-3], epochs: [1], seeds: [1], sizes: [8],
      adapterMethods: [{ preset: 'paper', sizes: [4, 16] }, { preset: 'lora', sizes: [2] }, { preset: 'houlsby' }, { preset: 'ia3' }],
    });
    assert.deepEqual(runs.map((r) => r.method).sort(), ['adapters-m16', 'adapters-m4', 'houlsby-m8', 'ia3', 'lora-r2']);
    const lora = runs.find((r) => r.method === 'lora-r2')!;
    const c = runMode(lora);
    assert.ok(c.kind === 'adapters' && c.adapter.method === 'lora' && c.adapter.r === 2 && c.adapter.alpha === 2, 'LoRA keeps alpha / r of its preset (1) across sizes');
    const h = runMode(runs.find((r) => r.method === 'houlsby-m8')!);
    assert.ok(h.kind === 'adapters' && h.adapter.method === 'bottleneck' && h.adapter.size === 8 && h.adapter.non_linearity === 'swish');
    assert.equal(runs.find((r) => r.method === 'ia3')?.size, undefined);
    assert.throws(() => planRuns({ ...PAPER_GRID, methods: ['adapters'], adapterMethods: [{ preset: 'ia3', sizes: [4] }] }), /ia3 has no size to sweep/);
    assert.throws(() => planRuns({ ...PAPER_GRID, methods: ['adapters'], adapterMethods: [{ preset: 'nope' }] }), /unknown adapter method "nope"/);
    assert.throws(() => planRuns({ ...PAPER_GRID, methods: ['adapters'], initStds: [1e-3], adapterMethods: [{ preset: 'lora' }] }), /init stds apply to bottleneck adapters, not lora/);
  });
});

describe('sweep over every method preset', () => {
  test('every preset train --method takes sweeps at its own sizes: ids name the preset and its knob, the config gets the size', async () => {
    const enc = (await loadBase(TINY_BERT)).encoder;
    const sized = PRESET_NAMES.filter((p) => sizeName(p) !== undefined);
    assert.deepEqual(PRESET_NAMES.filter((p) => !sized.includes(p)).sort(), ['ia3', 'ia3-peft'], 'only IA³ has no size');
    const runs = planRuns({
      ...PAPER_GRID, methods: ['adapters'], lrs: [1e-3], epochs: [1], seeds: [1], sizes: [8],
      adapterMethods: PRESET_NAMES.map((preset) => (sized.includes(preset) ? { preset, sizes: [4, 12] } : { preset })),
    }, enc);
    const knob = (p: string) => ({ paper: 'm', houlsby: 'm', pfeiffer: 'm', parallel: 'm', compacter: 'm', 'compacter++': 'm', lora: 'r', prefix: 'P', 'prefix-flat': 'P', prompt: 'P', 'prompt-peft': 'P', mam: 'm', unipelt: 'm' })[p];
    const want = PRESET_NAMES.flatMap((p) => (!sized.includes(p) ? [p] : [4, 12].map((n) => (p === 'paper' ? `adapters-m${n}` : `${p}-${knob(p)}${n}`))));
    assert.deepEqual(runs.map((r) => r.method).sort(), want.sort());
    for (const r of runs.filter((x) => x.size !== undefined)) {
      const m = runMode(r);
      assert.ok(m.kind === 'adapters');
      const c = m.adapter;
      assert.equal(c.preset ?? 'paper', r.preset ?? 'paper', r.method);
      const part = (method: string) => (c.method === 'union' ? c.configs.find((x) => x.method === method) : c);
      const got = c.method === 'prefix_tuning' ? c.prefix_length : c.method === 'prompt_tuning' ? c.prompt_length : c.method === 'lora' ? c.r : (part('bottleneck') as { size?: number }).size;
      assert.equal(got, r.size, r.method);
    }
    // a union's other parts keep the preset's sizes
    const uni = runMode(runs.find((r) => r.method === 'unipelt-m4')!);
    assert.ok(uni.kind === 'adapters' && uni.adapter.method === 'union');
    assert.deepEqual(uni.adapter.configs.map((x) => (x.method === 'prefix_tuning' ? x.prefix_length : x.method === 'lora' ? x.r : x.method === 'bottleneck' ? x.size : -1)), [10, 4, 8]);
    const mam = runMode(runs.find((r) => r.method === 'mam-m12')!);
    assert.ok(mam.kind === 'adapters' && mam.adapter.method === 'union');
    assert.deepEqual(mam.adapter.configs.map((x) => (x.method === 'prefix_tuning' ? [x.prefix_length, x.bottleneck_size] : x.method === 'bottleneck' ? [x.size, x.is_parallel] : -1)), [[30, 800], [12, true]]);
  });

  test('bad presets and sizes are refused with the preset, the size and what is allowed named', async () => {
    const enc = (await loadBase(TINY_BERT)).encoder;
    const arg = (v: string) => {
      try {
        adapterMethodsArg(v);
      } catch (e) {
        assert.ok(e instanceof InvalidArgumentError);
        return e.message;
      }
      return assert.fail(`${v} was accepted`);
    };
    assert.match(arg('prefix:10,nope:3'), /unknown adapter method "nope" \(the presets of train --method: paper, .*prefix, prefix-flat, prompt, .*mam, unipelt\)/);
    assert.match(arg('prefix:0'), /"prefix:0": sizes after ":" must be positive integers separated by "\/", e.g. lora:4\/16 or prefix:10\/30/);
    assert.match(arg('prompt:10/'), /"prompt:10\/": sizes after ":" must be positive integers/);
    assert.match(arg('prompt:2.5'), /"prompt:2.5": sizes after ":" must be positive integers/);
    assert.match(arg('ia3:4'), /"ia3:4": ia3 has no size to sweep \(presets with a size: paper, .*prompt, .*unipelt\)/);
    assert.deepEqual(adapterMethodsArg('prefix:10/30,prompt:10/50,compacter++:8,mam:64,unipelt,ia3'), [
      { preset: 'prefix', sizes: [10, 30] }, { preset: 'prompt', sizes: [10, 50] }, { preset: 'compacter++', sizes: [8] }, { preset: 'mam', sizes: [64] }, { preset: 'unipelt' }, { preset: 'ia3' },
    ]);
    // sizes the encoder cannot take are refused when the sweep is planned, naming the run
    const g = { ...PAPER_GRID, methods: ['adapters'] as const, lrs: [1e-3], epochs: [1], seeds: [1] };
    assert.throws(() => planRuns({ ...g, adapterMethods: [{ preset: 'compacter', sizes: [8, 10] }] }, enc), /sweep grid: compacter-m10 \(compacter with m = 10\): .*phm_dim 4 does not divide the PHM layer's output width 10/);
    assert.throws(() => planRuns({ ...g, sizes: [0], adapterMethods: [{ preset: 'prompt' }] }, enc), /sizes of prompt holds 0; each must be a positive integer \(P: prompt_length\)/);
  });

  test('prefix, prompt and MAM runs train; their rows carry the method, its size and the trained parameters', async () => {
    const base = await loadBase(TINY_BERT);
    const out = tempDir('sweep-methods');
    const r = await runSweep({
      base, task: toyTask(), outDir: out, ...opts,
      grid: { methods: ['adapters'], lrs: [1e-2], epochs: [1], sizes: [8], seeds: [1], adapterMethods: [{ preset: 'prefix-flat', sizes: [2, 5] }, { preset: 'prompt', sizes: [3] }, { preset: 'mam', sizes: [4] }] },
    });
    const rows = await readSweepResults(join(out, 'results.jsonl'));
    assert.equal(r.trained, 4);
    assert.deepEqual(rows.map((x) => [x.method, x.preset, x.size]).sort(), [['mam-m4', 'mam', 4], ['prefix-flat-P2', 'prefix-flat', 2], ['prefix-flat-P5', 'prefix-flat', 5], ['prompt-P3', 'prompt', 3]]);
    const enc = base.encoder;
    const byMethod = new Map(rows.map((x) => [x.method, x]));
    const p2 = byMethod.get('prefix-flat-P2')!;
    const p5 = byMethod.get('prefix-flat-P5')!;
    // a flat prefix is P x (keys and values of every layer): 3 more positions add 3 x layers x 2 x hidden parameters
    assert.equal(p5.trainableParams - p2.trainableParams, 3 * enc.numLayers * 2 * enc.hiddenSize);
    for (const x of rows) {
      assert.ok(x.trainableParams > 0 && x.bytes === 4 * x.trainableParams, x.method);
      assert.equal(x.share, x.trainableParams / x.baseParams, x.method);
      assert.ok(x.devScore !== null && x.testScore !== null, x.method);
    }
    assert.ok(byMethod.get('mam-m4')!.trainableParams > p5.trainableParams, 'MAM holds the prefix MLP (bottleneck 800) and a parallel adapter');
  });
});

describe('summarizeSweep', () => {
  const row = (method: string, run: string, dev: number | null, test: number): SweepResult => ({
    task: 't', method, kind: method.startsWith('adapters') ? 'adapters' : 'full', description: method, run, ...(method.startsWith('adapters') ? { size: Number(method.slice(10)) } : {}), lr: 1e-3, epochs: 1, seed: 1,
    batchSize: 32, maxLength: 128, metric: 'accuracy', dev: dev === null ? null : { accuracy: dev }, test: { accuracy: test },
    devScore: dev, testScore: test, trainableParams: 10, baseParams: 100, share: 0.1, bytes: 40, seconds: 1, steps: 1, runDir: run, finishedAt: '',
  });

  test('chooses the best run on dev per method and reports its test score, not the best test score', () => {
    const rows = summarizeSweep([
      row('full', 'a', 0.7, 0.9), row('adapters-m8', 'a', 0.6, 0.99), row('adapters-m8', 'b', 0.8, 0.5),
      row('full', 'b', null, 1.0), row('adapters-m64', 'a', 0.5, 0.5), row('adapters-m8', 'c', 0.8, 0.1),
    ]);
    assert.deepEqual(rows.map((r) => [r.method, r.run, r.testScore, r.runs]), [
      ['adapters-m8', 'b', 0.5, 3], ['adapters-m64', 'a', 0.5, 1], ['full', 'a', 0.9, 2],
    ]);
  });
});

describe('runSweep', () => {
  test('appends each result as its run finishes; best on dev per method; a second call skips every finished run', async () => {
    const base = await loadBase(TINY_BERT);
    const out = tempDir('sweep');
    const path = join(out, 'results.jsonl');
    const seenInFile: number[] = [];
    const started: string[] = [];
    const estimates: (number | undefined)[] = [];
    const r1 = await runSweep({
      base, task: toyTask(), outDir: out, grid, ...opts,
      onRunStart: (run, _dir, _i, _n, remaining) => { started.push(`${run.method}/${run.id}`); estimates.push(remaining); },
      onResult: (_r, fresh) => { if (fresh) seenInFile.push(lines(path).length); },
    });
    assert.deepEqual(seenInFile, [1, 2, 3, 4], 'each result is in the file when reported');
    assert.equal(r1.trained, 4);
    assert.deepEqual(started.slice(0, 2), ['head-only/lr1e-3_ep1_seed1', 'head-only/lr1e-2_ep1_seed1'], 'cheapest method first');
    assert.equal(estimates[0], undefined, 'no time estimate before a run has finished');
    for (const e of estimates.slice(1)) assert.ok(e !== undefined && Number.isFinite(e) && e > 0, `estimate ${e}`);
    // Each estimate covers the runs still to train at the pace so far: the adapter runs cost more than head-only ones.
    const seconds = (await readSweepResults(path)).map((r) => r.seconds);
    const pace = seconds[0]! / runCost({ kind: 'head-only', epochs: 1 });
    assert.ok(Math.abs(estimates[1]! - pace * (runCost({ kind: 'head-only', epochs: 1 }) + 2 * runCost({ kind: 'adapters', size: 8, epochs: 1 }))) < 1e-6 * estimates[1]!);
    const stored = await readSweepResults(path);
    assert.equal(stored.length, 4);
    for (const r of stored) {
      assert.equal(r.task, 'toy');
      assert.ok(r.devScore !== null && r.devScore >= 0 && r.devScore <= 1);
      assert.ok(r.testScore !== null && r.testScore >= 0 && r.testScore <= 1);
      assert.equal(r.devScore, r.dev?.accuracy);
      assert.ok(r.trainableParams > 0 && r.share > 0 && r.bytes === r.trainableParams * 4 && r.seconds > 0);
      assert.ok(existsSync(join(out, r.runDir, 'best', 'adapterkit.json')), `${r.runDir}/best`);
    }
    const adapters = stored.filter((r) => r.method === 'adapters-m8');
    assert.ok(adapters[0]!.trainableParams > stored.find((r) => r.kind === 'head-only')!.trainableParams);
    const summary = summarizeSweep(stored);
    assert.deepEqual(summary.map((s) => s.method), ['adapters-m8', 'head-only']);
    for (const s of summary) {
      const best = Math.max(...stored.filter((r) => r.method === s.method).map((r) => r.devScore as number));
      assert.equal(s.devScore, best);
      assert.equal(s.runs, 2);
    }

    const mtime = statSync(path).mtimeMs;
    const again: string[] = [];
    const r2 = await runSweep({ base, task: toyTask(), outDir: out, grid, ...opts, onRunStart: (run) => { again.push(run.id); } });
    assert.deepEqual(again, [], 'no run trained again');
    assert.equal(r2.skipped, 4);
    assert.equal(r2.results.length, 4);
    assert.equal(statSync(path).mtimeMs, mtime);

    // A lost last line (crash mid-write) is trained again; a larger grid trains only the new runs.
    const text = readFileSync(path, 'utf8').split('\n');
    writeFileSync(path, `${text.slice(0, 3).join('\n')}\n${(text[3] as string).slice(0, 20)}`);
    const third: string[] = [];
    const r3 = await runSweep({ base, task: toyTask(), outDir: out, grid: { ...grid, lrs: [1e-3, 1e-2, 3e-2] }, ...opts, onRunStart: (run) => { third.push(`${run.method}/${run.id}`); } });
    assert.equal(r3.trained, 3);
    assert.deepEqual(third.sort(), ['adapters-m8/lr1e-2_ep1_seed1', 'adapters-m8/lr3e-2_ep1_seed1', 'head-only/lr3e-2_ep1_seed1']);
    assert.equal(r3.skipped, 3);
  });

  test('an interrupted run resumes from its checkpoint; the budget stops starting new runs', async () => {
    const base = await loadBase(TINY_BERT);
    const out = tempDir('sweep-int');
    const ac = new AbortController();
    let steps = 0;
    await assert.rejects(
      runSweep({
        base, task: toyTask(), outDir: out, grid: { ...grid, methods: ['adapters'], lrs: [1e-2], epochs: [2] }, ...opts, signal: ac.signal,
        onEvent: (_run, e) => { if (e.type === 'step' && ++steps === 8) ac.abort(); },
      }),
      (e: unknown) => e instanceof AdapterkitError && e.code === 'INTERRUPTED',
    );
    assert.equal((await readSweepResults(join(out, 'results.jsonl'))).length, 0);
    let resumedAt = -1;
    const r = await runSweep({
      base, task: toyTask(), outDir: out, grid: { ...grid, methods: ['adapters'], lrs: [1e-2], epochs: [2] }, ...opts,
      onEvent: (_run, e) => { if (e.type === 'start') resumedAt = e.resumedAt; },
    });
    assert.equal(resumedAt, 8);
    assert.equal(r.trained, 1);
    assert.equal(r.results[0]?.steps, 12);

    const out2 = tempDir('sweep-budget');
    const b = await runSweep({ base, task: toyTask(), outDir: out2, grid, ...opts, budgetMinutes: 1e-6 });
    assert.equal(b.budgetExceeded, true);
    assert.equal(b.trained, 1);
    assert.equal(b.notStarted, 3);
    assert.equal(lines(join(out2, 'results.jsonl')).length, 1);
  });

  test('a task without a labeled dev split is refused before anything is written', async () => {
    const base = await loadBase(TINY_BERT);
    const t = toyTask();
    delete t.splits.dev;
    const out = tempDir('sweep-nodev');
    await assert.rejects(runSweep({ base, task: t, outDir: `${out}/x`, grid, ...opts }), /task toy has no labeled dev split/);
    assert.equal(existsSync(`${out}/x`), false);
  });
});

test('results keys and run directories: fp32 and int8 as before; an int8 sweep scored with --no-int8-adapters is a sweep of its own', () => {
  const row = { task: 'spam', method: 'paper', run: 'm8', batchSize: 32, maxLength: 128 };
  assert.equal(resultKey(row), 'spam\u0000paper\u0000m8\u000032\u0000128');
  assert.equal(resultKey({ ...row, frozenPrecision: 'int8' }), 'spam\u0000paper\u0000m8\u000032\u0000128\u0000int8');
  assert.equal(resultKey({ ...row, frozenPrecision: 'int8', int8Adapters: false }), 'spam\u0000paper\u0000m8\u000032\u0000128\u0000int8\u0000fp32-adapters');
  const task = { name: 'spam', defaultMaxLength: 128 };
  const spec = { method: 'paper', id: 'm8' };
  const s = { batchSize: 32, maxLength: 128 };
  assert.equal(sweepRunDir('out', task, spec, s), join('out', 'runs', 'spam', 'paper', 'm8'));
  assert.equal(sweepRunDir('out', task, spec, s, { frozenPrecision: 'int8' }), join('out', 'runs', 'spam', 'paper', 'm8_int8'));
  assert.equal(sweepRunDir('out', task, spec, s, { frozenPrecision: 'int8', int8Adapters: false }), join('out', 'runs', 'spam', 'paper', 'm8_int8_fp32adapters'));
});
