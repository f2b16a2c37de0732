/**
 * The engine's default {@link RuntimeBackend}: onnxruntime-node, with all cores and a temporary
 * directory for models that need external data. The browser build replaces this module with
 * `ort-web.ts` (see src/browser/build.ts).
 *
 * A temporary model directory is named after this host and process
 * (`adapterkit-model-<host>-<pid>-XXXXXX` in the OS temp directory). It goes when its session is
 * disposed; those left at exit go then; and those of a process of this host that is no longer
 * running (killed before it could clean up) go when the next one is made.
 *
 * ONNX Runtime 1.29 and later, on Linux and macOS, start Microsoft's telemetry uploader with the
 * first session of a process. Its events carry each session's model file name, graph name,
 * producer, hashes and metadata, and it leaves `mat-debug-<pid>.log` and `.ses` in the OS temp
 * directory. This module turns it off by setting `ORT_DISABLE_TELEMETRY=1` for the process when
 * it is loaded, which is before any session exists. A value already set is kept: run with
 * `ORT_DISABLE_TELEMETRY=0` to leave ONNX Runtime's telemetry on.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { OrtSession, OrtSessionOptions, OrtTensor, RuntimeBackend } from './backend.js';

process.env.ORT_DISABLE_TELEMETRY ??= '1';

const PREFIX = 'adapterkit-model-';
const host = hostname().replace(/[^A-Za-z0-9]/g, '_').slice(0, 40) || 'host';
/** Directories this process made and has not removed yet. */
const live = new Set<string>();
let hooked = false;

/** The name prefix of the model directories a process `pid` of this host makes. */
export function modelDirPrefix(pid: number): string {
  return `${PREFIX}${host}-${pid}-`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // running, another user's
  }
}

/** Removes the model directories that processes of this host left when they were killed. */
export function removeStaleModelDirs(dir = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const mine = new RegExp(`^${PREFIX}${host}-(\\d+)-`);
  for (const n of names) {
    const pid = Number(mine.exec(n)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    rmSync(join(dir, n), { recursive: true, force: true });
    removed.push(n);
  }
  return removed;
}

function makeTempDir(): string {
  removeStaleModelDirs();
  const dir = mkdtempSync(join(tmpdir(), modelDirPrefix(process.pid)));
  live.add(dir);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const d of live) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

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
    makeTempDir,
    removeDir: (dir) => {
      rmSync(dir, { recursive: true, force: true });
      live.delete(dir);
    },
  },
};
