/**
 * The int8 copy of an exported model (`onnx/model_quantized.onnx`, what transformers.js loads with
 * `dtype: 'q8'`): the fp32 export's ModelProto with each frozen matmul the int8 outlier guard
 * planned (train/frozen-precision.ts) run by the kernel it chose, quantised exactly as
 * adapterkit's own int8 path quantises it (engine/ops/quantized.ts), so that the file computes
 * what `predict` computes on a task loaded with `frozenPrecision: 'int8'`:
 * - `int8`: `MatMul(x, W)` (+ `Add(·, b)`) becomes ONNX Runtime's `com.microsoft`
 *   DynamicQuantizeMatMul(x, W_int8, scale, ·, b): W per output column, x per tensor at run time;
 * - `int8-block`: MatMulNBits with 8 bits, blocks of 32 along the inner axis (one shorter block where the inner width is under 32: `blockLength`), accuracy level 4;
 * - `fp32`: left as it is (the guard found the int8 product too far off).
 * Everything else (embeddings, the adapter's and the head's weights, layer norms, softmax) stays
 * fp32, as in training; but a predict-only task (`TaskModelOptions.predictOnly`, a task loaded
 * with `inference: true`, as `adapterkit export` loads it) has its adapter matmuls in the plan
 * too ({@link FrozenPlan.adapters}), and they are rewritten the same way. Both contrib ops are in
 * onnxruntime-node's and onnxruntime-web's (wasm) CPU kernels. Only the forward copy is stored:
 * an export never needs the input gradient.
 */
import protobuf from 'protobufjs';
import { fail } from '../errors.js';
import { blockLength, quantizeBlocks, quantizeColumns, type ForwardKernel, type HostTensor } from '../engine/index.js';
import { ONNX_DTYPE } from '../engine/onnx/dtype-codes.js';
import { ATTR_TYPE, CONTRIB_OPSET, ONNX_SCHEMA } from '../engine/onnx/schema.js';
import type { FrozenPlan } from '../train/frozen-precision.js';

const ModelProto = protobuf.parse(ONNX_SCHEMA, { keepCase: true }).root.lookupType('onnx.ModelProto');

/** ONNX Runtime's contrib domain. */
const MS = 'com.microsoft';

interface TensorObj { name: string; dims?: number[]; data_type?: number; raw_data?: Uint8Array; data_location?: number }
interface AttrObj { name: string; type: number; i?: number; f?: number }
interface NodeObj { name?: string; op_type: string; domain?: string; input?: string[]; output?: string[]; attribute?: AttrObj[] }
interface ModelObj {
  opset_import?: { domain?: string; version: number }[];
  metadata_props?: { key: string; value: string }[];
  graph: { node?: NodeObj[]; initializer?: TensorObj[]; output?: { name: string }[] };
}

/** What {@link quantizeExportedModel} did. */
export interface QuantizedModel {
  readonly bytes: Uint8Array;
  /** Matmul nodes rewritten per kernel (a weight shared by several layers, ALBERT, counts once per node). */
  readonly nodes: Readonly<Record<Exclude<ForwardKernel, 'fp32'>, number>>;
  /** Planned weights that stay fp32: the guard's fp32 choices (a predict-only task's adapter weights among them). */
  readonly fp32Weights: readonly string[];
}

function float32Of(t: TensorObj): Float32Array {
  const raw = t.raw_data;
  if (t.data_type !== ONNX_DTYPE.float32 || !raw || t.data_location === 1) fail('GRAPH_ERROR', `int8 export: initializer ${t.name} is not an inline float32 tensor`);
  const copy = new Uint8Array(raw.byteLength); // aligned
  copy.set(raw);
  return new Float32Array(copy.buffer);
}

function tensorObj(name: string, t: HostTensor): TensorObj {
  return { name, dims: [...t.shape], data_type: ONNX_DTYPE[t.dtype], raw_data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
}

const intAttr = (name: string, i: number): AttrObj => ({ name, type: ATTR_TYPE.INT, i });

/** A Gemm that is A @ B + C: no transposes, alpha and beta 1 (what engine/ops/matmul.ts `linear` writes). */
function isPlainGemm(n: NodeObj): boolean {
  return (n.attribute ?? []).every((a) => ((a.name === 'transA' || a.name === 'transB') && !Number(a.i ?? 0)) || ((a.name === 'alpha' || a.name === 'beta') && (a.f ?? 1) === 1));
}

/**
 * Rewrites the fp32 model `bytes` (an export with inline weights, initializers named by the
 * encoder's weight names) so that each weight of `plan` runs with its kernel. Fails when a
 * planned int8 weight is not read by any MatMul or Gemm (the plan is not this model's).
 */
export function quantizeExportedModel(bytes: Uint8Array, plan: FrozenPlan, metadata: Readonly<Record<string, string>> = {}): QuantizedModel {
  const model = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, arrays: true, defaults: false }) as ModelObj;
  const g = model.graph;
  const nodes = g.node ?? [];
  const inits = new Map((g.initializer ?? []).map((t) => [t.name, t]));
  // a predict-only task's plan has its adapter matmuls too (their weights are initializers named as the task's tensors)
  const planned = [...plan.choices, ...plan.adapters ?? []];
  const kernelOf = new Map(planned.filter((c) => c.kernel !== 'fp32').map((c) => [c.weight, c.kernel as Exclude<ForwardKernel, 'fp32'>]));
  const consumers = new Map<string, NodeObj[]>();
  for (const n of nodes) for (const i of n.input ?? []) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name));

  const added = new Map<string, TensorObj>();
  const made = new Map<string, { q: string; scale: string; k: number; n: number; block: number }>();
  const quantized = (w: string, kernel: Exclude<ForwardKernel, 'fp32'>) => {
    const hit = made.get(w);
    if (hit) return hit;
    const t = inits.get(w);
    if (!t || t.dims?.length !== 2) fail('GRAPH_ERROR', `int8 export: the plan's weight ${w} is not a 2-D initializer of the exported model`);
    const [K, N] = t.dims as [number, number];
    const data = float32Of(t);
    const block = blockLength('int8-block', K); // as the training graph's kernel stores it
    const [q, scale] = kernel === 'int8'
      ? (({ q: a, scale: b }) => [tensorObj(`${w}.int8`, a), tensorObj(`${w}.int8_scale`, b)])(quantizeColumns(data, K, N))
      : (({ q: a, scale: b }) => [tensorObj(`${w}.q8b`, a), tensorObj(`${w}.q8b_scale`, b)])(quantizeBlocks(data, K, N, block));
    for (const x of [q, scale] as TensorObj[]) {
      if (inits.has(x.name)) fail('GRAPH_ERROR', `int8 export: the model already has an initializer ${x.name}`);
      added.set(x.name, x);
    }
    const r = { q: (q as TensorObj).name, scale: (scale as TensorObj).name, k: K, n: N, block };
    made.set(w, r);
    return r;
  };

  const removed = new Set<NodeObj>();
  const count = { int8: 0, 'int8-block': 0 };
  for (const n of nodes) {
    const [a, w, c] = n.input ?? [];
    // x @ W (+ b) is a MatMul (its bias an Add after it) or, for a dense layer with a bias over folded rows, a Gemm with the bias as C
    const gemm = n.op_type === 'Gemm' && isPlainGemm(n);
    if ((n.op_type !== 'MatMul' && !gemm) || (n.domain ?? '') !== '' || a === undefined || w === undefined) continue;
    const kernel = kernelOf.get(w);
    if (!kernel) continue;
    const q = quantized(w, kernel);
    const isBias = (name: string | undefined): name is string => {
      const b = name === undefined || name === '' ? undefined : inits.get(name);
      return b !== undefined && b.data_type === ONNX_DTYPE.float32 && b.dims?.length === 1 && b.dims[0] === q.n;
    };
    if (gemm && c !== undefined && c !== '' && !isBias(c)) fail('GRAPH_ERROR', `int8 export: the Gemm reading ${w} adds ${c}, not a [${q.n}] bias initializer`);
    // Fuse the bias, as adapterkit's kernel does: the Gemm's C, or the MatMul's only reader Add(·, b [N]).
    const out = (n.output ?? [])[0] as string;
    const readers = consumers.get(out) ?? [];
    const add = !gemm && readers.length === 1 && !graphOutputs.has(out) ? readers[0] : undefined;
    const addBias = add && add.op_type === 'Add' && (add.domain ?? '') === '' && add.input?.[0] === out ? add.input[1] : undefined;
    const bias = gemm ? (c || undefined) : isBias(addBias) ? addBias : undefined;
    const fuse = bias !== undefined;
    const output = fuse && add ? (add.output as string[]) : (n.output as string[]);
    if (fuse && add) removed.add(add);
    n.domain = MS;
    n.output = output;
    if (kernel === 'int8') {
      n.op_type = 'DynamicQuantizeMatMul';
      n.input = fuse ? [a, q.q, q.scale, '', bias as string] : [a, q.q, q.scale];
      n.attribute = [];
    } else {
      n.op_type = 'MatMulNBits';
      n.input = fuse ? [a, q.q, q.scale, '', '', bias as string] : [a, q.q, q.scale];
      n.attribute = [intAttr('K', q.k), intAttr('N', q.n), intAttr('accuracy_level', 4), intAttr('bits', 8), intAttr('block_size', q.block)];
    }
    count[kernel]++;
  }
  for (const w of kernelOf.keys()) if (!made.has(w)) fail('GRAPH_ERROR', `int8 export: no MatMul or Gemm of the exported model reads the planned weight ${w}`);

  g.node = nodes.filter((n) => !removed.has(n));
  const read = new Set(g.node.flatMap((n) => n.input ?? []));
  g.initializer = [...(g.initializer ?? []), ...added.values()].filter((t) => read.has(t.name));
  const opsets = model.opset_import ?? [];
  if (!opsets.some((o) => o.domain === MS)) opsets.push({ domain: MS, version: CONTRIB_OPSET });
  model.opset_import = opsets;
  const meta = new Map((model.metadata_props ?? []).map((p) => [p.key, p.value]));
  for (const [k, v] of Object.entries(metadata)) meta.set(k, v);
  model.metadata_props = [...meta.keys()].sort().map((key) => ({ key, value: meta.get(key) as string }));

  const err = ModelProto.verify(model);
  if (err) fail('GRAPH_ERROR', `internal error: the int8 model does not verify: ${err}`);
  return {
    bytes: ModelProto.encode(ModelProto.fromObject(model)).finish(),
    nodes: count,
    fp32Weights: planned.filter((c) => c.kernel === 'fp32').map((c) => c.weight),
  };
}
