/**
 * The seam between the engine and an ONNX Runtime build. {@link Session} talks to ONNX Runtime
 * only through a {@link RuntimeBackend}: onnxruntime-node in Node (`ort-node.ts`, the
 * default), onnxruntime-web in a browser (`ort-web.ts`, which the browser build puts in the
 * place of `ort-node.ts`; see src/browser/build.ts). Both builds share one JavaScript API
 * (onnxruntime-common), so the backend is that API plus what differs: the default thread count
 * and whether models can go through the file system.
 */
import type { DType, TensorData } from '../tensor.js';

/** The part of an ONNX Runtime tensor the engine reads. */
export interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

/** The part of an ONNX Runtime inference session the engine uses. */
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>, fetches: readonly string[]): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/**
 * Session options common to onnxruntime-node and onnxruntime-web, with ONNX Runtime's meanings
 * (unset: ONNX Runtime's default). `Session.create` sets them over the backend's
 * `sessionDefaults` (onnxruntime-web's: `executionProviders: ['wasm']`); its values are noted.
 */
export interface OrtSessionOptions {
  /** Threads one operator may use (Session: `SessionOptions.threads`, else the backend's default). */
  intraOpNumThreads?: number;
  /** Threads running independent operators in parallel mode (Session: 1). */
  interOpNumThreads?: number;
  /** Graph optimizations applied at load (Session: `SessionOptions.optimization`, default `all`). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Run operators one after another or independent ones in parallel (Session: `sequential`). */
  executionMode?: 'sequential' | 'parallel';
  /** Reuse CPU memory through ONNX Runtime's arena allocator (Session: true). */
  enableCpuMemArena?: boolean;
  /** Plan memory from the first run's allocations for later runs of the same shapes (Session: `SessionOptions.memoryPattern`, default true). */
  enableMemPattern?: boolean;
  /** Least severity logged: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal (Session: `SessionOptions.logLevel`, default 3). */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** Execution providers in order of preference, e.g. `['cpu']` or `['wasm']`. */
  executionProviders?: readonly string[];
  /** Session config entries ONNX Runtime takes as `extra` (Session: turns thread spinning off when `spinning` is false). */
  extra?: Record<string, unknown>;
}

/** Temporary files for a model too big for memory (external data); see {@link RuntimeBackend.files}. */
export interface ModelFiles {
  /** Creates a fresh temporary directory and returns its path. */
  makeTempDir(): string;
  /** Deletes a directory made by {@link makeTempDir} with everything in it. */
  removeDir(dir: string): void;
}

/** One ONNX Runtime build as the engine sees it. */
export interface RuntimeBackend {
  /** `onnxruntime-node` or `onnxruntime-web`, for messages and benchmarks. */
  readonly name: string;
  /** Creates a tensor over `data` (no copy). */
  tensor(dtype: DType, data: TensorData, dims: readonly number[]): OrtTensor;
  /** Loads a model from its bytes, or from a path when {@link files} exists. */
  createSession(model: Uint8Array | string, options: OrtSessionOptions): Promise<OrtSession>;
  /** Intra-op threads when the caller does not say (Node: all cores; web: what the page allows). */
  defaultThreads(): number;
  /** Options only this build understands (e.g. the wasm execution provider). */
  sessionDefaults(): Partial<OrtSessionOptions>;
  /** The file system for models over protobuf's 2 GB limit; absent in a browser. */
  readonly files?: ModelFiles;
}

let override: RuntimeBackend | undefined;

/**
 * Replaces the backend every later {@link Session.create} uses (undefined: back to the build's
 * default). For tests and embedders with their own ONNX Runtime build; sessions already created
 * keep theirs.
 */
export function setRuntimeBackend(b: RuntimeBackend | undefined): void {
  override = b;
}

/** The backend in use: the one set with {@link setRuntimeBackend}, else `fallback`. */
export function currentRuntimeBackend(fallback: RuntimeBackend): RuntimeBackend {
  return override ?? fallback;
}
