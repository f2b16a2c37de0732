/**
 * The browser build's SHA-256 (src/util/sha256-web.ts, used for base fingerprints where Node's
 * crypto is missing) gives Node's digests, across block boundaries and split updates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sha256 } from '../../src/util/sha256-web.js';

test('sha256-web equals node:crypto on lengths around the 64-byte block and its padding', () => {
  for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 100_003]) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
    for (const cut of [0, n >> 1, n]) {
      const h = sha256();
      h.update('layer.0:4x4\n');
      h.update(bytes.subarray(0, cut));
      h.update(bytes.subarray(cut));
      assert.equal(h.digestHex(), createHash('sha256').update('layer.0:4x4\n').update(bytes).digest('hex'), `length ${n}, split at ${cut}`);
    }
  }
  const utf8 = sha256();
  utf8.update('tromsø ✓');
  assert.equal(utf8.digestHex(), createHash('sha256').update('tromsø ✓').digest('hex'));
});
