/**
 * canonicalJson (sorted keys, JSON's own dropping of undefined and non-finite numbers) and
 * jsonDifferences (the paths at which two settings differ, bounded, with absent fields named).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, jsonDifferences } from '../../src/util/json-compare.js';

test('canonicalJson sorts keys at every depth and stores what JSON would', () => {
  const c = canonicalJson({ b: 1, a: { d: [2, { z: 1, y: undefined }], c: undefined }, n: NaN, f: () => 1 });
  assert.deepEqual(c, { a: { d: [2, { z: 1 }] }, b: 1, n: null });
  assert.equal(JSON.stringify(c), '{"a":{"d":[2,{"z":1}]},"b":1,"n":null}');
  assert.equal(JSON.stringify(canonicalJson({ x: 1, y: 2 })), JSON.stringify(canonicalJson({ y: 2, x: 1 })), 'the order objects were built in does not matter');
  assert.deepEqual(canonicalJson(Object.freeze({ list: Object.freeze(['q', 'v']) })), { list: ['q', 'v'] });
});

test('jsonDifferences names each changed leaf by its path, absent fields as absent, and stops after max', () => {
  assert.deepEqual(jsonDifferences({ a: 1 }, { a: 1 }), []);
  assert.deepEqual(jsonDifferences({ b: 1, a: 1 }, { a: 1, b: 1 }), [], 'key order is no difference');
  assert.deepEqual(jsonDifferences({ adapter: { r: 8, alpha: 8 } }, { adapter: { r: 8, alpha: 16 } }), ['adapter.alpha 8 then, 16 now']);
  assert.deepEqual(jsonDifferences({ m: [{ x: 'relu' }] }, { m: [{ x: 'gelu' }] }), ['m[0].x "relu" then, "gelu" now']);
  assert.deepEqual(jsonDifferences({ l: [1, 2] }, { l: [1] }), ['l [1,2] then, [1] now'], 'arrays of other lengths are one leaf');
  assert.deepEqual(jsonDifferences({ p: 1 }, { q: 1 }), ['p 1 then, absent now', 'q absent then, 1 now']);
  assert.deepEqual(jsonDifferences({ o: { k: 1 } }, { o: 'k' }), ['o {"k":1} then, "k" now']);
  assert.deepEqual(jsonDifferences(1, 2), ['(the whole value) 1 then, 2 now']);
  const many = jsonDifferences({ a: 1, b: 1, c: 1, d: 1, e: 1, f: 1 }, { a: 2, b: 2, c: 2, d: 2, e: 2, f: 2 }, 2);
  assert.deepEqual(many, ['a 1 then, 2 now', 'b 1 then, 2 now', 'and 4 more']);
});
