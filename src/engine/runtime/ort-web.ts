/**
 * The engine's {@link RuntimeBackend} in a browser: onnxruntime-web on its WebAssembly build. The
 * browser build puts this module in the place of `ort-node.ts` (see src/browser/build.ts).
 *
 * Threads: the wasm build runs multi-threaded only in a cross-origin isolated page or worker
 * (COOP/COEP headers, so that SharedArrayBuffer exists); elsewhere it runs on one thread.
 * ONNX Runtime Web reads its thread count once, when the first session is created, so
 * {@link configureWebRuntime} must come before that.
 */
import * as ort from 'onnxruntime-web/wasm';
import { fail } from '../../errors.js';
import type { OrtSession, OrtSessionOptions, OrtTensor, RuntimeBackend } from './backend.js';

/** Settings of the wasm runtime; see {@link configureWebRuntime}. */
export interface WebRuntimeOptions {
  /** Threads of the wasm runtime (default: up to 4 cores when cross-origin isolated, else 1). */
  threads?: number;
  /** URL prefix the runtime loads `ort-wasm-simd-threaded.{mjs,wasm}` from (default: next to the script). */
  wasmPaths?: string;
}

let started = false;

/** Whether this page or worker may use wasm threads (it is cross-origin isolated). */
export function webThreadsAvailable(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/** The threads used when {@link WebRuntimeOptions.threads} is not given. */
function defaultWebThreads(): number {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  return webThreadsAvailable() ? Math.max(1, Math.min(4, cores)) : 1;
}

/**
 * Sets up onnxruntime-web before the first session.
 *
 * @throws AdapterkitError BAD_CONFIG when a session already exists, or when more than one thread
 * is asked for in a page that is not cross-origin isolated.
 */
export function configureWebRuntime(o: WebRuntimeOptions): void {
  if (started) fail('BAD_CONFIG', 'configureWebRuntime must be called before the first session is created (onnxruntime-web reads its settings once)');
  const threads = o.threads ?? defaultWebThreads();
  if (!Number.isInteger(threads) || threads < 1) fail('BAD_CONFIG', `threads must be a positive integer, got ${threads}`);
  if (threads > 1 && !webThreadsAvailable()) {
    fail('BAD_CONFIG', `threads ${threads} needs a cross-origin isolated page (serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp); use threads 1 here`);
  }
  ort.env.wasm.numThreads = threads;
  if (o.wasmPaths !== undefined) ort.env.wasm.wasmPaths = o.wasmPaths;
}

/** The wasm runtime's thread count (what it uses once a session exists). */
export function webRuntimeThreads(): number {
  return ort.env.wasm.numThreads ?? defaultWebThreads();
}

/** onnxruntime-web (wasm) as a {@link RuntimeBackend}. */
export const defaultRuntimeBackend: RuntimeBackend = {
  name: 'onnxruntime-web',
  tensor: (dtype, data, dims) => new ort.Tensor(dtype as ort.Tensor.Type, data as never, [...dims]) as unknown as OrtTensor,
  createSession: async (model, options) => {
    if (typeof model === 'string') fail('BAD_CONFIG', 'onnxruntime-web loads models from memory only; this graph needs external data (over 1.5 GB), which a browser cannot hold');
    if (!started) {
      if (ort.env.wasm.numThreads === undefined) ort.env.wasm.numThreads = defaultWebThreads();
      started = true;
    }
    const s = await ort.InferenceSession.create(model, options as ort.InferenceSession.SessionOptions);
    return s as unknown as OrtSession;
  },
  defaultThreads: () => webRuntimeThreads(),
  sessionDefaults: (): Partial<OrtSessionOptions> => ({ executionProviders: ['wasm'] }),
};
