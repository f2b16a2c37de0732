/**
 * Every command's --help names its key options, with defaults, and shows examples; the help texts
 * that list the built-in datasets list exactly the registry's, tagging datasets marked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listBuiltinDatasets, listTokenDatasets } from '../../src/train/data/builtin/index.js';
import { cli } from './harness.js';

const KEY_OPTIONS: Record<string, string[]> = {
  train: [
    '--dataset', '--glue', '--data', '--train', '--dev', '--text', '--text-pair', '--label', '--task-kind', '--skip-bad-rows',
    '--base', '--mode', '--adapter-size', '--reduction-factor', '--adapter-activation', '--leave-out', '--adapter-points',
    '--no-train-layer-norms', '--top-k', '--epochs', '--batch-size', '--max-length', '--lr', '--eval-every', '--patience',
    '--out', '--resume', '--json', '--metrics <list>', '--select-on <metric>', '--positive-label <label>', '(default: 3)', '(default: 32)', 'paper preset: 64', '--method', '--adapter-config', '--lora-r', '--targets', 'Examples:',
    '--multi-task <tasks>', '--sampling <how>', 'temperature=<T>',
  ],
  eval: ['<task-dir>', '--split', '--base', '--dataset', '--glue', '--train', '--json', '(default: dev;', '--metrics', '--select-on', '--positive-label', 'Examples:'],
  predict: ['<task-dir...>', 'in one pass', '--input', '--output', '--format', '--batch-size', '(default: 32)', 'text_pair', 'stdin', '--text <column>', '--text-pair <column>', '--id <column>', 'Examples:'],
  datasets: ['--json', 'Examples:'],
  info: ['<model|task-dir>', '--base', '--revision', '--json', 'use-lite', 'Examples:'],
  merge: ['<task-dirs...>', '--out', '--method', '"linear", "ties", "dare"', '--weights', '--density', '--rank', '--heads', 'Examples:'],
};

for (const [name, needles] of Object.entries(KEY_OPTIONS)) {
  test(`${name} --help mentions its key options`, async () => {
    const r = await cli(name, '--help');
    assert.equal(r.code, 0);
    for (const n of needles) assert.ok(r.stdout.includes(n), `${name} --help lacks ${n}:\n${r.stdout}`);
  });
}

test('the top-level help lists every command', async () => {
  const r = await cli('--help');
  assert.equal(r.code, 0);
  for (const c of Object.keys(KEY_OPTIONS)) assert.match(r.stdout, new RegExp(`^\\s+${c}\\b`, 'm'));
});

/**
 * The datasets listed in the first `built-in dataset(s) (…)` after `from` in a help text (whitespace
 * collapsed): `a, b; c with a tagging head; see …` gives sentence-level [a, b] and { tagging: [c] }.
 */
function listedDatasets(help: string, from: string): { sentence: string[]; byHead: Record<string, string[]> } {
  const text = help.replace(/\s+/g, ' ');
  const at = text.indexOf(from);
  assert.ok(at >= 0, `no ${from} in:\n${help}`);
  const list = /built-in datasets? \(([^)]*)\)/.exec(text.slice(at))?.[1];
  assert.ok(list !== undefined, `no built-in dataset list after ${from}: ${text.slice(at, at + 300)}`);
  const [first = '', ...rest] = list.split('; ');
  const byHead: Record<string, string[]> = {};
  for (const part of rest) {
    const m = /^(.+) with a (\w+) head$/.exec(part);
    if (m) byHead[m[2] as string] = (m[1] as string).split(', ');
  }
  return { sentence: first.split(', '), byHead };
}

const sentenceNames = listBuiltinDatasets().map((d) => d.name);
const tokenByKind: Record<string, string[]> = {};
for (const d of listTokenDatasets()) (tokenByKind[d.kind] ??= []).push(d.name);

test('the dataset registry has sentence-level and tagging datasets to list (else the checks below prove nothing)', () => {
  assert.ok(sentenceNames.length >= 2, sentenceNames.join(', '));
  assert.ok((tokenByKind.tagging ?? []).length >= 1, JSON.stringify(tokenByKind));
});

test('train --help: --multi-task and --dataset list every built-in dataset, the tagging ones marked with their head', async () => {
  const r = await cli('train', '--help');
  assert.equal(r.code, 0);
  for (const option of ['--multi-task <tasks>', '--dataset <name>']) {
    const listed = listedDatasets(r.stdout, option);
    assert.deepEqual(listed.sentence, sentenceNames, option);
    assert.deepEqual(listed.byHead, tokenByKind, option);
  }
});

test('demo --help and ui --help list the sentence-level built-in datasets they train on, and only those', async () => {
  for (const [command, from] of [['demo', '--dataset <name>'], ['ui', 'Train ']] as const) {
    const r = await cli(command, '--help');
    assert.equal(r.code, 0);
    const listed = listedDatasets(r.stdout, from);
    assert.deepEqual(listed.sentence, sentenceNames, command);
    assert.deepEqual(listed.byHead, {}, command);
  }
});

test('train --multi-task refuses --task-kind naming the built-in tagging datasets it takes instead', async () => {
  const r = await cli('train', '--multi-task', 'spam,sotu', '--task-kind', 'tagging');
  assert.notEqual(r.code, 0);
  const names = /--task-kind does not apply with --multi-task: mixed-task runs train classification tasks and built-in tagging tasks \(([^)]*)\)/.exec(r.stderr)?.[1];
  assert.deepEqual(names?.split(', '), tokenByKind.tagging, r.stderr);
});
