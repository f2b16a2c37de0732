/**
 * Every encoder family exports for transformers.js: XLM-RoBERTa, ALBERT, DeBERTa-v2 and -v3,
 * ModernBERT and MPNet tasks give, in transformers.js's own pipelines (its tokenizer from the
 * copied tokenizer.json), adapterkit's scores to 1e-4; the graph has `token_type_ids` only where
 * the family reads them. Heads transformers.js has no class for on a family (ALBERT tagging,
 * ModernBERT QA) export all the same and run in plain onnxruntime-node.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { exportTask } from '../../src/export/index.js';
import { loadBase } from '../../src/models/base.js';
import { bareTwin, exportRoot, maxDiff, perturbedTask, rows, runOrt, softmax, transformersLocal } from './helpers.js';

const TEXTS = ['the cats sat.', 'hello, world!', 'is it on the mat?', 'a cat  ©© sat', 'The CAT sat on the mat'];
const MAX_LENGTH = 24;
const TOL = 1e-4;

/** fixture, family, config.json architectures[0] of a classification export, graph inputs. */
const FAMILIES = [
  ['tiny-xlmr', 'xlm-roberta', 'XLMRobertaForSequenceClassification', ['input_ids', 'attention_mask', 'token_type_ids']],
  ['tiny-albert', 'albert', 'AlbertForSequenceClassification', ['input_ids', 'attention_mask', 'token_type_ids']],
  ['tiny-deberta-v2', 'deberta-v2', 'DebertaV2ForSequenceClassification', ['input_ids', 'attention_mask', 'token_type_ids']],
  ['tiny-deberta-v3', 'deberta-v2', 'DebertaV2ForSequenceClassification', ['input_ids', 'attention_mask']], // type_vocab_size 0
  ['tiny-modernbert', 'modernbert', 'ModernBertForSequenceClassification', ['input_ids', 'attention_mask']],
  ['tiny-mpnet', 'mpnet', 'MPNetForSequenceClassification', ['input_ids', 'attention_mask']],
] as const;

let root: string;
let tf: Awaited<ReturnType<typeof transformersLocal>>;
before(async () => {
  root = exportRoot();
  tf = await transformersLocal(root);
});
after(() => rmSync(root, { recursive: true, force: true }));

for (const [fixture, family, arch, inputs] of FAMILIES) {
  test(`${fixture}: ${arch}, inputs ${inputs.join(', ')}; transformers.js tokenizes as adapterkit does and its pipeline gives adapterkit's scores`, async (t) => {
    const base = await loadBase(`test/fixtures/models/${fixture}`);
    const m = perturbedTask(base, methodConfig('houlsby', { reduction_factor: 8 }), { kind: 'classification', labels: ['x', 'y'] }, 91);
    const dir = join(root, fixture);
    const r = await exportTask(m, dir, { maxLength: MAX_LENGTH });
    assert.equal(r.architecture, arch);
    assert.deepEqual(r.inputs, inputs);
    assert.equal(r.runsWith, 'transformers.js');
    assert.equal(r.tokenizer, 'copied');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.model_type, family);
    assert.deepEqual(cfg.architectures, [arch]);
    assert.deepEqual(cfg.id2label, { 0: 'x', 1: 'y' });

    const theirs = await tf.AutoTokenizer.from_pretrained(fixture);
    for (const text of TEXTS) assert.deepEqual(theirs.encode(text), Array.from(base.tokenizer.encode([text], MAX_LENGTH).inputIds), `${fixture}: ${text}`);

    const batch = base.tokenizer.encode(TEXTS, MAX_LENGTH);
    const flat = await m.predict(batch);
    const twin = bareTwin(m);
    assert.ok(maxDiff(flat, await twin.predict(batch)) > 0.05, 'the adapter must move the logits');
    await twin.dispose();
    const want = rows(flat, 2).map(softmax);
    const p = await tf.pipeline('text-classification', fixture);
    const byLabel = (x: unknown) => {
      const s = Object.fromEntries((x as { label: string; score: number }[]).map((e) => [e.label, e.score]));
      return ['x', 'y'].map((l) => s[l] as number);
    };
    let worst = 0;
    for (const [i, text] of TEXTS.entries()) worst = Math.max(worst, maxDiff(byLabel(await p(text, { top_k: null })), want[i]!));
    const batched = (await p(TEXTS, { top_k: null })) as unknown[]; // padded to the longest text
    for (const [i, x] of batched.entries()) worst = Math.max(worst, maxDiff(byLabel(x), want[i]!));
    await p.dispose();
    const o = await runOrt(dir, batch, inputs.length === 3);
    assert.deepEqual(o.inputNames, inputs);
    const ortDiff = maxDiff(o.outputs.logits as Float32Array, flat);
    t.diagnostic(`${fixture}: transformers.js scores vs adapterkit max |diff| ${worst.toExponential(2)}; onnxruntime-node logits ${ortDiff.toExponential(2)}`);
    assert.ok(worst < TOL, `${fixture}: scores differ by ${worst}`);
    assert.ok(ortDiff < TOL, `${fixture}: onnxruntime logits differ by ${ortDiff}`);
    await m.dispose();
  });
}

for (const [fixture, arch] of [['tiny-deberta-v3', 'DebertaV2ForTokenClassification'], ['tiny-mpnet', 'MPNetForTokenClassification'], ['tiny-modernbert', 'ModernBertForTokenClassification']] as const) {
  test(`${fixture}: a tagging task (${arch}): transformers.js token-classification gives adapterkit's tag and score at every token`, async (t) => {
    const base = await loadBase(`test/fixtures/models/${fixture}`);
    const labels = ['O', 'B-THING', 'I-THING'];
    const m = perturbedTask(base, methodConfig('lora', { r: 2 }), { kind: 'tagging', labels, scheme: 'BIO' }, 93);
    const r = await exportTask(m, join(root, `${fixture}-tags`), { maxLength: MAX_LENGTH });
    assert.equal(r.architecture, arch);
    assert.equal(r.merged, true);
    const p = await tf.pipeline('token-classification', `${fixture}-tags`);
    let worst = 0;
    let checked = 0;
    for (const text of TEXTS) {
      const batch = base.tokenizer.encode([text], MAX_LENGTH);
      const logits = rows(await m.predict(batch), labels.length); // [seq, labels]
      const got = (await p(text, { ignore_labels: [] })) as { entity: string; score: number; index: number }[];
      assert.ok(got.length > 0, `${fixture}: ${text}: tokens tagged`);
      for (const g of got) {
        const probs = softmax(logits[g.index] as number[]);
        const k = probs.indexOf(Math.max(...probs));
        assert.equal(g.entity, labels[k], `${fixture}: ${text}, token ${g.index}`);
        worst = Math.max(worst, Math.abs(g.score - (probs[k] as number)));
        checked++;
      }
    }
    await p.dispose();
    t.diagnostic(`${fixture} tagging: ${checked} tokens, transformers.js scores vs adapterkit max |diff| ${worst.toExponential(2)}`);
    assert.ok(worst < TOL, `${fixture}: tagging scores differ by ${worst}`);
    await m.dispose();
  });
}

for (const [fixture, kind, arch] of [['tiny-albert', 'tagging', 'AlbertForTokenClassification'], ['tiny-modernbert', 'qa', 'ModernBertForQuestionAnswering']] as const) {
  test(`${fixture}: a ${kind} task exports (${arch}) although transformers.js has no class for it, and runs in onnxruntime-node`, async () => {
    const base = await loadBase(`test/fixtures/models/${fixture}`);
    const m = perturbedTask(base, methodConfig('houlsby', { reduction_factor: 8 }), kind === 'qa' ? { kind, labels: [] } : { kind, labels: ['O', 'B-X', 'I-X'], scheme: 'BIO' }, 94);
    const dir = join(root, `${fixture}-${kind}`);
    const r = await exportTask(m, dir, { maxLength: MAX_LENGTH });
    assert.equal(r.architecture, arch);
    assert.equal(r.runsWith, 'onnxruntime + tokenizer.json');
    assert.ok(r.notes.some((n) => n.includes(`transformers.js has no ${arch} class: run onnx/model.onnx with onnxruntime`)), r.notes.join('\n'));
    const batch = base.tokenizer.encode(kind === 'qa' ? [['what sat ?', 'the cat sat on the mat .']] : TEXTS, MAX_LENGTH);
    const logits = Array.from(await m.predict(batch));
    const o = await runOrt(dir, batch, base.encoder.usesTokenTypes);
    if (kind === 'qa') {
      assert.ok(maxDiff(o.outputs.start_logits as Float32Array, logits.filter((_, i) => i % 2 === 0)) < TOL);
      assert.ok(maxDiff(o.outputs.end_logits as Float32Array, logits.filter((_, i) => i % 2 === 1)) < TOL);
    } else {
      assert.ok(maxDiff(o.outputs.logits as Float32Array, logits) < TOL);
    }
    // Its tokenizer.json still loads in transformers.js and encodes as adapterkit does.
    const theirs = await tf.AutoTokenizer.from_pretrained(`${fixture}-${kind}`);
    assert.deepEqual(theirs.encode('the cat sat'), Array.from(base.tokenizer.encode(['the cat sat'], MAX_LENGTH).inputIds));
    await m.dispose();
  });
}

test('a DeBERTa-v3 base with spm.model only: export writes tokenizer.json from it, and transformers.js tokenizes and scores as adapterkit does', async () => {
  const dir = join(root, 'deberta-v3-spm');
  cpSync('test/fixtures/models/tiny-deberta-v3', dir, { recursive: true });
  rmSync(join(dir, 'tokenizer.json'));
  const base = await loadBase(dir);
  assert.match(String(base.tokenizer.summary().source), /spm\.model$/);
  const m = perturbedTask(base, methodConfig('houlsby', { reduction_factor: 8 }), { kind: 'classification', labels: ['x', 'y'] }, 95);
  const r = await exportTask(m, join(root, 'deberta-v3-spm-out'), { maxLength: MAX_LENGTH });
  assert.equal(r.tokenizer, 'written from spm.model');
  assert.ok(r.notes.some((n) => /tokenizer\.json written from .*spm\.model/.test(n)), r.notes.join('\n'));
  const theirs = await tf.AutoTokenizer.from_pretrained('deberta-v3-spm-out');
  for (const text of TEXTS) assert.deepEqual(theirs.encode(text), Array.from(base.tokenizer.encode([text], MAX_LENGTH).inputIds), text);
  const want = rows(await m.predict(base.tokenizer.encode(TEXTS, MAX_LENGTH)), 2).map(softmax);
  const p = await tf.pipeline('text-classification', 'deberta-v3-spm-out');
  const got = (await p(TEXTS, { top_k: null })) as { label: string; score: number }[][];
  await p.dispose();
  const worst = Math.max(...got.map((g, i) => maxDiff(['x', 'y'].map((l) => g.find((e) => e.label === l)?.score as number), want[i]!)));
  assert.ok(worst < TOL, `scores differ by ${worst}`);
  await m.dispose();
});
