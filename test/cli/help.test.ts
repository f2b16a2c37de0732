/** Every command's --help names its key options, with defaults, and shows examples. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
