/**
 * Library errors name the library's options; the CLI words them as its flags (details.options).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flagOf, inCliTerms } from '../../src/cli/library-terms.js';
import { AdapterkitError } from '../../src/errors.js';

test('an option becomes its kebab-case flag, or the flag the CLI names it by', () => {
  assert.equal(flagOf('resume'), '--resume');
  assert.equal(flagOf('clipNorm'), '--clip-norm');
  assert.equal(flagOf('maxSteps'), '--max-steps');
  assert.equal(flagOf('outDir'), '--out');
});

test('the words an error lists for an option are replaced by its flag; other errors are unchanged', () => {
  const e = new AdapterkitError('BAD_CONFIG', 'runs/x already holds a checkpoint: continue it with the option resume: true, or choose another output directory', {
    options: { resume: 'the option resume: true' },
  });
  assert.equal(inCliTerms(e), 'runs/x already holds a checkpoint: continue it with --resume, or choose another output directory');
  assert.equal(e.message, 'runs/x already holds a checkpoint: continue it with the option resume: true, or choose another output directory');
  const plain = new AdapterkitError('BAD_CONFIG', 'the option resume: true is mentioned without details');
  assert.equal(inCliTerms(plain), plain.message);
  const odd = new AdapterkitError('BAD_CONFIG', 'x', { options: 'resume' });
  assert.equal(inCliTerms(odd), 'x');
});
