/**
 * Dynamic batching: requests that arrive within a short window are merged (across tasks too)
 * into backend calls of at most `maxBatch` items. Only one backend call runs at a time, since
 * the model already uses every core; the rest wait in a bounded queue.
 *
 * A request larger than `maxBatch` is split over consecutive batches and its results are put
 * back together in order. A failed batch fails exactly the requests that had items in it.
 */
import { AdapterkitError } from '../errors.js';
import { HttpError } from './http-errors.js';

/** Default bound of the queue, in inputs: 8 full batches of the default size. */
export const DEFAULT_MAX_QUEUE = 256;

/** The error an aborted request rejects with: the signal's reason when it is an Error. */
function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new HttpError('DEADLINE_EXCEEDED', 'request cancelled before it ran; retry in a moment', { 'retry-after': '1' });
}

/** Tuning of a {@link Batcher}. */
export interface BatcherOptions<I> {
  /** How long the first queued request waits for company before its batch runs (ms). Default 5. */
  windowMs?: number;
  /** Most items in one backend call. Default 32. */
  maxBatch?: number;
  /** Most items waiting (not yet dispatched, weighted exclusive operations included); beyond it `submit` rejects with QUEUE_FULL. Default 256. */
  maxQueue?: number;
  /** Called after every backend call with its item count and duration in seconds. */
  onBatch?: (size: number, seconds: number, ok: boolean) => void;
  /**
   * Checked with a request's items not yet dispatched each time a part of it is about to be
   * dispatched (the world may have changed since it was queued, e.g. a task it asks was
   * unloaded, maybe between two parts of a split request). An error fails only that request.
   */
  checkRequest?: (items: readonly I[]) => Error | undefined;
}

/** One submitted request, tracked until all its items have results. */
interface Pending<I, O> {
  readonly items: readonly I[];
  /** Index of the first item not yet dispatched. */
  next: number;
  /** Items whose results have arrived. */
  received: number;
  readonly results: O[];
  settled: boolean;
  readonly resolve: (results: O[]) => void;
  readonly reject: (err: unknown) => void;
  /** Removes the abort listener, if any. */
  cleanup?: () => void;
}

/** The slice of one request carried by a batch. */
interface Part<I, O> {
  readonly req: Pending<I, O>;
  readonly start: number;
  readonly count: number;
}

/**
 * Merges concurrent requests into backend calls.
 *
 * @example
 * ```ts
 * const b = new Batcher((items: ClassifyItem[]) => backend.classify(items), { maxBatch: 16 });
 * const [a, c] = await Promise.all([b.submit([x]), b.submit([y, z])]); // one backend call of 3 items
 * ```
 */
export class Batcher<I, O> {
  /** The batching window in ms ({@link BatcherOptions.windowMs}, default 5). */
  readonly windowMs: number;
  /** Most items per backend call ({@link BatcherOptions.maxBatch}, default 32). */
  readonly maxBatch: number;
  /** Most items waiting ({@link BatcherOptions.maxQueue}, default {@link DEFAULT_MAX_QUEUE}). */
  readonly maxQueue: number;
  private readonly run: (items: I[]) => Promise<O[]>;
  private readonly onBatch: BatcherOptions<I>['onBatch'];
  private readonly checkRequest: BatcherOptions<I>['checkRequest'];
  private readonly queue: Pending<I, O>[] = [];
  private readonly exclusiveOps: Array<() => Promise<void>> = [];
  private idleWaiters: Array<() => void> = [];
  private queued = 0;
  private busy = false;
  /** Whether the last thing run was an exclusive operation (batches and operations take turns). */
  private lastWasExclusive = false;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `run` answers one batch, one output per item in order; it is never called twice at once.
   *
   * @throws RangeError for a negative `windowMs` or a `maxBatch` / `maxQueue` that is not a positive integer.
   */
  constructor(run: (items: I[]) => Promise<O[]>, opts: BatcherOptions<I> = {}) {
    this.run = run;
    this.windowMs = opts.windowMs ?? 5;
    this.maxBatch = opts.maxBatch ?? 32;
    this.maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.onBatch = opts.onBatch;
    this.checkRequest = opts.checkRequest;
    if (!(this.windowMs >= 0)) throw new RangeError(`Batcher: windowMs must be >= 0, got ${this.windowMs}`);
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError(`Batcher: maxBatch must be a positive integer, got ${this.maxBatch}`);
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < 1) throw new RangeError(`Batcher: maxQueue must be a positive integer, got ${this.maxQueue}`);
  }

  /** Items waiting to be dispatched. */
  get queuedItems(): number {
    return this.queued;
  }

  /** True while a backend call (or exclusive operation) runs. */
  get running(): boolean {
    return this.busy;
  }

  /**
   * Queues the items of one request; resolves with their results in order.
   * Rejects with an {@link HttpError} QUEUE_FULL when the queue cannot take them all, or
   * SHUTTING_DOWN after {@link close}. When `signal` aborts first, the request leaves the queue
   * (items not yet dispatched are dropped, results of a running batch are ignored) and the
   * promise rejects with the signal's reason.
   */
  submit(items: readonly I[], signal?: AbortSignal): Promise<O[]> {
    if (this.closed) return Promise.reject(new HttpError('SHUTTING_DOWN', 'server is shutting down; retry on another instance'));
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (items.length === 0) return Promise.resolve([]);
    const full = this.refuse(items.length);
    if (full !== undefined) return Promise.reject(full);
    return new Promise<O[]>((resolve, reject) => {
      const req: Pending<I, O> = { items, next: 0, received: 0, results: new Array<O>(items.length), settled: false, resolve, reject };
      this.queue.push(req);
      this.queued += items.length;
      if (signal !== undefined) {
        const onAbort = (): void => {
          this.fail(req, abortReason(signal));
          this.notifyIfIdle();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const done = (): void => signal.removeEventListener('abort', onAbort);
        req.cleanup = done;
      }
      this.schedule();
    });
  }

  /**
   * Runs `fn` with the backend to itself, between batches: waiting operations and waiting
   * batches take turns (after an operation a waiting batch goes next, after a batch a waiting
   * operation), so neither can starve the other.
   * Used for loading and unloading adapters so they never overlap a classify call, and for
   * token-level requests. `weight` (default 0) counts towards `maxQueue` while the operation
   * waits, as that many inputs: a weighted operation is refused with QUEUE_FULL when the queue
   * is full. When `signal` aborts before the operation starts, it is dropped; once started it
   * runs to its end, but the promise rejects at once with the signal's reason.
   */
  exclusive<T>(fn: () => Promise<T>, opts: { weight?: number; signal?: AbortSignal } = {}): Promise<T> {
    const weight = opts.weight ?? 0;
    const { signal } = opts;
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (weight > 0) {
      if (this.closed) return Promise.reject(new HttpError('SHUTTING_DOWN', 'server is shutting down; retry on another instance'));
      const full = this.refuse(weight);
      if (full !== undefined) return Promise.reject(full);
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        f();
      };
      const op = async (): Promise<void> => {
        this.queued -= weight;
        if (settled) return; // aborted while waiting
        try {
          const value = await fn();
          settle(() => resolve(value));
        } catch (err) {
          settle(() => reject(err));
        }
      };
      const onAbort = (): void => {
        const at = this.exclusiveOps.indexOf(op);
        if (at >= 0) {
          this.exclusiveOps.splice(at, 1);
          this.queued -= weight;
        }
        settle(() => reject(abortReason(signal as AbortSignal)));
        this.notifyIfIdle();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queued += weight;
      this.exclusiveOps.push(op);
      this.pump();
    });
  }

  /** The QUEUE_FULL error when `count` more inputs do not fit, else undefined. */
  private refuse(count: number): HttpError | undefined {
    if (this.queued + count <= this.maxQueue) return undefined;
    return new HttpError(
      'QUEUE_FULL',
      `server busy: ${this.queued} inputs already queued (limit ${this.maxQueue}); retry in a moment`,
      { 'retry-after': '1' },
    );
  }

  /** Refuses new requests from now on; queued ones still run. */
  close(): void {
    this.closed = true;
  }

  /** Resolves once nothing is queued or running. */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Fails every request still waiting in the queue (a running batch is left to finish). */
  failQueued(err: unknown): void {
    for (const req of [...this.queue]) this.fail(req, err);
    this.notifyIfIdle();
  }

  private isIdle(): boolean {
    return !this.busy && this.queue.length === 0 && this.exclusiveOps.length === 0;
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Starts a batch now when one is full, else makes sure a window timer is armed. */
  private schedule(): void {
    if (this.busy) return; // the running batch pumps when it ends
    if (this.queued >= this.maxBatch) {
      this.pump();
      return;
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, this.windowMs);
    }
  }

  /**
   * Runs the next exclusive operation or batch if the backend is free: the two take turns when
   * both wait (an operation first when the last run was a batch, a batch when it was an operation).
   */
  private pump(): void {
    if (this.busy) return;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.lastWasExclusive || this.exclusiveOps.length === 0) {
      const { items, parts } = this.takeBatch();
      if (items.length > 0) {
        this.busy = true;
        this.lastWasExclusive = false;
        void this.runBatch(items, parts).finally(() => this.afterRun());
        return;
      }
    }
    const op = this.exclusiveOps.shift();
    if (op !== undefined) {
      this.busy = true;
      this.lastWasExclusive = true;
      void op().finally(() => this.afterRun());
      return;
    }
    this.notifyIfIdle();
  }

  private afterRun(): void {
    this.busy = false;
    // Whatever queued meanwhile has already waited at least one window: go on at once.
    if (this.exclusiveOps.length > 0 || this.queue.length > 0) this.pump();
    else this.notifyIfIdle();
  }

  /** Takes up to maxBatch items off the front of the queue, splitting a request if needed. */
  private takeBatch(): { items: I[]; parts: Part<I, O>[] } {
    const items: I[] = [];
    const parts: Part<I, O>[] = [];
    while (items.length < this.maxBatch) {
      const req = this.queue[0];
      if (req === undefined) break;
      if (this.checkRequest !== undefined) {
        const err = this.checkRequest(req.next === 0 ? req.items : req.items.slice(req.next));
        if (err !== undefined) {
          this.fail(req, err);
          continue;
        }
      }
      const count = Math.min(this.maxBatch - items.length, req.items.length - req.next);
      parts.push({ req, start: req.next, count });
      for (let i = req.next; i < req.next + count; i++) items.push(req.items[i] as I);
      req.next += count;
      this.queued -= count;
      if (req.next === req.items.length) this.queue.shift();
    }
    return { items, parts };
  }

  private async runBatch(items: I[], parts: Part<I, O>[]): Promise<void> {
    const t0 = performance.now();
    let outputs: O[];
    try {
      outputs = await this.run(items);
      if (!Array.isArray(outputs) || outputs.length !== items.length) {
        throw new Error(`backend returned ${Array.isArray(outputs) ? outputs.length : typeof outputs} outputs for a batch of ${items.length} items`);
      }
    } catch (err) {
      this.onBatch?.(items.length, (performance.now() - t0) / 1000, false);
      const wrapped = err instanceof AdapterkitError || err instanceof HttpError
        ? err
        : new HttpError('BACKEND_FAILED', `model backend failed on a batch of ${items.length} inputs: ${err instanceof Error ? err.message : String(err)}`);
      for (const part of parts) this.fail(part.req, wrapped);
      return;
    }
    this.onBatch?.(items.length, (performance.now() - t0) / 1000, true);
    let offset = 0;
    for (const { req, start, count } of parts) {
      if (!req.settled) {
        for (let i = 0; i < count; i++) req.results[start + i] = outputs[offset + i] as O;
        req.received += count;
        if (req.received === req.items.length) {
          req.settled = true;
          req.cleanup?.();
          req.resolve(req.results);
        }
      }
      offset += count;
    }
  }

  /** Rejects a request and drops its items that were not dispatched yet. */
  private fail(req: Pending<I, O>, err: unknown): void {
    if (req.settled) return;
    req.settled = true;
    this.queued -= req.items.length - req.next;
    req.next = req.items.length;
    const at = this.queue.indexOf(req);
    if (at >= 0) this.queue.splice(at, 1);
    req.cleanup?.();
    req.reject(err);
  }
}
