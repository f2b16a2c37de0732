/**
 * AdapterFusion from the command line: adapters trained on their own, loaded frozen with --with,
 * fused by `train --fuse` (or `--compose 'Fuse(a, b)'`) with a new fusion layer that trains with
 * the head; the saved task evaluated and predicted by eval and predict, agreeing with the library;
 * mistakes in the fusion flags exit-2 errors that say what is wrong.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBase } from '../../src/models/base.js';
import { predictTexts } from '../../src/train/evaluate.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { cli, tempDir, TINY_BERT, writeToyCsv, type CliRun } from './harness.js';

describe('train --with … --fuse, then eval and predict', () => {
  const dir = tempDir('ak-cli-fusion-');
  const trainCsv = join(dir, 'train.csv');
  const devCsv = join(dir, 'dev.csv');
  const data = ['--train', trainCsv, '--dev', devCsv, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--epochs', '1', '--batch-size', '16', '--max-length', '16', '--lr', '1e-2', '--seed', '3'];
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const fused = join(dir, 'fused');
  let run: CliRun;

  before(async () => {
    writeToyCsv(trainCsv, 48, 1);
    writeToyCsv(devCsv, 16, 2);
    for (const [out, rf] of [[a, '8'], [b, '4']] as const) {
      const r = await cli('train', ...data, '--method', 'pfeiffer', '--reduction-factor', rf, '--out', out, '--name', 'src');
      assert.equal(r.code, 0, r.stderr);
    }
    run = await cli('train', ...data, '--with', `a=${join(a, 'best')}`, '--with', `b=${join(b, 'best')}`, '--fuse', 'a,b', '--out', fused, '--name', 'fused', '--json');
  });

  test('train fuses the frozen adapters with a new dynamic fusion layer and saves it in AdapterHub\'s layout', async () => {
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /mode:\s+Fuse\(a, b\): a = bottleneck \(pfeiffer, m=4\) \(frozen\); b = bottleneck \(pfeiffer, m=8\) \(frozen\); fusion a,b = AdapterFusion \(dynamic\)/);
    const s = JSON.parse(run.stdout);
    assert.equal(s.setup.active, 'Fuse(a, b)');
    assert.deepEqual(s.setup.fusions.map((f: { name: string; adapters: string[]; trainable: boolean }) => [f.name, f.adapters, f.trainable]), [['a,b', ['a', 'b'], true]]);
    for (const f of ['adapter_setup.json', 'a/adapter_config.json', 'b/pytorch_adapter.bin', 'a,b/adapter_fusion_config.json', 'a,b/pytorch_model_adapter_fusion.bin', 'a,b/model_adapter_fusion.safetensors']) {
      assert.ok(existsSync(join(fused, 'best', f)), f);
    }
    const base = await loadBase(TINY_BERT);
    const task = await loadSavedTask(base, join(fused, 'best'));
    const src = await loadSavedTask(base, join(a, 'best'));
    for (const [k, t] of src.model.owned) {
      if (k.startsWith('adapters.adapter.')) assert.deepEqual(Array.from(task.model.owned.get(k.replace('adapters.adapter.', 'adapters.a.'))?.data ?? []), Array.from(t.data), `${k}: the fused adapter is the trained one, unchanged`);
    }
    assert.ok(task.model.trainable.filter((t) => t.origin === 'adapter').every((t) => t.name.startsWith('adapters.fusion[a:b].')), 'only the fusion (and the head) trained');
    assert.equal(s.trainableParams, task.model.stats().trainableParams);
    await task.model.dispose();
    await src.model.dispose();
  });

  test('eval and predict of the fused task agree with the library; --active picks one fused adapter', async () => {
    const base = await loadBase(TINY_BERT);
    const task = await loadSavedTask(base, join(fused, 'best'));
    const texts = ['the cat is good .', 'the dog is bad .', 'a good book'];
    const want = await predictTexts(task, texts);
    await task.model.dispose();
    const input = join(dir, 'in.txt');
    writeFileSync(input, `${texts.join('\n')}\n`);
    const p = await cli('predict', join(fused, 'best'), '--input', input, '--all-scores');
    assert.equal(p.code, 0, p.stderr);
    const got = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
    got.forEach((x, i) => assert.ok(Math.abs(x.scores.pos - (want[i]?.probs[1] as number)) < 1e-6));
    const e = await cli('eval', join(fused, 'best'), '--json');
    assert.equal(e.code, 0, e.stderr);
    assert.deepEqual(JSON.parse(e.stdout).metrics, JSON.parse(readFileSync(join(fused, 'best', 'adapterkit.json'), 'utf8')).training.dev);
    const one = await cli('eval', join(fused, 'best'), '--active', 'a', '--json');
    assert.equal(one.code, 0, one.stderr);
  });

  test('--fusion-from starts the fusion from a trained one (config and tensors); mismatches are errors naming the flag', async () => {
    const from = join(fused, 'best', 'a,b');
    const out = join(dir, 'continued');
    const r = await cli('train', ...data, '--with', `a=${join(a, 'best')}`, '--with', `b=${join(b, 'best')}`, '--fuse', 'a,b', '--fusion-from', from, '--lr', '1e-9', '--max-steps', '1', '--out', out, '--name', 'more');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(`fusion a,b from ${from} (trains on)`), r.stderr);
    const base = await loadBase(TINY_BERT);
    const src = await loadSavedTask(base, join(fused, 'best'));
    const got = await loadSavedTask(base, join(out, 'best'));
    let worst = 0;
    for (const [k, t] of src.model.owned) {
      if (!k.startsWith('adapters.fusion[')) continue;
      const g = got.model.owned.get(k)?.data as Float32Array;
      t.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (g[i] as number)))));
    }
    assert.ok(worst < 1e-6, `one step at lr 1e-9 from the trained fusion moved it by ${worst}`);
    await src.model.dispose();
    await got.model.dispose();
    const w = ['--with', `a=${join(a, 'best')}`, '--with', `b=${join(b, 'best')}`];
    for (const [args, re, code] of [
      [[...w, '--fuse', 'a,b', '--fusion-from', from, '--fusion-config', 'static'], /--fusion-from .*: the fusion brings its own config; give --fusion-config or --fusion-from, not both/, 2],
      [[...w, '--fuse', 'b,a', '--fusion-from', from], /--fusion-from .*: fusion a,b is not one the composition runs \(it runs b,a\)/, 2],
      [[...w, '--fuse', 'a,b', '--fusion-from', join(a, 'best')], /--fusion-from .*best: .*best: no adapter_fusion_config\.json; not an AdapterFusion folder/, 4],
      [[...w, '--fuse', 'a,b', '--fusion-from', join(dir, 'nowhere')], /--fusion-from .*nowhere: fusion folder .*nowhere does not exist/, 4],
    ] as const) {
      const e = await cli('train', ...data, ...args, '--out', join(dir, 'never'));
      assert.equal(e.code, code, e.stderr);
      assert.match(e.stderr, re);
    }
  });

  test('info lists the fusion with its preset, adapters, training and size', async () => {
    const i = await cli('info', join(fused, 'best'));
    assert.equal(i.code, 0, i.stderr);
    // per block: query and key [32, 32] + [32], value [32, 32]; two layers' feed-forward blocks
    assert.match(i.stdout, /fusion a,b\s+AdapterFusion \(dynamic\) over a, b\s+trained\s+6,272/);
    const j = JSON.parse((await cli('info', join(fused, 'best'), '--json')).stdout);
    assert.deepEqual(j.setup.fusions.map((f: { name: string; adapters: string[] }) => [f.name, f.adapters]), [['a,b', ['a', 'b']]]);
  });

  test('--fusion-config with an adapter_fusion_config.json of temperature true (as AdapterHub writes it): the fusion anneals over steps and evaluation, the checkpoint counts the calls, the saved config and info say so, predict starts at T = 50', async () => {
    const file = join(dir, 'adapter_fusion_config.json');
    const config = { dropout_prob: null, key: true, query: true, query_before_ln: false, regularization: true, residual_before: false, temperature: true, value: true, value_before_softmax: true, value_initialized: true };
    writeFileSync(file, `${JSON.stringify({ adapter_names: ['a', 'b'], config, hidden_size: 32, model_class: 'BertAdapterModel', model_name: null, model_type: 'bert', name: 'a,b', version: 'adapters.1.2.0' }, null, 2)}\n`);
    const out = join(dir, 'annealed');
    const r = await cli('train', ...data, '--with', `a=${join(a, 'best')}`, '--with', `b=${join(b, 'best')}`, '--fuse', 'a,b', '--fusion-config', file, '--out', out, '--name', 'annealed');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /fusion a,b = AdapterFusion \(dynamic \+ temperature\)/);
    const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'trainer.json'), 'utf8')) as { step: number; fusionCalls: Record<string, number[]> };
    // 48 rows in batches of 16: 3 steps; the dev split's 16 rows: one evaluation call
    assert.equal(state.step, 3);
    assert.deepEqual(state.fusionCalls, { 'a,b': [4, 4] });
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'best', 'a,b', 'adapter_fusion_config.json'), 'utf8')).config, config, 'saved as read');
    const i = await cli('info', join(out, 'best'));
    assert.match(i.stdout, /fusion a,b\s+AdapterFusion \(dynamic \+ temperature\) over a, b\s+trained/);
    const base = await loadBase(TINY_BERT);
    const task = await loadSavedTask(base, join(out, 'best'));
    assert.deepEqual(task.model.fusionCallCounts, { 'a,b': [0, 0] }, 'a loaded task starts at T = 50');
    const texts = ['the cat is good .', 'the dog is bad .'];
    const want = await predictTexts(task, texts);
    await task.model.dispose();
    const input = join(dir, 'annealed.txt');
    writeFileSync(input, `${texts.join('\n')}\n`);
    const p = await cli('predict', join(out, 'best'), '--input', input, '--all-scores');
    assert.equal(p.code, 0, p.stderr);
    p.stdout.trim().split('\n').map((l) => JSON.parse(l)).forEach((x, k) => assert.ok(Math.abs(x.scores.pos - (want[k]?.probs[1] as number)) < 1e-6, `text ${k}`));
  });

  test('--compose \'Fuse(b, a, name=mix)\' with --fusion-config static trains and saves the fusion under its name', async () => {
    const r = await cli('train', ...data, '--with', `a=${join(a, 'best')}`, '--with', `b=${join(b, 'best')}`, '--compose', 'Fuse(b, a, name=mix)', '--fusion-config', 'static', '--out', join(dir, 'static'), '--name', 'mix', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /fusion mix = AdapterFusion \(static\)/);
    const cfg = JSON.parse(readFileSync(join(dir, 'static', 'best', 'mix', 'adapter_fusion_config.json'), 'utf8'));
    assert.deepEqual([cfg.name, cfg.adapter_names, cfg.config.value], ['mix', ['b', 'a'], false]);
  });
});

test('mistakes in the fusion flags are exit-2 errors naming the flag and what is wrong', async () => {
  const dir = tempDir('ak-cli-fusion-err-');
  const trainCsv = join(dir, 'train.csv');
  writeToyCsv(trainCsv, 16, 1);
  const data = ['train', '--train', trainCsv, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--epochs', '1', '--out', join(dir, 'never')];
  const two = ['--adapter', 'a=pfeiffer', '--adapter', 'b=pfeiffer:reduction_factor=8'];
  const cases: [string[], RegExp][] = [
    [[...two, '--fuse', 'a'], /--fuse a: AdapterFusion fuses two or more adapters/],
    [[...two, '--fuse', 'a,b', '--compose', 'Fuse(a, b)'], /--fuse a,b is short for --compose 'Fuse\(a, b\)'; give one of them/],
    [[...two, '--fuse', 'a,c'], /uses adapter c, which no --adapter or --with defines \(defined: a, b\)/],
    [[...two, '--fuse', 'a,b', '--fusion-config', 'medium'], /--fusion-config: unknown fusion preset "medium" \(presets: static, dynamic\)/],
    [[...two, '--fuse', 'a,b', '--fusion-config', '{"temperature": "yes"}'], /--fusion-config: temperature must be true or false, got "yes"/],
    [[...two, '--fuse', 'a,b', '--fusion-config', '{"valu": false}'], /--fusion-config: unknown field valu/],
    [[...two, '--fusion-config', 'static'], /--fusion-config configures AdapterFusion, but Stack\(a, b\) has no Fuse block/],
    [['--adapter', 'a=pfeiffer', '--adapter', 'b=lora', '--fuse', 'a,b'], /adapter b is lora; AdapterFusion fuses bottleneck adapters only/],
    [['--adapter', 'a=pfeiffer', '--adapter', 'b=houlsby', '--fuse', 'a,b'], /adapters a and b differ in mh_adapter \(false vs true\)/],
    [['--fuse', 'a,b'], /--fuse names adapters: define them with --adapter <name>=<method> or --with <name>=<task-dir>/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(...data, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.ok(!existsSync(join(dir, 'never')), `${args.join(' ')}: nothing written`);
  }
});

test('--help of train documents --fuse and --fusion-config, with examples', async () => {
  const train = (await cli('train', '--help')).stdout.replace(/\s+/g, ' '); // commander wraps the descriptions
  for (const n of ['--fuse <names>', '--fusion-config <preset|json|file>', '--fusion-from <dir>', 'AdapterFusion (Pfeiffer et al. 2021)', '--fuse a,b,c', "--compose 'Stack(lang, Fuse(a, b))'", '"temperature": true anneals the softmax temperature', "--fusion-config '{\"temperature\": true}'"]) assert.ok(train.includes(n), `train --help lacks ${n}`);
});
