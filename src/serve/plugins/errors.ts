/**
 * Errors, mapped in one place for the whole server: every thrown error becomes its status and
 * `{ error: { code, message } }` (see http-errors.ts), with secrets redacted from the message;
 * server faults (5xx but 503) are logged, redacted too. Unknown routes answer 404 ROUTE_NOT_FOUND.
 *
 * Errors raised before a request reaches the router have handlers of their own, passed to fastify
 * at construction ({@link frameworkErrorHandler}, {@link clientErrorHandler}): they answer in the
 * same envelope, redacted, and are counted in the request metrics under the route `unmatched`.
 */
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { FastifyPluginAsync, FastifyReply, FastifyServerOptions } from 'fastify';
import { redactError } from '../../util/redact.js';
import { global, type PluginOptions, type ServeContext } from '../context.js';
import { HttpError, requestNotReceived, toErrorAnswer, type ErrorAnswer } from '../http-errors.js';

/** The answer to `err`, its message redacted. */
function answerFor(ctx: ServeContext, err: unknown): ErrorAnswer {
  const answer = toErrorAnswer(err, ctx.limits.bodyLimit);
  answer.body.error.message = ctx.redact(answer.body.error.message);
  return answer;
}

export const errorHandling: FastifyPluginAsync<PluginOptions> = global(async (app, { ctx }) => {
  app.setErrorHandler((err, req, reply) => {
    const answer = answerFor(ctx, err);
    // Server faults are logged; 503s (queue full, deadline, shutting down) are load, counted in the metrics.
    if (answer.status >= 500 && answer.status !== 503) req.log.error({ err: redactError(err, ctx.redact) }, 'request failed');
    void reply.code(answer.status).headers(answer.headers).send(answer.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const answer = answerFor(ctx, new HttpError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}; see docs/serve.md for the API`));
    void reply.code(answer.status).send(answer.body);
  });
});

/**
 * fastify's `frameworkErrors`: errors of the router, before any hook runs (a malformed
 * percent-encoding in the path, a path parameter over 100 characters). Their messages never
 * quote the path.
 */
export function frameworkErrorHandler(ctx: ServeContext): NonNullable<FastifyServerOptions['frameworkErrors']> {
  return (err, req, reply) => {
    const answer = answerFor(ctx, err);
    ctx.metrics.requests.inc({ method: req.method, route: 'unmatched', status: String(answer.status) });
    void (reply as unknown as FastifyReply).code(answer.status).headers(answer.headers).send(answer.body);
  };
}

/** The coded error for an HTTP-level client error of Node's server. */
function clientError(err: Error & { code?: unknown; reason?: unknown }, requestTimeoutMs: number): HttpError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return requestNotReceived(requestTimeoutMs);
    case 'HPE_HEADER_OVERFLOW':
    case 'ERR_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE':
      return new HttpError('HEADERS_TOO_LARGE', 'request headers are larger than the server accepts; send fewer or shorter headers');
    default: {
      const reason = typeof err.reason === 'string' ? err.reason : err.message;
      return new HttpError('BAD_REQUEST', `malformed HTTP request: ${reason}${typeof err.code === 'string' ? ` (${err.code})` : ''}`);
    }
  }
}

/**
 * fastify's `clientErrorHandler`: errors of Node's HTTP parser and its request timeout (a
 * malformed request line or header, a Content-Length that does not fit, a body not received
 * within `requestTimeoutMs`), answered on the raw socket, which is then closed.
 */
export function clientErrorHandler(ctx: ServeContext): (err: Error & { code?: unknown }, socket: Duplex) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const answer = answerFor(ctx, clientError(err, ctx.limits.requestTimeoutMs));
    ctx.metrics.requests.inc({ method: 'UNKNOWN', route: 'unmatched', status: String(answer.status) });
    // Never write into a response already under way (a pipelined request's answer, say).
    const inProgress = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !inProgress) {
      const body = JSON.stringify(answer.body);
      socket.write([
        `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}`,
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        '',
        body,
      ].join('\r\n'));
    }
    socket.destroy();
  };
}
