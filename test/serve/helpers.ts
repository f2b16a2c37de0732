/** Shared helpers of the server tests: start a real server on a loopback port, call it with fetch. */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
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

/** A running `adapterkit serve` child process, watched by {@link watchServe}. */
export interface WatchedServe {
  /** Waits (up to 60 s) until the server prints the address it listens at; fails with its stderr if it never does. */
  url(): Promise<string>;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** Resolves when the child exits. */
  readonly exited: Promise<unknown>;
}

/** Collects a started `adapterkit serve` child's stderr and finds the URL it announces there. */
export function watchServe(child: ChildProcess): WatchedServe {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  const exited = once(child, 'exit');
  const announced = / at (http:\/\/\S+)/;
  return {
    exited,
    stderr: () => stderr,
    async url() {
      const t0 = Date.now();
      while (!announced.test(stderr) && child.exitCode === null && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
      const url = announced.exec(stderr)?.[1];
      assert.ok(url !== undefined, `server did not start: ${stderr}`);
      return url;
    },
  };
}

/**
 * Writes `data` on a new TCP connection to `url` (a server base URL) and keeps the connection
 * open; resolves with everything the server sent once it closes the connection. Fails after `ms`
 * (default 8 s).
 */
export async function rawExchange(url: string, data: string, ms = 8000): Promise<string> {
  const { port, hostname } = new URL(url);
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(data));
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${ms} ms; got so far: ${JSON.stringify(got)}`));
    }, ms);
    socket.on('data', (d: Buffer) => { got += d.toString('utf8'); });
    socket.on('error', () => {}); // a reset after the answer: what was read is the answer
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

/** A raw HTTP response split into its status line and JSON body. */
export function parseRaw(raw: string): { statusLine: string; headers: string; body: unknown } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const text = end < 0 ? '' : raw.slice(end + 4);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { statusLine: head.split('\r\n')[0] ?? '', headers: head, body };
}
