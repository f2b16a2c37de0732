/**
 * The demo report rendered by headless Chromium from a file:// URL: the screenshot is a real,
 * non-trivial PNG of the requested size, and the charts' SVG elements are in the DOM. Skipped
 * when /usr/bin/chromium is missing (install it with `apt-get install -y chromium`).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { writeReport } from '../../src/train/report/html.js';
import { demoReportInput } from '../../scripts/render-report-demo.js';

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
});
