/** Download progress lines for hub downloads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliBaseOptions, downloadReporter } from '../../src/cli/download-progress.js';

test('a file download reports at the start, every 10 % and at the end, off a terminal', () => {
  const lines: string[] = [];
  const report = downloadReporter({ write: (s: string) => lines.push(s), isTTY: false });
  const total = 100 * 2 ** 20;
  for (let r = 0; r <= total; r += 2 ** 20) report({ file: 'model.safetensors', received: r, total });
  report({ file: 'model.safetensors', received: total, total });
  assert.equal(lines.length, 11);
  assert.equal(lines[0], 'downloading model.safetensors: 0.0 MiB of 100.0 MiB (0 %)\n');
  assert.equal(lines[10], 'downloading model.safetensors: 100.0 MiB of 100.0 MiB (100 %)\n');
  report({ file: 'config.json', received: 10, total: 10 });
  assert.match(lines[11]!, /^downloading config\.json: 0\.0 MiB of 0\.0 MiB \(100 %\)\n$/);
});

test('on a terminal the line updates in place and ends with a newline when complete', () => {
  const out: string[] = [];
  const report = downloadReporter({ write: (s: string) => out.push(s), isTTY: true });
  report({ file: 'vocab.txt', received: 5, total: 10 });
  report({ file: 'vocab.txt', received: 10, total: 10 });
  assert.ok(out[0]!.startsWith('\rdownloading vocab.txt'));
  assert.ok(out[1]!.endsWith('\n'));
});

test('CLI base options carry the revision and a progress callback', () => {
  const o = cliBaseOptions('v1');
  assert.equal(o.revision, 'v1');
  assert.equal(typeof o.onProgress, 'function');
  assert.equal('revision' in cliBaseOptions(), false);
});
