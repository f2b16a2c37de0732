/** `datasets` lists the built-in datasets; `info` describes a base with counts that add up, and a saved task. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, baseParamCount } from '../../src/models/base.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { cli, TINY_BERT } from './harness.js';
import { tempDir } from '../temp-dir.js';

test('datasets lists spam, sotu, brown and brown-pos with their split sizes and sources', async () => {
  const r = await cli('datasets');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^spam\s+classification\s+4,833\s+599\s+614\s+ham, spam\s+@stdlib\/datasets-spam-assassin$/m);
  assert.match(r.stdout, /^sotu\s+classification\s+43,400\s+4,992\s+6,087\s+Democratic, Republican/m);
  assert.match(r.stdout, /^brown\s+classification\s+7,121\s+985\s+984\s+15: /m);
  assert.match(r.stdout, /^brown-pos\s+tagging \(sentences\)\s+45,063\s+6,088\s+6,189\s+12: /m);
  const j = await cli('datasets', '--json');
  const list = JSON.parse(j.stdout) as { name: string; sizes: { train: number } }[];
  assert.deepEqual(list.map((d) => d.name), ['spam', 'sotu', 'brown', 'brown-pos']);
  assert.equal(list[0]?.sizes.train, 4833);
});

test('info on tiny-bert: architecture, parameter groups that add up to the total, tokenizer', async () => {
  const base = await loadBase(TINY_BERT);
  const total = baseParamCount(base);
  const j = await cli('info', TINY_BERT, '--json');
  assert.equal(j.code, 0, j.stderr);
  const info = JSON.parse(j.stdout);
  assert.equal(info.family, 'bert');
  assert.equal(info.architecture.layers, 2);
  assert.equal(info.tokenizer.kind, 'wordpiece');
  const p = info.parameters;
  assert.equal(p.total, total);
  assert.equal(p.embeddings + p.layerTotals.total + p.pooler + p.other, total);
  assert.equal(p.embeddings, 100 * 32 + 40 * 32 + 2 * 32 + 2 * 32);
  assert.equal(p.pooler, 32 * 32 + 32);
  assert.equal(p.layers.length, 2);
  for (const l of p.layers) {
    assert.equal(l.attention + l['feed-forward'] + l.norms + l.other, l.total);
    assert.equal(l.attention, 4 * (32 * 32 + 32));
    assert.equal(l['feed-forward'], 32 * 37 + 37 + 37 * 32 + 32);
    assert.equal(l.norms, 4 * 32);
  }

  const r = await cli('info', TINY_BERT);
  assert.equal(r.code, 0, r.stderr);
  const num = (label: string) => Number((new RegExp(`^${label}\\s.*?([\\d,]+)$`, 'm').exec(r.stdout)?.[1] ?? 'NaN').replace(/,/g, ''));
  assert.equal(num('embeddings') + num('layer 0') + num('layer 1') + num('pooler'), num('total'));
  assert.equal(num('total'), total);
  assert.match(r.stdout, /layerNormEps:\s+1e-12/);
  assert.match(r.stdout, /vocabSize:\s+100/);
});

test('info on a saved task: its method, config, sizes and the layouts it holds; also an AdapterHub directory with --base', async () => {
  const base = await loadBase(TINY_BERT);
  const dir = join(tempDir('ak-info-'), 'task');
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('lora', { r: 2 }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 1 });
  await saveTask(m, dir, { name: 'task', maxLength: 16 });
  const j = await cli('info', dir, '--json');
  assert.equal(j.code, 0, j.stderr);
  const info = JSON.parse(j.stdout);
  assert.deepEqual([info.task, info.origin, info.method, info.preset, info.config.r, info.adapterParams, info.canMerge], ['task', 'adapterkit', 'lora', 'lora', 2, m.adapterParams(), true]);
  assert.deepEqual(info.layouts, { adapterhub: true, peft: true });
  const r = await cli('info', dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /mode:\s+lora \(r=2, alpha=8, query\/value\)/);
  assert.match(r.stdout, /merges into the base:\s+yes/);
  const hub = await cli('info', 'test/fixtures/methods/pfeiffer', '--base', TINY_BERT);
  assert.equal(hub.code, 0, hub.stderr);
  assert.match(hub.stdout, /tiny_task \(adapterhub directory\)/);
  assert.match(hub.stdout, /mode:\s+bottleneck \(pfeiffer, m=4\)/);
  const noBase = await cli('info', 'test/fixtures/methods/pfeiffer');
  assert.equal(noBase.code, 2, noBase.stderr);
  assert.match(noBase.stderr, /has no adapterkit\.json \(an AdapterHub adapter\?\): give the base model with --base/);
  await m.dispose();
});

test('info on a directory that is not a model fails with a file error', async () => {
  const r = await cli('info', 'test/fixtures/glue/SST-2');
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /SST-2/);
});
