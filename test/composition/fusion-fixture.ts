/**
 * The fusion fixtures' models (scripts/fixtures/make_fusion_fixtures.py): a tiny-BERT task model
 * holding a case's adapters, fusions, fusion tensors and head from the fixture, and the fixture's
 * batch; shared by fusion.test.ts and fusion-temperature.test.ts (the batch, head and layout
 * helpers also by compositions.test.ts, whose fixture has the same inputs and tensor records).
 */
import assert from 'node:assert/strict';
import { adapterHubKeys } from '../../src/adapters/adapterhub.js';
import { parseComposition } from '../../src/adapters/composition.js';
import type { NamedAdapter } from '../../src/adapters/compose.js';
import { fusionConfig, fusionFileKeys, fusionSites, type NamedFusion } from '../../src/adapters/fusion.js';
import type { FileTensorKey } from '../../src/adapters/method.js';
import { fromAdapterHubConfig, methodOf } from '../../src/adapters/methods/index.js';
import { f32, type HostTensor } from '../../src/engine/index.js';
import { headConfig } from '../../src/heads/head.js';
import type { BaseModel } from '../../src/models/base-model.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import { TaskModel } from '../../src/train/task-model.js';
import { fileIndex } from '../util/reference-compare.js';

/** A tensor as the fixtures write it: its shape and its values row-major. */
export interface Rec {
  shape: number[];
  data: number[];
}

/** What every fusion fixture case holds to build its model. */
export interface FixtureCase {
  name: string;
  composition: string;
  fusions: { name: string; adapters: string[]; config: Record<string, unknown> }[];
  adapters: { name: string; config: Record<string, unknown>; trainable: boolean; tensors: Record<string, Rec> }[];
  fusion_tensors: Record<string, Rec>;
  head: { weight: Rec; bias: Rec };
  trainable: string[];
}

/** The fixtures' inputs. */
export interface FixtureInputs {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
}

export const FIXTURE_HEAD = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'], dropout: 0 });

/** The fixture's batch. */
export function batchOf(inp: FixtureInputs): EncodedBatch {
  const B = inp.input_ids.length;
  return {
    batchSize: B, seqLen: (inp.input_ids[0] as number[]).length,
    inputIds: Int32Array.from(inp.input_ids.flat()), attentionMask: Int32Array.from(inp.attention_mask.flat()), tokenTypeIds: Int32Array.from(inp.token_type_ids.flat()),
    lengths: inp.attention_mask.map((r) => r.reduce((a, b) => a + b, 0)), truncated: new Array<boolean>(B).fill(false),
  };
}

/** A file tensor (PyTorch layout) in adapterkit's internal layout. */
export function internal(k: FileTensorKey, r: Rec, shape: readonly number[]): HostTensor<'float32'> {
  if (!k.transpose) return f32(shape, r.data);
  const [rows, cols] = r.shape as [number, number];
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = r.data[i * cols + j] as number;
  return f32(shape, out);
}

/** A case's task model (dropout off) with the fixture's tensors, and each trainable tensor's file key and the index map into its file layout. */
export function fixtureModel(base: BaseModel, c: FixtureCase): { model: TaskModel; keyOf: (name: string) => string; fileAt: (name: string, shape: readonly number[], i: number) => number } {
  const enc = base.encoder;
  const adapters: NamedAdapter[] = c.adapters.map((a) => ({ name: a.name, config: fromAdapterHubConfig(a.config, a.name), trainable: a.trainable }));
  const fusions: NamedFusion[] = c.fusions.map((f) => ({ name: f.name, adapters: f.adapters, config: fusionConfig(f.config, f.name) }));
  const weights = new Map<string, HostTensor<'float32'>>();
  const keys = new Map<string, FileTensorKey>();
  for (const a of adapters) {
    const spec = c.adapters.find((x) => x.name === a.name) as FixtureCase['adapters'][number];
    const shapes = new Map(methodOf(a.config).tensors(a.config as never, enc, a.name).map((x) => [x.name, x.shape]));
    for (const k of adapterHubKeys(a.config, enc, a.name, a.name)) {
      weights.set(k.internal, internal(k, spec.tensors[k.key] as Rec, shapes.get(k.internal) as number[]));
      keys.set(k.internal, k);
    }
  }
  const configs = new Map(adapters.map((a) => [a.name, a.config]));
  for (const f of fusions) {
    for (const k of fusionFileKeys(f, fusionSites(f, configs, enc), enc)) {
      const r = c.fusion_tensors[k.key];
      assert.ok(r, `the fixture has no ${k.key}`);
      weights.set(k.internal, internal(k, r, k.transpose ? [...k.shape].reverse() : k.shape));
      keys.set(k.internal, k);
    }
  }
  weights.set('head.out.weight', internal({ internal: 'head.out.weight', key: 'head.weight', shape: c.head.weight.shape, transpose: true }, c.head.weight, [32, 3]));
  weights.set('head.out.bias', f32([3], c.head.bias.data));
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapters, active: parseComposition(c.composition), fusions }, head: FIXTURE_HEAD, seed: 1, dropout: 0, weights });
  const keyOf = (name: string) => (name === 'head.out.weight' ? 'head.weight' : name === 'head.out.bias' ? 'head.bias' : (keys.get(name) as FileTensorKey).key);
  const fileAt = (name: string, shape: readonly number[], i: number) => {
    const k = name.startsWith('head.') ? (shape.length === 2 ? { internal: name, key: keyOf(name), shape: [...shape].reverse(), transpose: true } : undefined) : keys.get(name);
    return fileIndex(k, shape, i);
  };
  return { model, keyOf, fileAt };
}
