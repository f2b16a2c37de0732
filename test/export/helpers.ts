/**
 * Helpers for the export tests: tasks on the tiny fixtures with perturbed weights (so that they
 * differ from the base), transformers.js set to local files only, plain onnxruntime-node runs,
 * and ONNX decoding.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import type { MethodConfig } from '../../src/adapters/methods/index.js';
import { ONNX_SCHEMA } from '../../src/engine/onnx/schema.js';
import { headConfig, type HeadConfig } from '../../src/heads/head.js';
import type { BaseModel } from '../../src/models/base.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';
import { tempDir } from '../temp-dir.js';

export const TINY_BERT = 'test/fixtures/models/tiny-bert';

/** A fresh directory that export tests write their exports into (transformers.js's localModelPath). */
export function exportRoot(): string {
  return tempDir('ak-export-');
}

/** An adapter task with every trainable tensor moved by N(0, scale), so it differs from the base. */
export function perturbedTask(base: BaseModel, adapter: MethodConfig | undefined, head: Partial<HeadConfig> & Pick<HeadConfig, 'kind' | 'labels'>, seed: number, scale = 0.3): TaskModel {
  const m = TaskModel.create(base, {
    mode: adapter ? { kind: 'adapters', adapter } : { kind: 'head-only' },
    head: headConfig(head),
    seed,
  });
  const r = new Rng(seed + 100);
  for (const t of m.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(scale);
  return m;
}

/** The same head on the bare base (no adapter): what a task must differ from. */
export function bareTwin(m: TaskModel): TaskModel {
  const weights = new Map([...m.owned].filter(([k]) => k.startsWith('head.')));
  return TaskModel.create(m.base, { mode: { kind: 'head-only' }, head: m.head, seed: 0, weights });
}

/** transformers.js with remote models off and local models read from `root`. */
export async function transformersLocal(root: string): Promise<typeof import('@huggingface/transformers')> {
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  tf.env.allowLocalModels = true;
  tf.env.localModelPath = `${root}/`;
  tf.env.useFSCache = false;
  tf.env.cacheDir = join(root, '.cache');
  return tf;
}

export function softmax(xs: readonly number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Rows of a flat [rows, n] array. */
export function rows(flat: Float32Array, n: number): number[][] {
  return Array.from({ length: flat.length / n }, (_, i) => Array.from(flat.subarray(i * n, (i + 1) * n)));
}

/** Runs `<dir>/onnx/model.onnx` in plain onnxruntime-node on an adapterkit batch. */
export async function runOrt(dir: string, batch: EncodedBatch, tokenTypes: boolean): Promise<{ outputs: Record<string, Float32Array>; inputNames: readonly string[]; outputNames: readonly string[] }> {
  const s = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'));
  const shape = [batch.batchSize, batch.seqLen];
  const t = (a: Int32Array) => new ort.Tensor('int64', BigInt64Array.from(a, (x) => BigInt(x)), shape);
  const feeds: Record<string, ort.Tensor> = { input_ids: t(batch.inputIds), attention_mask: t(batch.attentionMask) };
  if (tokenTypes) feeds.token_type_ids = t(batch.tokenTypeIds);
  const out = await s.run(feeds);
  const outputs = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  const r = { outputs, inputNames: [...s.inputNames], outputNames: [...s.outputNames] };
  await s.release();
  return r;
}

/** Largest absolute difference of two equally long number lists. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

const ModelProto = protobuf.parse(ONNX_SCHEMA, { keepCase: true }).root.lookupType('onnx.ModelProto');

/** The op types of an exported model's nodes, in order, and its metadata (`file` in onnx/, default model.onnx). */
export function onnxSummary(dir: string, file = 'model.onnx'): { ops: string[]; metadata: Record<string, string> } {
  const m = ModelProto.toObject(ModelProto.decode(readFileSync(join(dir, 'onnx', file))), { defaults: false, arrays: true }) as {
    graph: { node: { op_type: string }[] };
    metadata_props: { key: string; value: string }[];
  };
  return { ops: m.graph.node.map((n) => n.op_type), metadata: Object.fromEntries(m.metadata_props.map((p) => [p.key, p.value])) };
}
