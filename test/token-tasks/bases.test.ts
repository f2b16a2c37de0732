/**
 * Per-word tokenization of both kinds of base for token-level tasks: the tiny BERT's WordPiece
 * (CLS/SEP, punctuation split) and the embedded USE-lite's SentencePiece (no CLS/SEP in tagging
 * rows; QA windows framed by its <s> and </s> pieces); and the CLI's token-level data flags.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';
import { listTokenDatasets } from '../../src/train/data/builtin/index.js';
import { predictAnswers, predictTags, qaRows, splitWords, taggingRows, wordPieces } from '../../src/train/token-tasks/index.js';
import { tokenTaskSpecFromFlags } from '../../src/cli/data-options.js';

const tagHead = headConfig({ kind: 'tagging', labels: ['NOUN', 'VERB', 'X'] });

describe('bases for token-level tasks', () => {
  test('tiny BERT: piece ids of single words equal the ids of encoding the word; CLS/SEP/UNK ids', async () => {
    const base = await loadBase('test/fixtures/models/tiny-bert');
    const wp = wordPieces(base);
    assert.deepEqual([wp.clsId, wp.sepId, wp.unkId, wp.qaStartId, wp.qaSepId], [2, 3, 1, 2, 3]);
    assert.equal(wp.splitPunctuation, true);
    for (const w of ['cats', 'reading', 'xylophone', 'the']) {
      const b = base.tokenizer.encode([w], 16);
      assert.deepEqual([...wp.pieces(w)], Array.from(b.inputIds.subarray(1, (b.lengths[0] ?? 0) - 1)), w);
    }
  });

  test('USE-lite: tagging rows without specials, QA windows framed by <s> and </s>, predictions of the right shape', async () => {
    const base = await loadBase('use-lite');
    const wp = wordPieces(base);
    assert.equal(wp.clsId, undefined);
    assert.equal(wp.splitPunctuation, false);
    const model = TaskModel.create(base, { mode: { kind: 'head-only' }, head: tagHead, seed: 1 });
    const [row] = taggingRows(model, [{ tokens: ['The', 'jury', 'praised'], tags: ['X', 'NOUN', 'VERB'] }], 32);
    assert.deepEqual(Array.from(row!.ids), [...wp.pieces('The'), ...wp.pieces('jury'), ...wp.pieces('praised')]);
    assert.equal(row!.labels[0], 2);
    const [p] = await predictTags(model, [{ tokens: splitWords(model, 'The jury praised the city.').words }], { maxLength: 32 });
    assert.equal(p!.tags.length, 5);
    const qa = TaskModel.create(base, { mode: { kind: 'head-only' }, head: headConfig({ kind: 'qa', labels: [] }), seed: 1 });
    const ex = { question: 'Who praised it?', context: 'The jury praised the city.' };
    const [w] = qaRows(qa, [ex], 64);
    assert.equal(w!.ids[0], 1);
    assert.equal(w!.ids[w!.ids.length - 1], 2);
    const [a] = await predictAnswers(qa, [ex], { maxLength: 64 });
    assert.ok(a!.text === '' || ex.context.includes(a!.text));
    await model.dispose();
    await qa.dispose();
  });

  test('CLI data flags: built-in brown-pos, --task-kind tagging/qa files, conflicts refused', () => {
    assert.deepEqual(listTokenDatasets().map((d) => d.name), ['brown-pos']);
    assert.deepEqual(tokenTaskSpecFromFlags({ dataset: 'brown-pos' }), { tokenTask: 'tagging', builtin: 'brown-pos' });
    assert.equal(tokenTaskSpecFromFlags({ dataset: 'spam' }), undefined);
    assert.equal(tokenTaskSpecFromFlags({ train: 'a.csv', text: 't', label: 'l' }), undefined);
    const t = tokenTaskSpecFromFlags({ taskKind: 'tagging', train: 'ner.conll', format: 'conll' });
    assert.equal(t?.tokenTask, 'tagging');
    assert.equal((t as { format?: string }).format, 'conll');
    assert.equal(tokenTaskSpecFromFlags({ taskKind: 'qa', train: 'train-v2.0.json' })?.tokenTask, 'qa');
    assert.throws(() => tokenTaskSpecFromFlags({ dataset: 'brown-pos', train: 'x.txt' }), /choose one data source; got --dataset brown-pos and --train/);
    assert.throws(() => tokenTaskSpecFromFlags({ taskKind: 'qa', train: 'x.json', format: 'csv' }), /--format csv does not apply to --task-kind qa/);
    assert.throws(() => tokenTaskSpecFromFlags({ taskKind: 'tagging', train: 'x.txt', format: 'tsv' }), /--format tsv does not apply to --task-kind tagging/);
  });
});
