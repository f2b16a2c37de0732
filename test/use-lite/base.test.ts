import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

import { loadUseLiteBase } from '../../src/models/use-lite/package-files.js';

test('loadUseLiteBase gives the encoder, its weights and a base tokenizer', async () => {
  const base = await loadUseLiteBase();
  assert.equal(base.id, 'use-lite');
  assert.equal(base.encoder.family, 'use-lite');
  assert.equal(base.weights.size, base.encoder.weightSpecs.length);
  assert.ok(base.sources.length === 2 && base.sources.every((p) => existsSync(p)));
  const single = base.tokenizer.encode(['Hello world.', 'a'], 128);
  assert.deepEqual([...single.inputIds.slice(0, 4)], [341, 4125, 311, 6]);
  assert.deepEqual([...single.attentionMask], [1, 1, 1, 1, 1, 0, 0, 0]);
  assert.deepEqual([...single.tokenTypeIds], new Array(8).fill(0));
  assert.equal(base.tokenizer.padId, 0);
  // A pair is read as one text joined by a space; maxLength cuts rows (at most 128).
  const pair = base.tokenizer.encode([['Hello', 'world.']], 128);
  assert.deepEqual([...pair.inputIds], [341, 4125, 311, 6]);
  const cut = base.tokenizer.encode(['Hello world.'], 2);
  assert.deepEqual([...cut.inputIds], [341, 4125]);
  assert.deepEqual(cut.truncated, [true]);
  assert.equal(base.tokenizer.encode(['x '.repeat(300)], 512).seqLen, 128);
});
