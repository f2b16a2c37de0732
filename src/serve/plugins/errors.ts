/**
 * Errors, mapped in one place for the whole server: every thrown error becomes its status and
 * `{ error: { code, message } }` (see http-errors.ts), with secrets redacted from the message;
 * server faults (5xx but 503) are logged, redacted too. Unknown routes answer 404 ROUTE_NOT_FOUND.
 */
import type { FastifyPluginAsync } from 'fastify';
import { redactError } from '../../util/redact.js';
import { global, type PluginOptions } from '../context.js';
import { HttpError, toErrorAnswer } from '../http-errors.js';

export const errorHandling: FastifyPluginAsync<PluginOptions> = global(async (app, { ctx }) => {
  app.setErrorHandler((err, req, reply) => {
    const answer = toErrorAnswer(err, ctx.limits.bodyLimit);
    answer.body.error.message = ctx.redact(answer.body.error.message);
    // Server faults are logged; 503s (queue full, deadline, shutting down) are load, counted in the metrics.
    if (answer.status >= 500 && answer.status !== 503) req.log.error({ err: redactError(err, ctx.redact) }, 'request failed');
    void reply.code(answer.status).headers(answer.headers).send(answer.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const answer = toErrorAnswer(new HttpError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}; see docs/serve.md for the API`));
    answer.body.error.message = ctx.redact(answer.body.error.message);
    void reply.code(answer.status).send(answer.body);
  });
});
