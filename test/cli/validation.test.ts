/** Bad flags and values fail with specific messages and exit code 2; unknown things with the library's errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli, TINY_BERT } from './harness.js';

const cases: [string, string[], RegExp][] = [
  ['--epochs 0', ['train', '--dataset', 'spam', '--epochs', '0'], /--epochs <n>' argument '0' is invalid\. must be an integer >= 1, got 0/],
  ['--epochs 1.5', ['train', '--dataset', 'spam', '--epochs', '1.5'], /--epochs <n>' argument '1\.5' is invalid\. expected an integer/],
  ['--mode nope', ['train', '--dataset', 'spam', '--mode', 'nope'], /--mode <mode>' argument 'nope' is invalid\. Allowed choices are adapters, top-k, layer-norm, head-only, full/],
  ['--method nope', ['train', '--dataset', 'spam', '--method', 'nope'], /--method <preset>' argument 'nope' is invalid\. Allowed choices are paper, houlsby, pfeiffer, parallel, compacter, compacter\+\+, lora, ia3, ia3-peft/],
  ['--lora-r with the paper method', ['train', '--dataset', 'spam', '--lora-r', '4'], /--lora-r does not apply to --method paper \(a bottleneck method\)/],
  ['--targets dense', ['train', '--dataset', 'spam', '--method', 'lora', '--targets', 'dense'], /unknown projection "dense" \(projections: query, key, value, attention_output, intermediate, output\)/],
  ['--adapter-config bad JSON', ['train', '--dataset', 'spam', '--adapter-config', '{"r": '], /--adapter-config: not valid JSON/],
  ['--adapter-config unknown architecture', ['train', '--dataset', 'spam', '--adapter-config', '{"architecture": "reft"}'], /config\.architecture "reft" \(ReFT\) is not implemented in adapterkit/],
  ['--adapter-size -3', ['train', '--dataset', 'spam', '--adapter-size', '-3'], /--adapter-size <m>' argument '-3' is invalid\. must be an integer >= 1, got -3/],
  ['--lr 0', ['train', '--dataset', 'spam', '--lr', '0'], /--lr <rate>' argument '0' is invalid\. must be > 0/],
  ['--warmup-ratio 2', ['train', '--dataset', 'spam', '--warmup-ratio', '2'], /--warmup-ratio <r>' argument '2' is invalid\. must be >= 0 and <= 1, got 2/],
  ['--leave-out a', ['train', '--dataset', 'spam', '--leave-out', '0,a'], /"a" is not a layer index/],
  ['--adapter-points', ['train', '--dataset', 'spam', '--adapter-points', 'mlp'], /unknown sub-layer "mlp" \(sub-layers: attention, ffn\)/],
  ['--head-layers 3', ['train', '--dataset', 'spam', '--head-layers', '3'], /--head-layers <n>' argument '3' is invalid\. must be an integer from 1 to 2/],
  ['missing data', ['train', '--base', TINY_BERT], /no data given: use --dataset <name>, or --glue <task> --data <dir>, or --train <file>/],
  ['two data sources', ['train', '--dataset', 'spam', '--glue', 'SST-2', '--data', 'x'], /choose one data source; got --dataset and --glue\/--data/],
  ['--glue without --data', ['train', '--glue', 'SST-2'], /--glue SST-2 needs --data <dir>/],
  ['--train without --label', ['train', '--train', 'a.csv', '--text', 'text'], /--train needs --label <column>/],
  ['size and factor', ['train', '--dataset', 'spam', '--adapter-size', '8', '--reduction-factor', '4'], /give either --adapter-size or --reduction-factor, not both/],
  ['adapter flag outside adapters', ['train', '--dataset', 'spam', '--mode', 'full', '--adapter-size', '8'], /--adapter-size only applies to --mode adapters \(the mode is full\)/],
  ['top-k without k', ['train', '--dataset', 'spam', '--mode', 'top-k'], /--mode top-k needs --top-k <k>/],
  ['bad task name', ['train', '--dataset', 'spam', '--name', 'a b'], /--name "a b" may only contain letters, digits, _ and -/],
  ['unknown option', ['train', '--dataset', 'spam', '--epoch', '3'], /unknown option '--epoch'/],
  ['unknown command', ['fly'], /unknown command 'fly'/],
  ['eval without task dir', ['eval'], /missing required argument 'task-dir'/],
];

for (const [name, argv, message] of cases) {
  test(`${name}: exit code 2 with a specific message`, async () => {
    const r = await cli(...argv);
    assert.equal(r.code, 2, `exit code for ${argv.join(' ')}; stderr:\n${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  });
}

test('an unknown dataset fails with NOT_FOUND listing the built-in ones', async () => {
  const r = await cli('train', '--dataset', 'nope', '--base', TINY_BERT);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /\[NOT_FOUND\]: no built-in dataset "nope"; available: spam, sotu, brown/);
});

test('a missing training file fails naming the file', async () => {
  const r = await cli('train', '--train', '/nonexistent/train.csv', '--text', 't', '--label', 'l', '--base', TINY_BERT);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /\/nonexistent\/train\.csv/);
});

test('eval and predict on a missing task directory fail with NOT_FOUND', async () => {
  for (const cmd of ['eval', 'predict']) {
    const r = await cli(cmd, '/nonexistent/task', '--dataset', 'spam');
    assert.ok(r.code === 4 || r.code === 2, r.stderr);
    assert.match(r.stderr, cmd === 'eval' ? /task directory \/nonexistent\/task does not exist/ : /unknown option '--dataset'/);
  }
  const r = await cli('predict', '/nonexistent/task');
  assert.equal(r.code, 4);
  assert.match(r.stderr, /task directory \/nonexistent\/task does not exist/);
});
