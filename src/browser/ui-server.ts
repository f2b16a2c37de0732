/**
 * The server behind `adapterkit ui`: the page, its script and worker bundles (build.ts),
 * onnxruntime-web's files, the embedded base's files, the built-in datasets, and Download (the
 * page's trained task written with saveTask and zipped, task-download.ts), on fastify.
 * Every response carries the cross-origin isolation headers (COOP same-origin, COEP
 * require-corp), so the page may use wasm threads.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { AdapterkitError, fail } from '../errors.js';
import { DEFAULT_BASE, loadBase, type BaseModel } from '../models/base.js';
import { useLitePackageDir } from '../models/use-lite/package-files.js';
import { listBuiltinDatasets, loadBuiltinDataset } from '../train/data/builtin/index.js';
import type { TaskData } from '../train/data/types.js';
import { buildBrowserBundle, ORT_URL_PREFIX, type BrowserBuildOptions } from './build.js';
import { UI_PAGE_HTML } from './page/index-html.js';
import { taskZip } from './task-download.js';
import { openTaskDir, openTaskZip, type OpenBases } from './task-open.js';
import { EMBEDDED_BASE_NAME, type BrowserTask, type ServedBase } from './protocol.js';
import { SERVED_BASE_FILE, servedBase } from './served-bases.js';

/** Options of {@link startUiServer}. */
export interface UiServerOptions {
  readonly host?: string;
  /** Port (0: any free one). */
  readonly port: number;
  readonly build?: BrowserBuildOptions;
  /** Most examples per split a dataset request may ask for (default 5000). */
  readonly maxExamples?: number;
  /** Saved tasks the page may predict with (name -> task directory), from `adapterkit ui --task`. */
  readonly tasks?: ReadonlyMap<string, string>;
  /**
   * BERT-family bases the page's base picker offers besides the embedded one (name -> model
   * directory with safetensors weights; see served-bases.ts). Checked when the server starts.
   */
  readonly bases?: ReadonlyMap<string, string>;
  /** More scripts to serve under `/app/` (file name -> JavaScript), e.g. a benchmark's worker. */
  readonly extraScripts?: ReadonlyMap<string, string>;
}

/** A running ui server. */
export interface UiServer {
  readonly url: string;
  close(): Promise<void>;
}

/** The headers that make the page cross-origin isolated (SharedArrayBuffer, wasm threads). */
export const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' } as const;

const TYPES: Record<string, string> = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.bin': 'application/octet-stream' };

function ortDistDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm')); // the package exports its wasm files, not package.json
  } catch (cause) {
    return fail('NOT_FOUND', `the browser page needs the npm package onnxruntime-web (${(cause as Error).message})`);
  }
}

/** Serves the files of `dir` whose names match `allowed` under `prefix`. */
function serveDir(app: FastifyInstance, prefix: string, dir: string, allowed: RegExp): void {
  app.get(`${prefix}:file`, async (req, reply) => {
    const file = (req.params as { file: string }).file;
    const full = join(dir, file);
    if (!allowed.test(file) || !existsSync(full)) return reply.code(404).send({ code: 'NOT_FOUND', message: `no file ${prefix}${file}` });
    const ext = file.slice(file.lastIndexOf('.'));
    return reply.type(TYPES[ext] ?? 'application/octet-stream').header('cache-control', 'max-age=3600').send(createReadStream(full));
  });
}

/** Parses a count query parameter. */
function count(raw: unknown, name: string, dflt: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) fail('BAD_CONFIG', `query parameter ${name} must be an integer from 0 to ${max}, got "${String(raw)}"`);
  return n;
}

/**
 * A built-in dataset cut for the page: `train` / `dev` examples of its splits, evenly spaced
 * through each split (the splits are stored grouped by label or source, so a prefix would be
 * one class), texts and labels only.
 */
function forPage(d: TaskData, train: number, dev: number): BrowserTask {
  const strip = (xs: readonly { id: string; textA: string; label?: number | number[] }[], n: number) => {
    const k = Math.min(n, xs.length);
    return Array.from({ length: k }, (_, i) => xs[Math.floor((i * xs.length) / k)] as (typeof xs)[number]).map((e) => ({ id: e.id, textA: e.textA, ...(e.label !== undefined ? { label: e.label } : {}) }));
  };
  return { name: d.name, labels: d.labels, train: strip(d.splits.train ?? [], train), dev: strip(d.splits.dev ?? [], dev), metrics: d.metrics };
}

/**
 * Builds the page bundle (or takes it from the cache) and starts the server.
 *
 * @throws AdapterkitError when the bundle cannot be built or a package is missing (see
 *   buildBrowserBundle); BAD_CONFIG when the port is in use or the host is not this machine's.
 */
export async function startUiServer(o: UiServerOptions): Promise<UiServer> {
  const served = new Map<string, { dir: string; info: ServedBase; base?: Promise<BaseModel> }>();
  for (const [name, dir] of o.bases ?? []) served.set(name, { dir, info: await servedBase(name, dir) });
  const bundle = new Map([...(await buildBrowserBundle(o.build)), ...(o.extraScripts ?? [])]);
  const maxExamples = o.maxExamples ?? 5000;
  const datasets = new Map<string, Promise<TaskData>>();
  const app = Fastify({ logger: false, bodyLimit: 512 * 1024 * 1024 });
  let base: Promise<BaseModel> | undefined;
  app.addHook('onSend', async (_req, reply) => {
    for (const [k, v] of Object.entries(ISOLATION_HEADERS)) reply.header(k, v);
  });
  app.setErrorHandler((err, _req, reply) => {
    const code = err instanceof AdapterkitError ? err.code : 'INTERNAL';
    const status = code === 'NOT_FOUND' ? 404 : ['BAD_CONFIG', 'BAD_DATA', 'BAD_FILE', 'ADAPTER_MISMATCH', 'UNSUPPORTED_MODEL'].includes(code) ? 400 : 500;
    void reply.code(status).send({ code, message: (err as Error).message });
  });
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(UI_PAGE_HTML));
  app.get('/app/:file', async (req, reply) => {
    const js = bundle.get((req.params as { file: string }).file);
    if (js === undefined) return reply.code(404).send({ code: 'NOT_FOUND', message: 'no such script' });
    return reply.type('text/javascript; charset=utf-8').send(js);
  });
  serveDir(app, ORT_URL_PREFIX, ortDistDir(), /^ort[\w.-]*\.(mjs|wasm)$/);
  serveDir(app, '/assets/use-lite/', useLitePackageDir(), /^(model\.json|vocab\.json|group\d+-shard\d+of\d+)$/);
  app.get('/api/bases', async () => [...served.values()].map((b) => b.info));
  app.get('/assets/bases/:name/:file', async (req, reply) => {
    const { name, file } = req.params as { name: string; file: string };
    const b = served.get(name);
    const full = b ? join(b.dir, file) : '';
    if (!b || !SERVED_BASE_FILE.test(file) || !existsSync(full)) return reply.code(404).send({ code: 'NOT_FOUND', message: `no file /assets/bases/${name}/${file}` });
    return reply.type(TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream').send(createReadStream(full));
  });
  app.get('/api/datasets', async () => listBuiltinDatasets());
  app.get('/api/datasets/:name', async (req) => {
    const name = (req.params as { name: string }).name;
    const q = req.query as Record<string, unknown>;
    const train = count(q.train, 'train', 256, maxExamples);
    const dev = count(q.dev, 'dev', 128, maxExamples);
    if (!listBuiltinDatasets().some((d) => d.name === name)) fail('NOT_FOUND', `no built-in dataset "${name}"; available: ${listBuiltinDatasets().map((d) => d.name).join(', ')}`);
    let p = datasets.get(name);
    if (!p) {
      p = loadBuiltinDataset(name);
      datasets.set(name, p);
      p.catch(() => datasets.delete(name));
    }
    return forPage(await p, train, dev);
  });
  app.addContentTypeParser(['application/zip', 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const tasks = o.tasks ?? new Map<string, string>();
  app.get('/api/tasks', async () => [...tasks.keys()]);
  /** The server's copy of the base the page calls `name` (the embedded one, or a served one), loaded once. */
  const loadNamed = (name: string): Promise<BaseModel> => {
    if (name === EMBEDDED_BASE_NAME) return (base ??= loadBase(DEFAULT_BASE));
    const b = served.get(name);
    if (!b) fail('BAD_DATA', `the task was trained on base ${JSON.stringify(name)}, which this server does not serve (bases: ${[EMBEDDED_BASE_NAME, ...served.keys()].join(', ')})`);
    b.base ??= loadBase(b.dir);
    return b.base;
  };
  const openBases: OpenBases = { names: [{ name: EMBEDDED_BASE_NAME }, ...[...served].map(([name, b]) => ({ name, family: b.info.family }))], load: loadNamed };
  app.get('/api/tasks/:name', async (req) => {
    const name = (req.params as { name: string }).name;
    const dir = tasks.get(name);
    if (!dir) fail('NOT_FOUND', `no task "${name}" (tasks: ${[...tasks.keys()].join(', ') || 'none; name them with --task name=dir'})`);
    return openTaskDir(openBases, dir);
  });
  app.post('/api/tasks/open', async (req) => {
    if (!Buffer.isBuffer(req.body)) fail('BAD_DATA', 'send the task as a zip (content-type application/zip)');
    const name = String((req.query as Record<string, unknown>).name ?? 'task.zip');
    return openTaskZip(openBases, new Uint8Array(req.body), name);
  });
  /** The server's copy of the base a task upload names (the embedded one when it names none). */
  const baseOf = (body: unknown): Promise<BaseModel> => {
    const name = (body as { base?: unknown } | null)?.base;
    if (name !== undefined && typeof name !== 'string') fail('BAD_DATA', `the task's base must be a base's name, got ${JSON.stringify(name)}`);
    return loadNamed(name ?? EMBEDDED_BASE_NAME);
  };
  app.post('/api/tasks/zip', async (req, reply) => {
    const { fileName, zip } = await taskZip(await baseOf(req.body), req.body);
    return reply.type('application/zip').header('content-disposition', `attachment; filename="${fileName}"`).send(zip);
  });
  const host = o.host ?? '127.0.0.1';
  let address: string;
  try {
    address = await app.listen({ host, port: o.port });
  } catch (e) {
    await app.close();
    const code = (e as { code?: string }).code;
    if (code === 'EADDRINUSE') fail('BAD_CONFIG', `port ${o.port} on ${host} is in use: pick another port (0: any free port)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') fail('BAD_CONFIG', `cannot listen on host ${host}: not an address of this machine`);
    throw e;
  }
  return { url: address.replace('[::1]', 'localhost'), close: () => app.close() };
}
