/**
 * Token-level heads end to end on the tiny BERT fixture: a tagging head and a QA head learn the
 * toy tasks beyond trivial baselines, save to AdapterHub-named files and reload to the same
 * predictions; every training mode trains both heads; labels sit on first sub-words only.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { readSafetensors } from '../../src/models/weights/index.js';
import { squadScores } from '../../src/train/metrics/squad.js';
import { taggingMetrics } from '../../src/train/metrics/seqeval.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { trainOn } from '../../src/train/trainer.js';
import type { TrainingMode } from '../../src/train/modes.js';
import {
  evaluateQa, evaluateTagging, predictAnswers, predictTags, qaRows, qaTrainingData, taggingRows, taggingTrainingData,
} from '../../src/train/token-tasks/index.js';
import { IGNORE_LABEL } from '../../src/train/tokens/align.js';
import { toyQa, toyTagged } from './toy-tokens.js';
import { tempDir } from '../temp-dir.js';

const TINY = 'test/fixtures/models/tiny-bert';
const adapters: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8 }) };
const tmp = () => tempDir('adapterkit-token-');
const tagHead = headConfig({ kind: 'tagging', labels: ['O', 'A', 'N'], scheme: 'plain' });
const qaHead = headConfig({ kind: 'qa', labels: [] });

describe('token-level heads on tiny-bert', async () => {
  const base: BaseModel = await loadBase(TINY);

  test('tagging rows: the label sits on the first piece of each word, -100 on other pieces and specials', () => {
    const model = TaskModel.create(base, { mode: adapters, head: tagHead, seed: 1 });
    const [row] = taggingRows(model, [{ tokens: ['the', 'cats', 'sat'], tags: ['O', 'N', 'O'] }], 16);
    assert.deepEqual(Array.from(row!.ids), [2, 11, 26, 77, 28, 3]); // [CLS] the cat ##s sat [SEP]
    assert.deepEqual(row!.labels, [IGNORE_LABEL, 0, 2, IGNORE_LABEL, 0, IGNORE_LABEL]);
    assert.throws(() => taggingRows(model, [{ id: 's1', tokens: ['the'], tags: ['VERB'] }], 16), /sentence s1, word 0 \("the"\): tag "VERB" is not one of the task's tags/);
  });

  test('tagging: beats the majority tag on dev; saved with AdapterHub head names; reloads to the same predictions', async () => {
    const train = toyTagged(240, 1);
    const dev = toyTagged(80, 2);
    const model = TaskModel.create(base, { mode: adapters, head: tagHead, seed: 1 });
    const out = tmp();
    const r = await trainOn(model, taggingTrainingData(model, train, dev, { maxLength: 32 }), {
      outDir: out, taskName: 'toytag', epochs: 5, batchSize: 16, maxLength: 32, lr: 1e-2, seed: 3,
    });
    const majority = taggingMetrics(['token_accuracy'], dev.map((s) => s.tags), dev.map((s) => s.tags.map(() => 'O'))).token_accuracy!;
    const acc = r.best?.metrics.token_accuracy as unknown as number;
    assert.ok(acc > majority + 0.15, `dev token accuracy ${acc} vs majority ${majority}`);

    const hc = JSON.parse(readFileSync(join(r.bestDir, 'head_config.json'), 'utf8'));
    assert.equal(hc.config.head_type, 'tagging');
    assert.deepEqual(hc.config.label2id, { O: 0, A: 1, N: 2 });
    const head = await readSafetensors(join(r.bestDir, 'model_head.safetensors'));
    assert.deepEqual([...head.keys()].sort(), ['heads.toytag.1.bias', 'heads.toytag.1.weight']);
    assert.deepEqual(head.get('heads.toytag.1.weight')?.shape, [3, 32]);

    const saved = await loadSavedTask(base, r.bestDir);
    assert.equal(saved.model.head.kind, 'tagging');
    assert.equal(saved.model.head.scheme, 'plain');
    const again = await evaluateTagging(saved.model, dev, { maxLength: 32 });
    assert.equal(again.token_accuracy, acc);
    const a = await predictTags(saved.model, dev.slice(0, 5), { maxLength: 32 });
    await model.setWeights(saved.model.owned);
    const b = await predictTags(model, dev.slice(0, 5), { maxLength: 32 });
    assert.deepEqual(a.map((p) => p.tags), b.map((p) => p.tags));
    assert.equal(a[0]?.tags.length, dev[0]?.tokens.length);
    // Words that do not fit are filled with 'O' and reported.
    const [cut] = await predictTags(saved.model, [{ tokens: Array.from({ length: 12 }, () => 'cats') }], { maxLength: 8 });
    assert.equal(cut?.truncated, true);
    assert.equal(cut?.droppedWords, 9);
    assert.deepEqual(cut?.tags.slice(3), new Array(9).fill('O'));
    await saved.model.dispose();
    await model.dispose();
  });

  test('QA: beats "first context word" on dev; saved as a question_answering head; reloads to the same answers', async () => {
    const train = toyQa(240, 1);
    const dev = toyQa(60, 2);
    const model = TaskModel.create(base, { mode: adapters, head: qaHead, seed: 1 });
    const out = tmp();
    const r = await trainOn(model, qaTrainingData(model, train, dev, { maxLength: 32 }), {
      outDir: out, taskName: 'toyqa', epochs: 6, batchSize: 16, maxLength: 32, lr: 1e-2, seed: 3,
    });
    const baseline = squadScores(dev, new Map(dev.map((e) => [e.id, e.context.split(' ')[0] as string])));
    const f1 = r.best?.metrics.f1 as number;
    assert.ok(f1 > baseline.f1 + 0.3, `dev F1 ${f1} vs first-word baseline ${baseline.f1}`);

    const hc = JSON.parse(readFileSync(join(r.bestDir, 'head_config.json'), 'utf8'));
    assert.equal(hc.config.head_type, 'question_answering');
    assert.equal(hc.config.num_labels, 2);
    const head = await readSafetensors(join(r.bestDir, 'model_head.safetensors'));
    assert.deepEqual(head.get('heads.toyqa.1.weight')?.shape, [2, 32]);

    const saved = await loadSavedTask(base, r.bestDir);
    const again = await evaluateQa(saved.model, dev, { maxLength: 32 });
    assert.equal(again.f1, f1);
    const answers = await predictAnswers(saved.model, dev.slice(0, 8), { maxLength: 32 });
    for (const [i, a] of answers.entries()) {
      const e = dev[i]!;
      if (a.start !== undefined) assert.equal(e.context.slice(a.start, a.end), a.text);
    }
    // A context longer than one window is split with overlap and still answered.
    const long = { id: 'long', question: 'what is the red blue green word', context: `${'the house and the tree '.repeat(8)}red`, answers: [] };
    const rows = qaRows(saved.model, [long], 32);
    assert.ok(rows.length > 1, `${rows.length} windows`);
    const [ans] = await predictAnswers(saved.model, [long], { maxLength: 32 });
    assert.equal(ans?.windows, rows.length);
    await saved.model.dispose();
    await model.dispose();
  });

  for (const mode of [
    { kind: 'full' }, { kind: 'top-k', k: 1 }, { kind: 'layer-norm' }, { kind: 'head-only' },
  ] as TrainingMode[]) {
    test(`mode ${mode.kind}: both heads train a few steps, save and reload to the same predictions`, async () => {
      for (const head of [tagHead, qaHead]) {
        const model = TaskModel.create(base, { mode, head, seed: 2 });
        const data = head.kind === 'tagging'
          ? taggingTrainingData(model, toyTagged(32, 5), undefined, { maxLength: 24 })
          : qaTrainingData(model, toyQa(32, 5), undefined, { maxLength: 32 });
        const r = await trainOn(model, data, { outDir: tmp(), taskName: 'm', epochs: 1, batchSize: 16, maxLength: 32, lr: 1e-3 });
        assert.ok(Number.isFinite(r.lastLoss) && r.steps === 2);
        const dir = join(tmp(), 'task');
        await saveTask(model, dir, { name: 'm', maxLength: 32 });
        const saved = await loadSavedTask(base, dir);
        if (head.kind === 'tagging') {
          const s = toyTagged(4, 9);
          assert.deepEqual(await predictTags(saved.model, s, { maxLength: 24 }), await predictTags(model, s, { maxLength: 24 }));
        } else {
          const q = toyQa(4, 9);
          const [x, y] = [await predictAnswers(saved.model, q, { maxLength: 32 }), await predictAnswers(model, q, { maxLength: 32 })];
          assert.deepEqual(x.map((a) => [a.text, a.score]), y.map((a) => [a.text, a.score]));
        }
        await saved.model.dispose();
        await model.dispose();
      }
    });
  }

  test('the mixed-task model takes a tagging head and refuses a QA head with a clear error', () => {
    const multi = new MultiTaskModel(base);
    multi.add('pos', TaskModel.create(base, { mode: adapters, head: tagHead, seed: 1 }));
    assert.deepEqual(multi.names, ['pos']);
    const qa = TaskModel.create(base, { mode: adapters, head: qaHead, seed: 1 });
    assert.throws(() => multi.add('squad', qa), /task squad has a qa head; mixed-task batches serve classification, regression, multilabel, tagging heads \(a QA head's outputs are answer spans/);
  });

  test('bad head configs are refused', () => {
    assert.throws(() => headConfig({ kind: 'qa', labels: ['a'] }), /a qa head has no label names/);
    assert.throws(() => headConfig({ kind: 'qa', labels: [], qa: { stride: -1 } as never }), /qa.stride must be an integer >= 0/);
    assert.throws(() => headConfig({ kind: 'tagging', labels: ['O'] }), /a tagging head needs at least 2 labels/);
  });
});
