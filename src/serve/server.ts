/**
 * The HTTP server: many task adapters served from one shared base model.
 *
 * `createServer` builds the shared state ({@link ServeContext}) and registers one fastify plugin
 * per concern, each in its own file under plugins/: errors (the one error handler), the request
 * lifecycle (closing, deadlines, metrics, shutdown), the inference routes (POST /v1/classify,
 * /v1/tag, /v1/answer), the adapter routes (GET /v1/adapters; POST and DELETE in an admin scope)
 * and the operations routes (GET /healthz, /metrics). Classify requests go through a
 * {@link Batcher} that merges concurrent requests, across tasks, into few backend calls.
 * The full API is documented in docs/serve.md.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { AdapterkitError } from '../errors.js';
import { resolveToken } from '../models/hub/settings.js';
import { makeRedactor, redactError, secretsFromEnv, type Redactor } from '../util/redact.js';
import { AdminGuard, DEFAULT_ADMIN_TOKEN_ENV } from './admin-auth.js';
import { AdapterSources } from './adapter-sources.js';
import type { ClassifierBackend, ClassifyItem, ItemOutput } from './backend.js';
import { Batcher, DEFAULT_MAX_QUEUE } from './batcher.js';
import type { ServeContext } from './context.js';
import { ServerMetrics } from './metrics.js';
import { adapterRoutes } from './plugins/adapters.js';
import { errorHandling } from './plugins/errors.js';
import { inferenceRoutes } from './plugins/inference.js';
import { requestLifecycle } from './plugins/lifecycle.js';
import { operationsRoutes } from './plugins/operations.js';
import { unknownTask } from './validate.js';

export type { AnswerResponse, ClassifyResponse, TagResponse } from './plugins/inference.js';

/** Options of {@link createServer}; every one has a default. */
export interface ServeOptions {
  /** Batching window in ms: how long a lone request waits for others to share its batch. Default 5. */
  windowMs?: number;
  /** Most inputs per backend call. Default 32. */
  maxBatch?: number;
  /**
   * Most inputs waiting in the queue (classify inputs, and the inputs of waiting tag and answer
   * requests); beyond it requests get 503 QUEUE_FULL with `Retry-After`. Default 256.
   */
  maxQueue?: number;
  /**
   * Longest time in ms from a request's arrival to its answer; past it the request leaves the
   * queue and gets 503 DEADLINE_EXCEEDED with `Retry-After` (a backend call already running for
   * it still finishes). Also the limit for receiving a request. 0: no limit. Default 10000.
   */
  requestTimeoutMs?: number;
  /** Directories whose sub-directories POST /v1/adapters may load (see adapter-sources.ts). Default none. */
  adapterRoots?: readonly string[];
  /** Names POST /v1/adapters may load without a path, each with its directory (e.g. the CLI's `--adapter name=dir`). */
  registry?: Readonly<Record<string, string>>;
  /** More secrets to redact from messages (the values of HF_TOKEN, the HF token file and the admin token are always redacted). */
  secrets?: readonly string[];
  /**
   * Most inputs in one request to POST /v1/classify, /v1/tag or /v1/answer; on the multi-task
   * classify route (a `tasks` list), most inputs × tasks. Beyond it 413 TOO_MANY_INPUTS. Default 64.
   */
  maxInputs?: number;
  /** Largest request body in bytes; beyond it 413 BODY_TOO_LARGE. Default 1 MiB. */
  bodyLimit?: number;
  /** Environment variable holding the admin bearer token. Default `ADAPTERKIT_ADMIN_TOKEN`. */
  adminTokenEnv?: string;
  /**
   * Environment read once, at creation: the admin token (`adminTokenEnv`), and the Hugging Face
   * token (`HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, or the file `HF_TOKEN_PATH` / `$HF_HOME/token`
   * names) with the other secret variables, whose values are redacted from messages. Default `process.env`.
   */
  env?: Record<string, string | undefined>;
  /** How long `close()` waits for in-flight requests and queued batches before cutting connections (ms). Default 10000. */
  shutdownTimeoutMs?: number;
  /** Fastify logger setting (options, not an instance; errors and URLs are logged redacted). Default false (no logging). */
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

const DEFAULTS = { maxInputs: 64, bodyLimit: 1024 * 1024, shutdownTimeoutMs: 10_000, requestTimeoutMs: 10_000 } as const;

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new AdapterkitError('BAD_CONFIG', `serve option ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/** The fastify logger setting with redacting serializers for errors and request URLs. */
function loggerSetting(logger: ServeOptions['logger'], r: Redactor): FastifyServerOptions['logger'] {
  if (logger === undefined || logger === false) return false;
  const base = logger === true ? {} : logger;
  return {
    ...base,
    serializers: {
      req: (req: { method: string; url: string; hostname?: string; ip?: string }) => ({ method: req.method, url: r(req.url), hostname: req.hostname, remoteAddress: req.ip }),
      // Errors are redacted here; objects the server made with redactError already are.
      err: (err: Error) => (err instanceof Error ? { type: err.name, message: '', stack: '', ...redactError(err, r) } : err),
      ...(base.serializers ?? {}),
    },
  };
}

/**
 * Builds the server (not listening yet: call `listen`, or use {@link startServer}).
 *
 * `app.close()` shuts down gracefully: new requests get 503 SHUTTING_DOWN, in-flight requests and
 * queued batches finish, then it resolves. After `shutdownTimeoutMs` the rest is cut: queued
 * requests fail with 503 and open connections are closed. No signal handlers are installed
 * (see `installShutdownSignals` in signals.ts for the CLI).
 *
 * @throws AdapterkitError BAD_CONFIG for an invalid option or an adapter root that is not a directory.
 * @example
 * ```ts
 * // every adapter root must be an existing directory (else BAD_CONFIG)
 * const app = await createServer(backend, { maxBatch: 16, adapterRoots: ['/srv/adapters'] });
 * await app.listen({ host: '127.0.0.1', port: 0 });
 * ```
 */
export async function createServer(backend: ClassifierBackend, opts: ServeOptions = {}): Promise<FastifyInstance> {
  const env = opts.env ?? process.env;
  const adminTokenEnv = opts.adminTokenEnv ?? DEFAULT_ADMIN_TOKEN_ENV;
  const limits = {
    maxInputs: positiveInt('maxInputs', opts.maxInputs ?? DEFAULTS.maxInputs),
    bodyLimit: positiveInt('bodyLimit', opts.bodyLimit ?? DEFAULTS.bodyLimit),
    requestTimeoutMs: positiveInt('requestTimeoutMs', opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs, 0),
    shutdownTimeoutMs: opts.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs,
  };
  const hfToken = resolveToken(undefined, env);
  const redact = makeRedactor([...secretsFromEnv(env, [adminTokenEnv]), ...(hfToken !== undefined ? [hfToken] : []), ...(opts.secrets ?? [])]);
  let queue: Batcher<ClassifyItem, ItemOutput> | undefined;
  const metrics = new ServerMetrics({ adaptersLoaded: () => backend.tasks().length, queueDepth: () => queue?.queuedItems ?? 0 }, opts.processMetrics ?? false);
  try {
    queue = new Batcher<ClassifyItem, ItemOutput>((items) => backend.classify(items), {
      windowMs: opts.windowMs, maxBatch: opts.maxBatch, maxQueue: opts.maxQueue ?? DEFAULT_MAX_QUEUE,
      onBatch: (size, seconds, ok) => metrics.observeBatch(size, seconds, ok),
      // A task unloaded while its request waited fails only that request, not the whole batch.
      checkRequest: (items) => {
        const name = items[0]?.task;
        return name === undefined || backend.tasks().some((t) => t.name === name) ? undefined : unknownTask(name, backend.tasks());
      },
    });
  } catch (err) {
    throw new AdapterkitError('BAD_CONFIG', `serve options: ${(err as Error).message}`);
  }
  const ctx: ServeContext = {
    backend, queue, metrics, redact, limits,
    guard: new AdminGuard(adminTokenEnv, env),
    sources: await AdapterSources.open({ roots: opts.adapterRoots, registry: opts.registry }),
    startedAt: performance.now(),
  };

  const app = Fastify({
    bodyLimit: limits.bodyLimit, logger: loggerSetting(opts.logger, redact), return503OnClosing: false,
    requestTimeout: limits.requestTimeoutMs,
  });
  await app.register(errorHandling, { ctx });
  await app.register(requestLifecycle, { ctx });
  await app.register(inferenceRoutes, { ctx });
  await app.register(adapterRoutes, { ctx });
  await app.register(operationsRoutes, { ctx });
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
