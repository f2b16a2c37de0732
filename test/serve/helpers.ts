/** Shared helpers of the server tests: start a real server on a loopback port, call it with fetch. */
import { tmpdir } from 'node:os';
import type { ClassifierBackend } from '../../src/serve/backend.js';
import { startServer, type ServeOptions, type StartedServer } from '../../src/serve/server.js';

/**
 * Starts a real server on 127.0.0.1 with a free port, an empty environment and, unless `opts`
 * says otherwise, the OS temp directory as its one adapter root (tests save their adapters
 * there). Tests of the default (no roots) pass `adapterRoots: []`.
 */
export function listen(backend: ClassifierBackend, opts: ServeOptions = {}): Promise<StartedServer> {
  return startServer(backend, { host: '127.0.0.1', port: 0, env: {}, adapterRoots: [tmpdir()], ...opts });
}

/** A parsed response. */
export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/** Sends a request; a non-string body is sent as JSON. Times out after 5 s. */
export async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...headers }, signal: AbortSignal.timeout(5000) };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** POST /v1/classify. */
export function classify(base: string, task: unknown, inputs: unknown): Promise<Answer> {
  return call(`${base}/v1/classify`, 'POST', { task, inputs });
}

/** The `error` object of an error response, asserting its shape. */
export function errorOf(a: Answer): { code: string; message: string } {
  const body = a.body as { error?: { code?: unknown; message?: unknown } };
  if (typeof body !== 'object' || body === null || typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not an error body (status ${a.status}): ${a.text}`);
  }
  return { code: body.error.code, message: body.error.message };
}

/** Waits until `cond()` holds, polling every 10 ms; fails after `ms` (default 5 s) naming `what`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The value of the `adapterkit_queue_depth` gauge from GET /metrics. */
export async function queueDepth(base: string): Promise<number> {
  const m = /^adapterkit_queue_depth (\S+)$/m.exec((await call(`${base}/metrics`, 'GET')).text);
  if (m === null) throw new Error('no adapterkit_queue_depth in /metrics');
  return Number(m[1]);
}
