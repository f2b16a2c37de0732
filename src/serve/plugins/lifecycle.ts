/**
 * The life of a request and of the server, for every route: refusal while closing, the request
 * deadline (`req.deadline`, aborted after `requestTimeoutMs` with 503 DEADLINE_EXCEEDED, or when
 * the client closes the connection first; 408 REQUEST_TIMEOUT when it passed before the body was in), the request metrics, and graceful shutdown (new
 * requests get 503 SHUTTING_DOWN, in-flight ones and queued batches finish, the rest is cut after
 * `shutdownTimeoutMs`).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { global, type PluginOptions } from '../context.js';
import { HttpError, requestNotReceived } from '../http-errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Aborts when the request's time is up (never, with `requestTimeoutMs` 0). */
    deadline: AbortSignal;
  }
}

/** Route label of a request for metrics: the route pattern, never the raw URL (bounded cardinality). */
function routeLabel(req: FastifyRequest): string {
  return req.is404 ? 'unmatched' : (req.routeOptions.url ?? 'unmatched');
}

export const requestLifecycle: FastifyPluginAsync<PluginOptions> = global(async (app, { ctx }) => {
  const { requestTimeoutMs, shutdownTimeoutMs } = ctx.limits;
  const { queue, metrics } = ctx;
  let closing = false;
  let deadline = Infinity;
  let forceTimer: ReturnType<typeof setTimeout> | undefined;
  const timers = new WeakMap<FastifyRequest, ReturnType<typeof setTimeout>>();

  // Decorated with null (fastify refuses shared object defaults), set on every request below.
  app.decorateRequest('deadline', null as unknown as AbortSignal);
  app.addHook('onRequest', async (req, reply) => {
    // One controller per request (a shared never-aborting signal would collect a listener per queued request).
    const controller = new AbortController();
    req.deadline = controller.signal;
    // A client that gives up (closes the connection before the answer) takes its request out of
    // the queue: nobody will read the answer. (fastify's onRequestAbort only covers the upload.)
    reply.raw.once('close', () => {
      clearTimeout(timers.get(req));
      if (!reply.raw.writableEnded) controller.abort(new HttpError('DEADLINE_EXCEEDED', 'the client closed the connection before the answer'));
    });
    if (closing) throw new HttpError('SHUTTING_DOWN', 'server is shutting down; retry on another instance', { connection: 'close' });
    if (requestTimeoutMs > 0) {
      const timer = setTimeout(() => controller.abort(new HttpError(
        'DEADLINE_EXCEEDED',
        `request not answered within the server's request timeout of ${requestTimeoutMs} ms (the server is busy); retry in a moment`,
        { 'retry-after': '1' },
      )), requestTimeoutMs);
      timer.unref();
      timers.set(req, timer);
    }
  });
  // Time up before the body was in (Node cuts a stalled body itself, see clientErrorHandler): the
  // client was slow, not the server busy, so 408 rather than 503.
  app.addHook('preValidation', async (req) => {
    if (req.deadline.aborted) {
      throw requestNotReceived(requestTimeoutMs);
    }
  });
  // While closing, answers end their keep-alive connection so the server can finish closing.
  app.addHook('onSend', async (_req, reply) => {
    if (closing) void reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    clearTimeout(timers.get(req));
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
});
