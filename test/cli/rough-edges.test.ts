/**
 * What a new user hit (issue 12): the epochs train reports, the advice for a run directory given
 * instead of its task directory, the default task name, the unknown-dataset message, the full
 * fine-tuning learning rate, `train --test`, and predict's raw JSON lines.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { demoMethods } from '../../src/cli/commands/demo.js';
import { defaultTaskName } from '../../src/cli/data-options.js';
import { DEFAULT_LR } from '../../src/train/trainer.js';
import { cli, tempDir, TINY_BERT, writeToyCsv, type CliRun } from './harness.js';

describe('new-user rough edges', () => {
  const dir = tempDir('ak-cli-edges-');
  const data = join(dir, 'data', 'imdb');
  const out = join(dir, 'run');
  const common = ['--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--adapter-size', '8', '--epochs', '2', '--batch-size', '16',
    '--max-length', '16', '--max-steps', '4'];
  let trained: CliRun;

  before(async () => {
    mkdirSync(data, { recursive: true });
    writeToyCsv(join(data, 'train.csv'), 96, 1);
    writeToyCsv(join(data, 'dev.csv'), 32, 2);
    writeToyCsv(join(data, 'test.csv'), 32, 3);
    trained = await cli('train', '--train', join(data, 'train.csv'), '--dev', join(data, 'dev.csv'), '--test', join(data, 'test.csv'), ...common, '--out', out, '--json');
  });

  test('train reports the same epochs in text and --json, counting from 1 (a max-steps stop inside epoch 1)', async () => {
    assert.equal(trained.code, 0, trained.stderr);
    const s = JSON.parse(trained.stdout);
    assert.equal(s.epochs, 1);
    assert.equal(s.epochsCompleted, 0);
    assert.equal(s.best.epoch, 1);
    const text = await cli('train', '--train', join(data, 'train.csv'), '--dev', join(data, 'dev.csv'), ...common, '--out', join(dir, 'run-text'));
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /best at\s+step 4 \(epoch 1\)/);
    assert.match(text.stdout, /epochs\s+1 \(0 completed; stopped: max-steps\)/);
  });

  test('train --test scores the best checkpoint on the test file, as eval --split test does', async () => {
    const s = JSON.parse(trained.stdout);
    assert.match(trained.stderr, /test:\s+32 examples, scored with the best checkpoint at the end/);
    assert.equal(typeof s.test.accuracy, 'number');
    const e = await cli('eval', join(out, 'best'), '--train', join(data, 'train.csv'), '--test', join(data, 'test.csv'), '--text', 'sentence', '--label', 'sentiment', '--split', 'test', '--json');
    assert.equal(e.code, 0, e.stderr);
    assert.deepEqual(s.test, JSON.parse(e.stdout).metrics);
    // an unlabeled test file is said, not scored
    writeFileSync(join(dir, 'unlabeled.csv'), 'sentence\nthe cat is good .\n');
    const u = await cli('train', '--train', join(data, 'train.csv'), '--test', join(dir, 'unlabeled.csv'), ...common, '--out', join(dir, 'run-u'), '--json');
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stderr, /unlabeled\.csv has no labels: not scored/);
    assert.equal(JSON.parse(u.stdout).test, null);
  });

  test('the task name of train.csv is its directory (said in the plan), not "train"', async () => {
    const manifest = JSON.parse(readFileSync(join(out, 'best', 'adapterkit.json'), 'utf8'));
    assert.equal(manifest.name, 'imdb');
    assert.match(trained.stderr, /task:\s+imdb \(from the directory name; --name to choose\)/);
    assert.deepEqual(defaultTaskName('reviews.csv', { label: 'stars', kind: 'classification' }), { name: 'reviews', from: 'file name' });
    assert.deepEqual(defaultTaskName('/x/sst2/dev-v2.0.tsv', { kind: 'classification' }), { name: 'sst2', from: 'directory name' });
    assert.deepEqual(defaultTaskName('/x/data/train.csv', { label: 'stars', kind: 'classification' }), { name: 'stars', from: 'label column' });
    assert.deepEqual(defaultTaskName(join(homedir(), 'train.csv'), { label: 'label', kind: 'qa' }), { name: 'qa', from: 'task kind' });
    const help = await cli('train', '--help');
    assert.match(help.stdout.replace(/\s+/g, ' '), /--name <task> task name stored with the adapter \(default: the dataset's name; for files, the training file's name, or when that names a split \(train\.csv\.\.\.\) its directory/);
  });

  test('eval, predict and serve given a run directory ask "did you mean <run>/best?"', async () => {
    for (const argv of [['eval', out], ['predict', out, '--input', join(data, 'dev.csv')], ['serve', '--adapter', `x=${out}`]]) {
      const r = await cli(...argv);
      assert.equal(r.code, 4, `${argv[0]}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`${out} is a training run directory, not a task directory: did you mean ${join(out, 'best')}?`), `${argv[0]}: ${r.stderr}`);
    }
  });

  test('predict refuses JSON lines read as plain text', async () => {
    const input = join(dir, 'in.txt');
    writeFileSync(input, 'the cat is good .\n{"text": "the dog is bad ."}\n');
    const r = await cli('predict', join(out, 'best'), '--input', input);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /in\.txt:2: this line is a JSON object but the input is read as plain text: give --format jsonl/);
    const ok = await cli('predict', join(out, 'best'), '--input', input, '--format', 'jsonl');
    assert.equal(ok.code, 4, 'the first line is not JSON');
    writeFileSync(input, '{"text": "the dog is bad .", "id": "a7"}\n');
    const j = await cli('predict', join(out, 'best'), '--input', input, '--format', 'jsonl');
    assert.equal(j.code, 0, j.stderr);
    assert.equal(JSON.parse(j.stdout).id, 'a7');
  });

  test('the unknown-dataset message lists every built-in dataset, brown-pos included', async () => {
    const r = await cli('train', '--dataset', 'nope');
    assert.equal(r.code, 4);
    assert.match(r.stderr, /no built-in dataset "nope"; available: spam, sotu, brown, brown-pos \(tagging\)/);
  });

  test('full fine-tuning\'s default learning rate is the same in --help, the README and the demo', async () => {
    const help = (await cli('train', '--help')).stdout.replace(/\s+/g, ' ');
    assert.match(help, new RegExp(`full ${DEFAULT_LR.full.toExponential()}`));
    assert.equal(demoMethods(64).find((m) => m.id === 'full')?.train?.lr, DEFAULT_LR.full);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const lr = /--mode full --lr (\S+)/.exec(readme)?.[1];
    assert.equal(Number(lr), DEFAULT_LR.full);
  });
});
