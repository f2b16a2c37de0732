/**
 * Mixed-task training equals separate runs: on the tiny BERT, with dropout off, the gradient of
 * each task's tensors from one mixed batch is n_t/B times the gradient of that task's own model on
 * its sub-batch (the loss is the per-example sum over the shared batch size B), and a few AdamW
 * steps from mixed batches give the tensors separate runs give on the same sub-batches.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { adapterConfig, loraConfig } from '../../src/adapters/methods/index.js';
import { headConfig, type HeadConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { collate, tokenizeAll } from '../../src/train/batching.js';
import type { Example } from '../../src/train/data/types.js';
import { MixedTaskTrainer } from '../../src/train/multi-task-train-model.js';
import { AdamW, clipByGlobalNorm } from '../../src/train/optim/index.js';
import { TaskModel } from '../../src/train/task-model.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { toyExamples } from './toy-task.js';

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

describe('mixed-task training on tiny-bert', async () => {
  const base = await loadBase(TINY);
  const examples: Example[] = toyExamples(24, 11);
  const rows = tokenizeAll(base.tokenizer, examples, false, 32);
  // row i belongs to task taskOf[i]; task b's labels use its three classes
  const taskOf = [0, 1, 2, 0, 1, 1, 2, 0, 1, 0, 2, 1];
  const labelOf = (i: number) => (taskOf[i] === 1 ? i % 3 : (examples[i]?.label as number));

  function batchOf(idx: readonly number[]) {
    return collate(idx.map((i) => rows[i]!), base.tokenizer.padId);
  }

  test('each task\'s gradient from a mixed batch is n_t/B times its own model\'s on its sub-batch', async () => {
    const mixedModels = specs.map((s) => create(base, s));
    const trainer = new MixedTaskTrainer(base, specs.map((s, i) => ({ name: s.name, model: mixedModels[i]! })), { dropout: 0 });
    const idx = taskOf.map((_, i) => i);
    const B = idx.length;
    const r = await trainer.step(batchOf(idx), taskOf, idx.map(labelOf));
    for (let t = 0; t < specs.length; t++) {
      const own = create(base, specs[t]!);
      const sub = idx.filter((i) => taskOf[i] === t);
      const single = await own.trainStep(batchOf(sub), sub.map(labelOf));
      const n = sub.length;
      assert.equal(r.taskCounts[t], n);
      assert.ok(Math.abs((r.taskLossSums[t] as number) / n - single.loss) < 1e-5, `task ${specs[t]!.name}: loss ${(r.taskLossSums[t] as number) / n} vs ${single.loss}`);
      own.trainable.forEach((x, k) => {
        const g = r.grads[t]![k]!;
        const ref = single.grads[k]!;
        const d = maxDiff(g, ref, B / n);
        assert.ok(d <= 1e-5 + 1e-4 * maxAbs(ref), `task ${specs[t]!.name} ${x.name}: mixed x B/n_t differs from the single-task gradient by ${d} (max |g| ${maxAbs(ref)})`);
      });
      // not vacuous: most tensors have a gradient (LoRA's A has none while B is still zero)
      const nonzero = single.grads.filter((x) => maxAbs(x) > 1e-7).length;
      assert.ok(nonzero >= single.grads.length / 2, `task ${specs[t]!.name}: only ${nonzero} of ${single.grads.length} gradients are non-zero`);
      await own.dispose();
    }
    // the total is the mean over the batch of the per-example losses
    assert.ok(Math.abs(r.loss - r.taskLossSums.reduce((a, b) => a + b, 0) / B) < 1e-6);
    await trainer.dispose();
  });

  test('three AdamW steps from mixed batches give the tensors of separate runs on the same sub-batches', async () => {
    const mixedModels = specs.map((s) => create(base, s));
    const separate = specs.map((s) => create(base, s));
    const trainer = new MixedTaskTrainer(base, specs.map((s, i) => ({ name: s.name, model: mixedModels[i]! })), { dropout: 0 });
    const optsOf = (ms: TaskModel[]) => ms.map((m) => new AdamW(m.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: 1e-2, weightDecay: 0.01 }));
    const mixedOpt = optsOf(mixedModels);
    const sepOpt = optsOf(separate);
    // three batches; task c sits out the second one (its tensors and moments must not move there)
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
    await trainer.dispose();
  });

  test('tasks that cannot join a mixed batch are refused by name', () => {
    const tag = TaskModel.create(base, { mode: specs[0]!.mode, head: headConfig({ kind: 'tagging', labels: ['O', 'A'], scheme: 'plain' }), seed: 1 });
    const a = create(base, specs[0]!);
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'a', model: a }, { name: 'pos', model: tag }]), /task pos has a tagging head; mixed-task training takes single-label classification heads only \(train token-level tasks on their own\)/);
    const full = TaskModel.create(base, { mode: { kind: 'full' }, head: specs[0]!.head, seed: 1 });
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'f', model: full }]), /task f trains in mode full; mixed-task training takes adapter tasks \(mode adapters\) only/);
    const mean = TaskModel.create(base, { mode: specs[0]!.mode, head: headConfig({ kind: 'classification', labels: ['n', 'p'], pooling: 'mean', dropout: 0 }), seed: 1 });
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'a', model: a }, { name: 'm', model: mean }]), /task m's head reads mean pooling, task a's encoder: tasks of one mixed-task run share the head pooling/);
    assert.throws(() => new MixedTaskTrainer(base, [{ name: 'a', model: a }, { name: 'a', model: a }]), /task a is given twice/);
  });
});
