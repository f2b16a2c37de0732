/**
 * The demo report rendered by headless Chromium (driven by playwright-core) from a file:// URL:
 * the screenshot is a real, non-trivial PNG of the requested size, and the charts' SVG elements
 * are in the DOM. Skipped when /usr/bin/chromium is missing (install it with
 * `apt-get install -y chromium`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { writeReport } from '../../src/train/report/html.js';
import { demoReportInput } from '../../scripts/render-report-demo.js';
import { resultsTable } from '../../src/train/experiments/sweep-report.js';
import type { SweepSummaryRow } from '../../src/train/experiments/sweep-results.js';
import { launchChromium, openPage, skipWithoutChromium as skip } from '../browser/chromium.js';
import { tempDir } from '../temp-dir.js';

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('report in headless Chromium', { skip }, () => {
  let dir = '';
  let page = '';
  let chromium: Browser;
  /** Opens the report in a fresh page of `size`, runs `use` on it, closes the page. */
  const inPage = async <T>(size: { width: number; height: number }, use: (p: Page) => Promise<T>): Promise<T> => {
    const p = await openPage(chromium, pathToFileURL(page).href, size);
    try {
      return await use(p);
    } finally {
      await p.close();
    }
  };

  before(async () => {
    dir = tempDir('adapterkit-report-chromium-');
    page = join(dir, 'report.html');
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('screenshot is a non-trivial PNG of the window size', { timeout: 90_000 }, async () => {
    await writeReport(page, demoReportInput());
    const shot = await inPage({ width: 1200, height: 2000 }, (p) => p.screenshot());
    assert.ok(shot.length > 50_000, `screenshot has content (${shot.length} bytes)`);
    assert.deepEqual(pngSize(shot), { width: 1200, height: 2000 });
  });

  test('the DOM holds every chart as SVG', { timeout: 90_000 }, async () => {
    await writeReport(page, demoReportInput());
    const dom = await inPage({ width: 1200, height: 2000 }, (p) => p.content());
    const svgs = dom.match(/<svg [^>]*class="chart"/g) ?? [];
    assert.equal(svgs.length, 5);
    assert.ok(dom.includes('<polyline'), 'lines parsed as SVG');
    assert.ok(dom.includes('<title>spam: accuracy with adapters removed</title>'));
    assert.ok(dom.includes('<footer>Generated 2025-01-01T00:00:00.000Z'));
  });

  test('a sweep\'s 12-column results table fits a 1200 px page: no horizontal overflow', { timeout: 90_000 }, async () => {
    const methods = ['adapters: houlsby (reduction_factor=16)', 'adapters: pfeiffer', 'adapters: lora', 'full fine-tuning', 'top-k layers', 'layer norms'];
    const rows = [['spam', 'f1'], ['sotu', 'accuracy'], ['brown-pos', 'token_accuracy'], ['mrpc', 'f1']].flatMap(([task, metric]) => methods.map((method, i): SweepSummaryRow => ({
      task: task as string, method, kind: method.startsWith('full') ? 'full' : 'adapters', description: method, metric: metric as string,
      devScore: 0.8 + i / 100, testScore: 0.79 + i / 100, dev: null, test: null, run: 'r', lr: 1e-4, epochs: 3, seed: 42,
      trainableParams: 1_234_567 * (i + 1), share: 0.0123 * (i + 1), bytes: 0, runDir: 'x', runs: 6,
    })));
    await writeReport(page, { title: 'wide', generatedAt: 't', summary: resultsTable(rows, 4) });
    // The report forbids its own scripts; the test measures it in a 1200 px page from outside (playwright's evaluate).
    const r = await inPage({ width: 1200, height: 900 }, (p) => p.evaluate<{ wraps: [number, number][]; page: [number, number] }>(`({
      wraps: [...document.querySelectorAll('.table-wrap')].map((e) => [e.scrollWidth, e.clientWidth]),
      page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
    })`));
    assert.equal(r.wraps.length, 1);
    for (const [scroll, client] of r.wraps) assert.ok(scroll <= client, `the table fits its container (${scroll} px of content in ${client} px)`);
    assert.ok(r.page[0] <= r.page[1], `the page does not scroll sideways (${r.page[0]} > ${r.page[1]})`);
  });
});
