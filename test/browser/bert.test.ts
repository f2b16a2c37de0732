/**
 * A BERT-family base built from its files' bytes by the browser build (src/browser/bert-assets.ts):
 * in Node it is the base `loadBase(dir)` gives (same fingerprint, same logits); in headless
 * Chromium on onnxruntime-web it has the same fingerprint (the browser's SHA-256 over the same
 * weights) and an adapter task on it gives Node's logits to 1e-4, and trains (a finite loss).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { bertBaseFrom } from '../../src/browser/bert-assets.js';
import { bundleForBrowser } from '../../src/browser/build.js';
import { startUiServer, type UiServer } from '../../src/browser/ui-server.js';
import { headConfig } from '../../src/heads/head.js';
import { baseFingerprint, loadBase, type BaseModel } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';
import type { Browser } from 'playwright-core';
import { launchChromium, openPage, skipWithoutChromium } from './chromium.js';
import type { BertPageInput } from './bert-page.js';
import { tempDir } from '../temp-dir.js';

const DIR = 'test/fixtures/models/tiny-bert';
const TEXTS = ['the cat sat on the mat .', 'this model is good', 'a bad slow book'];
const file = (name: string) => readFileSync(join(DIR, name));

async function nodeLogits(base: BaseModel): Promise<number[]> {
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 8 }) }, head: headConfig({ kind: 'classification', labels: ['negative', 'positive'] }), seed: 5 });
  const logits = Array.from(await model.predict(base.tokenizer.encode(TEXTS, 16)));
  await model.dispose();
  return logits;
}

const closeTo = (got: readonly number[], want: readonly number[], tol: number, what: string) => {
  assert.equal(got.length, want.length, what);
  got.forEach((x, i) => assert.ok(Math.abs(x - (want[i] as number)) <= tol, `${what}[${i}]: ${x} vs ${want[i]}`));
};

describe('a BERT base from bytes (browser build)', () => {
  test('in Node it is the base loadBase(dir) gives', async () => {
    const fromDir = await loadBase(DIR);
    const fromBytes = await bertBaseFrom({
      id: DIR, config: JSON.parse(file('config.json').toString()) as Record<string, unknown>, weights: new Map([['model.safetensors', new Uint8Array(file('model.safetensors'))]]),
      vocabTxt: file('vocab.txt').toString(), tokenizerConfig: JSON.parse(file('tokenizer_config.json').toString()) as Record<string, unknown>,
    });
    assert.equal(baseFingerprint(fromBytes), baseFingerprint(fromDir));
    assert.deepEqual(fromBytes.tokenizer.encode(TEXTS, 16), fromDir.tokenizer.encode(TEXTS, 16));
    assert.deepEqual(await nodeLogits(fromBytes), await nodeLogits(fromDir));
    await assert.rejects(bertBaseFrom({ id: 'x', config: JSON.parse(file('config.json').toString()) as Record<string, unknown>, weights: new Map([['pytorch_model.bin', new Uint8Array(8)]]), vocabTxt: '' }),
      { code: 'UNSUPPORTED_MODEL', message: 'x: the browser build reads safetensors weights only, not pytorch_model.bin (convert the checkpoint to model.safetensors)' });
  });

  describe('in headless Chromium', { skip: skipWithoutChromium }, () => {
    let server: UiServer;
    let chromium: Browser;
    before(async () => {
      const here = dirname(fileURLToPath(import.meta.url));
      server = await startUiServer({ port: 0, build: { cacheDir: tempDir('ak-ui-cache-') }, extraScripts: await bundleForBrowser({ 'bert-page': join(here, 'bert-page.ts') }) });
      chromium = await launchChromium();
    });
    after(async () => {
      await chromium?.close();
      await server?.close();
    });

    test('same fingerprint, Node\'s logits to 1e-4, and a training step', { timeout: 60_000 }, async () => {
      const page = await openPage(chromium, `${server.url}/`);
      const input: BertPageInput = {
        config: file('config.json').toString(), safetensors: file('model.safetensors').toString('base64'), vocab: file('vocab.txt').toString(),
        tokenizerConfig: file('tokenizer_config.json').toString(), texts: TEXTS,
      };
      const r = await page.evaluate<{ fingerprint: string; logits: number[]; loss: number }>(`import('/app/bert-page.js').then((m) => m.run(${JSON.stringify(input)}))`);
      const base = await loadBase(DIR);
      assert.equal(r.fingerprint, baseFingerprint(base));
      closeTo(r.logits, await nodeLogits(base), 1e-4, 'logits');
      assert.ok(Number.isFinite(r.loss) && r.loss > 0, `loss ${r.loss}`);
    });
  });
});
