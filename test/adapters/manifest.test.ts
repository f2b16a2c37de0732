/**
 * The task manifest's checks: a hand-edited or damaged adapterkit.json fails with the field named,
 * before any tensor is read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkManifest } from '../../src/adapters/task-files/manifest.js';
import { adapterConfig } from '../../src/adapters/methods/index.js';

/** A manifest as JSON.parse gives it: nested objects of unknown fields. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- edited field by field like a hand-edited file
type Json = Record<string, any>;

/** A valid version-2 manifest of a setup with AdapterDrop (the fields the checks read). */
function manifest(): Json {
  return {
    format: 'adapterkit-task', version: 2, name: 'spam',
    base: { id: 'use-lite', family: 'use-lite', fingerprint: 'sha256:00' },
    mode: {
      kind: 'adapters',
      adapters: [{ name: 'a', config: { ...adapterConfig({ size: 4 }) }, trainable: true }],
      active: { type: 'Stack', children: [{ type: 'single', children: ['a'] }] },
      adapterDrop: { kind: 'static', layers: 1 },
    },
    head: { kind: 'classification', labels: ['ham', 'spam'], pair: false, layers: 1, dropout: 0.1, threshold: 0.5 },
    maxLength: 128,
  };
}

test('a valid manifest passes, with AdapterDrop and the head as written', () => {
  const m = checkManifest(manifest(), 'x/adapterkit.json');
  assert.deepEqual(m.mode.adapterDrop, { kind: 'static', layers: 1 });
  assert.equal(m.head.threshold, 0.5);
  assert.equal(m.head.pair, false);
});

test('bad head fields and AdapterDrop sizes are errors naming the field', () => {
  const cases: [string, (m: Json) => void, RegExp][] = [
    ['threshold', (m) => { m.head.threshold = '0.5'; }, /head: threshold must be a number in \(0, 1\), got "0.5"/],
    ['threshold range', (m) => { m.head.threshold = 1; }, /head: threshold must be a number in \(0, 1\), got 1/],
    ['pair', (m) => { m.head.pair = 'yes'; }, /head: pair must be true or false, got "yes"/],
    ['static layers', (m) => { m.mode.adapterDrop = { kind: 'static', layers: -1 }; }, /x\/adapterkit\.json: mode\.adapterDrop\.layers must be a non-negative integer .*got -1/],
    ['robust maxLayers', (m) => { m.mode.adapterDrop = { kind: 'robust', layers: 2 }; }, /mode\.adapterDrop\.maxLayers must be a non-negative integer .*got undefined/],
    ['kind', (m) => { m.mode.adapterDrop = { kind: 'sometimes', layers: 1 }; }, /mode\.adapterDrop\.kind must be "static" or "robust"/],
  ];
  for (const [what, edit, message] of cases) {
    const m = manifest();
    edit(m);
    assert.throws(() => checkManifest(m, 'x/adapterkit.json'), message, what);
  }
});
