// The README's exit-code table is generated from ERROR_CODES (src/errors.ts) and kept in sync here:
// on a mismatch the message holds the table to paste.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../src/errors.js';
import { cli } from './harness.js';

/** The table as the README must hold it: one row per exit code and error code, by exit code. */
function exitCodeTable(): string {
  const rows: Array<[number, string, string]> = [
    [0, '', 'success'],
    [1, '', 'unexpected internal error (a bug: please report it with the message)'],
    [2, '', 'usage: unknown command or option, missing or invalid argument'],
    ...Object.entries(ERROR_CODES).map(([code, c]): [number, string, string] => [c.exit, `\`${code}\``, c.summary]),
  ];
  rows.sort((a, b) => a[0] - b[0]); // stable: declaration order within an exit code
  return ['| exit | code | meaning |', '| --- | --- | --- |', ...rows.map(([exit, code, meaning]) => `| ${exit} | ${code} | ${meaning} |`)].join('\n');
}

test('README documents every exit code, generated from ERROR_CODES', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const table = exitCodeTable();
  assert.ok(readme.includes(`${table}\n`), `README.md's exit-code table is out of date; it must read:\n\n${table}\n`);
});

test('the CLI exits with the documented codes: a usage error, a coded error', async () => {
  const usage = await cli('train', '--no-such-flag');
  assert.equal(usage.code, 2);
  const missing = await cli('eval', '/nonexistent/task');
  assert.equal(missing.code, ERROR_CODES.NOT_FOUND.exit);
  assert.match(missing.stderr, /\[NOT_FOUND\]/);
});
