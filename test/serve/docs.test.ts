import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SERVE_ERROR_CODES } from '../../src/serve/http-errors.js';
import { METRIC_NAMES } from '../../src/serve/metrics.js';

const doc = readFileSync(new URL('../../docs/serve.md', import.meta.url), 'utf8');

test('docs/serve.md lists every HTTP error code with its status', () => {
  for (const [code, { status }] of Object.entries(SERVE_ERROR_CODES)) {
    assert.match(doc, new RegExp(`^\\| ${status} \\| \`${code}\` \\|`, 'm'), `${code} (${status}) missing from the error table`);
  }
});

test('docs/serve.md lists every metric name', () => {
  for (const name of Object.values(METRIC_NAMES)) assert.ok(doc.includes(`| \`${name}\` |`), `${name} missing from the metrics table`);
});
