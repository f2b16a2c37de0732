/**
 * Training with several named adapters from the command line (issue 14): a trained adapter loaded
 * frozen with --with, a new one with --adapter, combined with --compose, and AdapterDrop; the saved
 * setup evaluated, predicted and described by eval, predict and info, agreeing with the library;
 * every mistake in the setup flags an exit-2 error that says what is wrong.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBase } from '../../src/models/base.js';
import { predictTexts } from '../../src/train/evaluate.js';
import { isAdapterSetup } from '../../src/train/modes.js';
import { parseComposition } from '../../src/adapters/composition.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { cli, tempDir, TINY_BERT, writeToyCsv, type CliRun } from './harness.js';

describe('train --with/--adapter/--compose, then eval, predict, info', () => {
  const dir = tempDir('ak-cli-compose-');
  const trainCsv = join(dir, 'train.csv');
  const devCsv = join(dir, 'dev.csv');
  const data = ['--train', trainCsv, '--dev', devCsv, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--epochs', '1', '--batch-size', '16', '--max-length', '16', '--lr', '1e-2', '--seed', '3'];
  const lang = join(dir, 'lang');
  const stack = join(dir, 'stack');
  let stacked: CliRun;

  before(async () => {
    writeToyCsv(trainCsv, 64, 1);
    writeToyCsv(devCsv, 32, 2);
    const r = await cli('train', ...data, '--method', 'pfeiffer', '--reduction-factor', '8', '--out', lang, '--name', 'lang');
    assert.equal(r.code, 0, r.stderr);
    stacked = await cli('train', ...data, '--with', `lang=${join(lang, 'best')}`, '--adapter', 'task=lora:r=4,alpha=8', '--compose', 'Stack(lang, task)', '--out', stack, '--name', 'stacked', '--json');
  });

  test('train loads the frozen adapter, trains the new one under the composition and saves the setup', async () => {
    assert.equal(stacked.code, 0, stacked.stderr);
    assert.match(stacked.stderr, /mode:\s+Stack\(lang, task\): lang = bottleneck \(pfeiffer, m=4\) \(frozen\); task = lora/);
    assert.match(stacked.stderr, new RegExp(`loaded:\\s+lang from ${join(lang, 'best').replace(/[/.]/g, '\\$&')} \\(frozen\\)`));
    const s = JSON.parse(stacked.stdout);
    assert.deepEqual(s.setup, {
      active: 'Stack(lang, task)', adapterDrop: null,
      adapters: [
        { name: 'lang', method: 'bottleneck', preset: 'pfeiffer', trainable: false, from: join(lang, 'best') },
        { name: 'task', method: 'lora', preset: 'lora', trainable: true, from: null },
      ],
    });
    for (const f of ['adapter_setup.json', 'lang/adapter_config.json', 'task/adapter.safetensors', 'adapterkit.json']) assert.ok(existsSync(join(stack, 'best', f)), f);
    // the frozen adapter is the trained one, unchanged; only task's tensors (and the head) trained
    const base = await loadBase(TINY_BERT);
    const a = await loadSavedTask(base, join(lang, 'best'));
    const b = await loadSavedTask(base, join(stack, 'best'));
    const langTensors = [...a.model.owned].filter(([k]) => k.startsWith('adapters.adapter.'));
    assert.ok(langTensors.length > 0);
    for (const [k, t] of langTensors) assert.deepEqual(Array.from(b.model.owned.get(k.replace('adapters.adapter.', 'adapters.lang.'))?.data ?? []), Array.from(t.data), k);
    assert.ok(b.model.trainable.filter((t) => t.origin === 'adapter').every((t) => t.name.startsWith('adapters.task.')));
    assert.equal(s.trainableParams, b.model.stats().trainableParams);
    await a.model.dispose();
    await b.model.dispose();
  });

  test('eval and predict of the saved setup agree with the library\'s predictions', async () => {
    const base = await loadBase(TINY_BERT);
    const task = await loadSavedTask(base, join(stack, 'best'));
    assert.ok(isAdapterSetup(task.model.mode));
    const texts = ['the cat is good .', 'the dog is bad .', 'a good book'];
    const want = await predictTexts(task, texts);
    await task.model.dispose();
    const input = join(dir, 'in.txt');
    writeFileSync(input, `${texts.join('\n')}\n`);
    const p = await cli('predict', join(stack, 'best'), '--input', input, '--all-scores');
    assert.equal(p.code, 0, p.stderr);
    const got = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(got.map((x) => x.label), want.map((x) => x.label));
    got.forEach((x, i) => assert.ok(Math.abs(x.scores.pos - (want[i]?.probs[1] as number)) < 1e-6));
    const e = await cli('eval', join(stack, 'best'), '--json');
    assert.equal(e.code, 0, e.stderr);
    assert.deepEqual(JSON.parse(e.stdout).metrics, JSON.parse(readFileSync(join(stack, 'best', 'adapterkit.json'), 'utf8')).training.dev);
  });

  test('info shows the setup: composition, each adapter with its method, whether it trained, and its size', async () => {
    const r = await cli('info', join(stack, 'best'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /composition:\s+Stack\(lang, task\)/);
    assert.match(r.stdout, /lang\s+bottleneck \(pfeiffer, m=4\)\s+frozen\s+[\d,]+/);
    assert.match(r.stdout, /task\s+lora \([^)]*\)\s+trained\s+[\d,]+/);
    const j = JSON.parse((await cli('info', join(stack, 'best'), '--json')).stdout);
    assert.equal(j.setup.active, 'Stack(lang, task)');
    assert.deepEqual(j.setup.adapters.map((a: { name: string; trainable: boolean }) => [a.name, a.trainable]), [['lang', false], ['task', true]]);
  });

  test('eval and predict take --active (another composition of the saved adapters) and --adapter-drop; a Parallel setup names its channels', async () => {
    const base = await loadBase(TINY_BERT);
    const task = await loadSavedTask(base, join(stack, 'best'));
    task.model.activate(parseComposition('Stack(lang)'), { adapterDrop: { kind: 'static', layers: 1 } });
    const texts = ['the cat is good .', 'the dog is bad .'];
    const want = await predictTexts(task, texts);
    const input = join(dir, 'in2.txt');
    writeFileSync(input, `${texts.join('\n')}\n`);
    const p = await cli('predict', join(stack, 'best'), '--input', input, '--all-scores', '--active', 'Stack(lang)', '--adapter-drop', '1');
    assert.equal(p.code, 0, p.stderr);
    p.stdout.trim().split('\n').map((l) => JSON.parse(l)).forEach((x, i) => assert.ok(Math.abs(x.scores.pos - (want[i]?.probs[1] as number)) < 1e-6));
    const e = await cli('eval', join(stack, 'best'), '--active', 'task', '--json');
    assert.equal(e.code, 0, e.stderr);
    // a Parallel setup saved by the library: eval and predict say which compositions give one output
    task.model.activate(parseComposition('Stack(lang, Parallel(task, Stack(lang, task)))'), { adapterDrop: null });
    const par = join(dir, 'par');
    await saveTask(task.model, par, { name: 'par', maxLength: 16 });
    await task.model.dispose();
    const bad = await cli('eval', par, '--dev', devCsv, '--text', 'sentence', '--label', 'sentiment');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /runs Stack\(lang, Parallel\(task, Stack\(lang, task\)\)\): Parallel\(task, Stack\(lang, task\)\) gives 2 outputs per example \(one per channel\), and eval and predict give one output per example; choose a composition with --active \(its channels: 'Stack\(lang, task\)', 'Stack\(lang, lang, task\)'\)/);
    const ok = await cli('predict', par, '--input', input, '--active', 'Stack(lang, task)');
    assert.equal(ok.code, 0, ok.stderr);
    for (const [args, re] of [
      [['predict', par, '--input', input, '--active', 'Stack(lang, nope)'], /--active: Stack\(lang, nope\) uses adapter nope, which the model does not hold \(it holds lang, task\)/],
      [['predict', par, '--input', input, '--active', 'Stack(lang'], /--active: composition "Stack\(lang": expected "," or "\)" at position 10/],
      [['predict', par, '--input', input, '--active', 'task', '--adapter-drop', 'robust:1'], /--adapter-drop robust:n drops layers while training only/],
      [['predict', join(lang, 'best'), '--input', input, '--active', 'task'], /--active applies to tasks holding several named adapters; .* is a single-adapter task/],
    ] as [string[], RegExp][]) {
      const r = await cli(...args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
    }
  });

  test('--adapter-drop with a single --method adapter trains a setup of that adapter; robust AdapterDrop is recorded', async () => {
    const out = join(dir, 'drop');
    const r = await cli('train', ...data, '--method', 'lora', '--adapter-drop', 'robust:1', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /mode:\s+Stack\(adapter\), robust AdapterDrop 0\.\.1: adapter = lora/);
    const i = await cli('info', join(out, 'best'));
    assert.match(i.stdout, /AdapterDrop:\s+robust, 0\.\.1 layers per training batch/);
    const avg = await cli('train', ...data, '--with', `a=${join(lang, 'best')}`, '--adapter', 'b=ia3', '--compose', 'Average(a, b, weights=[3, 1])', '--adapter-drop', '1', '--out', join(dir, 'avg'), '--json');
    assert.equal(avg.code, 0, avg.stderr);
    assert.equal(JSON.parse(avg.stdout).setup.active, 'Average(a, b, weights=[0.75, 0.25])');
    assert.deepEqual(JSON.parse(avg.stdout).setup.adapterDrop, { kind: 'static', layers: 1 });
  });

  test('--with of a run directory, or of a task without an adapter, says so', async () => {
    const r = await cli('train', ...data, '--with', `lang=${lang}`, '--adapter', 'task=lora', '--out', join(dir, 'x1'));
    assert.equal(r.code, 4);
    assert.match(r.stderr, /is a training run directory, not a task directory: did you mean .*lang\/best\?/);
    const h = await cli('train', ...data, '--mode', 'head-only', '--out', join(dir, 'head'));
    assert.equal(h.code, 0, h.stderr);
    const r2 = await cli('train', ...data, '--with', `x=${join(dir, 'head', 'best')}`, '--out', join(dir, 'x2'));
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /--with x=.*head\/best: a head-only task has no adapter to load/);
    // from a saved setup, the adapter of that name
    const r3 = await cli('train', ...data, '--with', `nope=${join(stack, 'best')}`, '--out', join(dir, 'x3'));
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /--with nope=.*stack\/best: the task holds several adapters \(lang, task\) and none is called nope; name the one to load/);
    const r4 = await cli('train', ...data, '--with', `task=${join(stack, 'best')}`, '--adapter', 'head2=pfeiffer', '--out', join(dir, 'x4'), '--json');
    assert.equal(r4.code, 0, r4.stderr);
    assert.equal(JSON.parse(r4.stdout).setup.active, 'Stack(task, head2)');
    const base = await loadBase(TINY_BERT);
    const [from, to] = [await loadSavedTask(base, join(stack, 'best')), await loadSavedTask(base, join(dir, 'x4', 'best'))];
    for (const [k, t] of from.model.owned) if (k.startsWith('adapters.task.')) assert.deepEqual(Array.from(to.model.owned.get(k)?.data ?? []), Array.from(t.data), k);
    await from.model.dispose();
    await to.model.dispose();
  });

  test('--with takes an adapter AdapterHub saved without a head (adapter_config.json and weights only)', async () => {
    const headless = join(dir, 'headless');
    mkdirSync(headless);
    for (const f of ['adapter_config.json', 'pytorch_adapter.bin']) copyFileSync(join(lang, 'best', f), join(headless, f));
    const r = await cli('train', ...data, '--with', `lang=${headless}`, '--adapter', 'task=lora:r=4,alpha=8', '--compose', 'Stack(lang, task)', '--out', join(dir, 'x5'), '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /mode:\s+Stack\(lang, task\): lang = bottleneck \(pfeiffer, m=4\) \(frozen\)/);
    const base = await loadBase(TINY_BERT);
    const [from, to] = [await loadSavedTask(base, join(lang, 'best')), await loadSavedTask(base, join(dir, 'x5', 'best'))];
    const tensors = [...from.model.owned].filter(([k]) => k.startsWith('adapters.adapter.'));
    assert.ok(tensors.length > 0);
    for (const [k, t] of tensors) assert.deepEqual(Array.from(to.model.owned.get(k.replace('adapters.adapter.', 'adapters.lang.'))?.data ?? []), Array.from(t.data), k);
    await from.model.dispose();
    await to.model.dispose();
  });
});

test('mistakes in the setup flags are exit-2 errors naming the flag and what is wrong', async () => {
  const dir = tempDir('ak-cli-compose-err-');
  const trainCsv = join(dir, 'train.csv');
  writeToyCsv(trainCsv, 16, 1);
  const data = ['train', '--train', trainCsv, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--epochs', '1', '--out', join(dir, 'never')];
  const two = ['--adapter', 'lang=pfeiffer', '--adapter', 'task=lora'];
  const cases: [string[], RegExp][] = [
    [[...two, '--compose', 'Stack(lang, task'], /--compose: composition "Stack\(lang, task": expected "," or "\)" at position 16/],
    [[...two, '--compose', 'Stak(lang, task)'], /--compose: composition "Stak\(lang, task\)": unknown block "Stak" \(blocks: Stack, Fuse, Split, Parallel, BatchSplit, Average\) at position 4/],
    [[...two, '--compose', 'Stack(lang, task))'], /--compose: composition "Stack\(lang, task\)\)": unexpected "\)" at position 17/],
    [[...two, '--compose', 'Average(lang, task, weights=[1])'], /--compose: Average: weights has 1 entries for 2 children/],
    [[...two, '--compose', 'Average(lang, task, wieghts=[1, 2])'], /--compose: composition .*: Average has no argument wieghts \(it takes weights, normalize_weights\)/],
    [[...two, '--compose', 'Fuse(lang, Split(task, lang, splits=2))'], /--compose: cannot nest Split inside Fuse/],
    [[...two, '--compose', 'Stack(lang, tsk)'], /--compose Stack\(lang, tsk\) uses adapter tsk, which no --adapter or --with defines \(defined: lang, task\)/],
    [[...two, '--compose', 'Stack(lang)'], /adapter task trains but --compose Stack\(lang\) does not use it/],
    [[...two, '--compose', 'Parallel(lang, task)'], /--compose Parallel\(lang, task\): Parallel\(lang, task\) gives 2 outputs per example \(one per channel\); a single-task run trains one head/],
    [[...two, '--compose', 'BatchSplit(lang, task, batch_sizes=[8, 8])'], /sends rows to adapters by their position in the batch \(batches of exactly 16 rows\)/],
    [[...two, '--compose', 'Split(lang, task, splits=[4, 4])'], /sends tokens to adapters by position \(sequences of exactly 8 tokens\)/],
    [[...two, '--compose', 'Stack(lang, task)', '--train-adapter', 'lang'], /adapter task is new \(--adapter\) but --train-adapter leaves it out/],
    [[...two, '--train-adapter', 'lang,other'], /--train-adapter other: no --adapter or --with defines adapter other \(defined: lang, task\)/],
    [['--adapter', 'a=lora', '--adapter', 'a=ia3'], /adapter a is defined twice \(--adapter a=ia3\)/],
    [['--adapter', 'task=lora:r=4,rank=8'], /--adapter task=lora:r=4,rank=8: lora config: unknown field rank \(fields: /],
    [['--adapter', 'task=lora:r=zero'], /--adapter task=lora:r=zero: lora config: r must be an integer >= 1, got "zero"/],
    [['--adapter', 'task=lorra'], /--adapter task=lorra: unknown adapter method preset "lorra"/],
    [['--adapter', 'task'], /option '--adapter <name=method\[:options\]>' argument 'task' is invalid\. expected <name>=<method\[:options\]> such as task=lora:r=4,alpha=8/],
    [['--adapter', 'my.task=lora'], /adapter name "my\.task" may only contain letters, digits, _ and -/],
    [['--adapter', 'task=lora', '--lora-r', '4'], /--lora-r configures the single adapter of --method; with --adapter\/--with give each adapter's options in its spec/],
    [['--adapter', 'task=lora', '--mode', 'full'], /--adapter, --with, --compose, --fuse, --fusion-config, --train-adapter and --adapter-drop apply to --mode adapters \(the mode is full\)/],
    [['--compose', 'Stack(a, b)'], /--compose names adapters: define them with --adapter <name>=<method> or --with <name>=<task-dir>/],
    [['--adapter-drop', 'some'], /expected n \(no adapters in the first n layers\) or robust:n/],
    [['--adapter', 'task=lora', '--adapter-drop', '9'], /--adapter-drop 9: AdapterDrop: layers must be an integer from 0 to 2 \(the encoder's layers\), got 9/],
    [['--adapter', 'a=lora', '--adapter', 'b=ia3', '--compose', 'Average(a, b)'], /--compose Average\(a, b\): projection 0\.value: Average\(a, b\) composes a LoRA, b IA³ \(output scaling\) there/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(...data, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.ok(!existsSync(join(dir, 'never')), `${args.join(' ')}: nothing written`);
  }
});

test('--help of train, eval and predict documents the setup flags, with examples', async () => {
  const train = (await cli('train', '--help')).stdout;
  for (const n of ['--adapter <name=method[:options]>', '--with <name=task-dir>', '--compose <composition>', '--train-adapter <names>', '--adapter-drop <n|robust:n>', "--compose 'Stack(lang, task)'", 'robust:2']) {
    assert.ok(train.includes(n), `train --help lacks ${n}`);
  }
  for (const cmd of ['eval', 'predict']) {
    const h = (await cli(cmd, '--help')).stdout;
    for (const n of ['--active <composition>', '--adapter-drop <n>']) assert.ok(h.includes(n), `${cmd} --help lacks ${n}`);
  }
  assert.ok((await cli('info', '--help')).stdout.includes('a setup: composition, AdapterDrop, each adapter'));
});
