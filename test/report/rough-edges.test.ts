/**
 * The report's rough edges (issue 12): the "average" row of the results table averages only
 * scores of one metric and says which; a wide table wraps instead of overflowing (the layout
 * itself is measured in headless Chromium by chromium.test.ts); the loss panel never draws more
 * series than the palette has distinct colours; runs evaluated once each get labelled bars, not a
 * column of dots at one step.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReport } from '../../src/train/report/html.js';
import { MAX_SERIES, runGroups, runsSection } from '../../src/train/report/sections.js';
import { PALETTE } from '../../src/train/report/svg.js';
import type { RunData } from '../../src/train/report/runs.js';
import { resultsTable } from '../../src/train/experiments/sweep-report.js';
import type { SweepSummaryRow } from '../../src/train/experiments/sweep-results.js';
import { checkWellFormed } from './xml-check.js';

function row(task: string, method: string, metric: string, test: number, dev: number): SweepSummaryRow {
  return {
    task, method, kind: method === 'full' ? 'full' : 'adapters', description: method, metric, devScore: dev, testScore: test, dev: null, test: null,
    run: 'r', lr: 1e-4, epochs: 3, seed: 1, trainableParams: 1000, share: 0.01, bytes: 4000, runDir: 'x', runs: 2,
  };
}

/** The SVG charts of an HTML fragment. */
function charts(html: string): string[] {
  return html.match(/<svg [\s\S]*?<\/svg>/g) ?? [];
}

function run(name: string, mode: string, evals: readonly [number, number][]): RunData {
  return {
    name, mode, train: Array.from({ length: 40 }, (_, i) => ({ step: i + 1, loss: 1 / (i + 1) })),
    evals: evals.map(([step, v]) => ({ step, split: 'dev', metrics: { accuracy: v } })),
  };
}

describe('report rough edges', () => {
  test('the average row averages like with like: one metric per row, named', () => {
    const rows = [
      row('mrpc', 'adapters', 'f1', 0.8, 0.82), row('qqp', 'adapters', 'f1', 0.6, 0.64), row('sst2', 'adapters', 'accuracy', 0.9, 0.92),
      row('brown-pos', 'adapters', 'token_accuracy', 0.95, 0.96),
    ];
    const t = resultsTable(rows, 4);
    const averages = t.rows.filter((r) => String(r[0]).startsWith('average'));
    assert.equal(averages.length, 1, 'only f1 is shared by two tasks');
    const [avg] = averages as (string | number)[][];
    assert.equal(avg?.[0], 'average of 2 tasks (f1)');
    assert.equal(avg?.[2], 'f1');
    // (0.8 + 0.6) / 2 and (0.82 + 0.64) / 2, not a mean over f1, accuracy and token accuracy
    assert.ok(Math.abs((avg?.[3] as number) - 0.7) < 1e-12);
    assert.ok(Math.abs((avg?.[4] as number) - 0.73) < 1e-12);
    // two metrics shared by two tasks each: two average rows, one per metric
    const two = resultsTable([...rows, row('sst2b', 'adapters', 'accuracy', 0.7, 0.7)], 5).rows.filter((r) => String(r[0]).startsWith('average'));
    assert.deepEqual(two.map((r) => [r[0], r[2], r[3]]), [['average of 2 tasks (f1)', 'f1', 0.7], ['average of 2 tasks (accuracy)', 'accuracy', 0.8]]);
  });

  test('a wide results table may wrap: headers and text with spaces wrap, inside a scroll container', () => {
    const html = renderReport({ title: 'w', generatedAt: 't', summary: resultsTable([row('a', 'adapters: houlsby (m=64)', 'f1', 0.8, 0.8), row('b', 'full', 'f1', 0.7, 0.7)], 2) });
    checkWellFormed(html, { html: true });
    assert.match(html, /\.table-wrap \{ max-width: 100%; overflow-x: auto;/);
    assert.match(html, /th \{[^}]*white-space: normal;/);
    assert.match(html, /td\.wrap \{ white-space: normal;/);
    assert.ok(html.includes('<td class="wrap">adapters: houlsby (m=64)</td>'), 'text with spaces may wrap');
    assert.ok(html.includes('<td>1e-4</td>'), 'a short value without spaces stays on one line');
  });

  test('28 runs: no loss chart draws more series than the palette has colours, and none repeats a colour', () => {
    const tasks = ['spam', 'sotu', 'mrpc', 'brown'];
    const modes = ['adapters', 'pfeiffer', 'lora', 'ia3', 'full', 'top-2', 'layer-norm'];
    const runs = tasks.flatMap((t, i) => modes.map((m, j) => run(t, m, [[20, 0.5 + j / 100], [40, 0.6 + i / 100 + j / 100]])));
    assert.equal(runs.length, 28);
    const html = runsSection(runs);
    checkWellFormed(`<div>${html}</div>`, { html: true });
    const loss = charts(html).filter((c) => c.includes('<title>Training loss'));
    assert.equal(loss.length, 4, 'one loss chart per task');
    for (const c of loss) {
      const colours = [...c.matchAll(/<polyline [^>]*stroke="(#[0-9A-F]{6})"/g)].map((m) => m[1]);
      assert.equal(colours.length, 7);
      assert.equal(new Set(colours).size, colours.length, 'distinct colours');
      assert.ok(!c.includes('stroke-dasharray'), 'no second round of the palette');
      assert.equal((c.match(/<text [^>]*>[^<]*<\/text>/g) ?? []).filter((t) => modes.some((m) => t.includes(`· ${m}<`))).length, 7, 'a legend entry per series');
    }
    assert.ok(loss.some((c) => c.includes('<title>Training loss: sotu</title>')));
    // one task with more runs than colours: the best MAX_SERIES on dev are drawn, the caption says how many are not
    const many = Array.from({ length: 11 }, (_, k) => run('spam', `m${k}`, [[40, k / 100]]));
    const [g] = runGroups(many);
    assert.equal(g?.runs.length, MAX_SERIES);
    assert.equal(MAX_SERIES, PALETTE.length);
    assert.deepEqual(g?.runs.map((r) => r.mode), ['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    assert.match(runsSection(many), /The 8 best runs on dev are drawn; 3 more are in the table\./);
    // a few runs stay in one chart, as before
    assert.equal(charts(runsSection(runs.slice(0, 3))).filter((c) => c.includes('<title>Training loss</title>')).length, 1);
  });

  test('runs evaluated once each: labelled bars, not a column of dots at the last step', () => {
    const once = [run('spam', 'adapters', [[40, 0.91]]), run('spam', 'full', [[40, 0.93]]), run('spam', 'top-2', [[40, 0.88]])];
    const html = runsSection(once);
    const [dev] = charts(html).filter((c) => c.includes('<title>Dev accuracy'));
    assert.ok(dev, html);
    assert.ok(dev.includes('<title>Dev accuracy (one evaluation per run)</title>'));
    assert.equal((dev.match(/<rect [^>]*height="16"/g) ?? []).length, 3, 'a bar per run');
    assert.ok(!/<circle /.test(dev), 'no dots');
    for (const [mode, v] of [['adapters', '0.91'], ['full', '0.93'], ['top-2', '0.88']]) {
      assert.ok(dev.includes(`>spam · ${mode} (step 40)</text>`), mode);
      assert.ok(dev.includes(`>${v}</text>`), v);
    }
    // several evaluations per run: still a line chart
    const curves = runsSection([run('spam', 'adapters', [[20, 0.8], [40, 0.9]])]);
    assert.ok(charts(curves).some((c) => c.includes('<title>Dev accuracy</title>') && c.includes('<polyline')));
  });
});
