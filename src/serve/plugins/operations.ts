/** Operations routes: GET /healthz and GET /metrics (Prometheus text). */
import type { FastifyPluginAsync } from 'fastify';
import type { PluginOptions } from '../context.js';

export const operationsRoutes: FastifyPluginAsync<PluginOptions> = async (app, { ctx }) => {
  const { backend, metrics, startedAt } = ctx;

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
};
