/**
 * An XLM-RoBERTa task exports for transformers.js (XLMRobertaForSequenceClassification, its
 * SentencePiece tokenizer.json copied): transformers.js's own tokenizer and pipeline give
 * adapterkit's ids and scores. ALBERT has no export yet and says so.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { exportTask } from '../../src/export/index.js';
import { loadBase } from '../../src/models/base.js';
import { exportRoot, maxDiff, perturbedTask, rows, softmax, transformersLocal } from './helpers.js';

const TEXTS = ['the cats sat.', 'hello, world!', 'is it on the mat?', 'a cat  ©© sat'];  // the last: one <unk> for the run of unknown characters
const MAX_LENGTH = 24;

let root: string;
let tf: Awaited<ReturnType<typeof transformersLocal>>;
before(async () => {
  root = exportRoot();
  tf = await transformersLocal(root);
});
after(() => rmSync(root, { recursive: true, force: true }));

test('xlm-roberta: transformers.js tokenizes as adapterkit does and its pipeline gives adapterkit\'s scores', async () => {
  const base = await loadBase('test/fixtures/models/tiny-xlmr');
  const m = perturbedTask(base, methodConfig('houlsby', { reduction_factor: 8 }), { kind: 'classification', labels: ['x', 'y'] }, 91);
  const r = await exportTask(m, join(root, 'xlmr'), { maxLength: MAX_LENGTH });
  assert.equal(r.architecture, 'XLMRobertaForSequenceClassification');
  const tok = JSON.parse(readFileSync(join(root, 'xlmr', 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(tok.tokenizer_class, 'XLMRobertaTokenizer');
  const theirs = await tf.AutoTokenizer.from_pretrained('xlmr');
  for (const t of TEXTS) {
    const ours = base.tokenizer.encode([t], MAX_LENGTH);
    assert.deepEqual(theirs.encode(t), Array.from(ours.inputIds), t);
  }
  const batch = base.tokenizer.encode(TEXTS, MAX_LENGTH);
  const want = rows(await m.predict(batch), 2).map(softmax);
  const p = await tf.pipeline('text-classification', 'xlmr');
  let worst = 0;
  for (const [i, t] of TEXTS.entries()) {
    const got = Object.fromEntries(((await p(t, { top_k: null })) as { label: string; score: number }[]).map((x) => [x.label, x.score]));
    worst = Math.max(worst, maxDiff(['x', 'y'].map((l) => got[l] as number), want[i]!));
  }
  await p.dispose();
  assert.ok(worst < 1e-4, `scores differ by ${worst}`);
  await m.dispose();
});

test('albert: export is refused, naming the families it knows', async () => {
  const base = await loadBase('test/fixtures/models/tiny-albert');
  const m = perturbedTask(base, undefined, { kind: 'classification', labels: ['x', 'y'] }, 92);
  await assert.rejects(exportTask(m, join(root, 'albert'), { maxLength: MAX_LENGTH }), /cannot export a albert encoder: export knows the bert, roberta, xlm-roberta, distilbert, electra families/);
  await m.dispose();
});
