/**
 * The demo report rendered by headless Chromium from a file:// URL: the screenshot is a real,
 * non-trivial PNG of the requested size, and the charts' SVG elements are in the DOM. Skipped
 * when /usr/bin/chromium is missing (install it with `apt-get install -y chromium`).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { writeReport } from '../../src/train/report/html.js';
import { demoReportInput } from '../../scripts/render-report-demo.js';
import { resultsTable } from '../../src/train/experiments/sweep-report.js';
import type { SweepSummaryRow } from '../../src/train/experiments/sweep-results.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found (apt-get install -y chromium to run this test)`;
const run = promisify(execFile);

/** Runs headless Chromium on `url` with extra flags; returns its stdout. */
async function chromium(profile: string, url: string, ...flags: string[]): Promise<string> {
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--window-size=1200,2000', ...flags, url,
  ];
  const { stdout } = await run(CHROMIUM, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('report in headless Chromium', () => {
  const dir = skip ? '' : mkdtempSync(join(tmpdir(), 'adapterkit-report-chromium-'));
  const page = join(dir, 'report.html');

  test('screenshot is a non-trivial PNG of the window size', { skip, timeout: 90_000 }, async () => {
    await writeReport(page, demoReportInput());
    const shot = join(dir, 'shot.png');
    await chromium(join(dir, 'profile-shot'), pathToFileURL(page).href, `--screenshot=${shot}`);
    assert.ok(existsSync(shot), 'screenshot written');
    assert.ok(statSync(shot).size > 50_000, `screenshot has content (${statSync(shot).size} bytes)`);
    assert.deepEqual(pngSize(readFileSync(shot)), { width: 1200, height: 2000 });
  });

  test('the DOM holds every chart as SVG', { skip, timeout: 90_000 }, async () => {
    await writeReport(page, demoReportInput());
    const dom = await chromium(join(dir, 'profile-dom'), pathToFileURL(page).href, '--dump-dom');
    const svgs = dom.match(/<svg [^>]*class="chart"/g) ?? [];
    assert.equal(svgs.length, 5);
    assert.ok(dom.includes('<polyline'), 'lines parsed as SVG');
    assert.ok(dom.includes('<title>spam: accuracy with adapters removed</title>'));
    assert.ok(dom.includes('<footer>Generated 2025-01-01T00:00:00.000Z'));
  });

  test('a sweep\'s 12-column results table fits a 1200 px page: no horizontal overflow', { skip, timeout: 90_000 }, async () => {
    const methods = ['adapters: houlsby (reduction_factor=16)', 'adapters: pfeiffer', 'adapters: lora', 'full fine-tuning', 'top-k layers', 'layer norms'];
    const rows = [['spam', 'f1'], ['sotu', 'accuracy'], ['brown-pos', 'token_accuracy'], ['mrpc', 'f1']].flatMap(([task, metric]) => methods.map((method, i): SweepSummaryRow => ({
      task: task as string, method, kind: method.startsWith('full') ? 'full' : 'adapters', description: method, metric: metric as string,
      devScore: 0.8 + i / 100, testScore: 0.79 + i / 100, dev: null, test: null, run: 'r', lr: 1e-4, epochs: 3, seed: 42,
      trainableParams: 1_234_567 * (i + 1), share: 0.0123 * (i + 1), bytes: 0, runDir: 'x', runs: 6,
    })));
    await writeReport(page, { title: 'wide', generatedAt: 't', summary: resultsTable(rows, 4) });
    // The report forbids scripts; a page of the test's own measures it in a 1200 px frame.
    const probe = join(dir, 'probe.html');
    writeFileSync(probe, `<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="report.html" style="width:1200px;height:900px;border:0"></iframe><pre id="out">pending</pre>
<script>document.getElementById('f').addEventListener('load', () => {
  const d = document.getElementById('f').contentDocument;
  const wraps = [...d.querySelectorAll('.table-wrap')].map((e) => [e.scrollWidth, e.clientWidth]);
  document.getElementById('out').textContent = JSON.stringify({ wraps, page: [d.documentElement.scrollWidth, d.documentElement.clientWidth] });
});</script></body></html>`);
    const dom = await chromium(join(dir, 'profile-probe'), pathToFileURL(probe).href, '--allow-file-access-from-files', '--virtual-time-budget=5000', '--dump-dom');
    const m = /<pre id="out">([^<]*)<\/pre>/.exec(dom);
    assert.ok(m && m[1] !== 'pending', `the probe measured the page: ${m?.[1]}`);
    const r = JSON.parse((m[1] as string).replace(/&quot;/g, '"')) as { wraps: [number, number][]; page: [number, number] };
    assert.equal(r.wraps.length, 1);
    for (const [scroll, client] of r.wraps) assert.ok(scroll <= client, `the table fits its container (${scroll} px of content in ${client} px)`);
    assert.ok(r.page[0] <= r.page[1], `the page does not scroll sideways (${r.page[0]} > ${r.page[1]})`);
  });
});
