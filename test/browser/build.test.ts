/**
 * The browser build of the library (src/browser/index.ts: the engine on onnxruntime-web, the
 * USE-lite and BERT-family encoders, tokenizers, adapters, heads, the trainer's loop, metrics)
 * bundles with no Node built-in on its path, onnxruntime-web left to be loaded from /ort/, and
 * the Node modules swapped for their web siblings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bundleForBrowser, SOURCE_DIR } from '../../src/browser/build.js';

test('the browser library bundles without Node built-ins, on onnxruntime-web', async () => {
  const out = await bundleForBrowser({ lib: join(SOURCE_DIR, 'browser', 'index.ts') }, false);
  const js = out.get('lib.js') ?? '';
  assert.ok(js.length > 100_000, `a real bundle (${js.length} characters)`);
  assert.ok(!/\bfrom\s*["']node:/.test(js) && !/\bimport\(["']node:/.test(js), 'no Node built-in is imported');
  assert.match(js, /from\s*["']\/ort\/ort\.wasm\.min\.mjs["']/, 'onnxruntime-web is loaded from /ort/');
  assert.ok(!js.includes('onnxruntime-node'), 'the Node binding is not in it');
  for (const name of ['BertEncoder', 'HfJsonTokenizer', 'WordPieceTokenizer', 'TaskModel', 'TabRun', 'AdamW']) {
    assert.match(js, new RegExp(`(class ${name}\\b|\\b${name} = class\\b)`), `${name} is in the bundle`);
  }
  assert.ok(js.includes('external data (models over 1.5 GB) needs a file system'), 'external-data-web.ts replaced external-data-node.ts');
});
