/**
 * Merging adapters: linear averaging against the weighted sum, TIES against an independent
 * PyTorch computation (scripts/fixtures/make_composition_fixtures.py, merges.json) at full rank and
 * against torch.linalg.svd's best rank-2 approximation, DARE in closed form, the errors, and
 * `adapterkit merge` end to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterHubKeys } from '../../src/adapters/adapterhub.js';
import { dareMerge, lowRankFactors, tiesMerge } from '../../src/adapters/merge.js';
import { fromAdapterHubConfig, methodConfig, type LoraConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { f32, type HostTensor } from '../../src/engine/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { mergeTaskModels } from '../../src/train/merge-tasks.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';
import { cli, tempDir, TINY_BERT } from '../cli/harness.js';

interface Rec {
  shape: number[];
  data: number[];
}
interface MergeFixture {
  adapters: { name: string; config: Record<string, unknown>; tensors: Record<string, Rec> }[];
  weights: number[];
  density: number;
  sites: Record<string, { linear: { lora_A: Rec; lora_B: Rec }; ties: Rec; ties_rank2: Rec; singular_values: number[] }>;
}

const FIX = JSON.parse(readFileSync('test/fixtures/compositions/merges.json', 'utf8')) as MergeFixture;
const HEAD = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] });

function transposed(r: Rec): number[] {
  const [rows, cols] = r.shape as [number, number];
  const out = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = r.data[i * cols + j] as number;
  return out;
}

/** The fixture's LoRA tasks as task models (adapter name `adapter`, the same random head). */
function fixtureTasks(base: BaseModel, o: { alpha?: number } = {}): TaskModel[] {
  const head = TaskModel.create(base, { mode: { kind: 'head-only' }, head: HEAD, seed: 3 }).owned;
  return FIX.adapters.map((a) => {
    const c = fromAdapterHubConfig({ ...a.config, ...(o.alpha !== undefined ? { alpha: o.alpha } : {}) }, a.name);
    const weights = new Map<string, HostTensor<'float32'>>(head);
    for (const k of adapterHubKeys(c, base.encoder, 'adapter', a.name)) {
      const r = a.tensors[k.key] as Rec;
      weights.set(k.internal, f32([...r.shape].reverse(), transposed(r)));
    }
    return TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head: HEAD, seed: 0, weights });
  });
}

/** The merged update s · A B [in, out] at a site. */
function update(m: TaskModel, site: string): Float64Array {
  const c = (m.mode as { adapter: LoraConfig }).adapter;
  const A = m.owned.get(`adapters.adapter.${site}.lora_A`) as HostTensor<'float32'>;
  const B = m.owned.get(`adapters.adapter.${site}.lora_B`) as HostTensor<'float32'>;
  const [n, r] = A.shape as [number, number];
  const k = B.shape[1] as number;
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) for (let q = 0; q < r; q++) for (let j = 0; j < k; j++) out[i * k + j] = (out[i * k + j] as number) + (c.alpha / c.r) * (A.data[i * r + q] as number) * (B.data[q * k + j] as number);
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

test('TIES on LoRA task vectors matches the PyTorch reference at full rank, and the best rank-2 approximation', async (t) => {
  const base = await loadBase(TINY_BERT);
  const tasks = fixtureTasks(base);
  const full = mergeTaskModels(base, tasks, { method: 'ties', weights: FIX.weights, density: FIX.density, rank: 32 });
  const low = mergeTaskModels(base, tasks, { method: 'ties', weights: FIX.weights, density: FIX.density });
  assert.equal((low.model.mode as { adapter: LoraConfig }).adapter.r, 2, 'the default rank is the largest input rank');
  let worstFull = 0;
  let worstLow = 0;
  for (const [site, ref] of Object.entries(FIX.sites)) {
    worstFull = Math.max(worstFull, maxDiff(update(full.model, site), transposed(ref.ties)));
    worstLow = Math.max(worstLow, maxDiff(update(low.model, site), transposed(ref.ties_rank2)));
  }
  t.diagnostic(`max |diff| full rank ${worstFull.toExponential(2)}, rank 2 ${worstLow.toExponential(2)}`);
  assert.ok(worstFull < 1e-6, `full rank: ${worstFull}`);
  assert.ok(worstLow < 1e-5, `rank 2: ${worstLow}`);
  assert.match(full.notes[0] as string, /loses 0\.00 %/);
  assert.match(low.notes[0] as string, /rank 2 \(alpha 2\), which loses \d+\.\d+ % .* \(a larger --rank keeps more\)/);
  for (const m of [...tasks, full.model, low.model]) await m.dispose();
});

test('linear merging is the weighted average of every tensor (LoRA A and B as AdapterHub does; bottleneck; IA³), heads first or averaged', async () => {
  const base = await loadBase(TINY_BERT);
  assert.throws(() => mergeTaskModels(base, fixtureTasks(base), { method: 'linear' }), /differ in structure.*alpha \/ r 2 vs 1/, 'averaging A and B of LoRAs scaled differently is refused');
  const tasks = fixtureTasks(base, { alpha: 4 }); // the same scaling: A and B average
  const { model } = mergeTaskModels(base, tasks, { method: 'linear', weights: FIX.weights });
  for (const [site, ref] of Object.entries(FIX.sites)) {
    for (const part of ['lora_A', 'lora_B'] as const) {
      assert.ok(maxDiff(Array.from((model.owned.get(`adapters.adapter.${site}.${part}`) as HostTensor<'float32'>).data), transposed(ref.linear[part])) < 1e-7, `${site} ${part}`);
    }
  }
  assert.deepEqual(Array.from(model.owned.get('head.out.weight')?.data ?? []), Array.from(tasks[0]?.owned.get('head.out.weight')?.data ?? []), 'the head is the first task\'s');
  for (const preset of ['paper', 'ia3'] as const) {
    const c: MethodConfig = preset === 'paper' ? methodConfig('paper', { size: 4, init_weights: 'bert' }) : methodConfig('ia3');
    const a = TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head: HEAD, seed: 1 });
    const b = TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head: HEAD, seed: 2 });
    for (const x of b.trainable) for (let i = 0; i < x.data.length; i++) x.data[i] = (x.data[i] as number) + 0.01 * i; // make b differ everywhere
    const merged = mergeTaskModels(base, [a, b], { method: 'linear', weights: [1, 3], heads: 'average' }).model;
    for (const [k, t] of merged.owned) {
      const want = Array.from(a.owned.get(k)?.data ?? [], (v, i) => Math.fround(0.25 * v + 0.75 * (b.owned.get(k)?.data[i] as number)));
      assert.ok(maxDiff(Array.from(t.data), want) < 1e-6, `${preset}: ${k}`);
    }
    assert.equal(merged.trainable.length, a.trainable.length, `${preset}: the merged task has the same tensors (layer norms of the paper preset averaged too)`);
    for (const m of [a, b, merged]) await m.dispose();
  }
  for (const m of [...tasks, model]) await m.dispose();
});

test('DARE in closed form: density 1 is task arithmetic; each entry is dropped or rescaled by 1/density, about density of them kept; seeded', async () => {
  const base = await loadBase(TINY_BERT);
  const tasks = fixtureTasks(base);
  const arithmetic = mergeTaskModels(base, tasks, { method: 'dare', weights: [1, 1], density: 1, rank: 32 }).model;
  const tiesAll = mergeTaskModels(base, tasks, { method: 'ties', weights: [1, 1], density: 1, rank: 32 }).model;
  for (const site of Object.keys(FIX.sites)) {
    const want = tasks.map((m) => update(m, site)).reduce((a, b) => a.map((v, i) => v + (b[i] as number)));
    assert.ok(maxDiff(update(arithmetic, site), want) < 1e-6, `${site}: DARE with density 1 is the sum of the task vectors`);
    assert.ok(Number.isFinite(maxDiff(update(tiesAll, site), want)));
  }
  const tau = Float64Array.from({ length: 4096 }, (_, i) => Math.sin(i + 1));
  const d = 0.3;
  const merged = dareMerge([tau], [2], d, new Rng(5));
  let kept = 0;
  merged.forEach((v, i) => {
    if (v === 0) return;
    kept++;
    assert.equal(v, (2 * (tau[i] as number)) / d, `entry ${i} is rescaled by 1/density`);
  });
  assert.ok(Math.abs(kept / tau.length - d) < 0.03, `kept ${kept / tau.length} of the entries, density ${d}`);
  assert.deepEqual(dareMerge([tau], [2], d, new Rng(5)), merged, 'the same seed gives the same masks');
  assert.notDeepEqual(dareMerge([tau], [2], d, new Rng(6)), merged);
  // TIES on hand-made vectors: trim, elect, disjoint mean
  const t1 = Float64Array.from([3, -1, 0.5, -4]);
  const t2 = Float64Array.from([-2, -3, 1, 5]);
  assert.deepEqual(Array.from(tiesMerge([t1, t2], [1, 1], 0.5)), [3, -3, 0, 5]); // keep 2 each: t1 {3, -4}, t2 {-3, 5}; signs + - 0 +
  for (const m of [...tasks, arithmetic, tiesAll]) await m.dispose();
});

test('the low-rank factors are exact at full rank and the best approximation below it, for tall and wide matrices', () => {
  const rng = new Rng(9);
  for (const [m, n] of [[6, 9], [9, 6], [5, 5]] as const) {
    const M = Float64Array.from({ length: m * n }, () => rng.normal());
    const full = lowRankFactors(M, m, n, Math.min(m, n));
    const back = new Float64Array(m * n);
    const r = Math.min(m, n);
    for (let i = 0; i < m; i++) for (let q = 0; q < r; q++) for (let j = 0; j < n; j++) back[i * n + j] = (back[i * n + j] as number) + (full.A[i * r + q] as number) * (full.B[q * n + j] as number);
    assert.ok(maxDiff(back, M) < 1e-10, `${m}x${n}`);
    assert.ok(full.lost < 1e-7);
    const one = lowRankFactors(M, m, n, 1);
    assert.ok(one.lost > 0 && one.lost < 1);
  }
});

test('merging refuses what it cannot do, naming the adapters', async () => {
  const base = await loadBase(TINY_BERT);
  const mk = (c: MethodConfig) => TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head: HEAD, seed: 1 });
  const lora = mk(methodConfig('lora', { r: 2 }));
  const lora4 = mk(methodConfig('lora', { r: 4, alpha: 16 }));
  const loraK = mk(methodConfig('lora', { r: 2, attn_matrices: ['k'] }));
  const bn = mk(methodConfig('paper', { size: 4 }));
  const ia3 = mk(methodConfig('ia3'));
  assert.throws(() => mergeTaskModels(base, [lora, bn], { method: 'linear' }), /task0 is lora, task1 is bottleneck; only adapters of one method merge/);
  assert.throws(() => mergeTaskModels(base, [lora, lora4], { method: 'linear' }), /has shape \[32, 4\], task0's \[32, 2\]; linear merging needs the same sizes/);
  assert.throws(() => mergeTaskModels(base, [bn, bn], { method: 'ties', density: 0.5 }), /ties merges LoRA adapters .* \(use the option method: 'linear'\)/);
  assert.throws(() => mergeTaskModels(base, [ia3, ia3], { method: 'dare', density: 0.5 }), /dare merges LoRA adapters/);
  assert.throws(() => mergeTaskModels(base, [lora, loraK], { method: 'ties', density: 0.5 }), /adapts 0\.query, 0\.value, 1\.query, 1\.value but task1 adapts 0\.key, 1\.key/);
  assert.throws(() => mergeTaskModels(base, [lora, lora], { method: 'ties' }), /ties needs a density/);
  assert.throws(() => mergeTaskModels(base, [lora], { method: 'linear' }), /at least two tasks/);
  assert.throws(() => mergeTaskModels(base, [lora, lora], { method: 'linear', weights: [1, -1] }), /sum to 0/);
  // ranks may differ for TIES/DARE: the merged rank is the largest
  const ok = mergeTaskModels(base, [lora, lora4], { method: 'ties', density: 0.5 }).model;
  assert.equal((ok.mode as { adapter: LoraConfig }).adapter.r, 4);
  for (const m of [lora, lora4, loraK, bn, ia3, ok]) await m.dispose();
});

test('adapterkit merge writes a task that loads and predicts; --json summary; refuses an existing --out', async () => {
  const base = await loadBase(TINY_BERT);
  const dir = tempDir('ak-merge-');
  const tasks = fixtureTasks(base);
  const dirs = [join(dir, 'a'), join(dir, 'b')];
  for (const [i, m] of tasks.entries()) await saveTask(m, dirs[i] as string, { name: `t${i}`, maxLength: 16 });
  const out = join(dir, 'merged');
  const r = await cli('merge', ...dirs, '--out', out, '--method', 'ties', '--density', String(FIX.density), '--weights', FIX.weights.join(','), '--rank', '32', '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { name: string; method: string; notes: string[] };
  assert.equal(summary.name, 'merged');
  assert.equal(summary.method, 'ties');
  const back = await loadSavedTask(base, out);
  for (const [site, ref] of Object.entries(FIX.sites)) assert.ok(maxDiff(update(back.model, site), transposed(ref.ties)) < 1e-6, site);
  assert.equal((back.manifest.training?.merged as { method: string }).method, 'ties');
  const batch = base.tokenizer.encode(['a good book'], 16);
  assert.equal((await back.model.predict(batch)).length, 3);
  const again = await cli('merge', ...dirs, '--out', out);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists; choose another --out or add --force/);
  const noDensity = await cli('merge', ...dirs, '--out', join(dir, 'x'), '--method', 'dare');
  assert.match(noDensity.stderr, /--method dare needs --density/);
  for (const m of [...tasks, back.model]) await m.dispose();
});

test('merge errors name library options in the library and flags on the command line', async () => {
  const base = await loadBase(TINY_BERT);
  const lora = (labels: string[]) => TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('lora', { r: 2 }) }, head: headConfig({ kind: 'classification', labels }), seed: 1 });
  const ab = lora(['a', 'b']);
  const abc = lora(['a', 'b', 'c']);
  const bn = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('paper', { size: 4 }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 1 });
  assert.throws(() => mergeTaskModels(base, [ab, abc], { method: 'linear', heads: 'average' }), /^AdapterkitError: merge: the option heads: 'average' needs the same head in every task; task 2 has classification \(a, b, c\)/);
  assert.throws(() => mergeTaskModels(base, [bn, bn], { method: 'ties', density: 0.5 }), /\(use the option method: 'linear'\)$/);
  const dir = tempDir('merge-terms-');
  await saveTask(ab, join(dir, 'ab'), { name: 'ab', maxLength: 16 });
  await saveTask(abc, join(dir, 'abc'), { name: 'abc', maxLength: 16 });
  const r = await cli('merge', join(dir, 'ab'), join(dir, 'abc'), '--heads', 'average', '--out', join(dir, 'out'));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /merge: --heads 'average' needs the same head in every task/);
  assert.doesNotMatch(r.stderr, /the option heads/);
});
