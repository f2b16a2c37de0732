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
import { planRuns, PAPER_GRID, runCost, runMode } from '../../src/train/experiments/sweep-grid.js';
import { readSweepResults, summarizeSweep, type SweepResult } from '../../src/train/experiments/sweep-results.js';
import { runSweep } from '../../src/train/experiments/sweep.js';
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
