/** The CLI's small building blocks: argument parsers, mode flags, tables, predict I/O, label alignment. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headConfig } from '../../src/heads/head.js';
import { intArg, intListArg, modeFromFlags, numberArg, pointsArg, rolesArg, sanitizeTaskName } from '../../src/cli/options.js';
import { formatBytes, formatDuration, formatPercent, table } from '../../src/cli/format.js';
import { parseInputs, predictionJson } from '../../src/cli/commands/predict.js';
import { alignLabels } from '../../src/cli/commands/eval.js';
import { taskSpecFromFlags } from '../../src/cli/data-options.js';

test('number parsers check ranges and name the problem', () => {
  assert.equal(intArg(1)('12'), 12);
  assert.throws(() => intArg(1)('0'), /must be an integer >= 1, got 0/);
  assert.throws(() => intArg(1, 2)('3'), /must be an integer from 1 to 2, got 3/);
  assert.throws(() => intArg(1)('abc'), /expected an integer, got "abc"/);
  assert.equal(numberArg(0, 1)('0.5'), 0.5);
  assert.throws(() => numberArg(0, 1, { exclusiveMax: true })('1'), /must be >= 0 and < 1, got 1/);
  assert.throws(() => numberArg(0)(''), /expected a number/);
  assert.deepEqual(intListArg('0, 2'), [0, 2]);
  assert.throws(() => intListArg('-1'), /"-1" is not a layer index/);
  assert.deepEqual(pointsArg('ffn_output'), ['ffn']);
  assert.deepEqual(pointsArg('attention,ffn'), ['attention', 'ffn']);
  assert.throws(() => pointsArg('mlp'), /unknown sub-layer "mlp"/);
  assert.deepEqual(rolesArg('q,value,intermediate'), ['query', 'value', 'intermediate']);
  assert.throws(() => rolesArg('dense'), /unknown projection "dense"/);
});

test('durations round before they split into minutes and seconds (never "7m 60s")', () => {
  assert.deepEqual([12.34, 59.96, 60, 479.6, 3599.6, 3600, 7260].map(formatDuration), ['12.3s', '1m 00s', '1m 00s', '8m 00s', '1h 00m', '1h 00m', '2h 01m']);
});

test('mode flags become a training mode', () => {
  const a = modeFromFlags({ mode: 'adapters', reductionFactor: 4, leaveOut: [0], trainLayerNorms: false, adapterActivation: 'relu' });
  assert.ok(a.kind === 'adapters' && a.adapter.method === 'bottleneck');
  assert.equal(a.adapter.size, undefined);
  assert.equal(a.adapter.reduction_factor, 4);
  assert.deepEqual(a.adapter.leave_out, [0]);
  assert.equal(a.adapter.trainLayerNorms, false);
  assert.equal(a.adapter.non_linearity, 'relu');
  const d = modeFromFlags({ mode: 'adapters' });
  assert.ok(d.kind === 'adapters' && d.adapter.method === 'bottleneck' && d.adapter.size === 64 && d.adapter.trainLayerNorms && d.adapter.preset === 'paper');
  const h = modeFromFlags({ mode: 'adapters', method: 'pfeiffer', adapterSize: 16 });
  assert.ok(h.kind === 'adapters' && h.adapter.method === 'bottleneck' && h.adapter.original_ln_before && h.adapter.size === 16 && h.adapter.reduction_factor === undefined);
  const l = modeFromFlags({ mode: 'adapters', method: 'lora', loraR: 4, targets: ['query', 'attention_output', 'output'] });
  assert.ok(l.kind === 'adapters' && l.adapter.method === 'lora');
  assert.deepEqual([l.adapter.r, l.adapter.alpha, l.adapter.attn_matrices, l.adapter.attentionOutputLora, l.adapter.output_lora, l.adapter.intermediate_lora], [4, 8, ['q'], true, true, false]);
  const i = modeFromFlags({ mode: 'adapters', method: 'ia3', targets: ['value', 'output'] });
  assert.ok(i.kind === 'adapters' && i.adapter.method === 'ia3');
  assert.deepEqual([i.adapter.attn_matrices, i.adapter.intermediate_lora, i.adapter.output_lora], [['v'], false, true]);
  const j = modeFromFlags({ mode: 'adapters', adapterConfig: '{"architecture": "lora", "r": 2, "alpha": 4}', trainLayerNorms: true });
  assert.ok(j.kind === 'adapters' && j.adapter.method === 'lora' && j.adapter.r === 2 && j.adapter.trainLayerNorms);
  const k = modeFromFlags({ mode: 'adapters', adapterConfig: 'seq_bn' });
  assert.ok(k.kind === 'adapters' && k.adapter.preset === 'pfeiffer');
  assert.throws(() => modeFromFlags({ mode: 'adapters', method: 'lora', adapterSize: 8 }), /--adapter-size does not apply to --method lora \(a lora method\)/);
  assert.throws(() => modeFromFlags({ mode: 'adapters', method: 'paper', loraR: 8, targets: ['query'] }), /--lora-r, --targets do not apply to --method paper/);
  assert.throws(() => modeFromFlags({ mode: 'adapters', adapterConfig: 'seq_bn', method: 'lora' }), /either --method or --adapter-config/);
  assert.throws(() => modeFromFlags({ mode: 'adapters', adapterConfig: 'seq_bn', adapterSize: 8 }), /--adapter-size cannot change an --adapter-config/);
  const pt = modeFromFlags({ mode: 'adapters', adapterConfig: '{"architecture": "prefix_tuning", "prefix_length": 4, "use_gating": false}' });
  assert.ok(pt.kind === 'adapters' && pt.adapter.method === 'prefix_tuning' && pt.adapter.prefix_length === 4 && pt.adapter.bottleneck_size === 512 && !pt.adapter.flat);
  assert.throws(() => modeFromFlags({ mode: 'adapters', adapterConfig: '{"architecture": "prefix_tuning", "encoder_prefix": false}' }), /config: encoder_prefix is false: adapterkit's encoders are encoder-only/);
  assert.throws(() => modeFromFlags({ mode: 'adapters', adapterConfig: '{"architecture": "mtl_lora"}' }), /config\.architecture "mtl_lora" \(MTL-LoRA\) is not implemented/);
  assert.throws(() => modeFromFlags({ mode: 'adapters', adapterConfig: '{"mh_adapter": true, "output_adapter": true, "reduction_factor": 16, "non_linearity": "relu", "use_gating": true, "is_parallel": false, "phm_layer": true, "learn_phm": false}' }), /learn_phm false/);
  assert.throws(() => modeFromFlags({ mode: 'adapters', adapterConfig: '{nope' }), /--adapter-config: not valid JSON/);
  assert.throws(() => modeFromFlags({ mode: 'adapters', adapterConfig: 'no-such-preset' }), /unknown adapter method preset "no-such-preset"/);
  assert.deepEqual(modeFromFlags({ mode: 'top-k', topK: 2 }), { kind: 'top-k', k: 2 });
  assert.throws(() => modeFromFlags({ mode: 'full', trainLayerNorms: false }), /--\[no-\]train-layer-norms only applies to --mode adapters/);
  assert.throws(() => modeFromFlags({ mode: 'full', method: 'lora' }), /--method only applies to --mode adapters/);
  assert.throws(() => modeFromFlags({ mode: 'adapters', topK: 1 }), /--top-k only applies to --mode top-k/);
  assert.equal(sanitizeTaskName('SST-2 dev.v1'), 'SST-2-dev-v1');
});

test('data flags become a loadTask spec with absolute paths and column indexes', () => {
  const s = taskSpecFromFlags({ train: 'a/train.tsv', text: '3', label: 'y', taskKind: 'regression', skipBadRows: true });
  assert.ok('files' in s);
  if ('files' in s) {
    assert.ok(s.files.train?.startsWith('/') && s.files.train.endsWith('a/train.tsv'));
    assert.equal(s.columns.text, 3);
    assert.equal(s.columns.label, 'y');
    assert.equal(s.kind, 'regression');
    assert.equal(s.onBadRow, 'skip');
    assert.equal(s.name, 'a', 'train.tsv names a split: the directory names the task');
  }
  assert.deepEqual(taskSpecFromFlags({ dataset: 'spam' }), { builtin: 'spam' });
});

test('tables align columns, numbers to the right with separators', () => {
  const t = table(['name', 'n'], [['spam', 4833], ['brown', 7]]);
  assert.equal(t, 'name       n\n-----  -----\nspam   4,833\nbrown      7\n');
  assert.equal(formatBytes(68608), '67.0 KiB');
  assert.equal(formatPercent(0.0361), '3.61%');
});

test('predict input parsing: text lines, JSONL, pairs; one entry per line, blank lines included, with ids', () => {
  assert.deepEqual(parseInputs('a\n\nb\n', 'text', false, 'in').map((e) => [e.id, e.input?.textA]), [['1', 'a'], ['2', undefined], ['3', 'b']]);
  const p = parseInputs('{"text":"x","text_pair":"y"}\n\n{"text":"z","text_pair":"w","id":"q7"}\n', 'jsonl', true, 'in');
  assert.deepEqual(p.map((l) => [l.id, l.input?.textA, l.input?.textB]), [['1', 'x', 'y'], ['2', undefined, undefined], ['q7', 'z', 'w']]);
  assert.throws(() => parseInputs('fine\n  {"text": "x"}\n', 'text', false, 'in'), /in:2: this line is a JSON object but the input is read as plain text: give --format jsonl/);
  assert.equal(parseInputs('{braces} are text\n', 'text', false, 'in')[0]?.input?.textA, '{braces} are text');
  assert.throws(() => parseInputs('a\n', 'text', true, 'in'), /in:1: this task takes sentence pairs; give JSONL/);
  assert.throws(() => parseInputs('{"text":"x"}\n', 'jsonl', true, 'in'), /in:1: .*"text_pair" must be a string/);
  assert.throws(() => parseInputs('x\n{"text":1}', 'jsonl', false, 'f'), /f:1: not valid JSON/);
});

test('prediction JSON per head kind', () => {
  const cls = headConfig({ kind: 'classification', labels: ['a', 'b'] });
  assert.deepEqual(predictionJson(cls, { value: 1, probs: [0.25, 0.75], logits: [0, 1], truncated: false }, false), { label: 'b', score: 0.75, truncated: false });
  const ml = headConfig({ kind: 'multilabel', labels: ['x', 'y', 'z'] });
  assert.deepEqual(predictionJson(ml, { value: [1, 0, 1], probs: [0.9, 0.1, 0.6], logits: [], truncated: true }, false),
    { label: ['x', 'z'], scores: { x: 0.9, y: 0.1, z: 0.6 }, truncated: true });
  const reg = headConfig({ kind: 'regression', labels: [] });
  assert.deepEqual(predictionJson(reg, { value: 3.5, probs: [], logits: [3.5], truncated: false }, true), { score: 3.5, truncated: false });
});

test('eval maps the data\'s label order onto the task\'s by name', () => {
  const head = headConfig({ kind: 'classification', labels: ['neg', 'pos'] });
  const data = { name: 't', kind: 'classification' as const, labels: ['pos', 'neg'], pair: false, splits: {}, metrics: ['accuracy' as const] };
  const ex = alignLabels([{ id: '1', textA: 'x', label: 0 }, { id: '2', textA: 'y', label: 1 }, { id: '3', textA: 'z' }], data, head, 'd');
  assert.deepEqual(ex.map((e) => e.label), [1, 0, undefined]);
  assert.throws(() => alignLabels([], { ...data, labels: ['pos', 'meh'] }, head, 'd'), /d: label "meh" is not one of the saved task's labels \(neg, pos\)/);
  assert.throws(() => alignLabels([], { ...data, pair: true }, head, 'd'), /d has sentence pairs but the saved task takes single texts/);
});
