/**
 * Serialises a {@link Graph} to an ONNX ModelProto (opset 21) with protobufjs.
 *
 * Only the nodes needed for the requested outputs are written (dead nodes are pruned). Frozen
 * constants become initializers; trainable parameters become graph inputs (fed each step) or
 * initializers (for inference exports). Large initializers can be written to an external data
 * file, the mechanism that lifts protobuf's 2 GB limit. Outputs can be given names of the caller's
 * choice (`logits`) in place of the generated ones. The same graph always serialises to the same
 * bytes.
 */
import protobuf from 'protobufjs';
import { fail } from '../../errors.js';
import type { Attr, Graph, Node, Value } from '../graph.js';
import { isFloat, type DType, type HostTensor } from '../tensor.js';
import { ONNX_DTYPE } from './dtype-codes.js';
import { ATTR_TYPE, CONTRIB_OPSET, IR_VERSION, ONNX_SCHEMA, OPSET } from './schema.js';
import { externalDataFiles, type ExternalDataFile } from './external-data-node.js';

const root = protobuf.parse(ONNX_SCHEMA, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');

/** Integer dtypes of quantised weights (int8 frozen matmuls): large, never read by shape inference, so they may go to external data. */
const QUANTISED = new Set<DType>(['int8', 'uint8']);

/** Ops whose trailing outputs are optional and may be left unnamed when unused. */
const OPTIONAL_OUTPUTS = new Set(['LayerNormalization', 'Dropout']);

/** Options of {@link serializeGraph}. */
export interface SerializeOptions {
  /** Outputs to compute (default: the graph's marked outputs). */
  outputs?: readonly Value[];
  /**
   * Names to write for the outputs, one per output in order (default: the values' own names).
   * A renamed output is renamed wherever the model mentions it; only node outputs can be renamed,
   * and a name may not be one the model already uses.
   */
  outputNames?: readonly string[];
  /** Trainable parameters as graph inputs (default, for training) or baked in as initializers. */
  paramsAs?: 'inputs' | 'initializers';
  /**
   * Write floating-point initializers of at least `threshold` bytes (default 1024) to
   * `dir/<file>.data` and the model to `dir/<file>.onnx` instead of returning them in memory.
   * Integer and bool initializers (shapes, axes, indices) always stay inline: ONNX Runtime's
   * shape inference reads them while loading the model and cannot read external data; int8 and
   * uint8 ones (quantised weights) may go to the file like floats.
   * `dataFile` names the data file instead (e.g. `model.onnx_data`, the name transformers.js looks for).
   */
  externalData?: { dir: string; file?: string; dataFile?: string; threshold?: number };
  /** Key/value metadata stored in the model. */
  metadata?: Record<string, string>;
}

/** A serialised model: bytes in memory, or a path when external data was used. */
export interface SerializedModel {
  /** The ModelProto bytes (also when written to a file). */
  bytes: Uint8Array;
  /** Path of the `.onnx` file when external data was written. */
  path?: string;
  /** Graph inputs in order (runtime inputs, then trainable parameters fed as inputs). */
  inputs: Value[];
  /** Graph outputs in order. */
  outputs: Value[];
  /** The names the outputs have in the model (see {@link SerializeOptions.outputNames}). */
  outputNames: string[];
  /** Constants stored as initializers. */
  initializers: Value[];
}

/** The nodes needed to compute `outputs`, in topological order. */
export function liveNodes(graph: Graph, outputs: readonly Value[]): { nodes: Node[]; used: Set<Value> } {
  const used = new Set<Value>(outputs);
  const live: Node[] = [];
  const nodes = graph.nodes;
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k] as Node;
    if (!n.outputs.some((o) => used.has(o))) continue;
    live.push(n);
    for (const i of n.inputs) if (i) used.add(i);
  }
  return { nodes: live.reverse(), used };
}

function valueInfo(v: Value, name = v.name): object {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: ONNX_DTYPE[v.dtype],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : /^[A-Za-z_]\w*$/.test(d) ? { dim_param: d } : {})) },
      },
    },
  };
}

function tensorBytes(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function tensorProto(name: string, t: HostTensor, external?: { location: string; offset: number }): object {
  const base = { name, dims: [...t.shape], data_type: ONNX_DTYPE[t.dtype] };
  if (!external) return { ...base, raw_data: tensorBytes(t) };
  return {
    ...base,
    data_location: 1,
    external_data: [
      { key: 'location', value: external.location },
      { key: 'offset', value: String(external.offset) },
      { key: 'length', value: String(t.data.byteLength) },
    ],
  };
}

function attributeProto(name: string, a: Attr): object {
  if ('i' in a) return { name, type: ATTR_TYPE.INT, i: a.i };
  if ('f' in a) return { name, type: ATTR_TYPE.FLOAT, f: a.f };
  if ('s' in a) return { name, type: ATTR_TYPE.STRING, s: new TextEncoder().encode(a.s) };
  if ('ints' in a) return { name, type: ATTR_TYPE.INTS, ints: [...a.ints] };
  if ('floats' in a) return { name, type: ATTR_TYPE.FLOATS, floats: [...a.floats] };
  return { name, type: ATTR_TYPE.TENSOR, t: tensorProto('', a.t) };
}

/** The names to write for renamed outputs (see {@link SerializeOptions.outputNames}), checked. */
function outputRenames(graph: Graph, outputs: readonly Value[], names: readonly string[] | undefined, written: readonly Value[]): Map<Value, string> {
  const rename = new Map<Value, string>();
  if (names === undefined) return rename;
  if (names.length !== outputs.length) fail('GRAPH_ERROR', `serialize ${graph.name}: ${names.length} output names for ${outputs.length} outputs`);
  const taken = new Set(written.map((v) => v.name));
  outputs.forEach((v, i) => {
    const name = names[i] as string;
    if (name === v.name || rename.get(v) === name) return;
    if (v.kind !== 'node') fail('GRAPH_ERROR', `serialize ${graph.name}: output ${v.name} is a graph ${v.kind}; only node outputs can be renamed (to ${JSON.stringify(name)})`);
    if (rename.has(v)) fail('GRAPH_ERROR', `serialize ${graph.name}: output ${v.name} is listed twice with different names`);
    if (!/^[A-Za-z_][\w./:-]*$/.test(name)) fail('GRAPH_ERROR', `serialize ${graph.name}: invalid output name ${JSON.stringify(name)}`);
    if (taken.has(name) || [...rename.values()].includes(name)) fail('GRAPH_ERROR', `serialize ${graph.name}: output name ${JSON.stringify(name)} is already used in the model`);
    rename.set(v, name);
  });
  return rename;
}

/** Serialises `graph` (see {@link SerializeOptions}). */
export function serializeGraph(graph: Graph, o: SerializeOptions = {}): SerializedModel {
  const outputs = [...(o.outputs ?? graph.outputs)];
  if (outputs.length === 0) fail('GRAPH_ERROR', `graph ${graph.name} has no outputs to compute`);
  for (const v of outputs) graph.own(v, 'serialize');
  const { nodes, used } = liveNodes(graph, outputs);
  const paramsAsInputs = (o.paramsAs ?? 'inputs') === 'inputs';
  const inputs = [...graph.inputs.filter((v) => used.has(v)), ...(paramsAsInputs ? graph.params.filter((v) => used.has(v)) : [])];
  const initializers = [...graph.constants.filter((v) => used.has(v)), ...(paramsAsInputs ? [] : graph.params.filter((v) => used.has(v)))];
  const rename = outputRenames(graph, outputs, o.outputNames, [...inputs, ...initializers, ...nodes.flatMap((n) => n.outputs)]);
  const nameOf = (v: Value): string => rename.get(v) ?? v.name;

  const ext = o.externalData;
  const threshold = ext?.threshold ?? 1024;
  const file = ext?.file ?? graph.name;
  let data: ExternalDataFile | undefined;
  let offset = 0;
  const dataName = ext?.dataFile ?? `${file}.data`;
  if (ext && !/^[\w.-]+$/.test(dataName)) fail('GRAPH_ERROR', `serialize ${graph.name}: external data file name ${JSON.stringify(dataName)} must be a plain file name`);
  if (ext) data = externalDataFiles.open(ext.dir, dataName);
  let initProtos: object[];
  try {
    initProtos = initializers.map((v) => {
      const t = graph.dataOf(v);
      if (data === undefined || t.data.byteLength < threshold || !(isFloat(t.dtype) || QUANTISED.has(t.dtype))) return tensorProto(v.name, t);
      offset = Math.ceil(offset / 4096) * 4096;
      const at = offset;
      data.write(tensorBytes(t), at);
      offset += t.data.byteLength;
      return tensorProto(v.name, t, { location: dataName, offset: at });
    });
  } finally {
    data?.close();
  }

  // ONNX Runtime's optimizer deletes a Dropout whose mask nobody reads, even when its training
  // input is a run-time flag; listing such masks as (never fetched) graph outputs keeps them.
  const keep = nodes.filter((n) => n.opType === 'Dropout' && n.inputs[2] && n.inputs[2].kind !== 'constant').map((n) => n.outputs[1] as Value);
  for (const v of keep) used.add(v);
  const nodeProtos = nodes.map((n) => {
    let outs = n.outputs.map((v) => (used.has(v) || outputs.includes(v) ? nameOf(v) : ''));
    if (!OPTIONAL_OUTPUTS.has(n.opType)) outs = n.outputs.map(nameOf);
    while (outs.length > 1 && outs[outs.length - 1] === '') outs.pop();
    return {
      name: n.name,
      op_type: n.opType,
      domain: n.domain,
      input: n.inputs.map((v) => (v ? nameOf(v) : '')),
      output: outs,
      attribute: Object.keys(n.attrs).sort().map((k) => attributeProto(k, n.attrs[k] as Attr)),
    };
  });

  const model = {
    ir_version: IR_VERSION,
    producer_name: 'adapterkit',
    producer_version: '0.1.0',
    opset_import: [{ domain: '', version: OPSET }, ...[...new Set(nodes.map((n) => n.domain).filter((d) => d !== ''))].sort().map((domain) => ({ domain, version: CONTRIB_OPSET }))],
    metadata_props: Object.keys(o.metadata ?? {}).sort().map((key) => ({ key, value: (o.metadata ?? {})[key] })),
    graph: {
      name: graph.name,
      node: nodeProtos,
      initializer: initProtos,
      input: inputs.map((v) => valueInfo(v)),
      output: [...outputs, ...keep.filter((v) => !outputs.includes(v))].map((v) => valueInfo(v, nameOf(v))),
    },
  };
  const err = ModelProto.verify(model);
  if (err) fail('GRAPH_ERROR', `internal error: ONNX model for ${graph.name} does not verify: ${err}`);
  const bytes = ModelProto.encode(ModelProto.fromObject(model)).finish();
  if (!ext && bytes.byteLength > 2 ** 31 - 1) {
    fail('GRAPH_ERROR', `graph ${graph.name} serialises to ${bytes.byteLength} bytes, over protobuf's 2 GB limit: use externalData`);
  }
  let path: string | undefined;
  if (ext) {
    path = (data as ExternalDataFile).commit(`${file}.onnx`, bytes);
  }
  return { bytes, path, inputs, outputs, outputNames: outputs.map(nameOf), initializers };
}
