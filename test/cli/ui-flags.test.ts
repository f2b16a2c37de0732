/**
 * `adapterkit ui --base name=dir`: the flag reaches the server's base check (the page itself is
 * tested in test/browser/ui-bases.test.ts), and a malformed value is refused by its flag name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from './harness.js';

test('ui --base: a malformed value names the flag; a base the page cannot build is refused at start with the reason', async () => {
  const shape = await cli('ui', '--port', '0', '--base', 'tiny-bert');
  assert.notEqual(shape.code, 0);
  assert.match(shape.stderr, /--base must be name=dir with a name of letters, digits, _ and -, got "tiny-bert"/);
  const family = await cli('ui', '--port', '0', '--base', 'mp=test/fixtures/models/tiny-mpnet');
  assert.notEqual(family.code, 0);
  assert.match(family.stderr, /base mp \(.*tiny-mpnet\): the page builds BERT-family bases \(bert, roberta, xlm-roberta, distilbert, electra\), not model_type "mpnet"/);
  const help = await cli('ui', '--help');
  assert.match(help.stdout, /--base <name=dir>/);
});
