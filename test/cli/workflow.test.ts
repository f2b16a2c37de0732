/**
 * train -> eval -> predict end to end on the tiny BERT fixture and a toy CSV task: the run
 * directory, the printed plan and summary, eval agreeing with training, predict from a file,
 * from JSONL and from stdin agreeing with each other and with eval.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';
import { formatInt } from '../../src/cli/format.js';
import { cli, cliProcess, tempDir, TINY_BERT, writeToyCsv, type CliRun } from './harness.js';

describe('train, eval, predict', () => {
  const dir = tempDir('ak-cli-flow-');
  const trainCsv = join(dir, 'train.csv');
  const devCsv = join(dir, 'dev.csv');
  const out = join(dir, 'run');
  const trainArgs = ['train', '--train', trainCsv, '--dev', devCsv, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT,
    '--adapter-size', '8', '--epochs', '3', '--batch-size', '16', '--max-length', '16', '--lr', '1e-2', '--seed', '3', '--name', 'toy'];
  let trained: CliRun;

  before(async () => {
    writeToyCsv(trainCsv, 192, 1);
    writeToyCsv(devCsv, 64, 2);
    trained = await cli(...trainArgs, '--out', out);
  });

  test('train writes <out>/best with the task files and prints the plan, progress and summary', async () => {
    assert.equal(trained.code, 0, trained.stderr);
    const manifest = JSON.parse(readFileSync(join(out, 'best', 'adapterkit.json'), 'utf8'));
    assert.equal(manifest.name, 'toy');
    assert.deepEqual(manifest.head.labels, ['neg', 'pos']);
    assert.equal(manifest.maxLength, 16);
    assert.ok(existsSync(join(out, 'best', 'adapter.safetensors')));
    assert.ok(existsSync(join(out, 'run.json')));
    // The plan's trainable count is the model's own.
    const base = await loadBase(TINY_BERT);
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 8 }) }, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 3 });
    const stats = m.stats();
    await m.dispose();
    assert.match(trained.stderr, new RegExp(`trainable:\\s+${formatInt(stats.trainableParams)} parameters`));
    assert.match(trained.stderr, /per task:\s+\d/);
    assert.match(trained.stderr, /examples:\s+train 192, dev 64/);
    assert.match(trained.stderr, /mode:\s+bottleneck \(paper, m=8 \+ layer norms\)/);
    assert.match(trained.stderr, /step 36\/36 \(100%\)/, 'plain progress lines when stderr is not a TTY');
    assert.match(trained.stderr, /eval at step 36 \(epoch 3\): accuracy/);
    assert.match(trained.stdout, /dev accuracy\s+0\.\d{4}/);
    assert.match(trained.stdout, /steps\s+36/);
    assert.ok(trained.stdout.includes(join(out, 'best')), trained.stdout);
  });

  test('a second run into the same directory needs --resume', async () => {
    const r = await cli(...trainArgs, '--out', out);
    assert.equal(r.code, 2);
    // the library's message names its option (resume: true); the CLI puts its flag in its place
    assert.match(r.stderr, /already holds a checkpoint of an earlier run: continue it with --resume, or choose another output directory\n/);
    assert.doesNotMatch(r.stderr, /option resume: true/);
  });

  test('train --json prints the summary as JSON only', async () => {
    const r = await cli(...trainArgs, '--out', join(dir, 'run-json'), '--mode', 'head-only', '--adapter-size', '8', '--json');
    // --adapter-size does not apply to head-only
    assert.equal(r.code, 2);
    const args = trainArgs.filter((a, i) => a !== '--adapter-size' && trainArgs[i - 1] !== '--adapter-size');
    const ok = await cli(...args, '--out', join(dir, 'run-json'), '--mode', 'head-only', '--epochs', '1', '--json');
    assert.equal(ok.code, 0, ok.stderr);
    const s = JSON.parse(ok.stdout);
    assert.equal(s.steps, 12);
    assert.equal(s.mode, 'head-only');
    assert.equal(s.bestDir, join(dir, 'run-json', 'best'));
    assert.equal(s.trainableParams, 2 * 32 + 2);
    assert.equal(typeof s.best.metrics.accuracy, 'number');
  });

  test('eval reproduces the best dev metrics, from run.json or from explicit data options', async () => {
    const summary = trained.stdout;
    const acc = Number(/dev accuracy\s+(\S+)/.exec(summary)?.[1]);
    const r = await cli('eval', join(out, 'best'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.equal(e.split, 'dev');
    assert.equal(e.examples, 64);
    assert.equal(e.metrics.accuracy.toFixed(4), acc.toFixed(4));
    const best = JSON.parse(readFileSync(join(out, 'best', 'adapterkit.json'), 'utf8')).training.dev;
    assert.deepEqual(e.metrics, best);
    const t = await cli('eval', join(out, 'best'), '--train', trainCsv, '--test', devCsv, '--text', 'sentence', '--label', 'sentiment', '--split', 'test');
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, new RegExp(`accuracy\\s+${acc.toFixed(4).replace('.', '\\.')}`));
    assert.match(t.stdout, /split test: 64 labeled examples/);
    const bad = await cli('eval', join(out, 'best'), '--split', 'test');
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /has no split "test" \(splits: train, dev\)/);
  });

  test('predict from a text file: one JSON line per input, label names, scores, truncation', async () => {
    const input = join(dir, 'in.txt');
    const long = Array.from({ length: 30 }, () => 'good').join(' ');
    writeFileSync(input, `the cat is good .\n\nthe dog is bad .\n${long}\n`);
    const r = await cli('predict', join(out, 'best'), '--input', input, '--all-scores');
    assert.equal(r.code, 0, r.stderr);
    const all = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(all.map((p) => p.id), ['1', '2', '3', '4'], 'one line out per line in, the blank one included');
    assert.deepEqual(all[1], { id: '2', empty: true });
    const lines = all.filter((p) => !p.empty);
    for (const p of lines) {
      assert.ok(['neg', 'pos'].includes(p.label));
      assert.ok(p.score >= 0.5 && p.score <= 1);
      assert.ok(Math.abs(p.scores.neg + p.scores.pos - 1) < 1e-6);
      assert.equal(p.score, p.scores[p.label]);
    }
    assert.deepEqual(lines.map((p) => p.truncated), [false, false, true]);
    assert.match(r.stderr, /1 of 3 input\(s\) were truncated to 16 tokens/);
  });

  test('predict over the dev texts agrees with eval; JSONL input and --output; stdin gives the same lines', async () => {
    const rows = readFileSync(devCsv, 'utf8').trim().split('\n').slice(1).map((l) => {
      const m = /^"(.*)",(neg|pos)$/.exec(l) as RegExpExecArray;
      return { text: m[1] as string, label: m[2] as string };
    });
    const jsonl = join(dir, 'dev.jsonl');
    writeFileSync(jsonl, rows.map((r) => JSON.stringify({ text: r.text })).join('\n'));
    const outFile = join(dir, 'pred.jsonl');
    const r = await cli('predict', join(out, 'best'), '--input', jsonl, '--output', outFile);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const preds = readFileSync(outFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(preds.length, rows.length);
    const acc = preds.filter((p, i) => p.label === rows[i]?.label).length / rows.length;
    const e = JSON.parse((await cli('eval', join(out, 'best'), '--json')).stdout);
    assert.equal(acc, e.metrics.accuracy);
    const viaStdin = cliProcess(['predict', join(out, 'best')], rows.map((x) => x.text).join('\n') + '\n');
    assert.equal(viaStdin.code, 0, viaStdin.stderr);
    assert.deepEqual(viaStdin.stdout.trim().split('\n').map((l) => JSON.parse(l)), preds);
  });

  test('predict refuses empty input and malformed JSONL with clear errors', async () => {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '\n\n');
    const r = await cli('predict', join(out, 'best'), '--input', empty);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /\[BAD_DATA\]: no input: .*empty\.txt is empty/);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"text": "good"}\n{"txt": "bad"}\n');
    const b = await cli('predict', join(out, 'best'), '--input', bad);
    assert.equal(b.code, 4);
    assert.match(b.stderr, /bad\.jsonl:2: "text" must be a string/);
    const long = await cli('predict', join(out, 'best'), '--input', bad, '--max-length', '100');
    assert.equal(long.code, 2);
    assert.match(long.stderr, /--max-length 100 exceeds the base's limit of 40 tokens/);
  });

  test('train --train-pooler with adapters, then eval and predict load the task (the pooler is saved with it)', async () => {
    const pooled = join(dir, 'pooler');
    const r = await cli('train', '--train', trainCsv, '--dev', devCsv, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT,
      '--method', 'lora', '--lora-r', '2', '--train-pooler', '--epochs', '1', '--batch-size', '32', '--max-length', '16', '--name', 'toy', '--out', pooled);
    assert.equal(r.code, 0, r.stderr);
    const e = await cli('eval', join(pooled, 'best'), '--split', 'dev');
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /accuracy\s+0\.\d{4}/);
    const textFile = join(dir, 'pooler-texts.txt');
    writeFileSync(textFile, 'a good film\n');
    const p = await cli('predict', join(pooled, 'best'), '--input', textFile);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout.trim().split('\n').length, 1);
  });
});
