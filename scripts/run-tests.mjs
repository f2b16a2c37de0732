#!/usr/bin/env node
// Runs every test/**/*.test.ts file with Node's built-in test runner (TypeScript through tsx).
// Node 20's --test takes no glob patterns, so the files are listed here. Extra arguments
// (file paths or substrings) restrict the run: `npm test -- engine` runs only matching files.
//
// The run gets its own temporary directory (TMPDIR for the test processes and everything they
// start: CLI children, Redis, Chromium, Python). Whatever is still in it when the run ends was
// left behind by a test; it is listed and the run fails, so a test that forgets to clean up is
// caught. The directory is removed either way.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = walk('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const scratch = mkdtempSync(join(tmpdir(), 'adapterkit-test-run-'));
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: scratch },
});
// tsx-<uid> is tsx's own compile cache, not something a test made.
const left = readdirSync(scratch).filter((name) => !/^tsx-\d+$/.test(name)).sort();
rmSync(scratch, { recursive: true, force: true });
if (left.length > 0) {
  console.error(`\nnpm test: the tests left ${left.length} temporary files or directories behind (in TMPDIR, now removed):`);
  for (const name of left) console.error(`  ${name}`);
  console.error('Make them with tempDir() from test/temp-dir.ts, or remove them in the test.');
  process.exit(1);
}
process.exit(r.status ?? 1);
