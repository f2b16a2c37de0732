/**
 * An int8 frozen base on the tiny BERT fixture: the training step's loss and gradients against
 * fp32 within stated bounds (bottleneck adapters, LoRA and IA³, whose hooks wrap the frozen
 * projection), the outlier guard keeping fp32 where planted outlier channels break int8, the
 * plan's bytes, and option checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterConfig, methodConfig, PRESET_NAMES } from '../../src/adapters/methods/index.js';
import * as E from '../../src/engine/index.js';
import { f32 } from '../../src/engine/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { chooseKernel, describeFrozenPlan, frozenWeightHook, GUARD_ROWS, guardSlice, kernelBytes, runFrozenGuard, summarizeFrozenPlan, type FrozenBuild, type FrozenErrors, type FrozenPlan } from '../../src/train/frozen-precision.js';
import type { WeightSpec } from '../../src/models/encoder.js';
import { randn, relErr } from '../engine/gradcheck.js';
import { TaskModel } from '../../src/train/task-model.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { toyExamples } from './toy-task.js';
import { toyFrozenStep } from './frozen-step.js';

const base = await loadBase('test/fixtures/models/tiny-bert');
const examples = toyExamples(16, 1);
const batch = base.tokenizer.encode(examples.map((e) => e.textA), 16);
const labels = examples.map((e) => e.label as number);
const head = headConfig({ kind: 'classification', labels: ['negative', 'positive'] });

const step = toyFrozenStep; // the same toy batch as `batch` above

// Bounds: the loss within 2e-3 relative, all gradients together within 3e-2, each tensor within 0.2
// (measured on 2026-12-01: loss 4e-4, gradients 1.0e-2, worst tensor 2.9e-2 for the bottleneck
// adapter; LoRA's worst is layer 1's query lora_A at 0.12, a small gradient, the others <= 0.041).
for (const [name, mode] of [
  ['bottleneck adapter (m=8)', { kind: 'adapters', adapter: adapterConfig({ size: 8 }) }],
  ['LoRA r=4 (hooks wrap the int8 projection)', { kind: 'adapters', adapter: methodConfig('lora', { r: 4, init_weights: 'bert' }) }],
  ['IA3', { kind: 'adapters', adapter: methodConfig('ia3') }],
] as [string, TrainingMode][]) {
  test(`int8 frozen base, ${name}: loss, gradients and logits close to fp32; every frozen matmul int8`, async () => {
    const ref = await step(base, mode, 'fp32');
    const q = await step(base, mode, 'int8');
    assert.deepEqual(q.names, ref.names);
    assert.equal(ref.plans.length, 0, 'fp32 runs no guard');
    assert.equal(q.plans.length, 1, 'the guard runs once, on the first batch');
    const plan = q.plans[0] as FrozenPlan;
    assert.equal(plan.choices.length, 12, 'q, k, v, attention output, intermediate, output in 2 layers');
    assert.ok(plan.choices.every((c) => c.kernel === 'int8' && c.errors.int8 > 1e-4 && c.errors.int8 < 0.03), summarizeFrozenPlan(plan));
    // The guard ran on the training batch: the input gradients training needs are measured, and int8. The bottleneck
    // adapter trains the embeddings' layer norm, so every product's input depends on it; LoRA and IA³ train nothing
    // below layer 0's q, k, v, whose input gradients are never built.
    const measured = plan.choices.filter((c) => c.backward);
    const unmeasured = plan.choices.filter((c) => !c.backward).map((c) => c.weight);
    assert.deepEqual(unmeasured, name.startsWith('bottleneck') ? [] : ['query', 'key', 'value'].map((r) => `encoder.layer.0.attention.self.${r}.weight`));
    assert.ok(measured.every((c) => c.backward?.kernel === 'int8' && c.backward.errors.int8 > 1e-4 && c.backward.errors.int8 < 0.03), describeFrozenPlan(plan).join('\n'));
    const lossErr = Math.abs(q.loss - ref.loss) / Math.abs(ref.loss);
    assert.ok(lossErr > 0 && lossErr < 2e-3, `loss ${q.loss} vs fp32 ${ref.loss} (relative ${lossErr})`);
    const flat = (gs: Float32Array[]) => Float32Array.from(gs.flatMap((g) => Array.from(g)));
    const gradErr = relErr(flat(q.grads), flat(ref.grads));
    assert.ok(gradErr < 3e-2, `gradients: relative error ${gradErr}`);
    ref.grads.forEach((g, i) => {
      const e = relErr(q.grads[i] as Float32Array, g);
      assert.ok(e < 0.2, `${ref.names[i]}: relative error ${e}`);
    });
    assert.ok(relErr(q.logits, ref.logits) < 3e-2, 'prediction logits');
  });
}

test('every method preset trains on an int8 base: the guard plans the 12 frozen matmuls, and the loss is within 2e-3 of fp32', async () => {
  // measured on 2026-12-03: 2.6e-5 (pfeiffer) to 9.9e-4 (prompt) relative
  for (const preset of PRESET_NAMES) {
    const mode: TrainingMode = { kind: 'adapters', adapter: methodConfig(preset, /compacter/.test(preset) ? { reduction_factor: 4 } : {}) };
    const [ref, q] = [await step(base, mode, 'fp32'), await step(base, mode, 'int8')];
    const plan = q.plans[0] as FrozenPlan;
    assert.equal(plan.choices.length, 12, `${preset}: ${summarizeFrozenPlan(plan)}`);
    assert.ok(plan.choices.every((c) => c.kernel === 'int8'), `${preset}: ${summarizeFrozenPlan(plan)}`);
    const lossErr = Math.abs(q.loss - ref.loss) / Math.abs(ref.loss);
    assert.ok(lossErr > 0 && lossErr < 2e-3, `${preset}: loss ${q.loss} vs fp32 ${ref.loss} (relative ${lossErr})`);
  }
});

test('the guard keeps fp32 where planted outlier channels break int8 (blocks of 32 span the whole 32-wide input) and int8 elsewhere', async () => {
  // Two channels of the embeddings' layer norm x30, the matching rows of layer 0's q, k, v / 30:
  // their products are unchanged, but per-tensor (and, at width 32, per-block) activation scales are 30x coarser.
  const w = new Map(base.weights);
  const scaled = (name: string, f: (data: Float32Array) => void) => {
    const t = base.weights.get(name);
    assert.ok(t, name);
    const data = Float32Array.from(t.data);
    f(data);
    w.set(name, f32(t.shape, data));
  };
  const CH = [3, 17];
  for (const n of ['embeddings.LayerNorm.weight', 'embeddings.LayerNorm.bias']) scaled(n, (d) => CH.forEach((c) => (d[c] = (d[c] as number) * 30)));
  const qkv = ['query', 'key', 'value'].map((r) => `encoder.layer.0.attention.self.${r}.weight`);
  for (const n of qkv) scaled(n, (d) => CH.forEach((c) => { for (let j = 0; j < 32; j++) d[c * 32 + j] = (d[c * 32 + j] as number) / 30; }));
  const outliers: BaseModel = { ...base, weights: w };
  const mode: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8 }) };
  const ref = await step(outliers, mode, 'fp32');
  const q = await step(outliers, mode, 'int8');
  const plan = q.plans[0] as FrozenPlan;
  for (const c of plan.choices) {
    if (qkv.includes(c.weight)) {
      assert.ok(c.errors.int8 > 0.03 && (c.errors['int8-block'] as number) > 0.03, `${c.weight}: ${JSON.stringify(c.errors)}`);
      assert.equal(c.kernel, 'fp32', c.weight);
    } else {
      assert.equal(c.kernel, 'int8', `${c.weight}: ${JSON.stringify(c.errors)}`);
      assert.equal(c.errors['int8-block'], undefined, 'the block kernel is measured only where int8 is over the tolerance');
    }
  }
  assert.match(summarizeFrozenPlan(plan), /^int8 frozen base: 9 of 12 matmuls int8, 0 int8-block, 3 fp32 \(tolerance 0\.03, worst int8 error 0\.0\d+\); input gradients: \d of 9 int8, \d int8-block256, \d int8-block, \d fp32 \(worst int8 error 0\.0\d+\); frozen matmul weights 50\.5 kB -> \d+\.\d kB$/);
  assert.ok(plan.choices.every((c) => (c.kernel === 'fp32') === (c.backward === undefined)), 'the input gradient is measured for every quantised forward (an fp32 forward has an fp32 gradient)');
  const lossErr = Math.abs(q.loss - ref.loss) / Math.abs(ref.loss);
  assert.ok(lossErr < 2e-3, `with the guard's plan the loss stays close: ${lossErr}`);
  // A looser tolerance accepts the outliers in int8.
  const loose = await step(outliers, mode, 'int8', { int8Tolerance: 1 });
  assert.ok((loose.plans[0] as FrozenPlan).choices.every((c) => c.kernel === 'int8'));
});

test('the guard chooses int8, then int8-block, then fp32; the plan counts bytes as the kernels store them', () => {
  assert.equal(chooseKernel({ int8: 0.01, 'int8-block': 0.005 }, 0.03), 'int8');
  assert.equal(chooseKernel({ int8: 0.2, 'int8-block': 0.01 }, 0.03), 'int8-block');
  assert.equal(chooseKernel({ int8: 0.2, 'int8-block': 0.1 }, 0.03), 'fp32');
  // An input gradient's chain tries blocks of 256 before blocks of 32; the forward's has no blocks of 256.
  assert.equal(chooseKernel({ int8: 0.2, 'int8-block256': 0.01, 'int8-block': 0.005 }, 0.03, E.INPUT_GRADIENT_KERNELS), 'int8-block256');
  assert.equal(chooseKernel({ int8: 0.2, 'int8-block256': 0.05, 'int8-block': 0.005 }, 0.03, E.INPUT_GRADIENT_KERNELS), 'int8-block');
  assert.equal(chooseKernel({ int8: 0.01, 'int8-block256': 0.005 }, 0.03, E.INPUT_GRADIENT_KERNELS), 'int8');
  assert.equal(chooseKernel({ int8: 0.2, 'int8-block256': 0.01 }, 0.03), 'fp32');
  assert.equal(kernelBytes([768, 3072], 'fp32'), 4 * 768 * 3072);
  assert.ok(kernelBytes([768, 3072], 'int8') / kernelBytes([768, 3072], 'fp32') < 0.502);
  assert.ok(kernelBytes([768, 3072], 'int8-block') / kernelBytes([768, 3072], 'fp32') < 0.57);
});

test('full fine-tuning with an int8 base: no frozen matmul, so nothing is quantised, and the guard says so; the step is the fp32 step', async () => {
  const ref = await step(base, { kind: 'full' }, 'fp32');
  const q = await step(base, { kind: 'full' }, 'int8');
  assert.equal(q.plans.length, 1);
  assert.deepEqual((q.plans[0] as FrozenPlan).choices, []);
  assert.equal(summarizeFrozenPlan(q.plans[0] as FrozenPlan), 'int8 frozen base: no frozen matmuls (the task trains every linear weight of the base, in fp32)');
  assert.equal(q.loss, ref.loss);
  assert.deepEqual(q.logits, ref.logits);
});

test('frozenPrecision and int8Tolerance are checked', () => {
  const mode: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8 }) };
  assert.throws(() => TaskModel.create(base, { mode, head, seed: 1, frozenPrecision: 'int4' as never }), /frozenPrecision must be one of fp32, int8, got "int4"/);
  assert.throws(() => TaskModel.create(base, { mode, head, seed: 1, frozenPrecision: 'int8', int8Tolerance: 0 }), /int8Tolerance must be a number in \(0, 1\]/);
});

test('a MultiTaskModel (what serve runs) with an int8 frozen base: mixed-batch logits close to fp32, the guard run once on the first batch', async () => {
  const { MultiTaskModel } = await import('../../src/train/multi-task-model.js');
  const tasks = [
    ['bn', { kind: 'adapters', adapter: methodConfig('pfeiffer', { reduction_factor: 4, init_weights: 'bert' }) }],
    ['lora', { kind: 'adapters', adapter: methodConfig('lora', { r: 4, init_weights: 'bert' }) }],
  ] as [string, TrainingMode][];
  const logits: Float32Array[][] = [];
  const plans: FrozenPlan[] = [];
  for (const frozenPrecision of ['fp32', 'int8'] as const) {
    const multi = new MultiTaskModel(base, { frozenPrecision, onFrozenPlan: (p) => plans.push(p) });
    for (const [name, mode] of tasks) multi.add(name, TaskModel.create(base, { mode, head, seed: 9 }));
    const names = examples.map((_, i) => (tasks[i % 2] as [string, TrainingMode])[0]);
    logits.push(await multi.predict(batch, names));
    await multi.predict(batch, names);
    await multi.dispose();
  }
  assert.equal(plans.length, 1);
  assert.ok((plans[0] as FrozenPlan).choices.every((c) => c.kernel === 'int8'));
  const flat = (xs: Float32Array[]) => Float32Array.from(xs.flatMap((x) => Array.from(x)));
  const e = relErr(flat(logits[1] as Float32Array[]), flat(logits[0] as Float32Array[]));
  assert.ok(e > 0 && e < 3e-2, `mixed-batch logits: relative error ${e}`);
});

/** Factor of dY's element (row m, channel c) for each of the two products. */
type Planted = readonly [(m: number, c: number) => number, (m: number, c: number) => number];

/**
 * Two channels of r1 x30 (blocks of 32 isolate them, blocks of 256 do not; per tensor they coarsen
 * the step of the 766 others 30x), one channel in every block of 32 of r2 x30 (the outliers carry
 * most of dX, so the relative error stays near 2e-2 per tensor, 1.3e-2 per block).
 */
const OUTLIER_CHANNELS: Planted = [(_, c) => (c === 3 || c === 517 ? 30 : 1), (_, c) => (c % 32 === 7 ? 30 : 1)];

/**
 * Two frozen products of a trained x [M, 64] (M = `rows`, default 32): y1 = x W1 and y2 = x W2,
 * both 64 -> 768, loss = Σ y1 r1 + Σ y2 r2, so dY1 = r1 and dY2 = r2, with the outliers
 * `planted` in dY (not in x; default {@link OUTLIER_CHANNELS}). The forward products see clean inputs.
 */
async function outlierGradients(tolerance: number, o: { rows?: number; planted?: Planted } = {}) {
  const [M, K] = [o.rows ?? 32, 64];
  const specs: WeightSpec[] = [{ name: 'w1', shape: [K, 768], role: 'linear' }, { name: 'w2', shape: [K, 768], role: 'linear' }];
  const planted = o.planted ?? OUTLIER_CHANNELS;
  const rs = specs.map((sp, i) => {
    const n = sp.shape[1] as number;
    return f32([M, n], randn([M, n], 30 + i).data.map((v, j) => v * planted[i as 0 | 1](Math.floor(j / n), j % n)));
  });
  const ws = specs.map((sp, i) => randn([...sp.shape], 40 + i, -0.2, 0.2));
  const x = randn([M, K], 50);
  const build = (f?: FrozenBuild, only?: number) => {
    const g = new E.Graph('outlier-gradients');
    const xv = g.param('x', x);
    const hook = f ? frozenWeightHook(f) : undefined;
    const terms = specs.map((sp, i) => {
      const w = g.constant(sp.name, ws[i] as E.HostTensor<'float32'>);
      hook?.(sp, w);
      const r = only === undefined || only === i ? rs[i] as E.HostTensor<'float32'> : f32([M, sp.shape[1] as number], new Float32Array(M * (sp.shape[1] as number)));
      return E.reduceSum(E.mul(E.linear(xv, w), g.constant(`r${i}`, r)));
    });
    const loss = E.add(terms[0] as E.Value, terms[1] as E.Value);
    return { graph: g, loss, params: [xv] };
  };
  /** dX under plan `f` (absent: fp32); `only`: of that product's term alone. */
  const dx = async (f?: FrozenPlan, only?: number) => {
    const b = build(f, only);
    const [d] = E.gradients(b.loss, b.params);
    const s = await E.Session.create(b.graph, { outputs: [d as E.Value] });
    const out = (await s.run({}))[(d as E.Value).name]?.data as Float32Array;
    await s.dispose();
    return out;
  };
  const plan = await runFrozenGuard({ build, feeds: {}, session: {}, specs, tolerance });
  return { plan, dx, build, specs };
}

test('the guard checks the input gradient: isolated outlier channels of dY send it to blocks of 32 (blocks of 256 measured and over); where no kernel is within the tolerance, fp32; the forward stays int8; logged', async () => {
  const { plan, dx } = await outlierGradients(0.03);
  const [w1, w2] = plan.choices as [FrozenPlan['choices'][number], FrozenPlan['choices'][number]];
  const all = describeFrozenPlan(plan).join('\n');
  assert.ok(w1.kernel === 'int8' && w2.kernel === 'int8' && w1.errors.int8 < 0.01 && w2.errors.int8 < 0.01, `clean inputs, the forward products are fine:\n${all}`);
  assert.ok((w1.backward?.errors.int8 as number) > 0.05 && (w1.backward?.errors['int8-block256'] as number) > 0.03 && (w1.backward?.errors['int8-block'] as number) < 0.03 && w1.backward?.kernel === 'int8-block', all);
  assert.ok(w2.backward?.kernel === 'int8' && w2.backward.errors['int8-block'] === undefined && w2.backward.errors['int8-block256'] === undefined, all);
  assert.match(summarizeFrozenPlan(plan), /; input gradients: 1 of 2 int8, 0 int8-block256, 1 int8-block, 0 fp32 \(worst int8 error 0\.0\d+\); frozen matmul weights 384\.0 kB -> \d+\.\d kB$/);
  assert.equal(plan.bytes.planned, kernelBytes([64, 768], 'int8', 'int8-block') + kernelBytes([64, 768], 'int8'));
  assert.deepEqual(describeFrozenPlan(plan, { onlyExceptions: true }).map((l) => l.replace(/\d\.\d+/g, 'E')), [
    'w1 [64, 768]: int8 error E -> int8; input gradient: int8 error E, int8-block256 E, int8-block E -> int8-block',
  ]);
  // W1's part of dX with the guard's plan against fp32, and with int8 in both directions; all of dX with the plan.
  const forced = { ...plan, choices: plan.choices.map((c) => ({ ...c, backward: { errors: c.errors, kernel: 'int8' as const } })) };
  const ref1 = await dx(undefined, 0);
  const [eg, ef] = [relErr(await dx(plan, 0), ref1), relErr(await dx(forced, 0), ref1)];
  assert.ok(eg < 0.03 && ef > 0.05 && ef > 2 * eg, `W1's dX: ${eg} with the guard's plan, ${ef} in int8`);
  const ref = await dx();
  assert.ok(relErr(await dx(plan), ref) < 0.03, 'all of dX with the guard\'s plan');

  // At 8e-3 the forward products still pass in int8, but neither input gradient does in either kernel: fp32 backward.
  const tight = (await outlierGradients(8e-3)).plan;
  const t = describeFrozenPlan(tight).join('\n');
  assert.ok(tight.choices.every((c) => c.kernel === 'int8' && c.backward?.kernel === 'fp32' && (c.backward.errors['int8-block'] as number) > 8e-3 && (c.backward.errors['int8-block256'] as number) > 8e-3), t);
  assert.match(summarizeFrozenPlan(tight), /; input gradients: 0 of 2 int8, 0 int8-block256, 0 int8-block, 2 fp32; /);
  assert.equal(tight.bytes.planned, 2 * kernelBytes([64, 768], 'int8', 'fp32'));
  assert.ok(relErr(await dx(tight), ref) < 1e-5, 'fp32 input gradients are exact');
});

test('the guard sends an input gradient whose spread is across rows to blocks of 256: two rows of dY x30 of 256 (the rows a loss reads most), dX within the tolerance of fp32', async () => {
  const loudRows: Planted = [(m) => (m === 0 || m === 133 ? 30 : 1), () => 1];
  const { plan, dx } = await outlierGradients(0.03, { rows: 256, planted: loudRows });
  const [w1, w2] = plan.choices as [FrozenPlan['choices'][number], FrozenPlan['choices'][number]];
  const all = describeFrozenPlan(plan).join('\n');
  assert.ok(w1.kernel === 'int8' && w2.kernel === 'int8', `clean inputs, the forward products are fine:\n${all}`);
  const e = w1.backward?.errors as FrozenErrors;
  assert.ok(e.int8 > 0.03 && (e['int8-block256'] as number) < 0.015 && w1.backward?.kernel === 'int8-block256', all);
  // Blocks of 256 are measured in the guard's first run with int8; being within, blocks of 32 are not measured at all.
  assert.equal(e['int8-block'], undefined, all);
  assert.ok(w2.backward?.kernel === 'int8', all);
  assert.match(summarizeFrozenPlan(plan), /; input gradients: 1 of 2 int8, 1 int8-block256, 0 int8-block, 0 fp32 \(worst int8 error 0\.0\d+\); /);
  // the bytes of the transposed copy in blocks of 256: [768, 64] with 768 = 3 blocks per column
  assert.equal(kernelBytes([64, 768], 'int8', 'int8-block256') - kernelBytes([64, 768], 'int8'), (256 + 4) * 64 * 3 - (64 * 768 + 4 * 64));
  assert.equal(plan.bytes.planned, kernelBytes([64, 768], 'int8', 'int8-block256') + kernelBytes([64, 768], 'int8'));
  // W1's part of dX with the guard's plan against fp32, and with int8 in both directions.
  const forced = { ...plan, choices: plan.choices.map((c) => ({ ...c, backward: { errors: c.errors, kernel: 'int8' as const } })) };
  const ref1 = await dx(undefined, 0);
  const [eg, ef] = [relErr(await dx(plan, 0), ref1), relErr(await dx(forced, 0), ref1)];
  assert.ok(eg < 0.015 && ef > 0.03, `W1's dX: ${eg} with the guard's plan (blocks of 256), ${ef} in int8`);
});

test('a product whose input does not depend on a trained tensor gets no input-gradient check', async () => {
  const { build, specs } = await outlierGradients(0.03);
  // The same graph with no parameter upstream of the products (x still a param, but not differentiated).
  const plan = await runFrozenGuard({ build: (f) => ({ ...build(f), params: [] }), feeds: {}, session: {}, specs, tolerance: 0.03 });
  assert.ok(plan.choices.every((c) => c.backward === undefined), JSON.stringify(plan.choices));
  assert.doesNotMatch(summarizeFrozenPlan(plan), /input gradients/);
});

test('the guard measures on the first GUARD_ROWS rows of a batch and of its labels (per row, or a flat share per row)', () => {
  const big = base.tokenizer.encode(toyExamples(GUARD_ROWS + 4, 2).map((e) => e.textA), 12);
  const perRow = Array.from({ length: big.batchSize }, (_, i) => i % 2);
  const s = guardSlice(big, perRow);
  assert.equal(s.batch.batchSize, GUARD_ROWS);
  assert.deepEqual(Array.from(s.batch.inputIds), Array.from(big.inputIds.subarray(0, GUARD_ROWS * big.seqLen)));
  assert.deepEqual(s.batch.lengths, big.lengths.slice(0, GUARD_ROWS));
  assert.deepEqual(s.labels, perRow.slice(0, GUARD_ROWS));
  const flat = Float32Array.from({ length: big.batchSize * 3 }, (_, i) => i);
  assert.deepEqual(Array.from(guardSlice(big, flat).labels), Array.from(flat.subarray(0, GUARD_ROWS * 3)));
  assert.equal(guardSlice(batch, labels, 16).batch, batch, 'a batch of no more rows is measured whole');
  assert.throws(() => guardSlice(big, [1, 0, 1]), /int8 guard: 3 labels for a batch of 12 rows/);
});
