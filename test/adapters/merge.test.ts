/**
 * Merging LoRA and IA³ into (copies of) the frozen weights: the merged task predicts what the
 * unmerged one does, on BERT (separate projections) and on USE-lite (Q, K, V as column blocks of
 * one fused kernel, pre-norm blocks), the shared base is untouched, and what cannot merge says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';

const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] });
const texts = ['the cat sat on the mat .', 'a good book', 'rain at night'];

function perturb(m: TaskModel, seed: number, scale: number): void {
  const r = new Rng(seed);
  for (const t of m.trainable) if (t.origin === 'adapter') for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(scale);
}

const CONFIGS: [string, MethodConfig][] = [
  ['lora on every projection', methodConfig('lora', { r: 3, alpha: 6, attn_matrices: ['q', 'k', 'v'], attentionOutputLora: true, intermediate_lora: true, output_lora: true })],
  ['ia3 (AdapterHub: output scaling)', methodConfig('ia3', { attn_matrices: ['q', 'k', 'v'], output_lora: true, alpha: 1.5 })],
  ['ia3-peft (input scaling of the feed-forward modules)', methodConfig('ia3-peft')],
];

async function checkMerge(base: BaseModel, name: string, c: MethodConfig, scale: number): Promise<void> {
  const before = new Map([...base.weights].map(([k, t]) => [k, Float32Array.from(t.data)]));
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head, seed: 2 });
  perturb(m, 7, scale);
  const batch = base.tokenizer.encode(texts, 24);
  const plain = await m.predict(batch);
  m.merge();
  assert.equal(m.isMerged, true);
  const merged = await m.predict(batch);
  let worst = 0;
  plain.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - merged[i]!))));
  assert.ok(worst < 2e-5 * Math.max(1, ...Array.from(plain, Math.abs)), `${name}: merged logits differ by ${worst}`);
  assert.ok(Math.max(...Array.from(plain, Math.abs)) > 0.05, `${name}: the test needs logits that the adapter moves`);
  await assert.rejects(m.trainStep(batch, [0, 1, 2]), /merged into the frozen weights; unmerge\(\) it before training/);
  m.unmerge();
  assert.deepEqual(Array.from(await m.predict(batch)), Array.from(plain), `${name}: unmerge gives the adapter back`);
  for (const [k, t] of base.weights) assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from((before.get(k) as Float32Array).buffer)), `${name}: the shared base weight ${k} changed`);
  await m.dispose();
}

for (const [name, c] of CONFIGS) {
  test(`merge on BERT, ${name}: same predictions as the adapter, base untouched`, async () => {
    await checkMerge(await loadBase('test/fixtures/models/tiny-bert'), name, c, 0.3);
  });
  test(`merge on USE-lite, ${name}: same predictions as the adapter, base untouched`, async () => {
    await checkMerge(await loadBase('use-lite'), name, c, 0.05);
  });
}

test('bottleneck adapters do not merge, and say so', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('houlsby', { reduction_factor: 8 }) }, head, seed: 2 });
  assert.throws(() => m.merge(), /bottleneck \(houlsby, m=4\) cannot be merged into the frozen weights \(only LoRA and IA³ can\)/);
  const f = TaskModel.create(base, { mode: { kind: 'full' }, head, seed: 2 });
  assert.throws(() => f.merge(), /a full task has no adapter to merge/);
  await m.dispose();
  await f.dispose();
});
