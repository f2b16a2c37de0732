/** Small helpers shared by the hub tests: temp folders and scoped environment variables. */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { disposableTempDir } from '../temp-dir.js';

/** A fresh temp folder; removed by the returned cleanup (or when the test process exits). */
export function tempDir(prefix = 'adapterkit-hub-'): { dir: string; cleanup: () => void } {
  return disposableTempDir(prefix);
}

/** Runs `fn` with the given environment variables set (`undefined` deletes), then restores them. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T> | T): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Every file and folder under `root`, relative, sorted (folders end with '/'). */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const isDir = statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
      out.push(relative(root, p) + (isDir ? '/' : ''));
      if (isDir) walk(p);
    }
  };
  walk(root);
  return out.sort();
}

/** Hub environment variables cleared around every test that relies on defaults. */
export const CLEAN_HUB_ENV: Record<string, undefined> = {
  HF_HUB_CACHE: undefined,
  HUGGINGFACE_HUB_CACHE: undefined,
  HF_HOME: undefined,
  HF_ENDPOINT: undefined,
  HF_TOKEN: undefined,
  HUGGING_FACE_HUB_TOKEN: undefined,
  HF_TOKEN_PATH: undefined,
  HF_HUB_OFFLINE: undefined,
  TRANSFORMERS_OFFLINE: undefined,
};

/** An http://127.0.0.1:PORT endpoint where nothing listens (connections are refused). */
export async function deadEndpoint(): Promise<string> {
  const { createServer } = await import('node:http');
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
