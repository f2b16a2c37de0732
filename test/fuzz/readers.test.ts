/**
 * The standing fuzz test at `npm test` size: a few hundred seeded mutations of the fixtures, spread
 * over every reader (safetensors, PyTorch zip and legacy, TF.js, config.json of each encoder family
 * through the registry, the safetensors index, tokenizer.json with WordPiece, BPE and Unigram
 * models, vocab.txt, saved Compacter task directories in adapterkit's and AdapterHub's layouts).
 * Each case must succeed or give a coded AdapterkitError hiding no internal error, within a time
 * bound and without unbounded memory growth. `npm run fuzz` runs the same cases and many more
 * (test/fuzz/run.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdapterkitError } from '../../src/errors.js';
import { formatReport, problemWith, runFuzz } from './fuzz.js';

const SEED = 20261201;

test('every reader survives 400 seeded mutations of its fixtures: success or a coded error, fast, in bounded memory', { timeout: 180_000 }, async () => {
  const report = await runFuzz({ seed: SEED, cases: 400, caseMs: 5000, peakGrowth: 1024 * 2 ** 20, liveGrowth: 256 * 2 ** 20 });
  assert.equal(report.cases, 400);
  assert.equal(report.failures.length, 0, formatReport(report, SEED));
  for (const [name, s] of Object.entries(report.byTarget)) {
    // Not vacuous: every reader saw cases that it read and cases that it refused.
    assert.ok(s.cases >= 40 && s.ok > 0 && s.coded > 0, `${name}: ${JSON.stringify(s)}`);
  }
});

test('the fuzzer would notice: an uncoded error, an internal error inside a coded one, a hidden cause', () => {
  assert.match(problemWith(new TypeError("Cannot read properties of undefined (reading 'x')")) ?? '', /uncoded TypeError/);
  assert.match(problemWith(new AdapterkitError('BAD_FILE', 'x.bin: read failed: Maximum call stack size exceeded')) ?? '', /internal error inside a BAD_FILE/);
  assert.match(problemWith(new AdapterkitError('BAD_FILE', 'x.json is not valid JSON: Unexpected token \'r\', "root:x:0:0"... is not valid JSON')) ?? '', /internal error/);
  assert.match(problemWith(new AdapterkitError('BAD_FILE', 'x: broken', undefined, { cause: new RangeError('Invalid array length') })) ?? '', /hides a RangeError/);
  assert.equal(problemWith(new AdapterkitError('BAD_FILE', 'x.bin: the pickle ends early')), undefined);
});
