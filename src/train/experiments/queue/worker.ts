/**
 * A sweep worker: takes runs from a BullMQ queue, trains each one in its run directory under the
 * sweep's shared output directory (resuming its checkpoint when there is one), tests the best dev
 * checkpoint, appends the row to `<out>/results.jsonl` and to Redis, and completes the job with
 * the row.
 *
 * Faults:
 * - A worker that dies (SIGKILL, a lost machine) stops renewing its job's lock; BullMQ's stalled
 *   check in any other worker puts the job back in the queue and the next worker resumes the run
 *   from its last checkpoint (up to {@link MAX_STALLED} times, then the job fails).
 * - A run that finished before its job could complete (the row is in Redis or in the file) is not
 *   trained again: the worker returns the row.
 * - Errors that retrying cannot fix ({@link NON_RETRYABLE}: bad data, bad config, a diverged
 *   run...) and payloads that do not match the schema fail the job at its first attempt
 *   (BullMQ's UnrecoverableError); others are retried with back-off (`JOB_OPTIONS`).
 * - The abort signal (Ctrl-C, SIGTERM) stops taking jobs; each run in progress saves a checkpoint
 *   and its job goes back to the queue (BullMQ's moveToWait); then the worker closes.
 * - Redis restarting: commands wait in ioredis's offline queue and go out on reconnect.
 */
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AdapterkitError, type ErrorCode } from '../../../errors.js';
import { loadBase, type BaseModel } from '../../../models/base.js';
import { describeFrozenPlan, summarizeFrozenPlan, type FrozenOptions } from '../../frozen-precision.js';
import type { TrainEvent } from '../../trainer.js';
import { loadExperimentTask, type ExperimentTask } from '../experiment-task.js';
import { appendSweepResultOnce, readSweepResults, resultKey, RESULTS_FILE, type SweepResult } from '../sweep-results.js';
import { runSweepPoint, sweepRunDir } from '../sweep.js';
import type { QueueTarget } from './connection.js';
import { validateSweepJob, type SweepJobData } from './payload.js';
import { BULL_PREFIX, openSweepQueue, type SweepQueue } from './sweep-queue.js';

/** Error codes that retrying the same run cannot fix: the job fails at its first attempt. */
export const NON_RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BAD_CONFIG', 'BAD_DATA', 'BAD_FILE', 'BAD_WEIGHTS', 'UNSUPPORTED_MODEL', 'ADAPTER_MISMATCH', 'NOT_FOUND', 'TRAINING_DIVERGED',
  'SHAPE_MISMATCH', 'DTYPE_MISMATCH', 'GRAPH_ERROR', 'NO_GRADIENT', 'BAD_FEED',
]);
/** How often one job may be found stalled (its worker gone) and restarted before it fails. */
export const MAX_STALLED = 3;

/** What a job's progress holds while it runs (read by `--status`). */
export interface RunProgress {
  readonly worker: string;
  readonly step: number;
  readonly totalSteps: number;
  readonly epoch: number;
  readonly resumedAt: number;
  readonly startedAt: string;
}

/** Options of {@link runSweepWorker}. */
export interface SweepWorkerOptions {
  readonly target: QueueTarget;
  /** Worker name shown by `--status` (default: host:pid, set by the caller). */
  readonly name: string;
  /** Runs at once in this process (default 1). */
  readonly concurrency?: number;
  /** ONNX Runtime threads per run. */
  readonly threads?: number;
  /** Lock duration, seconds (default 60): a dead worker's job is taken again after about twice this. */
  readonly lockSeconds?: number;
  /** Log lines (already redacted). */
  readonly log: (line: string) => void;
  /** Abort: runs in progress checkpoint and go back to the queue, then the worker closes. */
  readonly signal?: AbortSignal;
  /**
   * When to stop by itself: `idle` once the queue has no job waiting, delayed or running (by any
   * worker), or a predicate polled every second; default: never (until the signal).
   */
  readonly until?: 'idle' | ((q: SweepQueue) => Promise<boolean>);
  /** Loads a base (default `loadBase(source, { revision })`). */
  readonly loadBase?: (source: string, revision?: string) => Promise<BaseModel>;
  /** Before a run trains (e.g. to write a run record into its directory). */
  readonly onRunStart?: (d: SweepJobData, runDir: string) => void | Promise<void>;
  readonly onEvent?: (d: SweepJobData, e: TrainEvent) => void;
}

/** What {@link runSweepWorker} did. */
export interface SweepWorkerOutcome {
  /** Runs this worker trained to the end. */
  readonly trained: number;
  /** Jobs completed without training (their row already existed). */
  readonly alreadyDone: number;
  /** Jobs that failed (attempts included). */
  readonly failed: number;
  /** Runs checkpointed and put back in the queue by the abort signal. */
  readonly returned: number;
  readonly interrupted: boolean;
}

/** A small cache of loaded bases and tasks (a worker serves many runs of few sweeps). */
class Cache<T> {
  private readonly m = new Map<string, Promise<T>>();
  constructor(private readonly max: number) {}
  get(key: string, make: () => Promise<T>): Promise<T> {
    let p = this.m.get(key);
    if (!p) {
      p = make();
      p.catch(() => this.m.delete(key));
      this.m.set(key, p);
      while (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
    }
    return p;
  }
}

function describeRun(d: SweepJobData): string {
  const r = d.run;
  const int8 = d.frozen ? `, int8 frozen base${d.frozen.int8Adapters === false ? ' (adapters scored in fp32)' : ''}` : '';
  return `${d.task} ${r.method}: lr ${r.lr}, ${r.epochs} epoch${r.epochs === 1 ? '' : 's'}, seed ${r.seed}${int8}`;
}

/** The frozen-precision options a job's run trains with, the guard's choices logged under the job's id. */
function jobFrozenOptions(d: SweepJobData, log: (line: string) => void): FrozenOptions | undefined {
  if (!d.frozen) return undefined;
  return {
    ...d.frozen,
    onFrozenPlan: (plan) => {
      log(summarizeFrozenPlan(plan));
      for (const line of describeFrozenPlan(plan, { onlyExceptions: true })) log(`  ${line}`);
    },
  };
}

function fmt(x: number | null): string {
  return x === null ? '–' : x.toFixed(4);
}

/** Runs a worker until its signal aborts or its `until` holds; see the module comment. */
export async function runSweepWorker(o: SweepWorkerOptions): Promise<SweepWorkerOutcome> {
  const redact = o.target.redact;
  let lastError = '';
  const onError = (m: string) => {
    if (m !== lastError) o.log(`redis: ${m}`);
    lastError = m;
  };
  const q = await openSweepQueue(o.target, 'worker', onError);
  const bases = new Cache<BaseModel>(2);
  const tasks = new Cache<ExperimentTask>(8);
  const load = o.loadBase ?? ((s: string, revision?: string) => loadBase(s, revision !== undefined ? { revision } : {}));
  const running = new Map<string, AbortController>();
  let trained = 0;
  let alreadyDone = 0;
  let failed = 0;
  let returned = 0;

  /**
   * The row of a run that finished before (its job is being run again), or undefined. Redis is
   * asked every time; the results file only when the job started before: enqueueing skips the runs
   * whose rows the file holds, so a first start can only find its row in the file if an earlier
   * start of the same job wrote it and died before Redis had it (this saves reading the whole
   * file per job).
   */
  const existingRow = async (d: SweepJobData, key: string, startedBefore: boolean): Promise<SweepResult | undefined> => {
    const [inRedis, rows] = await Promise.all([q.store.result(d.sweep, key), startedBefore ? readSweepResults(join(d.out, RESULTS_FILE)) : []]);
    if (inRedis) return inRedis;
    const inFile = rows.find((r) => resultKey(r) === key);
    if (inFile) await q.store.addResult(d.sweep, inFile);
    return inFile;
  };

  const processJob = async (job: Job<unknown, SweepResult>, token?: string, jobSignal?: AbortSignal): Promise<SweepResult> => {
    let d: SweepJobData;
    try {
      d = validateSweepJob(job.data);
      if (!job.id?.startsWith(`${d.sweep}.${d.run.method}.${d.run.id}`)) throw new AdapterkitError('BAD_CONFIG', `job payload refused: job id ${job.id} does not name the run the payload describes`);
    } catch (e) {
      const m = redact((e as Error).message);
      o.log(`refused job ${job.id}: ${m}`);
      throw new UnrecoverableError(m);
    }
    const ac = new AbortController();
    const abort = () => ac.abort();
    o.signal?.addEventListener('abort', abort);
    jobSignal?.addEventListener('abort', abort);
    running.set(job.id as string, ac);
    const key = resultKey({ task: d.task, method: d.run.method, run: d.run.id, batchSize: d.batchSize, maxLength: d.maxLength, ...d.frozen });
    const frozen = jobFrozenOptions(d, (line) => o.log(`${job.id}: ${line}`));
    try {
      const row = await existingRow(d, key, job.attemptsStarted > 1 || job.stalledCounter > 0);
      if (row) {
        o.log(`${job.id}: already finished (${describeRun(d)}), not trained again`);
        alreadyDone++;
        return row;
      }
      const base = await bases.get(`${d.base}\u0000${d.revision ?? ''}`, () => load(d.base, d.revision));
      const task = await tasks.get(JSON.stringify([d.data, d.task]), async () => ({ ...(await loadExperimentTask(d.data)).task, name: d.task }));
      const runDir = sweepRunDir(d.out, task, d.run, d, frozen);
      await mkdir(runDir, { recursive: true });
      await o.onRunStart?.(d, runDir);
      o.log(`${job.id}: start ${describeRun(d)}${job.attemptsStarted > 1 ? ` (start ${job.attemptsStarted})` : ''}`);
      const startedAt = new Date().toISOString();
      let lastProgress = 0;
      let progress: RunProgress = { worker: o.name, step: 0, totalSteps: 0, epoch: 0, resumedAt: 0, startedAt };
      const report = (force: boolean) => {
        const now = Date.now();
        if (!force && now - lastProgress < 2000) return;
        lastProgress = now;
        job.updateProgress({ ...progress }).catch(() => undefined); // best effort: a lost update only makes --status older
      };
      report(true);
      const res = await runSweepPoint({
        base, task, outDir: d.out, spec: d.run, batchSize: d.batchSize, maxLength: d.maxLength, signal: ac.signal,
        ...(o.threads !== undefined ? { threads: o.threads } : {}), ...(frozen ? { frozen } : {}),
        onEvent: (e) => {
          if (e.type === 'start') {
            progress = { ...progress, totalSteps: e.totalSteps, resumedAt: e.resumedAt, step: e.resumedAt };
            if (e.resumedAt > 0) o.log(`${job.id}: resuming from its checkpoint at step ${e.resumedAt} of ${e.totalSteps}`);
            report(true);
          } else if (e.type === 'step') {
            progress = { ...progress, step: e.step, epoch: e.epoch };
            report(false);
          } else if (e.type === 'checkpoint') {
            o.log(`${job.id}: checkpoint at step ${e.step}`);
          } else if (e.type === 'note') {
            o.log(`${job.id}: note: ${e.message}`);
          }
          o.onEvent?.(d, e);
        },
      });
      // The file and Redis get the row at once (the run directory exists, so d.out does too).
      await Promise.all([appendSweepResultOnce(join(d.out, RESULTS_FILE), res), q.store.addResult(d.sweep, res)]);
      trained++;
      o.log(`${job.id}: finished: dev ${res.metric} ${fmt(res.devScore)}, test ${res.metric} ${fmt(res.testScore)}, ${res.seconds.toFixed(1)} s`);
      return res;
    } catch (e) {
      if (e instanceof AdapterkitError && e.code === 'INTERRUPTED' && o.signal?.aborted) {
        await job.moveToWait(token);
        returned++;
        o.log(`${job.id}: checkpoint saved; the run is back in the queue`);
        throw new WaitingError();
      }
      const m = redact((e as Error).message);
      // The message is redacted; the cause (the original, which may hold the password) stays in this process.
      if (e instanceof AdapterkitError && NON_RETRYABLE.has(e.code)) throw new UnrecoverableError(`[${e.code}] ${m}`);
      throw new Error(e instanceof AdapterkitError ? `[${e.code}] ${m}` : m, { cause: e });
    } finally {
      running.delete(job.id as string);
      o.signal?.removeEventListener('abort', abort);
      jobSignal?.removeEventListener('abort', abort);
    }
  };

  const lockDuration = Math.round((o.lockSeconds ?? 60) * 1000);
  const worker = new Worker<unknown, SweepResult>(o.target.queueName, processJob, {
    connection: q.redis, prefix: BULL_PREFIX, name: o.name, concurrency: o.concurrency ?? 1, autorun: false,
    lockDuration, stalledInterval: Math.max(500, lockDuration), maxStalledCount: MAX_STALLED,
  });
  worker.on('error', (e: Error) => {
    const m = redact(e.message);
    // A run whose lock could not be renewed is someone else's now: stop it (it checkpoints).
    const lost = /could not renew lock for job (\S+)/.exec(m);
    if (lost?.[1]) running.get(lost[1])?.abort();
    onError(m);
  });
  worker.on('failed', (job, err) => {
    if (!job || err instanceof WaitingError || err.name === 'WaitingError') return;
    failed++;
    const attempts = job.opts.attempts ?? 1;
    const final = err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || job.attemptsMade >= attempts;
    o.log(`${job.id}: failed (attempt ${job.attemptsMade} of ${attempts}): ${redact(err.message)}${final ? '; marked failed, not retried' : '; will be retried'}`);
  });

  let stopped = false;
  let interrupted = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await worker.close();
  };
  const onAbort = () => {
    interrupted = true;
    void stop();
  };
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort);
  let timer: NodeJS.Timeout | undefined;
  if (o.until) {
    let idleBefore = false;
    const check = async () => {
      if (stopped) return;
      try {
        let idle: boolean;
        if (o.until === 'idle') {
          const c = await q.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
          idle = running.size === 0 && Object.values(c).every((n) => n === 0);
        } else idle = running.size === 0 && (await (o.until as (q: SweepQueue) => Promise<boolean>)(q));
        // Two idle polls in a row: a job moving between states is never seen as idle.
        if (idle && idleBefore) return void (await stop());
        idleBefore = idle;
      } catch (e) {
        onError(redact((e as Error).message));
      }
      timer = setTimeout(() => void check(), 1000);
    };
    timer = setTimeout(() => void check(), 1000);
  }
  try {
    await worker.run();
    await worker.close();
  } finally {
    if (timer) clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    await q.close();
  }
  return { trained, alreadyDone, failed, returned, interrupted };
}
