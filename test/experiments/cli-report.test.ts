/**
 * `adapterkit sweep`, `ablate` and `report` end to end on the tiny BERT fixture with toy CSV files,
 * and the report built from a sweep directory: results table with the N-task parameter totals,
 * trade-off chart, ablation heat map and training curves, in a well-formed self-contained page.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReport } from '../../src/train/report/index.js';
import { buildSweepReport, readExperimentDir, totalParamsMultiple } from '../../src/train/experiments/sweep-report.js';
import { readSweepResults } from '../../src/train/experiments/sweep-results.js';
import { cli, writeToyCsv } from '../cli/harness.js';
import { checkWellFormed } from '../report/xml-check.js';
import { TINY_BERT, tempDir } from './helpers.js';

describe('sweep, ablate and report commands', () => {
  test('sweep writes results and prints the best run per method; ablate saves the heat map; report renders everything', async () => {
    const dir = tempDir('cli-sweep');
    writeToyCsv(join(dir, 'toy.csv'), 96, 1);
    writeToyCsv(join(dir, 'dev.csv'), 32, 2);
    writeToyCsv(join(dir, 'test.csv'), 32, 3);
    const out = join(dir, 'sweep');
    const data = ['--train', join(dir, 'toy.csv'), '--dev', join(dir, 'dev.csv'), '--test', join(dir, 'test.csv'), '--text', 'sentence', '--label', 'sentiment'];
    const args = ['sweep', ...data, '--base', TINY_BERT, '--out', out, '--methods', 'adapters,layer-norm,top-k', '--lrs', '1e-2', '--epochs-grid', '1',
      '--sizes', '4,8', '--top-k', '1', '--seeds', '1', '--batch-size', '16', '--max-length', '16'];
    const s = await cli(...args);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /\[1\/4\] layer-norm: lr 1e-2, 1 epoch, seed 1/);
    assert.match(s.stderr, /4 run\(s\) trained now, 0 already done/);
    assert.match(s.stdout, /best run on dev per method \(accuracy\), 4 of 4 runs finished/);
    for (const m of ['adapters-m4', 'adapters-m8', 'top-1', 'layer-norm']) assert.match(s.stdout, new RegExp(`^${m} `, 'm'));
    const results = await readSweepResults(join(out, 'results.jsonl'));
    assert.equal(results.length, 4);
    assert.ok(existsSync(join(out, 'sweep.json')));

    const again = await cli(...args, '--json');
    assert.equal(again.code, 0, again.stderr);
    const j = JSON.parse(again.stdout) as { trained: number; skipped: number; best: { method: string }[] };
    assert.equal(j.trained, 0);
    assert.equal(j.skipped, 4);
    assert.equal(j.best.length, 4);

    const a = await cli('ablate', out, '--json');
    assert.equal(a.code, 0, a.stderr);
    const abl = JSON.parse(a.stdout) as { task: string; layers: number; splits: Record<string, { values: (number | null)[][]; baseline: number }> };
    assert.equal(abl.task, 'toy');
    assert.deepEqual(Object.keys(abl.splits), ['dev', 'test']);
    assert.equal(abl.splits.dev?.values.length, abl.layers);
    assert.ok(existsSync(join(out, 'ablation-toy.json')));
    const table = await cli('ablate', out);
    assert.match(table.stdout, /dev accuracy, adapters of layers \[from\.\.to\] removed \(baseline \d\.\d{4}\)/);
    assert.match(table.stdout, /^from 0 /m);

    // The init-scale study retrains the best adapter configuration with each std and keeps the runs.
    const init = await cli('ablate', out, '--init-stds', '1e-3,0.3', '--json');
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stderr, /initialisation scale of adapters-m\d+ \(lr 1e-2, 1 epoch\(s\)\): stds 1e-3, 3e-1, seeds 1/);
    assert.match(init.stderr, /\[1\/2\] adapters-m\d+-std1e-3: lr 1e-2, 1 epoch, seed 1/);
    const rows = (JSON.parse(init.stdout) as { initScale: { initStd: number; runs: number; dev: number | null; test: number | null }[] }).initScale;
    assert.deepEqual(rows.map((r) => [r.initStd, r.runs]), [[1e-3, 1], [0.3, 1]]);
    for (const r of rows) assert.ok(r.dev !== null && r.dev >= 0 && r.dev <= 1 && r.test !== null);
    assert.equal((await readSweepResults(join(out, 'init-scale.jsonl'))).length, 2);
    const initAgain = await cli('ablate', out, '--init-stds', '1e-3,0.3');
    assert.equal(initAgain.code, 0, initAgain.stderr);
    assert.doesNotMatch(initAgain.stderr, /\[1\/2\]/, 'finished init-scale runs are not trained again');
    assert.match(initAgain.stdout, /accuracy by adapter initialisation std \(mean over seeds\):\n.*init std/);
    const badStd = await cli('ablate', out, '--init-stds', '1e-3,1.5');
    assert.equal(badStd.code, 2);
    assert.match(badStd.stderr, /--init-stds.*"1.5" is not below 1/);
    const seedsOnly = await cli('ablate', out, '--init-seeds', '1,2');
    assert.notEqual(seedsOnly.code, 0);
    assert.match(seedsOnly.stderr, /--init-seeds is given without --init-stds/);
    const notSweep = await cli('ablate', join(out, results[0]!.runDir), '--init-stds', '1e-2');
    assert.notEqual(notSweep.code, 0);
    assert.match(notSweep.stderr, /--init-stds needs a sweep output directory/);

    const html = join(dir, 'report.html');
    const r = await cli('report', out, '--out', html, '--tasks', '9');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /4 result row\(s\), 1 trade-off chart\(s\), 1 ablation heat map\(s\), 4 training curve\(s\), 1 init-scale chart\(s\)/);
    const page = readFileSync(html, 'utf8');
    checkWellFormed(page, { html: true });
    for (const h of ['Results', 'Training', 'Score vs trained parameters', 'Ablation', 'Initialisation scale']) assert.ok(page.includes(`<h2>${h}</h2>`), h);
    assert.ok(page.includes('params for 9 tasks (x one model)'));
    assert.ok(page.includes('fine-tune top k') && page.includes('layer norm only') && page.includes('m=4'));
    assert.ok(!/<script/i.test(page));
    assert.match(page, /toy: accuracy vs adapter init std/);
    assert.match(page, /Mean over 1 run\(s\) per std: 0\.001: test \d/);

    // A plain training run directory adds its curve; --charts writes each task's trade-off chart as its own SVG file.
    const withRun = await cli('report', out, join(out, results[0]!.runDir), '--out', join(dir, 'r2.html'), '--charts', join(dir, 'charts'));
    assert.equal(withRun.code, 0, withRun.stderr);
    assert.match(withRun.stdout, /5 training curve\(s\)/);
    const task = results[0]!.task;
    assert.match(withRun.stdout, new RegExp(`wrote .*charts/${task}-tradeoff\\.svg`));
    const svg = readFileSync(join(dir, 'charts', `${task}-tradeoff.svg`), 'utf8');
    checkWellFormed(svg);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok(svg.includes(`${task}: test accuracy vs trained parameters`) && page.includes(svg.trim()), 'the file is the chart the page shows');

    const missing = await cli('report', join(dir, 'nothing-here'));
    assert.equal(missing.code === 0, false);
    assert.match(missing.stderr, /is neither a sweep output directory/);
  });

  test('bad grid values fail with the option named', async () => {
    const r = await cli('sweep', '--dataset', 'spam', '--lrs', '3e-3,-1');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--lrs.*"-1" is not a positive number/);
    const m = await cli('sweep', '--dataset', 'spam', '--methods', 'adapters,lora');
    assert.equal(m.code, 2);
    assert.match(m.stderr, /unknown method "lora"/);
  });
});

describe('buildSweepReport', () => {
  test('parameter totals for N tasks: N x 1.0 for full fine-tuning, 1 + N x share otherwise', () => {
    assert.equal(totalParamsMultiple('full', 1.0003, 9), 9);
    assert.equal(totalParamsMultiple('adapters', 0.036, 9), 1 + 9 * 0.036);
  });

  test('an empty directory is refused; no input gives a page without result sections', async () => {
    await assert.rejects(readExperimentDir(tempDir('rep-empty')), /neither a sweep output directory \(no results.jsonl\) nor a training run directory/);
    const page = renderReport(await buildSweepReport([], { generatedAt: 'x' }));
    assert.ok(!page.includes('<h2>Results</h2>') && !page.includes('<h2>Ablation</h2>'));
  });
});
