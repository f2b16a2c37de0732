/**
 * The one module that runs graphs on ONNX Runtime, through the {@link RuntimeBackend} seam
 * (onnxruntime-node in Node, onnxruntime-web in the browser build; see backend.ts). A {@link Session} is built once from a graph and
 * reused for every step: frozen constants live inside it as initializers; trainable parameters
 * are fed from the graph's current parameter data at each run (no copy: ONNX Runtime reads the
 * typed arrays in place). Feeds are checked before they reach ONNX Runtime, and every error names
 * the input, the dtype and shape it expected, and what it got.
 */
import { currentRuntimeBackend, type OrtSession, type OrtSessionOptions, type OrtTensor, type RuntimeBackend } from './backend.js';
import { defaultRuntimeBackend } from './ort-node.js';
import { AdapterkitError, fail } from '../../errors.js';
import type { Graph, Value } from '../graph.js';
import { liveNodes, serializeGraph, type SerializedModel } from '../onnx/serialize.js';
import { fmtShape } from '../shape.js';
import type { DType, HostTensor, TensorData } from '../tensor.js';

/** Session settings. Defaults are tuned for training on CPU. */
export interface SessionOptions {
  /** Intra-op threads (default: all available cores). */
  threads?: number;
  /** ONNX Runtime graph optimisation level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Outputs the session can fetch (default: the graph's outputs). */
  outputs?: readonly Value[];
  /** Bake trainable parameters in as initializers (inference) instead of feeding them (default false). */
  freezeParams?: boolean;
  /**
   * Store float (and int8) initializers of at least this many bytes in an external data file and
   * load the model from disk — the path that works for models over protobuf's 2 GB limit. Default
   * ({@link externalDataDefault}): when the model would exceed 1.5 GB; and, on a backend that can
   * load files (onnxruntime-node), when its initializers reach {@link EXTERNAL_MEMORY_BYTES}
   * (a BERT-base-sized model): ONNX Runtime then reads each weight from the file instead of from a
   * copy of the model's bytes, whose freed pieces otherwise stay in the process. On a BERT-base
   * int8 adapter step (bench/pytorch/adapterkit-step.ts, batch 32 x 128, a 2-core Xeon) this
   * lowered peak RSS from 4,609 to 4,170 MiB, with no step-time change beyond noise
   * (docs/benchmarks.md). The file lives in the OS temp directory until {@link Session.dispose}
   * or the process exits; a killed process's file goes when the next one is made (runtime/ort-node.ts).
   */
  externalDataThreshold?: number;
  /** ONNX Runtime log severity (0 verbose .. 4 fatal; default 3). */
  logLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Let idle worker threads spin for a while after each run (default true, ONNX Runtime's own
   * default: lowest latency for back-to-back runs of one session). Several sessions taking turns
   * on few cores run faster with false, since spinning threads of one steal cores from the next.
   */
  spinning?: boolean;
  /**
   * Let ONNX Runtime plan each run's memory from the previous run of the same shapes (its memory
   * pattern; default true). Training sessions turn it off: the planned block is allocated beside the
   * arena chunks of the first run, which on a BERT-base adapter step (batch 32 x 128) raised the
   * peak from 4.9-5.0 GB to 7.5 GB with no faster step; inference keeps it (the same peak, and it was
   * faster). Measured with bench/models/memory-probe.ts.
   */
  memoryPattern?: boolean;
}

const EXTERNAL_AUTO_BYTES = 1.5 * 2 ** 30;

/** Initializer bytes from which a session's weights go to an external file by default where the backend can load files (see {@link SessionOptions.externalDataThreshold}). */
export const EXTERNAL_MEMORY_BYTES = 128 * 2 ** 20;

/** Initializers of at least this many bytes are the ones written out by {@link EXTERNAL_MEMORY_BYTES}'s default (biases and norms stay inline). */
const EXTERNAL_MEMORY_THRESHOLD = 64 * 1024;

/**
 * The default external-data threshold of a session whose initializers take `bytes` (undefined:
 * all inline): every float initializer of at least 1 kB over 1.5 GB (protobuf's limit is 2 GB);
 * with `files` (the backend loads models from disk), those of at least 64 kB from
 * {@link EXTERNAL_MEMORY_BYTES}.
 *
 * @example
 * ```ts
 * externalDataDefault(500 * 2 ** 20, true); // 65536
 * externalDataDefault(500 * 2 ** 20, false); // undefined (a browser: inline)
 * externalDataDefault(2 ** 31, false); // 1024 (and Session.create refuses: no files)
 * ```
 */
export function externalDataDefault(bytes: number, files: boolean): number | undefined {
  if (bytes > EXTERNAL_AUTO_BYTES) return 1024;
  return files && bytes >= EXTERNAL_MEMORY_BYTES ? EXTERNAL_MEMORY_THRESHOLD : undefined;
}

function totalBytes(graph: Graph, freezeParams: boolean, outputs: readonly Value[]): number {
  const { used } = liveNodes(graph, outputs); // not fp32 weights an int8 kernel replaced
  let n = 0;
  for (const v of graph.constants) if (used.has(v)) n += graph.dataOf(v).data.byteLength;
  if (freezeParams) for (const v of graph.params) n += graph.dataOf(v).data.byteLength;
  return n;
}

function fromOrt(t: OrtTensor): HostTensor {
  return { dtype: t.type as DType, shape: [...t.dims], data: t.data as TensorData };
}

/** A compiled graph, ready to run many times, on the runtime backend current when it was created (see backend.ts). */
export class Session {
  private constructor(
    readonly graph: Graph,
    private readonly ort: OrtSession,
    private readonly backend: RuntimeBackend,
    readonly model: SerializedModel,
    private readonly feedsParams: boolean,
    private readonly tmpDir: string | undefined,
  ) {}

  /** Compiles `graph` into an ONNX Runtime session. */
  static async create(graph: Graph, o: SessionOptions = {}): Promise<Session> {
    const freeze = o.freezeParams ?? false;
    const backend = currentRuntimeBackend(defaultRuntimeBackend);
    const files = backend.files;
    const threshold = o.externalDataThreshold ?? externalDataDefault(totalBytes(graph, freeze, o.outputs ?? graph.outputs), files !== undefined);
    if (threshold !== undefined && !files) fail('GRAPH_ERROR', `graph ${graph.name} needs external data (over 1.5 GB, or externalDataThreshold set), which ${backend.name} cannot load`);
    const tmpDir = threshold !== undefined ? files?.makeTempDir() : undefined;
    let model: SerializedModel;
    try {
      model = serializeGraph(graph, {
        outputs: o.outputs,
        paramsAs: freeze ? 'initializers' : 'inputs',
        externalData: tmpDir ? { dir: tmpDir, file: 'model', threshold } : undefined,
      });
    } catch (e) {
      if (tmpDir) files?.removeDir(tmpDir);
      throw e;
    }
    const opts: OrtSessionOptions = {
      ...backend.sessionDefaults(),
      intraOpNumThreads: o.threads ?? backend.defaultThreads(),
      interOpNumThreads: 1,
      graphOptimizationLevel: o.optimization ?? 'all',
      executionMode: 'sequential',
      enableCpuMemArena: true,
      enableMemPattern: o.memoryPattern ?? true,
      logSeverityLevel: o.logLevel ?? 3,
      ...(o.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } } : {}),
    };
    try {
      const s = await backend.createSession(model.path ?? model.bytes, opts);
      return new Session(graph, s, backend, model, !freeze, tmpDir);
    } catch (e) {
      if (tmpDir) files?.removeDir(tmpDir);
      throw new AdapterkitError('RUNTIME_ERROR', `ONNX Runtime could not load graph ${graph.name}: ${(e as Error).message}`, undefined, { cause: e });
    }
  }

  /** Names of the values the caller must feed (parameters are fed automatically). */
  get inputNames(): string[] {
    return this.model.inputs.filter((v) => v.kind !== 'param').map((v) => v.name);
  }

  /** Names of fetchable outputs. */
  get outputNames(): string[] {
    return this.model.outputs.map((v) => v.name);
  }

  /** Checks feeds against the graph inputs; throws one BAD_FEED error listing every problem. */
  private check(feeds: Record<string, HostTensor>): void {
    const problems: string[] = [];
    const sizes = new Map<string, { size: number; where: string }>();
    const wanted = this.model.inputs.filter((v) => v.kind !== 'param' || !this.feedsParams);
    const known = new Set(this.graph.inputs.map((v) => v.name));
    for (const name of Object.keys(feeds)) {
      if (!known.has(name) && !this.model.inputs.some((v) => v.name === name)) problems.push(`unknown input '${name}'`);
    }
    for (const v of wanted) {
      const t = feeds[v.name];
      if (!t) {
        if (v.kind === 'input') problems.push(`missing input '${v.name}' (${v.dtype}${fmtShape(v.shape)})`);
        continue;
      }
      const got = `${t.dtype}${fmtShape(t.shape)}`;
      if (t.dtype !== v.dtype) problems.push(`input '${v.name}': expected dtype ${v.dtype}, got ${got}`);
      if (t.shape.length !== v.rank) {
        problems.push(`input '${v.name}': expected rank ${v.rank} ${fmtShape(v.shape)}, got ${got}`);
        continue;
      }
      let n = 1;
      v.shape.forEach((d, i) => {
        const s = t.shape[i] as number;
        n *= s;
        if (typeof d === 'number' && d !== s) problems.push(`input '${v.name}': axis ${i} must be ${d} (expected ${fmtShape(v.shape)}), got ${got}`);
        if (typeof d === 'string') {
          const prev = sizes.get(d);
          if (prev && prev.size !== s) problems.push(`input '${v.name}': dimension '${d}' is ${s} here but ${prev.size} in ${prev.where}`);
          else if (!prev) sizes.set(d, { size: s, where: `'${v.name}'` });
        }
      });
      if (t.data.length !== n) problems.push(`input '${v.name}': shape ${fmtShape(t.shape)} needs ${n} elements, data has ${t.data.length}`);
    }
    if (problems.length) fail('BAD_FEED', `graph ${this.graph.name}: ${problems.join('; ')}`, { problems });
  }

  /**
   * Runs the graph. `feeds` maps input names to tensors; parameters are taken from the graph's
   * current data. Returns the requested outputs (all outputs by default) keyed by value name.
   */
  async run(feeds: Record<string, HostTensor>, fetch?: readonly (Value | string)[]): Promise<Record<string, HostTensor>> {
    this.check(feeds);
    const inputs: Record<string, OrtTensor> = {};
    for (const v of this.model.inputs) {
      const t = feeds[v.name] ?? (v.kind === 'param' && this.feedsParams ? this.graph.dataOf(v) : undefined);
      if (t) inputs[v.name] = this.backend.tensor(t.dtype, t.data, t.shape);
    }
    const names = (fetch ?? this.model.outputs).map((f) => (typeof f === 'string' ? f : f.name));
    for (const n of names) {
      if (!this.outputNames.includes(n)) fail('BAD_FEED', `graph ${this.graph.name}: '${n}' is not an output of this session (outputs: ${this.outputNames.join(', ')})`);
    }
    let res: Record<string, OrtTensor>;
    try {
      res = await this.ort.run(inputs, names);
    } catch (e) {
      throw new AdapterkitError('RUNTIME_ERROR', `ONNX Runtime failed running graph ${this.graph.name}: ${(e as Error).message}`, undefined, { cause: e });
    }
    const out: Record<string, HostTensor> = {};
    for (const n of names) out[n] = fromOrt(res[n] as OrtTensor);
    return out;
  }

  /** Releases the native session and any temporary model files. */
  async dispose(): Promise<void> {
    await this.ort.release();
    if (this.tmpDir) this.backend.files?.removeDir(this.tmpDir);
  }
}
