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
import type { ServeContext, ServeLimits } from './context.js';
import { ServerMetrics } from './metrics.js';
import { adapterRoutes } from './plugins/adapters.js';
import { clientErrorHandler, errorHandling, frameworkErrorHandler } from './plugins/errors.js';
import { inferenceRoutes } from './plugins/inference.js';
import { requestLifecycle } from './plugins/lifecycle.js';
import { operationsRoutes } from './plugins/operations.js';
import { TASK_NAME_PATTERN, TASK_NAME_RULE, unknownTask } from './validate.js';

export type { AnswerResponse, ClassifyResponse, TagResponse } from './plugins/inference.js';

/** Options of {@link createServer}; every one has a default. */
export interface ServeOptions {
  /** Batching window in ms: how long a lone request waits for others to share its batch. Default 5. */
  windowMs?: number;
  /** Most inputs per backend call. Default 32. */
  maxBatch?: number;
  /**
   * Most inputs waiting in the queue (classify inputs, and the inputs of waiting tag requests and
   * the windows of waiting answer requests); beyond it requests get 503 QUEUE_FULL with
   * `Retry-After`. At least `maxInputs` (else BAD_CONFIG). Default 256.
   */
  maxQueue?: number;
  /**
   * Longest time in ms from a request's arrival to its answer; past it the request leaves the
   * queue and gets 503 DEADLINE_EXCEEDED with `Retry-After` (a backend call already running for
   * it still finishes). Also the limit for receiving a request's headers and body: past it 408
   * REQUEST_TIMEOUT (checked every min(1000, requestTimeoutMs / 2) ms). 0: no limit. Default 10000.
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
  /**
   * Most windows (rows of the backend's max length) one POST /v1/answer input's context may take:
   * answering costs time linear in them. Beyond it 413 INPUT_TOO_LONG, before the request queues
   * (needs a backend with `answerWindows`, as ModelBackend). Default 32.
   */
  maxAnswerWindows?: number;
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

/** Defaults of {@link ServeOptions} (the CLI's flags default to these too). */
export const SERVE_DEFAULTS = { maxInputs: 64, bodyLimit: 1024 * 1024, shutdownTimeoutMs: 10_000, requestTimeoutMs: 10_000, maxAnswerWindows: 32 } as const;

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new AdapterkitError('BAD_CONFIG', `serve option ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/**
 * The limits of `opts` with their defaults, checked: each a positive integer (timeouts >= 0),
 * `maxQueue` at least `maxInputs` (else a full-size request could never queue), registry names
 * valid task names (else the admin routes could not reload them). `maxQueue`'s own range is the
 * batcher's to check.
 * @throws AdapterkitError BAD_CONFIG naming the option.
 */
function checkedLimits(opts: ServeOptions): { limits: ServeLimits; maxQueue: number } {
  const limits: ServeLimits = {
    maxInputs: positiveInt('maxInputs', opts.maxInputs ?? SERVE_DEFAULTS.maxInputs),
    bodyLimit: positiveInt('bodyLimit', opts.bodyLimit ?? SERVE_DEFAULTS.bodyLimit),
    requestTimeoutMs: positiveInt('requestTimeoutMs', opts.requestTimeoutMs ?? SERVE_DEFAULTS.requestTimeoutMs, 0),
    shutdownTimeoutMs: opts.shutdownTimeoutMs ?? SERVE_DEFAULTS.shutdownTimeoutMs,
    maxAnswerWindows: positiveInt('maxAnswerWindows', opts.maxAnswerWindows ?? SERVE_DEFAULTS.maxAnswerWindows),
  };
  const maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
  if (Number.isInteger(maxQueue) && maxQueue < limits.maxInputs) {
    throw new AdapterkitError('BAD_CONFIG', `serve option maxQueue (${maxQueue}) is smaller than maxInputs (${limits.maxInputs}): a request of maxInputs inputs could never be queued (503 QUEUE_FULL for ever); raise maxQueue or lower maxInputs`);
  }
  for (const name of Object.keys(opts.registry ?? {})) {
    if (!TASK_NAME_PATTERN.test(name)) throw new AdapterkitError('BAD_CONFIG', `serve option registry: task name ${JSON.stringify(name.slice(0, 80))} is not valid: a task name is ${TASK_NAME_RULE}`);
  }
  return { limits, maxQueue };
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
 * @throws AdapterkitError BAD_CONFIG for an invalid option (`maxQueue` below `maxInputs`, say), an
 *   admin token containing whitespace, or an adapter root that is not a directory.
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
  const { limits, maxQueue } = checkedLimits(opts);
  const hfToken = resolveToken(undefined, env);
  const redact = makeRedactor([...secretsFromEnv(env, [adminTokenEnv]), ...(hfToken !== undefined ? [hfToken] : []), ...(opts.secrets ?? [])]);
  let queue: Batcher<ClassifyItem, ItemOutput> | undefined;
  const metrics = new ServerMetrics({ adaptersLoaded: () => backend.tasks().length, queueDepth: () => queue?.queuedItems ?? 0 }, opts.processMetrics ?? false);
  try {
    queue = new Batcher<ClassifyItem, ItemOutput>((items) => backend.classify(items), {
      windowMs: opts.windowMs, maxBatch: opts.maxBatch, maxQueue,
      onBatch: (size, seconds, ok) => metrics.observeBatch(size, seconds, ok),
      // A task unloaded while its request waited fails only that request, not the whole batch:
      // every task its remaining items ask (a "tasks" request asks several) is checked before each part.
      checkRequest: (items) => {
        const tasks = backend.tasks();
        const loaded = new Set(tasks.map((t) => t.name));
        const gone = items.find((it) => !loaded.has(it.task));
        return gone === undefined ? undefined : unknownTask(gone.task, tasks);
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
    // Node's server only keeps a request timeout it is created with (fastify sets it later), and
    // checks it every connectionsCheckingInterval ms (default 30 s): often enough to keep it.
    ...(limits.requestTimeoutMs > 0
      ? { http: { requestTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: Math.max(1, Math.min(1000, Math.floor(limits.requestTimeoutMs / 2))) } }
      : {}),
    // Errors before the router (bad URL, overlong path parameter) or in Node's parser answer in the same envelope.
    frameworkErrors: frameworkErrorHandler(ctx),
    clientErrorHandler: clientErrorHandler(ctx),
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
