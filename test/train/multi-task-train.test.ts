/**
 * Mixed-task training equals separate runs: on the tiny BERT, with dropout off, the gradient of
 * each task's tensors from one mixed batch is n_t/B times the gradient of that task's own model on
 * its sub-batch (the loss is the per-example sum over the shared batch size B), and a few AdamW
 * steps from mixed batches give the tensors separate runs give on the same sub-batches. The same
 * holds with tagging tasks in the batch (their loss the mean over their labelled tokens), and a
 * mixed classification + tagging run keeps per-task best checkpoints scored with token accuracy.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig, ia3Config, loraConfig, methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { headConfig, type HeadConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { collate, lengthBuckets, tokenizeAll, type TokenizedRow } from '../../src/train/batching.js';
import type { Example } from '../../src/train/data/types.js';
import { predictExamples, scorePredictions } from '../../src/train/evaluate.js';
import { MixedTaskTrainer, type MixedLabel, type MixedStepResult } from '../../src/train/multi-task-train-model.js';
import { bucketDraws, mixedEpoch, parseSampling, taskProbabilities, type MixedDraw } from '../../src/train/multi-task-sampling.js';
import { trainMultiTask, type MultiTaskEvent } from '../../src/train/multi-task-trainer.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { AdamW, clipByGlobalNorm } from '../../src/train/optim/index.js';
import { TaskModel, type BatchLabels } from '../../src/train/task-model.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { toyExamples } from './toy-task.js';
import { toyTagged } from '../token-tasks/toy-tokens.js';
import { evaluateTagging, taggingRows } from '../../src/train/token-tasks/index.js';
import type { TaggedSentence } from '../../src/train/tokens/types.js';
import { tempDir } from '../temp-dir.js';

const TINY = 'test/fixtures/models/tiny-bert';

interface Spec {
  name: string;
  mode: TrainingMode;
  head: HeadConfig;
  seed: number;
}

const specs: Spec[] = [
  // a bottleneck with the base's layer norms trained per task (a per-task layer-norm stack)
  { name: 'a', mode: { kind: 'adapters', adapter: adapterConfig({ size: 8, trainLayerNorms: true }) }, head: headConfig({ kind: 'classification', labels: ['n', 'p'], dropout: 0 }), seed: 3 },
  // LoRA, three classes and a two-layer head (the padded classes and the head gate)
  { name: 'b', mode: { kind: 'adapters', adapter: loraConfig({ r: 4, alpha: 8 }) }, head: headConfig({ kind: 'classification', labels: ['x', 'y', 'z'], layers: 2, dropout: 0 }), seed: 5 },
  // a second bottleneck of another size: same group as a, padded rows
  { name: 'c', mode: { kind: 'adapters', adapter: adapterConfig({ size: 4, trainLayerNorms: false }) }, head: headConfig({ kind: 'classification', labels: ['n', 'p'], dropout: 0 }), seed: 7 },
  // IA³: scales whose neutral fill (for the other tasks' examples) is 1, not 0
  { name: 'd', mode: { kind: 'adapters', adapter: ia3Config() }, head: headConfig({ kind: 'classification', labels: ['n', 'p'], dropout: 0 }), seed: 9 },
];

const create = (base: BaseModel, s: Spec) => TaskModel.create(base, { mode: s.mode, head: s.head, seed: s.seed, dropout: 0 });

function maxDiff(a: Float32Array, b: Float32Array, scale = 1): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) * scale - (b[i] as number)));
  return m;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

/**
 * Checks one mixed step against each task's own model: loss, and every gradient times B/n_t, on
 * the task's sub-batch (rows `rowOf(i)` with labels `labelOf(i)`); most gradients non-zero.
 */
async function checkAgainstSingle(base: BaseModel, taskSpecs: readonly Spec[], taskOf: readonly number[], rowOf: (i: number) => TokenizedRow, labelOf: (i: number) => MixedLabel): Promise<MixedStepResult> {
  const models = taskSpecs.map((s) => create(base, s));
  const trainer = new MixedTaskTrainer(base, taskSpecs.map((s, i) => ({ name: s.name, model: models[i]! })), { dropout: 0 });
  const idx = taskOf.map((_, i) => i);
  const B = idx.length;
  const r = await trainer.step(collate(idx.map(rowOf), base.tokenizer.padId), taskOf, idx.map(labelOf));
  for (let t = 0; t < taskSpecs.length; t++) {
    const own = create(base, taskSpecs[t]!);
    const sub = idx.filter((i) => taskOf[i] === t);
    const single = await own.trainStep(collate(sub.map(rowOf), base.tokenizer.padId), sub.map(labelOf) as BatchLabels);
    const n = sub.length;
    const name = taskSpecs[t]!.name;
    assert.equal(r.taskCounts[t], n);
    assert.ok(Math.abs((r.taskLossSums[t] as number) / n - single.loss) < 1e-5, `task ${name}: loss ${(r.taskLossSums[t] as number) / n} vs ${single.loss}`);
    own.trainable.forEach((x, k) => {
      const ref = single.grads[k]!;
      const d = maxDiff(r.grads[t]![k]!, ref, B / n);
      assert.ok(d <= 1e-5 + 1e-4 * maxAbs(ref), `task ${name} ${x.name}: mixed x B/n_t differs from the single-task gradient by ${d} (max |g| ${maxAbs(ref)})`);
    });
    const nonzero = single.grads.filter((x) => maxAbs(x) > 1e-7).length;
    assert.ok(nonzero >= single.grads.length / 2, `task ${name}: only ${nonzero} of ${single.grads.length} gradients are non-zero`);
    await own.dispose();
  }
  assert.ok(Math.abs(r.loss - r.taskLossSums.reduce((a, b) => a + b, 0) / B) < 1e-6);
  await trainer.dispose();
  for (const m of models) await m.dispose();
  return r;
}

describe('mixed-task training on tiny-bert', async () => {
  const base = await loadBase(TINY);
  const examples: Example[] = toyExamples(24, 11);
  const rows = tokenizeAll(base.tokenizer, examples, false, 32);
  // row i belongs to task taskOf[i]; task b's labels use its three classes
  const taskOf = [0, 1, 2, 0, 1, 3, 2, 0, 1, 0, 2, 3];
  const labelOf = (i: number) => (taskOf[i] === 1 ? i % 3 : (examples[i]?.label as number));

  function batchOf(idx: readonly number[]) {
    return collate(idx.map((i) => rows[i]!), base.tokenizer.padId);
  }

  test('each task\'s gradient from a mixed batch is n_t/B times its own model\'s on its sub-batch', async () => {
    await checkAgainstSingle(base, specs, taskOf, (i) => rows[i]!, labelOf);
  });

  test('three AdamW steps from mixed batches give the tensors of separate runs on the same sub-batches', async () => {
    const mixedModels = specs.map((s) => create(base, s));
    const separate = specs.map((s) => create(base, s));
    const trainer = new MixedTaskTrainer(base, specs.map((s, i) => ({ name: s.name, model: mixedModels[i]! })), { dropout: 0 });
    const optsOf = (ms: TaskModel[]) => ms.map((m) => new AdamW(m.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: 1e-2, weightDecay: 0.01 }));
    const mixedOpt = optsOf(mixedModels);
    const sepOpt = optsOf(separate);
    // three batches; task c sits out the second one (its tensors and moments must not move there), d is in all three
    const batches = [[0, 1, 2, 3, 4, 5], [1, 3, 4, 5, 8, 9], [6, 7, 8, 9, 10, 11]];
    const lrs = [1e-2, 5e-3, 2e-3];
    for (let s = 0; s < batches.length; s++) {
      const idx = batches[s]!;
      const B = idx.length;
      const r = await trainer.step(batchOf(idx), idx.map((i) => taskOf[i]!), idx.map(labelOf));
      for (let t = 0; t < specs.length; t++) {
        const sub = idx.filter((i) => taskOf[i] === t);
        if (sub.length === 0) continue;
        const g = r.grads[t]!;
        clipByGlobalNorm(g, 0.05); // small enough to clip: per-task clipping, as separate runs do
        mixedOpt[t]!.step(g, lrs[s]);
        const single = await separate[t]!.trainStep(batchOf(sub), sub.map(labelOf));
        const scaled = single.grads.map((x) => x.map((v) => (v * sub.length) / B));
        clipByGlobalNorm(scaled, 0.05);
        sepOpt[t]!.step(scaled, lrs[s]);
      }
    }
    for (let t = 0; t < specs.length; t++) {
      const m = mixedModels[t]!;
      const sep = separate[t]!;
      m.trainable.forEach((x, k) => {
        const y = sep.trainable[k]!;
        const d = maxDiff(x.data, y.data);
        assert.ok(d < 2e-5, `task ${specs[t]!.name} ${x.name}: tensors differ by ${d} after 3 steps`);
      });
      // they did move
      const fresh = create(base, specs[t]!);
      assert.ok(Math.max(...m.trainable.map((x, k) => maxDiff(x.data, fresh.trainable[k]!.data))) > 1e-3, `task ${specs[t]!.name} did not train`);
    }
    assert.equal(mixedOpt[2]!.stepCount, 2);
    assert.equal(mixedOpt[3]!.stepCount, 3);
    await trainer.dispose();
  });

  test('tagging tasks in a mixed batch: each task\'s gradient is n_t/B times its own model\'s on its sub-batch (token loss over its labelled tokens)', async () => {
    const plainTag = (labels: string[], layers: 1 | 2 = 1) => headConfig({ kind: 'tagging', labels, scheme: 'plain', layers, dropout: 0 });
    const mixSpecs: Spec[] = [
      specs[0]!, // classification, bottleneck m=8 with layer norms
      { name: 'pos', mode: { kind: 'adapters', adapter: adapterConfig({ size: 4, trainLayerNorms: false }) }, head: plainTag(['N', 'A', 'O']), seed: 13 }, // same group as a
      { name: 'noun', mode: { kind: 'adapters', adapter: loraConfig({ r: 4, alpha: 8 }) }, head: plainTag(['N', 'X'], 2), seed: 15 }, // two tags (padded to three), a two-layer token head
      specs[1]!, // classification, LoRA, three classes, two-layer head
    ];
    const sentences = toyTagged(12, 31);
    const nounOnly = sentences.map((x): TaggedSentence => ({ ...x, tags: x.tags.map((t) => (t === 'N' ? 'N' : 'X')) }));
    const models = mixSpecs.map((s) => create(base, s));
    const tagRows = [taggingRows(models[1]!, sentences, 32), taggingRows(models[2]!, nounOnly, 32)];
    const mixTaskOf = [0, 1, 2, 3, 1, 2, 0, 1, 3, 2, 1, 0];
    const rowOf = (i: number) => (mixTaskOf[i] === 1 ? tagRows[0]![i]! : mixTaskOf[i] === 2 ? tagRows[1]![i]! : rows[i]!);
    const labelOfRow = (i: number) => (mixTaskOf[i] === 1 ? tagRows[0]![i]!.labels : mixTaskOf[i] === 2 ? tagRows[1]![i]!.labels : mixTaskOf[i] === 3 ? i % 3 : (examples[i]?.label as number));
    await checkAgainstSingle(base, mixSpecs, mixTaskOf, rowOf, labelOfRow);
    const trainer = new MixedTaskTrainer(base, mixSpecs.map((x, i) => ({ name: x.name, model: models[i]! })), { dropout: 0 });
    const idx = [0, 1];
    // bad tagging labels name the row and the task
    const batch = collate(idx.map(rowOf), base.tokenizer.padId);
    await assert.rejects(trainer.step(batch, [0, 1], [1, 2]), /row 1 \(task pos\): tagging labels must be an array of tag indices, one per position \(-100: ignored\), got 2/);
    await assert.rejects(trainer.step(batch, [0, 1], [1, [-100, 3]]), /row 1 \(task pos\), position 1: tag index 3 is out of range for 3 tags \(or -100\)/);
    await assert.rejects(trainer.step(batch, [0, 1], [[0], [0]]), /row 0 \(task a\): label index \[0\] is out of range for 2 classes/);
    await trainer.dispose();
  });

  test('prefix and prompt tasks in a mixed batch (each example masks the positions its task lacks): gradients n_t/B times their own models\'', async () => {
    const cls = (labels: string[]) => headConfig({ kind: 'classification', labels, dropout: 0 });
    const adapters = (adapter: MethodConfig): TrainingMode => ({ kind: 'adapters', adapter });
    const posSpecs: Spec[] = [
      specs[0]!, // a bottleneck task: outside every position group, it sees no prefix or prompt position
      { name: 'flat3', mode: adapters(methodConfig('prefix-flat', { prefix_length: 3 })), head: cls(['n', 'p']), seed: 21 },
      { name: 'flat5', mode: adapters(methodConfig('prefix-flat', { prefix_length: 5 })), head: cls(['x', 'y', 'z']), seed: 22 }, // same group, longer: flat3's rows are padded and masked
      { name: 'mlp', mode: adapters(methodConfig('prefix', { prefix_length: 4, bottleneck_size: 6 })), head: cls(['n', 'p']), seed: 23 }, // prefix through its MLP
      { name: 'prompt', mode: adapters(methodConfig('prompt', { prompt_length: 4 })), head: cls(['n', 'p']), seed: 24 },
      // a tagging task with a shorter prompt of the same group: its tags are the input's positions only (the prompt's are taken out again)
      { name: 'tagp', mode: adapters(methodConfig('prompt', { prompt_length: 2 })), head: headConfig({ kind: 'tagging', labels: ['N', 'A', 'O'], scheme: 'plain', dropout: 0 }), seed: 25 },
      { name: 'mam', mode: adapters(methodConfig('mam', { configs: [methodConfig('prefix', { prefix_length: 2, bottleneck_size: 5 }), methodConfig('parallel', { size: 4 })] })), head: cls(['n', 'p']), seed: 26 },
    ];
    const tagged = toyTagged(14, 51);
    const tagRows = taggingRows(create(base, posSpecs[5]!), tagged, 32);
    const posTaskOf = [0, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1, 0, 5];
    const rowOf = (i: number) => (posTaskOf[i] === 5 ? tagRows[i]! : rows[i % rows.length]!);
    const labelOfRow = (i: number) => (posTaskOf[i] === 5 ? tagRows[i]!.labels : posTaskOf[i] === 2 ? i % 3 : (examples[i % examples.length]?.label as number));
    await checkAgainstSingle(base, posSpecs, posTaskOf, rowOf, labelOfRow);
  });

  test('a token-level task with a prompt tags the input\'s positions, not the prompt\'s: labels shifted by the prompt change its loss', async () => {
    const spec: Spec = { name: 'tagp', mode: { kind: 'adapters', adapter: methodConfig('prompt', { prompt_length: 3 }) }, head: headConfig({ kind: 'tagging', labels: ['N', 'A', 'O'], scheme: 'plain', dropout: 0 }), seed: 27 };
    const model = create(base, spec);
    const tagRows = taggingRows(model, toyTagged(4, 61), 32);
    const trainer = new MixedTaskTrainer(base, [{ name: 'a', model: create(base, specs[0]!) }, { name: 'tagp', model }], { dropout: 0 });
    const batch = collate([rows[0]!, ...tagRows], base.tokenizer.padId);
    const labels = tagRows.map((r) => r.labels);
    const r = await trainer.step(batch, [0, 1, 1, 1, 1], [examples[0]!.label as number, ...labels]);
    const own = await create(base, spec).trainStep(collate(tagRows, base.tokenizer.padId), labels);
    assert.ok(Math.abs((r.taskLossSums[1] as number) / 4 - own.loss) < 1e-5, `mixed ${(r.taskLossSums[1] as number) / 4} vs alone ${own.loss}`);
    // its own model's logits cover the input's positions only
    assert.equal(own.logits.length, 4 * batch.seqLen * 3);
    // the same tags laid over the prompt's positions (moved 3 to the left) give another loss: the graph tags the input's tokens
    const shifted = labels.map((l) => [...l.slice(3), -100, -100, -100]);
    const moved = await trainer.step(batch, [0, 1, 1, 1, 1], [examples[0]!.label as number, ...shifted]);
    assert.ok(Math.abs((moved.taskLossSums[1] as number) - (r.taskLossSums[1] as number)) > 1e-3);
    await trainer.dispose();
  });

  test('position tasks that cannot share one batch layout are refused by name', () => {
    const cls = headConfig({ kind: 'classification', labels: ['n', 'p'], dropout: 0 });
    const m = (adapter: MethodConfig) => TaskModel.create(base, { mode: { kind: 'adapters', adapter }, head: cls, seed: 1 });
    const first = m(methodConfig('prompt', { prompt_length: 2 }));
    const afterBos = m(methodConfig('prompt', { prompt_length: 2, combine: 'prefix_after_bos' }));
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'p', model: first }, { name: 'q', model: afterBos }]), /task q cannot share a mixed batch: it joins prompt tokens otherwise than task p \(prompt tuning \(P=2, prefix\)\), and the rows of one batch share one sequence layout; train it on its own/);
    const peft = m(methodConfig('prompt-peft', { prompt_length: 2 }));
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'p', model: first }, { name: 'peft', model: peft }]), /task peft cannot share a mixed batch: PEFT's prompt joins before the word embeddings/);
    const d1 = m(methodConfig('prefix-flat', { prefix_length: 2, dropout: 0.1 }));
    const d2 = m(methodConfig('prefix-flat', { prefix_length: 3, dropout: 0.2 }));
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'x', model: d1 }, { name: 'y', model: d2 }]), /tasks x, y share a prefix_tuning group with different adapter dropout \(0.1 vs 0.2\): give tasks of one method the same dropout in a mixed-task run/);
  });

  test('regression and multi-label tasks beside classification and tagging: gradients n_t/B times their own models\'', async () => {
    const sentenceSpecs: Spec[] = [
      specs[1]!, // classification, three classes, two-layer head
      { name: 'score', mode: { kind: 'adapters', adapter: adapterConfig({ size: 4, trainLayerNorms: false }) }, head: headConfig({ kind: 'regression', labels: [], dropout: 0 }), seed: 31 },
      { name: 'multi', mode: { kind: 'adapters', adapter: ia3Config() }, head: headConfig({ kind: 'multilabel', labels: ['u', 'v', 'w', 'x'], dropout: 0 }), seed: 32 }, // four outputs: the widest row
      { name: 'pos', mode: { kind: 'adapters', adapter: loraConfig({ r: 2, alpha: 4 }) }, head: headConfig({ kind: 'tagging', labels: ['N', 'A', 'O'], scheme: 'plain', dropout: 0 }), seed: 33 },
    ];
    const tagRows = taggingRows(create(base, sentenceSpecs[3]!), toyTagged(12, 71), 32);
    const kindOf = [0, 1, 2, 3, 2, 1, 0, 3, 1, 2, 3, 1];
    const rowOf = (i: number) => (kindOf[i] === 3 ? tagRows[i]! : rows[i]!);
    const labelOfRow = (i: number): MixedLabel => [i % 3, 0.25 * i - 1, [i % 2, 1, 0, (i >> 1) % 2], tagRows[i]!.labels][kindOf[i]!]!;
    await checkAgainstSingle(base, sentenceSpecs, kindOf, rowOf, labelOfRow);
    const t = new MixedTaskTrainer(base, sentenceSpecs.map((x) => ({ name: x.name, model: create(base, x) })), { dropout: 0 });
    const batch = collate([rows[0]!, rows[1]!], base.tokenizer.padId);
    await assert.rejects(t.step(batch, [1, 2], [0.5, [1, 0]]), /row 1 \(task multi\): a multi-label row must have 4 0\/1 values, got \[1,0\]/);
    await assert.rejects(t.step(batch, [1, 2], [Number.NaN, [1, 0, 0, 1]]), /row 0 \(task score\): a regression label must be a finite number, got null/);
    await t.dispose();
  });

  test('tasks that cannot join a mixed batch are refused by name', () => {
    const qa = TaskModel.create(base, { mode: specs[0]!.mode, head: headConfig({ kind: 'qa', labels: [] }), seed: 1 });
    const a = create(base, specs[0]!);
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'a', model: a }, { name: 'squad', model: qa }]), /task squad has a qa head; mixed-task training takes classification, regression, multilabel, tagging heads \(train extractive-QA tasks on their own\)/);
    const full = TaskModel.create(base, { mode: { kind: 'full' }, head: specs[0]!.head, seed: 1 });
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'f', model: full }]), /task f trains in mode full; mixed-task training takes adapter tasks \(mode adapters\) only/);
    const mean = TaskModel.create(base, { mode: specs[0]!.mode, head: headConfig({ kind: 'classification', labels: ['n', 'p'], pooling: 'mean', dropout: 0 }), seed: 1 });
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'a', model: a }, { name: 'm', model: mean }]), /task m's head reads mean pooling, task a's encoder: the sentence-level tasks of one mixed-task run share the head pooling/);
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'a', model: a }, { name: 'a', model: a }]), /task a is given twice/);
  });
});

describe('trainMultiTask and its sampling', async () => {
  const base = await loadBase(TINY);
  const tmp = () => tempDir('adapterkit-mt-');
  // a second task on the same sentences: which kind of subject (animals, things read or built, other), 3 classes
  const third = (e: Example): Example => ({ ...e, label: /the (cat|dog)/.test(e.textA) ? 0 : /(this model|that book|the house)/.test(e.textA) ? 1 : 2 });

  test('proportional sampling draws every example once an epoch; temperature follows n^(1/T)', () => {
    const sizes = [30, 10, 5];
    const d = mixedEpoch(sizes, 'proportional', 1, 0);
    assert.equal(d.length, 45);
    assert.equal(new Set(d.map((x) => `${x.task}:${x.example}`)).size, 45);
    assert.notDeepEqual(d, mixedEpoch(sizes, 'proportional', 1, 1)); // another order next epoch
    assert.deepEqual(d, mixedEpoch(sizes, 'proportional', 1, 0)); // deterministic
    const p = taskProbabilities(sizes, { temperature: 2 });
    const z = Math.sqrt(30) + Math.sqrt(10) + Math.sqrt(5);
    p.forEach((x, i) => assert.ok(Math.abs(x - Math.sqrt(sizes[i]!) / z) < 1e-12));
    const many = Array.from({ length: 40 }, (_, e) => mixedEpoch(sizes, { temperature: 2 }, 3, e)).flat();
    const share = sizes.map((_, t) => many.filter((x) => x.task === t).length / many.length);
    share.forEach((s, i) => assert.ok(Math.abs(s - p[i]!) < 0.03, `task ${i}: drawn ${s}, expected ${p[i]}`));
    assert.deepEqual(parseSampling('temperature=2'), { temperature: 2 });
    assert.equal(parseSampling('proportional'), 'proportional');
    assert.throws(() => parseSampling('temperature=0'), /sampling temperature must be a positive number, got 0/);
    assert.throws(() => parseSampling('uniform'), /sampling "uniform": use proportional or temperature=<T>/);
  });

  test('length bucketing reorders the draws into batches of like lengths: the same draws, less padding, the short batch last', () => {
    // two tasks of very different lengths (as spam's e-mails beside sotu's sentences): task 0 rows of 100 tokens, task 1 of 5-9
    const sizes = [30, 300];
    const len = (d: MixedDraw) => (d.task === 0 ? 100 : 5 + (d.example % 5));
    const B = 8;
    const drawn = mixedEpoch(sizes, 'proportional', 1, 0);
    const order = bucketDraws(drawn, len, B, 1, 0, 10);
    const key = (d: MixedDraw) => `${d.task}:${d.example}`;
    assert.deepEqual([...order].map(key).sort(), drawn.map(key).sort(), 'the same draws, each once');
    const cut = (ds: readonly MixedDraw[]) => Array.from({ length: Math.ceil(ds.length / B) }, (_, i) => ds.slice(i * B, (i + 1) * B));
    const padded = (ds: readonly MixedDraw[]) => cut(ds).reduce((a, b) => a + b.length * Math.max(...b.map(len)), 0);
    const tokens = drawn.reduce((a, d) => a + len(d), 0);
    // in draw order nearly every batch holds a 100-token row; bucketed, the long rows share a few batches
    assert.ok(padded(drawn) > 2 * padded(order), `padded tokens: ${padded(drawn)} in draw order, ${padded(order)} bucketed (${tokens} real)`);
    const batches = cut(order);
    assert.equal(batches.length, Math.ceil(330 / B));
    batches.slice(0, -1).forEach((b, i) => assert.equal(b.length, B, `batch ${i} is full`));
    assert.equal(batches[batches.length - 1]!.length, 330 % B, 'the one short batch comes last');
    // every batch is a sorted run of one window of 10 batches' worth of draws
    const windows = lengthBuckets(drawn, len, B, 10).map((b) => b.map(key).join(' '));
    for (const b of batches) assert.ok(windows.includes(b.map(key).join(' ')), 'a batch of lengthBuckets');
    assert.deepEqual(bucketDraws(drawn, len, B, 1, 0, 10), order, 'deterministic');
    assert.notDeepEqual(bucketDraws(drawn, len, B, 1, 1, 10), order, 'another batch order in another epoch');
    assert.throws(() => lengthBuckets(drawn, len, 0), /batch size must be at least 1, got 0/);
  });

  test('trainMultiTask buckets by length unless told not to: fewer padded positions, the same examples each epoch; resuming with the other setting is refused', async () => {
    const short = toyExamples(48, 31);
    const long = toyExamples(16, 32).map((e) => ({ ...e, textA: `${e.textA} ${e.textA} ${e.textA} ${e.textA}` }));
    const make = () => [
      { name: 'short', model: TaskModel.create(base, { mode: specs[0]!.mode, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 1 }), train: short, dev: toyExamples(8, 33), metrics: ['accuracy'] as const },
      { name: 'long', model: TaskModel.create(base, { mode: specs[1]!.mode, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 2 }), train: long, dev: toyExamples(8, 34), metrics: ['accuracy'] as const },
    ];
    const seqs = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; seq?: number; batch?: number; counts?: Record<string, number> }).filter((r) => r.type === 'train');
    const outOn = tmp();
    const outOff = tmp();
    await trainMultiTask({ outDir: outOn, tasks: make(), epochs: 1, batchSize: 8, maxLength: 40, lr: 1e-2, seed: 3 });
    await trainMultiTask({ outDir: outOff, tasks: make(), epochs: 1, batchSize: 8, maxLength: 40, lr: 1e-2, seed: 3, lengthBucketing: false });
    const on = seqs(outOn);
    const off = seqs(outOff);
    assert.equal(on.length, 8);
    assert.equal(off.length, 8);
    const count = (rs: typeof on, t: string) => rs.reduce((a, r) => a + (r.counts?.[t] ?? 0), 0);
    for (const t of ['short', 'long']) assert.equal(count(on, t), count(off, t), `${t}: every example once either way`);
    const padded = (rs: typeof on) => rs.reduce((a, r) => a + (r.batch ?? 0) * (r.seq ?? 0), 0);
    assert.ok(padded(on) < padded(off), `padded positions: ${padded(on)} bucketed, ${padded(off)} in draw order`);
    assert.ok(on.some((r) => (r.counts?.long ?? 0) === 0), 'some bucketed batch holds no long row');
    await assert.rejects(trainMultiTask({ outDir: outOn, tasks: make(), epochs: 1, batchSize: 8, maxLength: 40, lr: 1e-2, seed: 3, lengthBucketing: false, resume: true }),
      /cannot resume .*: the run was started with different lengthBucketing \(true then, false now\)/);
  });

  test('a tiny run: every task learns, keeps its own best checkpoint, which reloads as an ordinary task', async () => {
    const out = tmp();
    const trainA = toyExamples(128, 21);
    const trainB = toyExamples(48, 22).map(third);
    const tasks = [
      { name: 'sent', model: TaskModel.create(base, { mode: specs[0]!.mode, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 1 }), train: trainA, dev: toyExamples(24, 23), metrics: ['accuracy'] as const },
      { name: 'subj', model: TaskModel.create(base, { mode: specs[1]!.mode, head: headConfig({ kind: 'classification', labels: ['t', 'd', 'h'] }), seed: 2 }), train: trainB, dev: toyExamples(24, 24).map(third), metrics: ['accuracy'] as const },
    ];
    const events: MultiTaskEvent[] = [];
    // five epochs: after three, the sentiment task beat the majority by 0.1 on one of four seeds of the data order (42-45), after five on all four
    const r = await trainMultiTask({ outDir: out, tasks, sampling: { temperature: 2 }, epochs: 5, batchSize: 16, maxLength: 16, lr: 1e-2, onEvent: (e) => events.push(e) });
    assert.equal(r.steps, 5 * Math.ceil(176 / 16));
    assert.equal(events.filter((e) => e.type === 'eval').length, 10); // two tasks, five epochs
    const start = events[0] as Extract<MultiTaskEvent, { type: 'start' }>;
    assert.deepEqual(start.tasks.map((t) => t.name), ['sent', 'subj']);
    for (const [i, t] of r.tasks.entries()) {
      assert.equal(t.bestDir, join(out, t.name, 'best'));
      assert.ok(t.best, `${t.name} has a best checkpoint`);
      assert.ok(t.seen > 0 && t.steps > 0 && t.steps <= r.steps);
      const loaded = await loadSavedTask(base, t.bestDir);
      const preds = await predictExamples(loaded.model, tasks[i]!.dev, { maxLength: 16 });
      const scores = scorePredictions(['accuracy'], preds, tasks[i]!.dev);
      assert.ok(Math.abs((scores.accuracy as number) - (t.best?.metrics.accuracy as number)) < 1e-9, `${t.name}: reloaded best scores ${scores.accuracy}, the run said ${t.best?.metrics.accuracy}`);
      const log = readFileSync(join(out, t.name, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
      assert.equal(log.filter((x) => x.type === 'eval').length, 5);
      await loaded.model.dispose();
    }
    const dev = tasks[0]!.dev;
    const majority = Math.max(...[0, 1].map((c) => dev.filter((e) => e.label === c).length)) / dev.length;
    assert.ok((r.tasks[0]?.best?.metrics.accuracy as number) > majority + 0.1, `the sentiment task learned: ${r.tasks[0]?.best?.metrics.accuracy} vs majority ${majority}`);
    const counts = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; counts?: Record<string, number> }).filter((x) => x.type === 'train');
    assert.equal(counts.length, r.steps);
    assert.ok(counts.some((c) => (c.counts?.sent ?? 0) > 0 && (c.counts?.subj ?? 0) > 0), 'batches mix the tasks');
  });

  test('a classification and a tagging task in one run: token accuracy on dev, best checkpoints that reload and tag as single tasks', async () => {
    const out = tmp();
    const tagTrain = toyTagged(96, 41);
    const tagDev = toyTagged(24, 42);
    const sentDev = toyExamples(24, 44);
    const tasks = [
      { name: 'sent', model: TaskModel.create(base, { mode: specs[0]!.mode, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 1 }), train: toyExamples(64, 43), dev: sentDev, metrics: ['accuracy'] as const },
      { name: 'tags', model: TaskModel.create(base, { mode: specs[2]!.mode, head: headConfig({ kind: 'tagging', labels: ['N', 'A', 'O'], scheme: 'plain' }), seed: 2 }), train: tagTrain, dev: tagDev },
    ];
    const events: MultiTaskEvent[] = [];
    const r = await trainMultiTask({ outDir: out, tasks, epochs: 2, batchSize: 16, maxLength: 24, lr: 2e-2, onEvent: (e) => events.push(e) });
    assert.equal(r.steps, 2 * Math.ceil(160 / 16));
    const tagEvals = events.filter((e): e is Extract<MultiTaskEvent, { type: 'eval' }> => e.type === 'eval' && e.task === 'tags');
    assert.equal(tagEvals.length, 2);
    assert.deepEqual(Object.keys(tagEvals[0]!.metrics), ['token_accuracy']);
    const best = r.tasks[1]!.best;
    assert.ok(best, 'the tagging task has a best checkpoint');
    const loaded = await loadSavedTask(base, r.tasks[1]!.bestDir);
    assert.equal(loaded.model.head.kind, 'tagging');
    const scores = await evaluateTagging(loaded.model, tagDev, { maxLength: 24 });
    assert.ok(Math.abs((scores.token_accuracy as number) - (best.metrics.token_accuracy as number)) < 1e-9, `reloaded tagger scores ${scores.token_accuracy}, the run said ${best.metrics.token_accuracy}`);
    // it learned: the toy tags follow the words, O is the most frequent tag
    const words = tagDev.flatMap((x) => x.tags);
    const majority = words.filter((t) => t === 'O').length / words.length;
    assert.ok((best.metrics.token_accuracy as number) > majority + 0.1, `the tagger learned: ${best.metrics.token_accuracy} vs majority ${majority}`);
    const sent = await loadSavedTask(base, r.tasks[0]!.bestDir);
    const preds = await predictExamples(sent.model, sentDev, { maxLength: 24 });
    assert.ok(Math.abs((scorePredictions(['accuracy'], preds, sentDev).accuracy as number) - (r.tasks[0]!.best?.metrics.accuracy as number)) < 1e-9);
    await loaded.model.dispose();
    await sent.model.dispose();
  });

  test('bad runs are refused before training', async () => {
    const a = { name: 'a', model: create(base, specs[0]!), train: toyExamples(8, 1), dev: toyExamples(4, 2), metrics: ['accuracy'] as const };
    const b = { name: 'b', model: create(base, specs[2]!), train: toyExamples(8, 3), dev: toyExamples(4, 4), metrics: ['accuracy'] as const };
    await assert.rejects(trainMultiTask({ outDir: tmp(), tasks: [a, b], patience: 0 }), /patience must be a positive integer \(evaluations without improvement before a task stops\), got 0/);
    await assert.rejects(trainMultiTask({ outDir: tmp(), tasks: [a] }), /mixed-task training needs at least two tasks, got 1/);
    await assert.rejects(trainMultiTask({ outDir: tmp(), tasks: [a, { ...b, dev: [] }] }), /task b has no dev examples; each task of a mixed-task run is evaluated on its own dev split/);
    await assert.rejects(trainMultiTask({ outDir: tmp(), tasks: [a, b], sampling: { temperature: -1 } }), /sampling temperature must be a positive number, got -1/);
  });
});
