/**
 * End-to-end check against PyTorch (scripts/fixtures/make_adapter_fixture.py): a tiny BERT with
 * Houlsby adapters (m=4) and a classification head on the pooler, loaded from AdapterHub-style
 * files. Logits, loss and the gradient of every trainable tensor must match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadBase } from '../../src/models/base.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { adapterHubKeys, headKey } from '../../src/adapters/adapterhub.js';
import { headConfig } from '../../src/heads/head.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';

const DIR = 'test/fixtures/models/tiny-bert-adapter';
interface Ref {
  inputs: { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][] };
  labels: number[];
  logits: { shape: number[]; data: number[] };
  loss: number;
  gradients: Record<string, { shape: number[]; data: number[] }>;
}

export function batchOf(inp: Ref['inputs']): EncodedBatch {
  const B = inp.input_ids.length;
  const T = inp.input_ids[0]!.length;
  return {
    batchSize: B, seqLen: T,
    inputIds: Int32Array.from(inp.input_ids.flat()), attentionMask: Int32Array.from(inp.attention_mask.flat()),
    tokenTypeIds: Int32Array.from(inp.token_type_ids.flat()),
    lengths: inp.attention_mask.map((r) => r.reduce((a, b) => a + b, 0)), truncated: new Array(B).fill(false),
  };
}

test('tiny BERT + Houlsby adapters + head: logits, loss and every gradient match PyTorch', async () => {
  const ref = JSON.parse(readFileSync(`${DIR}/reference.json`, 'utf8')) as Ref;
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const loaded = await loadSavedTask(base, DIR);
  assert.equal(loaded.foreign, true);
  assert.equal(loaded.model.mode.kind, 'adapters');
  // Train layer norms too, as the reference does.
  const weights = new Map(loaded.model.owned);
  for (const s of base.encoder.weightSpecs) if (s.role === 'norm') weights.set(s.name, base.weights.get(s.name)!);
  const model = TaskModel.create(base, {
    mode: { kind: 'adapters', adapter: adapterConfig({ size: 4, non_linearity: 'gelu', trainLayerNorms: true }) },
    head: headConfig({ ...loaded.model.head, dropout: 0 }),
    seed: 1, dropout: 0, weights,
  });
  const out = await model.trainStep(batchOf(ref.inputs), ref.labels);
  assert.ok(Math.abs(out.loss - ref.loss) < 1e-5, `loss ${out.loss} vs ${ref.loss}`);
  ref.logits.data.forEach((v, i) => assert.ok(Math.abs(out.logits[i]! - v) < 1e-4, `logit ${i}: ${out.logits[i]} vs ${v}`));
  let checked = 0;
  const hubKey = new Map(adapterHubKeys((model.mode as { adapter: Parameters<typeof adapterHubKeys>[0] }).adapter, base.encoder, model.adapterName, 'tiny_task').map((k) => [k.internal, k.key]));
  model.trainable.forEach((t, k) => {
    const key = t.origin === 'adapter' ? hubKey.get(t.name)! : t.origin === 'head' ? headKey('tiny_task', t.name, 1) : t.name;
    const r = ref.gradients[key];
    assert.ok(r, `no reference gradient for ${key}`);
    const g = out.grads[k]!;
    const linear = t.shape.length === 2;
    const [rows, cols] = t.shape as [number, number];
    for (let i = 0; i < g.length; i++) {
      // ours is [in, out]; PyTorch's Linear weight gradient is [out, in]
      const j = linear ? (i % cols) * rows + Math.floor(i / cols) : i;
      const want = r.data[j]!;
      assert.ok(Math.abs(g[i]! - want) <= 1e-5 + 1e-3 * Math.abs(want), `${key}[${i}]: ${g[i]} vs ${want}`);
    }
    checked++;
  });
  assert.equal(checked, Object.keys(ref.gradients).length);
  await model.dispose();
  await loaded.model.dispose();
});
