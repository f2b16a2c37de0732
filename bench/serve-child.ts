/**
 * Server process of bench:serve. Loads the embedded USE-lite base into a ModelBackend, then obeys
 * the parent over IPC: `load` (attach saved task directories through ModelBackend.load, warm the
 * session up, report memory after a full GC), `start` (listen on 127.0.0.1, port 0), `stop`.
 * Run with --expose-gc so that memory figures are taken after collection.
 */
import { loadBase } from '../src/models/base.js';
import { ModelBackend } from '../src/serve/model-backend.js';
import { startServer, type StartedServer } from '../src/serve/server.js';

/** Messages from the parent. */
export type ChildCommand =
  | { cmd: 'load'; tasks: { name: string; dir: string }[]; warmTexts: string[] }
  | { cmd: 'start' }
  | { cmd: 'stop' };

/** Memory of the server process, in bytes. */
export interface MemoryReport { rss: number; heapUsed: number; external: number; arrayBuffers: number }

/** Messages to the parent. */
export type ChildReply =
  | { type: 'ready'; memory: MemoryReport }
  | { type: 'loaded'; tasks: number; memory: MemoryReport; loadMs: number }
  | { type: 'started'; url: string }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

const send = (m: ChildReply): void => {
  process.send?.(m);
};

const gc = (globalThis as { gc?: () => void }).gc;

async function settledMemory(): Promise<MemoryReport> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

const base = await loadBase('use-lite');
const backend = new ModelBackend(base);
let server: StartedServer | undefined;

process.on('message', (raw) => {
  const msg = raw as ChildCommand;
  void (async () => {
    try {
      if (msg.cmd === 'load') {
        const t = performance.now();
        for (const { name, dir } of msg.tasks) await backend.load(name, dir);
        const loadMs = performance.now() - t;
        // Warm-up: mixed batches over every loaded task, so the session and its arena exist.
        const names = backend.tasks().map((x) => x.name);
        for (let k = 0; k < 3; k++) {
          await backend.classify(msg.warmTexts.map((input, i) => ({ task: names[(i + k) % names.length] as string, input })));
        }
        send({ type: 'loaded', tasks: names.length, memory: await settledMemory(), loadMs });
      } else if (msg.cmd === 'start') {
        server = await startServer(backend, { host: '127.0.0.1', port: 0 });
        send({ type: 'started', url: server.url });
      } else {
        await server?.close();
        await backend.dispose();
        send({ type: 'stopped' });
        process.disconnect?.();
      }
    } catch (err) {
      send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) });
    }
  })();
});

send({ type: 'ready', memory: await settledMemory() });
