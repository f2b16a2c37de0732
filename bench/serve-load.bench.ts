/**
 * Latency of the server under bad input and overload (issue 12), as figures, not assertions:
 *
 *   npm run bench:serve-load
 *
 * The real backend on the tiny BERT with one ONNX Runtime thread; the load generator of load.ts
 * in a separate process (its own event loop and CPU, as real clients have). Phases: clean, 10 %
 * bad input, and overload (64 clients against the bounded queue and request timeout given). Prints
 * for each phase the answers seen and the latency of good requests answered 200 (p50, p99, max).
 * ADAPTERKIT_LOAD_REQUESTS sets the requests per phase (default 400); ADAPTERKIT_LOAD_QUEUE and
 * ADAPTERKIT_LOAD_TIMEOUT_MS the overload server's maxQueue (default 32) and requestTimeoutMs
 * (default 2000).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { adapterConfig } from '../src/adapters/methods/index.js';
import { headConfig } from '../src/heads/head.js';
import { loadBase } from '../src/models/base.js';
import { ModelBackend } from '../src/serve/model-backend.js';
import { saveTask } from '../src/train/task-io.js';
import { TaskModel } from '../src/train/task-model.js';
import { listen } from '../test/serve/helpers.js';
import { percentile, runLoadInChild, tally, type LoadOptions, type LoadResult } from '../test/serve/load.js';

const REQUESTS = Number(process.env['ADAPTERKIT_LOAD_REQUESTS'] ?? 400);
const QUEUE = Number(process.env['ADAPTERKIT_LOAD_QUEUE'] ?? 32);
const TIMEOUT_MS = Number(process.env['ADAPTERKIT_LOAD_TIMEOUT_MS'] ?? 2000);
const LIMITS = { maxInputs: 64, bodyLimit: 1024 * 1024 };
const ADMIN = 'load-bench-admin-token';

function report(name: string, r: LoadResult): void {
  const ok = r.good.filter((g) => g.status === 200).map((g) => g.ms);
  const fmt = (p: number): string => `${percentile(ok, p).toFixed(0)} ms`;
  process.stdout.write(`${name}: ${r.good.length} good + ${r.bad.length} bad requests in ${(r.wallMs / 1000).toFixed(2)} s\n`);
  process.stdout.write(`  good answered 200: p50 ${fmt(50)}, p99 ${fmt(99)}, max ${fmt(100)}\n`);
  process.stdout.write(`  good answers: ${JSON.stringify(tally(r.good))}\n  bad answers:  ${JSON.stringify(tally(r.bad))}\n`);
}

const base = await loadBase(resolve('test/fixtures/models/tiny-bert'));
const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 8 }) }, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 5 });
const dir = mkdtempSync(join(tmpdir(), 'ak-load-bench-'));
await saveTask(m, join(dir, 'sentiment'), { name: 'sentiment', maxLength: 64 });
await m.dispose();
mkdirSync(join(dir, 'root'));
const backend = new ModelBackend(base, { maxLength: 64, threads: 1 });
await backend.load('sentiment', join(dir, 'sentiment'));
const env = { ADAPTERKIT_ADMIN_TOKEN: ADMIN };
const phase = (url: string, o: Partial<LoadOptions>): LoadOptions => ({
  url, task: 'sentiment', requests: REQUESTS, concurrency: 16, badShare: 0, ...LIMITS, adminToken: ADMIN, seed: 11, ...o,
});

const server = await listen(backend, { ...LIMITS, env, adapterRoots: [join(dir, 'root')] });
try {
  const [, clean, mixed] = await runLoadInChild([
    phase(server.url, { requests: 40 }), // warm-up: connections, sessions
    phase(server.url, {}),
    phase(server.url, { badShare: 0.1 }),
  ]) as [LoadResult, LoadResult, LoadResult];
  report('clean (16 clients)', clean);
  report('10 % bad input (16 clients)', mixed);
} finally {
  await server.close();
}

// a request may hold at most maxQueue inputs (the server refuses a larger maxInputs), so the overload phase's requests are capped to the queue
const OVER_INPUTS = Math.min(LIMITS.maxInputs, QUEUE);
const small = await listen(backend, { ...LIMITS, maxInputs: OVER_INPUTS, env, adapterRoots: [join(dir, 'root')], maxQueue: QUEUE, requestTimeoutMs: TIMEOUT_MS });
try {
  const [, over] = await runLoadInChild([
    phase(small.url, { requests: 64, concurrency: 64, badShare: 0.1, seed: 12, maxInputs: OVER_INPUTS }),
    phase(small.url, { requests: REQUESTS * 2, concurrency: 64, badShare: 0.1, seed: 12, maxInputs: OVER_INPUTS }),
  ]) as [LoadResult, LoadResult];
  report(`overload (64 clients, maxQueue ${QUEUE}, requestTimeoutMs ${TIMEOUT_MS})`, over);
} finally {
  await small.close();
  await backend.dispose();
}
