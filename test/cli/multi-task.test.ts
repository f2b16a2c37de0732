/**
 * `train --multi-task` (issue 14): two CSV tasks trained in one mixed-batch run on the tiny BERT,
 * each task's best checkpoint in <out>/<task>/best scored by `eval` as the run reported it; a CSV
 * task with the built-in tagging dataset brown-pos (a tagging head, token accuracy on dev) and with
 * a JSONL tagging task given as name=<dir>; the
 * mistakes (an unknown dataset, a task without dev data, --adapter-drop, --sampling alone, a bad
 * temperature) are exit-2 errors that say what is wrong.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir, TINY_BERT, writeToyCsv, type CliRun } from './harness.js';
import { toyTagged } from '../token-tasks/toy-tokens.js';

describe('train --multi-task', () => {
  const dir = tempDir('ak-cli-mt-');
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const out = join(dir, 'run');
  const common = ['--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--epochs', '2', '--batch-size', '16', '--max-length', '16', '--lr', '1e-2'];
  let run: CliRun;

  before(async () => {
    mkdirSync(a);
    mkdirSync(b);
    writeToyCsv(join(a, 'train.csv'), 96, 1);
    writeToyCsv(join(a, 'dev.csv'), 32, 2);
    writeToyCsv(join(b, 'train.csv'), 48, 3);
    writeToyCsv(join(b, 'dev.csv'), 32, 4);
    run = await cli('train', '--multi-task', `first=${a},second=${b}`, ...common, '--method', 'lora', '--sampling', 'temperature=2', '--out', out, '--json');
  });

  test('trains both tasks in one run; each best checkpoint is an ordinary task that eval scores as the run said', async () => {
    assert.equal(run.code, 0, run.stderr);
    const s = JSON.parse(run.stdout) as { steps: number; tasks: { name: string; bestDir: string; best: { metrics: { accuracy: number } } }[] };
    assert.equal(s.steps, 2 * Math.ceil(144 / 16));
    assert.deepEqual(s.tasks.map((t) => t.name), ['first', 'second']);
    assert.match(run.stderr, /sampling: +temperature 2/);
    assert.match(run.stderr, /batches: +length-bucketed \(like lengths together, within windows of 50 batches\)/);
    assert.equal((JSON.parse(run.stdout) as { lengthBucketing: boolean }).lengthBucketing, true);
    assert.match(run.stderr, /eval first at step 9: accuracy/);
    assert.match(run.stderr, /eval second at step 9: accuracy/);
    for (const t of s.tasks) {
      assert.ok(existsSync(join(out, t.name, 'best', 'adapterkit.json')));
      const e = await cli('eval', t.bestDir, '--base', TINY_BERT, '--json');
      assert.equal(e.code, 0, e.stderr);
      const scored = JSON.parse(e.stdout) as { metrics: { accuracy: number } };
      assert.ok(Math.abs(scored.metrics.accuracy - t.best.metrics.accuracy) < 1e-9, `${t.name}: eval ${scored.metrics.accuracy} vs run ${t.best.metrics.accuracy}`);
    }
  });

  test('a CSV classification task with brown-pos: a tagging head scored with token accuracy, which eval reproduces', async () => {
    const mixed = join(dir, 'mixed');
    const r = await cli('train', '--multi-task', `first=${a},brown-pos`, ...common, '--max-steps', '3', '--batch-size', '8', '--out', mixed, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /brown-pos \(tagging, 12 tags; train 45,063 sentences, dev 6,088, selection on token_accuracy\)/);
    assert.match(r.stderr, /eval brown-pos at step 3: token_accuracy/);
    const s = JSON.parse(r.stdout) as { tasks: { name: string; bestDir: string; best: { metrics: Record<string, number> } }[] };
    const pos = s.tasks.find((t) => t.name === 'brown-pos');
    assert.ok(pos?.best, 'brown-pos has a best checkpoint');
    assert.deepEqual(Object.keys(pos.best.metrics), ['token_accuracy']);
    const e = await cli('eval', pos.bestDir, '--base', TINY_BERT, '--json');
    assert.equal(e.code, 0, e.stderr);
    const scored = JSON.parse(e.stdout) as { data: string; metrics: { token_accuracy: number } };
    assert.equal(scored.data, 'built-in dataset brown-pos');
    assert.ok(Math.abs(scored.metrics.token_accuracy - (pos.best.metrics.token_accuracy as number)) < 1e-9, `eval ${scored.metrics.token_accuracy} vs run ${pos.best.metrics.token_accuracy}`);
  });

  test('a tagging task as name=<dir> with train.jsonl and dev.jsonl beside a CSV task', async () => {
    const tags = join(dir, 'tags');
    mkdirSync(tags);
    const jsonl = (n: number, seed: number) => `${toyTagged(n, seed).map((x) => JSON.stringify({ tokens: x.tokens, tags: x.tags })).join('\n')}\n`;
    writeFileSync(join(tags, 'train.jsonl'), jsonl(48, 5));
    writeFileSync(join(tags, 'dev.jsonl'), jsonl(16, 6));
    const mixed = join(dir, 'mixed-jsonl');
    const r = await cli('train', '--multi-task', `first=${a},toy=${tags}`, ...common, '--out', mixed, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /toy \(tagging, 3 tags; train 48 sentences, dev 16, selection on token_accuracy\)/);
    const s = JSON.parse(r.stdout) as { tasks: { name: string; bestDir: string; best: { metrics: Record<string, number> } }[] };
    const toy = s.tasks.find((t) => t.name === 'toy');
    assert.ok(toy?.best);
    const e = await cli('eval', toy.bestDir, '--base', TINY_BERT, '--json');
    assert.equal(e.code, 0, e.stderr);
    assert.ok(Math.abs((JSON.parse(e.stdout) as { metrics: { token_accuracy: number } }).metrics.token_accuracy - (toy.best.metrics.token_accuracy as number)) < 1e-9);
    const nodev = join(dir, 'tags-nodev');
    mkdirSync(nodev);
    writeFileSync(join(nodev, 'train.conll'), 'cat N\n\n');
    const bad = await cli('train', '--multi-task', `first=${a},nodev=${nodev}`, ...common, '--out', join(dir, 'bad'));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--multi-task nodev has no dev split \(.*dev\.conll does not exist\)/);
  });

  test('mistakes are exit-2 errors that name the task or flag', async () => {
    const cases: [string[], RegExp][] = [
      [['--multi-task', `first=${a},empty=${dir}`], /--multi-task empty=.*train\.csv does not exist \(a CSV classification task is a directory holding train\.csv and dev\.csv, a tagging task one holding train\.conll and dev\.conll, or train\.jsonl and dev\.jsonl\)/],
      [['--multi-task', `first=${a}`], /--multi-task needs at least two tasks/],
      [['--multi-task', `first=${a},second=${b}`, '--adapter-drop', '1'], /--adapter-drop does not apply with --multi-task: not in mixed-task runs yet/],
      [['--multi-task', `first=${a},second=${b}`, '--sampling', 'temperature=-1'], /sampling temperature must be a positive number/],
      [['--multi-task', `first=${a},second=${b}`, '--mode', 'full'], /--multi-task trains adapters \(--mode adapters\); the mode is full/],
      [['--dataset', 'spam', '--sampling', 'proportional'], /--sampling applies to --multi-task runs only/],
      [['--dataset', 'spam', '--no-length-bucketing'], /--no-length-bucketing applies to --multi-task runs only \(single-task runs always bucket by length\)/],
    ];
    for (const [args, re] of cases) {
      const r = await cli('train', ...args, ...common, '--out', join(dir, 'bad'));
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
    }
    const unknown = await cli('train', '--multi-task', `first=${a},nosuch`, ...common, '--out', join(dir, 'bad'));
    assert.equal(unknown.code, 4); // NOT_FOUND, as for train --dataset nosuch
    assert.match(unknown.stderr, /--multi-task nosuch: no built-in dataset "nosuch"; available: spam, sotu, brown, brown-pos/);
    const nodev = join(dir, 'nodev');
    mkdirSync(nodev);
    writeToyCsv(join(nodev, 'train.csv'), 16, 5);
    const r = await cli('train', '--multi-task', `first=${a},nodev=${nodev}`, ...common, '--out', join(dir, 'bad'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--multi-task nodev has no dev split .*each task of a mixed-task run is evaluated on its own dev split/);
  });
});
