/**
 * The adapter routes: GET /v1/adapters (public), and in an admin scope guarded by the bearer
 * token, POST /v1/adapters (load by registry name or from inside an adapter root, see
 * adapter-sources.ts) and DELETE /v1/adapters/:name. Loads and unloads run between batches.
 *
 * A load that fails on the adapter's files answers 4xx, never 500: the loader's coded errors keep
 * their code with server paths replaced by what the caller sent, and an uncoded error thrown
 * while reading the files (a wrong JSON type the loader did not check) becomes 400 BAD_FILE.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { AdapterkitError } from '../../errors.js';
import { redactError } from '../../util/redact.js';
import type { LocatedAdapter } from '../adapter-sources.js';
import type { TaskInfo } from '../backend.js';
import { isLoaded, type PluginOptions, type ServeContext } from '../context.js';
import { HttpError } from '../http-errors.js';
import { parseLoadRequest, unknownTask } from '../validate.js';

function alreadyLoaded(name: string): HttpError {
  return new HttpError('ALREADY_LOADED', `a task named '${name}' is already loaded; DELETE /v1/adapters/${name} first to replace it`);
}

export const adapterRoutes: FastifyPluginAsync<PluginOptions> = async (app, { ctx }) => {
  const { backend, queue, sources } = ctx;
  /** What listings show as `dir` for adapters loaded over HTTP: what the caller sent, never a resolved path. */
  const labels = new Map<string, string>();
  const listed = (t: TaskInfo): TaskInfo => (labels.has(t.name) ? { ...t, dir: labels.get(t.name) as string } : t);

  app.get('/v1/adapters', async () => ({ base: backend.baseInfo, adapters: backend.tasks().map(listed) }));

  await app.register(async (admin) => {
    admin.addHook('onRequest', async (req) => ctx.guard.check(req.headers.authorization));

    admin.post('/v1/adapters', async (req, reply: FastifyReply): Promise<{ adapter: TaskInfo }> => {
      const { name, dir } = parseLoadRequest(req.body);
      if (isLoaded(ctx, name)) throw alreadyLoaded(name);
      const at = await sources.locate(name, dir);
      const adapter = await queue.exclusive(async () => {
        if (isLoaded(ctx, name)) throw alreadyLoaded(name);
        try {
          return await backend.load(name, at.path);
        } catch (err) {
          throw loadError(ctx, err, at, (e) => req.log.warn({ err: e }, 'adapter load failed'));
        }
      });
      labels.set(name, at.label);
      req.log.info({ name, dir: ctx.redact(at.label) }, 'adapter loaded');
      void reply.code(201);
      return { adapter: listed(adapter) };
    });

    admin.delete('/v1/adapters/:name', async (req): Promise<{ unloaded: string }> => {
      const { name } = req.params as { name: string };
      await queue.exclusive(async () => {
        if (!isLoaded(ctx, name)) throw unknownTask(name, backend.tasks());
        try {
          await backend.unload(name);
        } catch (err) {
          if (err instanceof AdapterkitError) throw err;
          throw new HttpError('BACKEND_FAILED', `unloading adapter '${name}' failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      });
      labels.delete(name);
      req.log.info({ name }, 'adapter unloaded');
      return { unloaded: name };
    });
  });
};

/** The answer to a failed load: coded errors keep their code with paths scrubbed; uncoded ones are the files' fault (400 BAD_FILE), details logged. */
function loadError(ctx: ServeContext, err: unknown, at: LocatedAdapter, log: (e: Record<string, unknown>) => void): Error {
  if (err instanceof HttpError) return err;
  if (err instanceof AdapterkitError) return new AdapterkitError(err.code, at.scrub(err.message));
  log(redactError(err, (m) => ctx.redact(at.scrub(m))));
  return new AdapterkitError('BAD_FILE', `adapter '${at.label}' could not be loaded: a file in it is malformed or holds a value of the wrong type`);
}
