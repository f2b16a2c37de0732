/**
 * The HTML report: a well-formed, self-contained page (no scripts, no network), every section
 * present when its input is, user text escaped, deterministic output, and atomic writing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReport, writeReport, type ReportInput } from '../../src/train/report/html.js';
import { demoReportInput } from '../../scripts/render-report-demo.js';
import { checkWellFormed } from './xml-check.js';
import { tempDir } from '../temp-dir.js';

const EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>';

function count(s: string, needle: string): number {
  return s.split(needle).length - 1;
}

describe('renderReport', () => {
  test('the demo report is a well-formed page with every section and chart', () => {
    const html = renderReport(demoReportInput());
    const { elements } = checkWellFormed(html, { html: true });
    assert.ok(html.startsWith('<!DOCTYPE html>\n<html lang="en">'));
    for (const h of ['Results', 'Training', 'Score vs trained parameters', 'Ablation', 'Notes']) assert.ok(html.includes(`<h2>${h}</h2>`), h);
    // loss chart + one dev-metric chart + 2 trade-off scatters + 1 heat map
    assert.equal(elements.filter((e) => e === 'svg').length, 5);
    assert.ok(html.includes('<footer>Generated 2025-01-01T00:00:00.000Z by adapterkit'));
    assert.ok(html.includes('<td class="num">110,000,000</td>'), 'numbers are right-aligned and grouped');
    assert.ok(html.includes('<td class="num">0.9751</td>'));
  });

  test('is self-contained: no scripts, no external URLs, a CSP that forbids loads', () => {
    const html = renderReport(demoReportInput());
    assert.ok(!/<script/i.test(html));
    assert.ok(!/(src|href)=/i.test(html));
    assert.ok(!/url\(/i.test(html));
    assert.ok(!/https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(html), 'only the SVG namespace URI');
    assert.ok(html.includes(`http-equiv="Content-Security-Policy" content="default-src 'none'`));
  });

  test('is deterministic', () => {
    assert.equal(renderReport(demoReportInput()), renderReport(demoReportInput()));
  });

  test('escapes user text in every section', () => {
    const input: ReportInput = {
      title: EVIL, subtitle: EVIL, generatedAt: EVIL,
      summary: { columns: [EVIL, 'score'], rows: [[EVIL, 0.5]] },
      runs: [{ name: EVIL, mode: EVIL, train: [{ step: 1, loss: 1 }, { step: 2, loss: 0.5 }], evals: [{ step: 2, split: 'dev', metrics: { [EVIL]: 0.7 } }] }],
      tradeoff: [{ task: EVIL, metric: EVIL, points: [{ method: EVIL, params: 100, score: 0.5, label: EVIL }] }],
      ablation: [{ task: EVIL, metric: EVIL, layers: 1, values: [[0.5]], baseline: 0.6 }],
      notes: [EVIL],
    };
    const html = renderReport(input);
    checkWellFormed(html, { html: true });
    assert.ok(!html.includes('<script') && !html.includes('<img'));
    assert.ok(count(html, '&lt;script&gt;') >= 10);
  });

  test('a title and a time are enough; empty parts are left out', () => {
    const html = renderReport({ title: 'Nothing yet', generatedAt: 't0', runs: [], tradeoff: [], notes: [] });
    checkWellFormed(html, { html: true });
    assert.ok(!html.includes('<section'));
    assert.ok(!html.includes('<svg'));
  });

  test('runs without evaluations get a loss chart and no dev chart', () => {
    const html = renderReport({ title: 'r', generatedAt: 't', runs: [{ name: 'a', train: [{ step: 1, loss: 1 }, { step: 2, loss: 0.8 }], evals: [] }] });
    assert.equal(count(html, '<svg'), 1);
    assert.ok(html.includes('<title>Training loss</title>'));
  });

  test('mismatched table rows and ablation grids are configuration errors', () => {
    assert.throws(() => renderReport({ title: 't', generatedAt: 't', summary: { columns: ['a', 'b'], rows: [['x']] } }), /report table: row 0 has 1 cells for 2 columns/);
    assert.throws(() => renderReport({ title: 't', generatedAt: 't', ablation: [{ task: 'x', metric: 'm', layers: 2, values: [[1, null]], baseline: 1 }] }), /ablation of x: 1 rows of values for 2 layers/);
  });
});

describe('writeReport', () => {
  test('writes the rendered page, creating folders, leaving no temporary file', async () => {
    const dir = tempDir('adapterkit-report-write-');
    const path = join(dir, 'sub', 'report.html');
    const input = { title: 'w', generatedAt: 't', notes: ['hello'] };
    await writeReport(path, input);
    assert.equal(readFileSync(path, 'utf8'), renderReport(input));
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['report.html']);
    await writeReport(path, { ...input, notes: ['again'] });
    assert.ok(readFileSync(path, 'utf8').includes('<p>again</p>'));
  });

  test('an unwritable path is a BAD_FILE error naming it', async () => {
    const dir = tempDir('adapterkit-report-bad-');
    await writeReport(join(dir, 'f'), { title: 'x', generatedAt: 't' });
    const path = join(dir, 'f', 'report.html'); // a folder under a file
    await assert.rejects(writeReport(path, { title: 'x', generatedAt: 't' }), (e: Error & { code?: string }) => e.code === 'BAD_FILE' && e.message.startsWith(`cannot write the report to ${path}:`));
  });
});
