/**
 * The HTTP server: many task adapters served from one shared base model.
 *
 * Routes: POST /v1/classify, POST /v1/tag, POST /v1/answer, GET /v1/adapters, POST /v1/adapters, DELETE /v1/adapters/:name
 * (admin, bearer token), GET /healthz, GET /metrics. Classify requests go through a
 * {@link Batcher} that merges concurrent requests, across tasks, into few backend calls.
 * The full API is documented in docs/serve.md.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { AdapterkitError } from '../errors.js';
import { AdminGuard, DEFAULT_ADMIN_TOKEN_ENV } from './admin-auth.js';
import type { AnswerOutput, ClassifierBackend, ClassifyItem, ClassifyOutput, TagOutput, TaskInfo } from './backend.js';
import { Batcher } from './batcher.js';
import { HttpError, toErrorAnswer } from './http-errors.js';
import { ServerMetrics } from './metrics.js';
import { parseAnswerRequest, parseClassifyRequest, parseLoadRequest, parseTagRequest, unknownTask } from './validate.js';

/** Options of {@link createServer}; every one has a default. */
export interface ServeOptions {
  /** Batching window in ms: how long a lone request waits for others to share its batch. Default 5. */
  windowMs?: number;
  /** Most inputs per backend call. Default 32. */
  maxBatch?: number;
  /** Most inputs waiting in the batch queue; beyond it requests get 503 QUEUE_FULL. Default 1024. */
  maxQueue?: number;
  /** Most inputs in one classify request; beyond it 413 TOO_MANY_INPUTS. Default 64. */
  maxInputs?: number;
  /** Largest request body in bytes; beyond it 413 BODY_TOO_LARGE. Default 1 MiB. */
  bodyLimit?: number;
  /** Environment variable holding the admin bearer token. Default `ADAPTERKIT_ADMIN_TOKEN`. */
  adminTokenEnv?: string;
  /** Environment the admin token is read from (once, at creation). Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** How long `close()` waits for in-flight requests and queued batches before cutting connections (ms). Default 10000. */
  shutdownTimeoutMs?: number;
  /** Fastify logger setting. Default false (no logging). */
  logger?: FastifyServerOptions['logger'];
  /** Also export prom-client's default process metrics. Default false. */
  processMetrics?: boolean;
}

/** Options of {@link startServer}. */
export interface StartOptions extends ServeOptions {
  /** Interface to listen on. Default `127.0.0.1` (use `0.0.0.0` to accept remote clients). */
  host?: string;
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
}

/** A listening server. */
export interface StartedServer {
  app: FastifyInstance;
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Graceful shutdown (see {@link createServer}). */
  close(): Promise<void>;
}

/** Response of POST /v1/classify. */
export interface ClassifyResponse {
  task: string;
  results: ClassifyOutput[];
  /** How many inputs were truncated to the backend's maximum length. */
  truncated: number;
}

/** Response of POST /v1/tag. */
export interface TagResponse {
  task: string;
  results: TagOutput[];
  /** How many inputs lost words to the backend's maximum length. */
  truncated: number;
}

/** Response of POST /v1/answer. */
export interface AnswerResponse {
  task: string;
  results: AnswerOutput[];
}

const DEFAULTS = { maxInputs: 64, bodyLimit: 1024 * 1024, shutdownTimeoutMs: 10_000 } as const;

/** Route label of a request for metrics: the route pattern, never the raw URL (bounded cardinality). */
function routeLabel(req: FastifyRequest): string {
  return req.is404 ? 'unmatched' : (req.routeOptions.url ?? 'unmatched');
}

/**
 * Builds the server (not listening yet: call `listen`, or use {@link startServer}).
 *
 * `app.close()` shuts down gracefully: new requests get 503 SHUTTING_DOWN, in-flight requests and
 * queued batches finish, then it resolves. After `shutdownTimeoutMs` the rest is cut: queued
 * requests fail with 503 and open connections are closed. No signal handlers are installed
 * (see `installShutdownSignals` in signals.ts for the CLI).
 *
 * @example
 * ```ts
 * const app = await createServer(backend, { maxBatch: 16 });
 * await app.listen({ host: '127.0.0.1', port: 0 });
 * ```
 */
export async function createServer(backend: ClassifierBackend, opts: ServeOptions = {}): Promise<FastifyInstance> {
  const maxInputs = opts.maxInputs ?? DEFAULTS.maxInputs;
  const bodyLimit = opts.bodyLimit ?? DEFAULTS.bodyLimit;
  const shutdownTimeoutMs = opts.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs;
  if (!Number.isInteger(maxInputs) || maxInputs < 1) throw new AdapterkitError('BAD_CONFIG', `serve option maxInputs must be a positive integer, got ${maxInputs}`);
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1) throw new AdapterkitError('BAD_CONFIG', `serve option bodyLimit must be a positive integer, got ${bodyLimit}`);

  const guard = new AdminGuard(opts.adminTokenEnv ?? DEFAULT_ADMIN_TOKEN_ENV, opts.env ?? process.env);
  const isLoaded = (name: string): boolean => backend.tasks().some((t) => t.name === name);
  let batcher: Batcher<ClassifyItem, ClassifyOutput> | undefined;
  const metrics = new ServerMetrics({ adaptersLoaded: () => backend.tasks().length, queueDepth: () => batcher?.queuedItems ?? 0 }, opts.processMetrics ?? false);
  try {
    batcher = new Batcher<ClassifyItem, ClassifyOutput>((items) => backend.classify(items), {
      windowMs: opts.windowMs, maxBatch: opts.maxBatch, maxQueue: opts.maxQueue,
      onBatch: (size, seconds, ok) => metrics.observeBatch(size, seconds, ok),
      // A task unloaded while its request waited fails only that request, not the whole batch.
      checkRequest: (items) => {
        const name = items[0]?.task;
        return name === undefined || isLoaded(name) ? undefined : unknownTask(name, backend.tasks());
      },
    });
  } catch (err) {
    throw new AdapterkitError('BAD_CONFIG', `serve options: ${(err as Error).message}`);
  }
  const queue = batcher;

  const app = Fastify({ bodyLimit, logger: opts.logger ?? false, return503OnClosing: false });
  const startedAt = performance.now();
  let closing = false;
  let deadline = Infinity;
  let forceTimer: ReturnType<typeof setTimeout> | undefined;

  app.setErrorHandler((err, req, reply) => {
    const answer = toErrorAnswer(err, bodyLimit);
    if (answer.status >= 500) req.log.error({ err }, 'request failed');
    void reply.code(answer.status).headers(answer.headers).send(answer.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const answer = toErrorAnswer(new HttpError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}; see docs/serve.md for the API`));
    void reply.code(answer.status).send(answer.body);
  });

  app.addHook('onRequest', async () => {
    if (closing) throw new HttpError('SHUTTING_DOWN', 'server is shutting down; retry on another instance', { connection: 'close' });
  });
  // While closing, answers end their keep-alive connection so the server can finish closing.
  app.addHook('onSend', async (_req, reply) => {
    if (closing) void reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = routeLabel(req);
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.latency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  // Graceful shutdown: stop admitting requests, let fastify wait for in-flight ones, cut after the deadline.
  app.addHook('preClose', async () => {
    closing = true;
    deadline = performance.now() + shutdownTimeoutMs;
    forceTimer = setTimeout(() => {
      queue.failQueued(new HttpError('SHUTTING_DOWN', `server shut down before this request ran (shutdown timeout ${shutdownTimeoutMs} ms)`));
      app.server.closeAllConnections();
    }, shutdownTimeoutMs);
    forceTimer.unref();
  });
  app.addHook('onClose', async () => {
    queue.close();
    const left = Math.max(0, deadline - performance.now());
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([queue.drain(), new Promise<void>((resolve) => { t = setTimeout(resolve, left); })]);
    clearTimeout(t);
    clearTimeout(forceTimer);
  });

  const adminOnly = async (req: FastifyRequest): Promise<void> => guard.check(req.headers.authorization);

  app.post('/v1/classify', async (req): Promise<ClassifyResponse> => {
    const { task, inputs } = parseClassifyRequest(req.body, backend.tasks(), maxInputs);
    const results = await queue.submit(inputs.map((input) => ({ task: task.name, input })));
    const truncated = results.reduce((n, r) => n + (r.truncated ? 1 : 0), 0);
    metrics.observeClassified(task.name, results.length, truncated);
    return { task: task.name, results, truncated };
  });

  // Token-level tasks run on their own sessions, one request at a time between classify batches
  // (so an unload never overlaps them).
  const runTokenTask = async <T>(name: string, what: string, fn: () => Promise<T>): Promise<T> => queue.exclusive(async () => {
    if (!isLoaded(name)) throw unknownTask(name, backend.tasks());
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AdapterkitError || err instanceof HttpError) throw err;
      throw new HttpError('BACKEND_FAILED', `${what} with task '${name}' failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  });

  app.post('/v1/tag', async (req): Promise<TagResponse> => {
    const { task, inputs } = parseTagRequest(req.body, backend.tasks(), maxInputs);
    const tag = backend.tag?.bind(backend);
    if (!tag) throw new HttpError('INPUT_KIND_MISMATCH', 'this server\'s backend does not serve tagging tasks');
    const results = await runTokenTask(task.name, 'tagging', () => tag(task.name, inputs));
    const truncated = results.reduce((n, r) => n + (r.truncated ? 1 : 0), 0);
    metrics.observeClassified(task.name, results.length, truncated);
    return { task: task.name, results, truncated };
  });

  app.post('/v1/answer', async (req): Promise<AnswerResponse> => {
    const { task, inputs } = parseAnswerRequest(req.body, backend.tasks(), maxInputs);
    const answer = backend.answer?.bind(backend);
    if (!answer) throw new HttpError('INPUT_KIND_MISMATCH', 'this server\'s backend does not serve question answering tasks');
    const results = await runTokenTask(task.name, 'answering', () => answer(task.name, inputs));
    metrics.observeClassified(task.name, results.length, 0);
    return { task: task.name, results };
  });

  app.get('/v1/adapters', async () => ({ base: backend.baseInfo, adapters: backend.tasks() }));

  app.post('/v1/adapters', { onRequest: adminOnly }, async (req, reply: FastifyReply): Promise<{ adapter: TaskInfo }> => {
    const { name, dir } = parseLoadRequest(req.body);
    const adapter = await queue.exclusive(async () => {
      if (isLoaded(name)) throw new HttpError('ALREADY_LOADED', `a task named '${name}' is already loaded; DELETE /v1/adapters/${name} first to replace it`);
      try {
        return await backend.load(name, dir);
      } catch (err) {
        if (err instanceof AdapterkitError) throw err;
        throw new HttpError('BACKEND_FAILED', `loading adapter '${name}' from ${dir} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    req.log.info({ name, dir }, 'adapter loaded');
    void reply.code(201);
    return { adapter };
  });

  app.delete('/v1/adapters/:name', { onRequest: adminOnly }, async (req): Promise<{ unloaded: string }> => {
    const { name } = req.params as { name: string };
    await queue.exclusive(async () => {
      if (!isLoaded(name)) throw unknownTask(name, backend.tasks());
      try {
        await backend.unload(name);
      } catch (err) {
        if (err instanceof AdapterkitError) throw err;
        throw new HttpError('BACKEND_FAILED', `unloading adapter '${name}' failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    req.log.info({ name }, 'adapter unloaded');
    return { unloaded: name };
  });

  app.get('/healthz', async () => ({
    status: 'ok',
    adapters: backend.tasks().length,
    uptime_s: Math.round(performance.now() - startedAt) / 1000,
    base: backend.baseInfo,
  }));

  app.get('/metrics', async (_req, reply) => {
    void reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  return app;
}

/**
 * Creates the server and listens (default `127.0.0.1:8080`).
 * @throws AdapterkitError BAD_CONFIG when the address cannot be bound (port in use, bad host).
 */
export async function startServer(backend: ClassifierBackend, opts: StartOptions = {}): Promise<StartedServer> {
  const { host = '127.0.0.1', port = 8080 } = opts;
  const app = await createServer(backend, opts);
  let url: string;
  try {
    url = await app.listen({ host, port });
  } catch (err) {
    await app.close();
    throw new AdapterkitError('BAD_CONFIG', `cannot listen on ${host}:${port}: ${(err as Error).message}`, undefined, { cause: err });
  }
  return { app, url, close: () => app.close() };
}
