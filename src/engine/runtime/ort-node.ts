/**
 * The engine's default {@link RuntimeBackend}: onnxruntime-node, with all cores and a temporary
 * directory for models that need external data. The browser build replaces this module with
 * `ort-web.ts` (see src/browser/build.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { OrtSession, OrtSessionOptions, OrtTensor, RuntimeBackend } from './backend.js';

/** onnxruntime-node as a {@link RuntimeBackend}. */
export const defaultRuntimeBackend: RuntimeBackend = {
  name: 'onnxruntime-node',
  tensor: (dtype, data, dims) => new ort.Tensor(dtype as ort.Tensor.Type, data as never, [...dims]) as OrtTensor,
  createSession: async (model, options) => {
    const o = options as ort.InferenceSession.SessionOptions;
    const s = typeof model === 'string' ? await ort.InferenceSession.create(model, o) : await ort.InferenceSession.create(model, o);
    return s as unknown as OrtSession;
  },
  defaultThreads: () => availableParallelism(),
  sessionDefaults: (): Partial<OrtSessionOptions> => ({}),
  files: {
    makeTempDir: () => mkdtempSync(join(tmpdir(), 'adapterkit-model-')),
    removeDir: (dir) => rmSync(dir, { recursive: true, force: true }),
  },
};
