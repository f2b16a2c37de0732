/**
 * File data with a metric choice, eval with only a test file, predict on CSV/TSV columns, and the
 * library's predictTexts (issue 12, new-user rough edges). Metric values are checked against an
 * independent computation from predict's own probabilities: F1 of the chosen positive label by
 * counting, ROC AUC by comparing every positive/negative pair.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBase, loadSavedTask, predictTexts, loadTabularTask, type LoadedTask, type TaskSpec } from '../../src/index.js';
import { cli, tempDir, TINY_BERT, writeToyCsv, type CliRun } from './harness.js';

/** F1 of `positive` by counting, from label names. */
function f1Of(pred: readonly string[], gold: readonly string[], positive: string): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  pred.forEach((p, i) => {
    if (p === positive && gold[i] === positive) tp++;
    else if (p === positive) fp++;
    else if (gold[i] === positive) fn++;
  });
  return (2 * tp) / (2 * tp + fp + fn);
}

/** ROC AUC by pairs: the share of (positive, negative) pairs where the positive scores higher, ties a half. */
function aucByPairs(scores: readonly number[], gold: readonly string[], positive: string): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((s, i) => {
    if (gold[i] !== positive) return;
    scores.forEach((t, j) => {
      if (gold[j] === positive) return;
      pairs++;
      wins += s > t ? 1 : s === t ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

describe('metric choice, eval --test alone, predict columns, predictTexts', () => {
  const dir = tempDir('ak-cli-metrics-');
  const [train, dev, test_] = ['train.csv', 'dev.csv', 'test.csv'].map((f) => join(dir, 'reviews', f)) as [string, string, string];
  const out = join(dir, 'run');
  const best = join(out, 'best');
  const cols = ['--text', 'sentence', '--label', 'sentiment'];
  let trained: CliRun;
  let gold: string[];

  before(async () => {
    mkdirSync(join(dir, 'reviews'), { recursive: true });
    writeToyCsv(train, 96, 1);
    writeToyCsv(dev, 32, 2);
    writeToyCsv(test_, 40, 3);
    gold = readFileSync(test_, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').at(-1) as string);
    trained = await cli('train', '--train', train, '--dev', dev, '--test', test_, ...cols, '--base', TINY_BERT, '--adapter-size', '8',
      '--batch-size', '16', '--max-length', '16', '--epochs', '2', '--eval-every', '2', '--max-steps', '8',
      '--metrics', 'f1,accuracy', '--select-on', 'roc_auc', '--positive-label', 'neg', '--out', out, '--json');
  });

  test('train: the plan names the positive class and the selection metric; best/ is the best roc_auc', () => {
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(trained.stderr, /labels: neg, pos; positive class neg\)/);
    assert.match(trained.stderr, /dev:\s+dev \(32 examples; model selection on roc_auc\)/);
    const evals = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'eval');
    assert.equal(evals.length, 4);
    for (const e of evals) assert.deepEqual(Object.keys(e).filter((k) => ['roc_auc', 'f1', 'accuracy'].includes(k)), ['roc_auc', 'f1', 'accuracy']);
    const top = evals.reduce((a, e) => (e.roc_auc > a.roc_auc ? e : a)); // the first of the best: improvement is strict
    const manifest = JSON.parse(readFileSync(join(best, 'adapterkit.json'), 'utf8'));
    assert.equal(manifest.training.step, top.step);
    assert.equal(JSON.parse(trained.stdout).best.step, top.step);
  });

  test('train without --positive-label says which class is positive, and how to choose', async () => {
    const r = await cli('train', '--train', train, ...cols, '--base', TINY_BERT, '--adapter-size', '8', '--max-length', '16', '--epochs', '1', '--max-steps', '1',
      '--metrics', 'f1', '--out', join(dir, 'run-default'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /labels: neg, pos; positive class pos \(class 1 of the sorted labels; --positive-label to choose\)\)/);
  });

  test('eval --test alone (labels from the saved task) scores as train --test did, with the metrics chosen at training', async () => {
    const e = await cli('eval', best, '--test', test_, ...cols, '--json');
    assert.equal(e.code, 0, e.stderr);
    const r = JSON.parse(e.stdout);
    assert.equal(r.split, 'test', 'the only file is --test: its split is scored');
    assert.deepEqual(Object.keys(r.metrics), ['roc_auc', 'f1', 'accuracy']);
    assert.deepEqual(r.metrics, JSON.parse(trained.stdout).test);
    // independent values from predict's probabilities
    const p = await cli('predict', best, '--input', test_, '--text', 'sentence', '--all-scores');
    assert.equal(p.code, 0, p.stderr);
    const preds = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(preds.length, 40);
    close(r.metrics.f1, f1Of(preds.map((x) => x.label), gold, 'neg'), 'f1 of neg');
    close(r.metrics.roc_auc, aucByPairs(preds.map((x) => x.scores.neg), gold, 'neg'), 'roc_auc of neg');
    close(r.metrics.accuracy, preds.filter((x, i) => x.label === gold[i]).length / 40, 'accuracy');
    // the positive label changes f1 (the toy task is balanced, so f1 of pos differs from f1 of neg)
    const pos = JSON.parse((await cli('eval', best, '--test', test_, ...cols, '--positive-label', 'pos', '--metrics', 'f1,roc_auc', '--json')).stdout);
    close(pos.metrics.f1, f1Of(preds.map((x) => x.label), gold, 'pos'), 'f1 of pos');
    close(pos.metrics.roc_auc, aucByPairs(preds.map((x) => x.scores.pos), gold, 'pos'), 'roc_auc of pos');
  });

  test('eval --test alone needs its columns, and says so', async () => {
    const r = await cli('eval', best, '--test', test_, '--text', 'sentence');
    assert.equal(r.code, 2, 'BAD_CONFIG');
    assert.match(r.stderr, /--test needs --label <column> \(the column holding the label\)/);
    assert.doesNotMatch(r.stderr, /need\(s\) --train/);
    const bad = await cli('eval', best, '--test', test_, ...cols, '--positive-label', 'maybe');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /positive label "maybe" is not one of the labels of .*\(neg, pos\)/);
    const auc3 = await cli('eval', best, '--test', test_, ...cols, '--metrics', 'pearson');
    assert.match(auc3.stderr, /metric "pearson" does not apply to .* a classification task/);
    const unknown = await cli('eval', best, '--test', test_, ...cols, '--metrics', 'f1,auc');
    assert.match(unknown.stderr, /--metrics: "auc" is not a metric \(metrics: accuracy, f1, precision, recall, roc_auc,/);
  });

  test('predict reads CSV/TSV columns, as train does: names, ids, 0-based indexes', async () => {
    const lines = readFileSync(test_, 'utf8').trim().split('\n').slice(1);
    const texts = lines.map((l) => JSON.parse(l.slice(0, l.lastIndexOf(','))) as string);
    const plain = join(dir, 'texts.txt');
    writeFileSync(plain, `${texts.join('\n')}\n`);
    const base = (await cli('predict', best, '--input', plain)).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const csv = await cli('predict', best, '--input', test_, '--text', 'sentence');
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => r.label), base.map((r) => r.label));
    assert.deepEqual(rows.slice(0, 2).map((r) => r.id), ['2', '3'], 'a row\'s id is its line number');
    // an id column, an empty text, a header-less TSV by index
    const withIds = join(dir, 'ids.csv');
    writeFileSync(withIds, `key,review\nr1,"${texts[0]}"\nr2,\nr3,"${texts[2]}"\n`);
    const ids = (await cli('predict', best, '--input', withIds, '--text', 'review', '--id', 'key')).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(ids.map((r) => r.id), ['r1', 'r2', 'r3']);
    assert.deepEqual(ids[1], { id: 'r2', empty: true });
    assert.equal(ids[2].label, base[2].label);
    const tsv = join(dir, 'plain.tsv');
    writeFileSync(tsv, texts.slice(0, 3).map((t, i) => `${i}\t${t}`).join('\n'));
    const byIndex = (await cli('predict', best, '--input', tsv, '--text', '1', '--id', '0')).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(byIndex.map((r) => [r.id, r.label]), base.slice(0, 3).map((r, i) => [String(i), r.label]));
    // JSONL keys chosen the same way
    const jsonl = join(dir, 'in.jsonl');
    writeFileSync(jsonl, `${JSON.stringify({ body: texts[0], n: 7 })}\n`);
    const j = JSON.parse((await cli('predict', best, '--input', jsonl, '--text', 'body', '--id', 'n')).stdout);
    assert.deepEqual([j.id, j.label], ['7', base[0].label]);
  });

  test('predict: CSV without --text, --text with plain text, a missing column, all said', async () => {
    const noText = await cli('predict', best, '--input', test_);
    assert.equal(noText.code, 2);
    assert.match(noText.stderr, /CSV input needs --text <column> \(a header name, or a 0-based index for a header-less file\)/);
    const plain = join(dir, 'one.txt');
    writeFileSync(plain, 'the cat is good .\n');
    const textFlag = await cli('predict', best, '--input', plain, '--text', 'sentence');
    assert.match(textFlag.stderr, /--text name\(s\) columns of CSV, TSV or JSONL input; plain-text input has one text per line \(give --format csv, tsv or jsonl\)/);
    const missing = await cli('predict', best, '--input', test_, '--text', 'review');
    assert.equal(missing.code, 4, 'BAD_DATA');
    assert.match(missing.stderr, /test\.csv:1: no column "review" \(header: sentence, sentiment\)/);
    const pair = await cli('predict', best, '--input', test_, '--text', 'sentence', '--text-pair', 'sentiment');
    assert.match(pair.stderr, /--text-pair given but this task takes single texts/);
  });

  test('long texts: predict and eval --window-stride score strided windows instead of truncating', async () => {
    const long = Array.from({ length: 6 }, () => 'the cat sat on the mat').join(' ');
    const input = join(dir, 'long.txt');
    writeFileSync(input, `${long} good .\nthe cat is good .\n`);
    const p = await cli('predict', best, '--input', input, '--max-length', '12', '--window-stride', '4');
    assert.equal(p.code, 0, p.stderr);
    const [a, b] = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
    // 38 pieces, 10 per window after [CLS] and [SEP], a step of 6: starts 0, 6, ..., 30 -> 6 windows
    assert.deepEqual([a.windows, a.truncated, b.windows], [6, false, 1]);
    assert.doesNotMatch(p.stderr, /truncated/);
    const cut = await cli('predict', best, '--input', input, '--max-length', '12');
    assert.equal(JSON.parse(cut.stdout.split('\n')[0] as string).truncated, true);
    assert.match(cut.stderr, /note: 1 of 2 input\(s\) were truncated to 12 tokens/);
    const csv = join(dir, 'long.csv');
    writeFileSync(csv, `sentence,sentiment\n"${long} good .",pos\n"${long} bad .",neg\nthe cat is good .,pos\n`);
    const e = await cli('eval', best, '--test', csv, ...cols, '--max-length', '12', '--window-stride', '4', '--metrics', 'accuracy', '--json');
    assert.equal(e.code, 0, e.stderr);
    const r = JSON.parse(e.stdout);
    assert.equal(r.windowed, 2);
    const labels = (await cli('predict', best, '--input', csv, '--text', 'sentence', '--max-length', '12', '--window-stride', '4')).stdout.trim().split('\n').map((l) => JSON.parse(l).label);
    close(r.metrics.accuracy, labels.filter((l, i) => l === ['pos', 'neg', 'pos'][i]).length / 3, 'windowed accuracy');
    const tag = await cli('eval', best, '--dataset', 'brown-pos', '--window-stride', '4');
    assert.match(tag.stderr, /--window-stride is for sentence-level tasks/);
  });

  test('library: predictTexts gives label names, caps maxLength to the base, and the loaders are exported', async () => {
    const base = await loadBase(TINY_BERT);
    const task = await loadSavedTask(base, best);
    try {
      const texts = ['the cat is good .', 'the dog is bad .'];
      const ps = await predictTexts(task, texts);
      writeFileSync(join(dir, 'two.txt'), `${texts.join('\n')}\n`);
      const viaCli = (await cli('predict', best, '--input', join(dir, 'two.txt'))).stdout.trim().split('\n').map((l) => JSON.parse(l).label);
      assert.deepEqual(ps.map((p) => p.label), viaCli);
      for (const p of ps) {
        assert.ok(p.label === 'neg' || p.label === 'pos');
        assert.equal(p.label, task.model.head.labels[p.value as number]);
      }
      const long = `${'the cat is good . '.repeat(30)}`;
      const [capped] = await predictTexts(task, [long], { maxLength: 1000 });
      const [at40] = await predictTexts(task, [long], { maxLength: 40 });
      assert.equal(task.model.base.encoder.maxLength, 40);
      assert.deepEqual(capped, at40, 'maxLength 1000 is capped to the base\'s 40 tokens');
      assert.equal(capped?.truncated, true);
      await assert.rejects(predictTexts(task, [['a', 'b']]), /text 0: a pair was given but this task takes single texts/);
      // the loaders and their types are public
      const spec: TaskSpec = { files: { train }, columns: { text: 'sentence', label: 'sentiment' }, kind: 'classification', positiveLabel: 'neg', metrics: ['f1'] };
      const loaded: LoadedTask = await loadTabularTask(spec as Parameters<typeof loadTabularTask>[0]);
      assert.deepEqual([loaded.labels, loaded.positive, loaded.metrics], [['neg', 'pos'], 0, ['f1']]);
    } finally {
      await task.model.dispose();
    }
  });
});

