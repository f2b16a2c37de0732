/**
 * pythonFullMatch matches what Python's `re.fullmatch` matches (Python itself is the reference,
 * run on the same patterns and names), and refuses what it cannot translate with BAD_CONFIG naming
 * the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { AdapterkitError } from '../../src/errors.js';
import { pythonFullMatch } from '../../src/util/python-regex.js';
import { PYTHON, pythonMissing } from '../interop/helpers.js';

const PATTERNS = [
  '.*\\.(query|value)', '(?i).*\\.(QUERY|Value)', '.*\\.(?P<m>query|value)', '(?P<a>.*)\\.self\\.(?P=a)',
  '\\A.*layer\\.\\d+\\.attention\\.self\\.query\\Z', '(?s).*dense', '(?ai).*OUTPUT\\.DENSE', '.*[]q]uery', '.*[^]k]ey', 'query|value',
  '.*\\\\Z', 'bert\\.encoder\\.layer\\.[01]\\..*\\.dense',
];
const NAMES = [
  'bert.encoder.layer.0.attention.self.query', 'bert.encoder.layer.1.attention.self.value', 'bert.encoder.layer.0.attention.self.key',
  'bert.encoder.layer.1.attention.output.dense', 'bert.encoder.layer.2.output.dense', 'query', 'value', 'self.self', 'x.self.x', 'a\\Z', ']uery',
];

test('translated patterns match exactly what Python re.fullmatch matches', { skip: pythonMissing() }, () => {
  const script = 'import json,re,sys\nd=json.load(sys.stdin)\nprint(json.dumps([[re.fullmatch(p,n) is not None for n in d["names"]] for p in d["patterns"]]))';
  const want = JSON.parse(execFileSync(PYTHON, ['-c', script], { input: JSON.stringify({ patterns: PATTERNS, names: NAMES }) }).toString()) as boolean[][];
  let matched = 0;
  PATTERNS.forEach((p, i) => {
    const re = pythonFullMatch(p, 'target_modules');
    NAMES.forEach((n, j) => {
      assert.equal(re.test(n), want[i]![j], `${p} on ${n}`);
      if (want[i]![j]) matched++;
    });
  });
  assert.ok(matched > 10, 'the cases must include matches');
});

test('what cannot be translated or compiled is BAD_CONFIG naming the field and the pattern', () => {
  const refused = (p: string, re: RegExp) => assert.throws(() => pythonFullMatch(p, 'cfg.json: target_modules'), (e: unknown) => e instanceof AdapterkitError && e.code === 'BAD_CONFIG' && re.test(e.message));
  refused('(?x).*query', /^cfg\.json: target_modules "\(\?x\)\.\*query" uses Python's inline flag \(\?x\), which adapterkit cannot run \(it runs \(\?i\), \(\?s\), \(\?m\), \(\?a\), \(\?u\)\)$/);
  refused('.*(?i:query)', /uses inline flags inside the pattern, which adapterkit cannot run \(only at its start\)$/);
  refused('(a)?(?(1)b|c)', /uses a conditional group/);
  refused('.*(query', /^cfg\.json: target_modules "\.\*\(query" is not a regular expression adapterkit can run \(.*\)$/);
  refused('query\\', /ends with a lone backslash$/);
});
