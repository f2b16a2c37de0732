/**
 * `adapterkit ui` with a BERT-family base besides the embedded one (UiServerOptions.bases): the
 * page's base picker offers it, the worker builds it from the files the server serves, trains an
 * adapter on it in the tab, and Download's zip, loaded in Node on the same directory, predicts
 * what the page predicted (1e-4) and records the base's fingerprint; opened again in the page, it
 * goes on the same base and predicts what the tab's model did. Bases the page cannot build
 * are refused when the server starts. Skipped when /usr/bin/chromium is missing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import yauzl from 'yauzl';
import { startUiServer, type UiServer } from '../../src/browser/ui-server.js';
import { baseFingerprint, loadBase } from '../../src/models/base.js';
import { predictTexts } from '../../src/train/evaluate.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { launchChromium, openPage, skipWithoutChromium as skip, waitFor } from './chromium.js';
import { tempDir } from '../temp-dir.js';

const TINY_BERT = 'test/fixtures/models/tiny-bert';

/** The entries of a zip, by name. */
function readZip(zip: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (err, z) => {
      if (err || !z) return reject(err);
      const out = new Map<string, Buffer>();
      z.on('entry', (e: yauzl.Entry) => z.openReadStream(e, (err2, s) => {
        if (err2 || !s) return reject(err2);
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('end', () => {
          out.set(e.fileName, Buffer.concat(chunks));
          z.readEntry();
        });
      }));
      z.on('end', () => resolve(out));
      z.readEntry();
    });
  });
}

test('bases the page cannot build are refused when the server starts, by name', async () => {
  await assert.rejects(startUiServer({ port: 0, bases: new Map([['mp', 'test/fixtures/models/tiny-mpnet']]) }), /base mp \(test\/fixtures\/models\/tiny-mpnet\): the page builds BERT-family bases \(bert, roberta, xlm-roberta, distilbert, electra\), not model_type "mpnet"/);
  await assert.rejects(startUiServer({ port: 0, bases: new Map([['use-lite', TINY_BERT]]) }), /base name "use-lite": use letters, digits, _ and - \(and not use-lite, the embedded base\)/);
  const noWeights = tempDir('adapterkit-ui-bases-');
  for (const f of ['config.json', 'vocab.txt', 'pytorch_model.bin']) writeFileSync(join(noWeights, f), readFileSync(join(TINY_BERT, f)));
  await assert.rejects(startUiServer({ port: 0, bases: new Map([['legacy', noWeights]]) }), /base legacy \(.*\): the page reads safetensors weights only and the directory has none/);
  rmSync(noWeights, { recursive: true, force: true });
});

describe('a served BERT base in the ui page (headless Chromium)', { skip }, () => {
  let dir = '';
  let server: UiServer;
  let chromium: Browser;
  let page: Page;
  before(async () => {
    dir = tempDir('adapterkit-ui-bases-');
    server = await startUiServer({ port: 0, bases: new Map([['tiny-bert', TINY_BERT]]), build: { cacheDir: join(dir, 'cache') } });
    chromium = await launchChromium();
    page = await openPage(chromium, `${server.url}/?threads=1`);
    await waitFor(page, "document.body.dataset.ready === 'true' && document.getElementById('runtime').textContent.includes('thread')", 30_000, 'the page and its worker to start');
  });
  after(async () => {
    await chromium?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the picker offers it; a run on it trains in the tab; the downloaded task predicts in Node what the page predicted', { timeout: 120_000 }, async () => {
    const options = await page.evaluate<string[]>("[...document.getElementById('base').options].map((o) => o.value + ': ' + o.textContent)");
    assert.deepEqual(options.map((o) => o.split(':')[0]), ['use-lite', 'tiny-bert']);
    assert.match(options[1] as string, /tiny-bert — a bert base served by adapterkit ui \(model\.safetensors\)/);

    const csv = join(dir, 'cats.csv');
    const rows = Array.from({ length: 60 }, (_, i) => (i % 2 ? `"the cat sat on the mat ${i}",cat` : `"a good book at night ${i}",book`));
    writeFileSync(csv, `text,label\n${rows.join('\n')}\n`);
    await page.setInputFiles('#csv-file', [csv]);
    await waitFor(page, "document.getElementById('csv-info').textContent !== ''", 20_000, 'the CSV to load');
    const fields = { base: 'tiny-bert', 'adapter-size': '8', 'batch-size': '8', 'max-length': '16', 'max-steps': '4', 'eval-every': '2', lr: '0.005' };
    await page.evaluate(`${Object.entries(fields).map(([id, v]) => `document.getElementById(${JSON.stringify(id)}).value = ${JSON.stringify(v)};`).join('')} document.getElementById('train').click()`);
    await waitFor(page, "window.adapterkitUi.state.trained || document.getElementById('message').className === 'error'", 100_000, 'training to finish');
    const losses = await page.evaluate<[number, number][]>('window.adapterkitUi.state.losses');
    assert.deepEqual(losses.map(([s]) => s), [1, 2, 3, 4], await page.evaluate<string>("document.getElementById('message').textContent"));
    assert.ok(losses.every(([, l]) => Number.isFinite(l) && l > 0));

    const texts = ['the cat sat', 'a good book', 'the mat at night'];
    await page.evaluate(`document.getElementById('predict-text').value = ${JSON.stringify(texts.join('\n'))}; document.getElementById('classify').click()`);
    await waitFor(page, `document.querySelectorAll('#predictions tbody tr').length === ${texts.length}`, 20_000, 'the page\'s predictions');
    const inPage = await page.evaluate<{ label: string; probs: number[] }[]>('window.adapterkitUi.predictions()');
    await page.click('#download');
    await waitFor(page, "window.adapterkitUi.lastZipBase64() !== undefined || document.getElementById('message').className === 'error'", 30_000, 'the zip');
    const zip = Buffer.from(await page.evaluate<string>('window.adapterkitUi.lastZipBase64()'), 'base64');
    const entries = await readZip(zip);
    const out = join(dir, 'unzipped');
    for (const [name, data] of entries) {
      mkdirSync(dirname(join(out, name)), { recursive: true });
      writeFileSync(join(out, name), data);
    }
    const base = await loadBase(TINY_BERT);
    const task = await loadSavedTask(base, join(out, 'cats'));
    assert.equal((JSON.parse(readFileSync(join(out, 'cats', 'adapterkit.json'), 'utf8')) as { base: { fingerprint: string } }).base.fingerprint, baseFingerprint(base));
    const inNode = await predictTexts(task.model, texts, { maxLength: 16 });
    inNode.forEach((p, i) => {
      assert.equal(String(p.label), inPage[i]?.label);
      assert.equal(p.probs?.length, 2);
      (p.probs ?? []).forEach((x, k) => assert.ok(Math.abs(x - (inPage[i]?.probs[k] as number)) <= 1e-4, `text ${i}, class ${k}: ${x} vs ${inPage[i]?.probs[k]}`));
    });
    await task.model.dispose();

    // The zip opened again in the page for Predict goes on the same served base: the tab model's probabilities.
    const zipPath = join(dir, 'cats.zip');
    writeFileSync(zipPath, zip);
    await page.setInputFiles('#task-zip', [zipPath]);
    await waitFor(page, "document.getElementById('predict-model').value === 'cats' || document.getElementById('message').className === 'error'", 30_000, 'the saved task to open');
    assert.equal(await page.evaluate<string>("document.getElementById('predict-model').selectedOptions[0].textContent"), 'saved task cats (book, cat; on tiny-bert)');
    await page.evaluate("document.getElementById('predictions').innerHTML = ''; document.getElementById('classify').click()");
    await waitFor(page, `document.querySelectorAll('#predictions tbody tr').length === ${texts.length} || document.getElementById('message').className === 'error'`, 20_000, 'predictions of the opened task');
    const reopened = await page.evaluate<{ label: string; probs: number[] }[]>('window.adapterkitUi.predictions()');
    reopened.forEach((p, i) => p.probs.forEach((x, k) => assert.ok(Math.abs(x - (inPage[i]?.probs[k] as number)) <= 1e-6, `reopened, text ${i}, class ${k}: ${x} vs ${inPage[i]?.probs[k]}`)));
  });
});
