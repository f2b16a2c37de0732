/**
 * What the server's plugins share: the backend, the batch queue, metrics, the admin guard, the
 * adapter sources, the redactor and the limits. Built once by `createServer`, passed to every
 * plugin as its option `ctx`.
 */
import type { AdminGuard } from './admin-auth.js';
import type { AdapterSources } from './adapter-sources.js';
import type { ClassifierBackend, ClassifyItem, ItemOutput } from './backend.js';
import type { Batcher } from './batcher.js';
import type { ServerMetrics } from './metrics.js';
import type { Redactor } from '../util/redact.js';

/** Resolved limits of one server. */
export interface ServeLimits {
  readonly maxInputs: number;
  readonly bodyLimit: number;
  /** 0: no deadline. */
  readonly requestTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  /** Most windows one /v1/answer input may take. */
  readonly maxAnswerWindows: number;
}

/** The state shared by the server's plugins. */
export interface ServeContext {
  readonly backend: ClassifierBackend;
  readonly queue: Batcher<ClassifyItem, ItemOutput>;
  readonly metrics: ServerMetrics;
  readonly guard: AdminGuard;
  readonly sources: AdapterSources;
  /** Applied to every message the server returns or logs. */
  readonly redact: Redactor;
  readonly limits: ServeLimits;
  /** `performance.now()` at creation. */
  readonly startedAt: number;
}

/** Options every server plugin is registered with. */
export interface PluginOptions {
  ctx: ServeContext;
}

/** Whether a task of this name is loaded now. */
export function isLoaded(ctx: ServeContext, name: string): boolean {
  return ctx.backend.tasks().some((t) => t.name === name);
}

/**
 * Marks a plugin as not encapsulated (what the `fastify-plugin` package does): its hooks and
 * handlers apply to the whole server, not only to routes it declares itself.
 */
export function global<T extends object>(plugin: T): T {
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true });
}
