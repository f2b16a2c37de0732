// The strict JSON reader and the bounded value describer used for every file adapterkit reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeValue } from '../../src/util/describe.js';
import { parseJsonText } from '../../src/util/json.js';
import { isJsonObject } from '../../src/util/json-text.js';

function jsonFixtures(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) jsonFixtures(p, out);
    else if (e.name.endsWith('.json')) out.push(p);
  }
  return out;
}

test('gives exactly what JSON.parse gives for every JSON fixture and the corner cases', () => {
  const files = jsonFixtures('test/fixtures');
  assert.ok(files.length > 20);
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    assert.deepEqual(parseJsonText(text, f, { maxDepth: 1000 }), JSON.parse(text), f);
  }
  for (const text of ['0', '-0', '1e308', '1E-7', '-12.5e+3', '123456789012345678901', '"\\u00e9\\ud83d\\ude00\\n\\/"', ' [ true , false , null ] ', '{"a":{"b":[{}]}}', '{"__proto__": {"x": 1}}']) {
    const ours = parseJsonText(text, 'x');
    assert.deepEqual(ours, JSON.parse(text), text);
    assert.ok(Object.is(ours, JSON.parse(text)) || typeof ours === 'object', text);
  }
  // `__proto__` is an own key, as JSON.parse makes it, never the prototype.
  const o = parseJsonText('{"__proto__": {"polluted": 1}}', 'x') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(o), Object.prototype);
  assert.deepEqual(Object.keys(o), ['__proto__']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('refuses invalid JSON, duplicate keys and deep nesting with a line and column, quoting nothing', () => {
  const cases: Array<[string, RegExp]> = [
    ['root:x:0:0:root:/root:/bin/bash', /^f: unexpected character \(line 1, column 1\)$/],
    ['{\n  "a": 1,\n  "a": 2\n}', /^f: key "a" appears twice \(line 3, column 3\)$/],
    ['[1, 2,]', /unexpected character \(line 1, column 7\)/],
    ['{"a" 1}', /expected ':'/],
    ['"tab\tin string"', /control character in a string/],
    ['"\\x"', /invalid escape/],
    ['01', /unexpected data after the end/],
    ['{"a": [1, 2', /unexpected end of the document/],
    ['', /unexpected end of the document/],
    [`${'['.repeat(100_000)}${']'.repeat(100_000)}`, /nested more than 64 levels deep \(line 1, column 65\)/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseJsonText(text, 'f'), (e: Error) => pattern.test(e.message) && !e.message.includes('root:x'), text.slice(0, 40));
  }
  assert.throws(() => parseJsonText('[1, 2, 3, 4]', 'f', { maxValues: 3, name: 'f: header' }), /f: header: more than 3 values \(line 1, column 8\)/);
  assert.equal((parseJsonText(`${'['.repeat(64)}${']'.repeat(64)}`, 'f') as unknown[]).length, 1);
});

test('describeValue is short whatever it is given: deep, cyclic, huge, bigint', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const cyclic = new Map<string, unknown>();
  cyclic.set('self', cyclic);
  for (const v of [deep, cyclic, 'x'.repeat(1_000_000), 10n ** 5000n, new Uint8Array(1 << 20), { a: Array(1e6).fill(7) }]) {
    assert.ok(describeValue(v).length <= 61, describeValue(v));
  }
  assert.equal(describeValue({ a: [1, 'b', null] }), '{"a":[1,"b",null]}');
});

test('isJsonObject is true for parsed objects only: not null, arrays or scalars', () => {
  const parsed = parseJsonText('[{}, {"a": [1]}, [], null, 0, "x", true]', 'x.json') as unknown[];
  assert.deepEqual(parsed.map(isJsonObject), [true, true, false, false, false, false, false]);
  assert.equal(isJsonObject(undefined), false);
  assert.equal(isJsonObject(Object.create(null)), true);
});
