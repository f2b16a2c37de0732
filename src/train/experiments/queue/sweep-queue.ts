/**
 * A sweep's queue: one Redis connection, the BullMQ queue on it and the sweep records beside it
 * (`store.ts`), and enqueueing a sweep: one job per run of the grid not finished yet, with a
 * deterministic id, so that enqueueing the same sweep again adds nothing twice.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BaseModel } from '../../../models/base.js';
import type { TaskSpec } from '../../data/index.js';
import type { TokenTaskSpec } from '../../token-tasks/index.js';
import type { ExperimentTask } from '../experiment-task.js';
import { frozenRecord, type FrozenOptions } from '../../frozen-precision.js';
import { planRuns, runCost, type SweepGrid } from '../sweep-grid.js';
import { readSweepResults, RESULTS_FILE, type SweepResult } from '../sweep-results.js';
import { sweepRunKey, sweepSettings } from '../sweep.js';
import { openRedis, type ConnectionRole, type QueueTarget } from './connection.js';
import { jobId, PAYLOAD_VERSION, sweepId, validateSweepJob, type SweepJobData } from './payload.js';
import { SweepStore, type PlanEntry, type SweepMeta } from './store.js';

/** BullMQ key prefix of adapterkit's queues. */
export const BULL_PREFIX = 'adapterkit';
/** BullMQ job name of a sweep run. */
export const JOB_NAME = 'sweep-run';

/**
 * Options of every job: 3 attempts with exponential back-off for failures a retry may fix (a
 * lost file system, a crash); errors that retrying cannot fix fail at once (the worker throws
 * BullMQ's UnrecoverableError). Finished and failed jobs are kept: their ids make a second
 * enqueue of the same sweep add nothing, and `--status` shows why a run failed.
 */
export const JOB_OPTIONS: JobsOptions = Object.freeze({
  attempts: 3, backoff: { type: 'exponential', delay: 15_000 }, removeOnComplete: false, removeOnFail: false,
});

/** An open queue; {@link SweepQueue.close} when done. */
export interface SweepQueue {
  readonly target: QueueTarget;
  readonly redis: Redis;
  readonly queue: Queue<SweepJobData, SweepResult>;
  readonly store: SweepStore;
  close(): Promise<void>;
}

/** Connects to the queue of `target` (BAD_CONFIG, redacted, when Redis cannot be reached). */
export async function openSweepQueue(target: QueueTarget, role: ConnectionRole, onError?: (message: string) => void): Promise<SweepQueue> {
  const redis = await openRedis(target, role, onError);
  const queue = new Queue<SweepJobData, SweepResult>(target.queueName, { connection: redis, prefix: BULL_PREFIX });
  queue.on('error', (e: Error) => onError?.(target.redact(e.message)));
  return {
    target, redis, queue, store: new SweepStore(redis, target.queueName),
    close: async () => {
      await queue.close();
      redis.disconnect();
    },
  };
}

/** Options of {@link enqueueSweep}. */
export interface EnqueueOptions {
  readonly base: BaseModel;
  /** The task as loaded on this machine (its name as in the results). */
  readonly task: ExperimentTask;
  /** The data spec the workers load (file paths absolute). */
  readonly data: TaskSpec | TokenTaskSpec;
  /** The base as workers load it: `use-lite`, an absolute directory, or a hub id. */
  readonly baseSource: string;
  readonly revision?: string;
  /** Output directory: absolute, the same path on every worker. */
  readonly outDir: string;
  readonly grid?: Partial<SweepGrid>;
  readonly batchSize?: number;
  readonly maxLength?: number;
  /** Put failed runs of this sweep back in the queue. */
  readonly retryFailed?: boolean;
  /**
   * The frozen base's precision in every run (default fp32); the jobs carry it and the workers
   * build their models with it. An int8 sweep is a sweep of its own ({@link sweepId}).
   */
  readonly frozen?: Pick<FrozenOptions, 'frozenPrecision' | 'int8Tolerance' | 'int8Adapters'>;
}

/** What {@link enqueueSweep} did. */
export interface EnqueueOutcome {
  readonly sweep: string;
  readonly planned: number;
  /** Jobs added now. */
  readonly added: number;
  /** Runs whose job was already in the queue (waiting, running, delayed or failed). */
  readonly queued: number;
  /** Runs already finished (a row in Redis or in `<out>/results.jsonl`). */
  readonly done: number;
  /** Failed runs put back in the queue ({@link EnqueueOptions.retryFailed}). */
  readonly retried: number;
  readonly failed: number;
}

/**
 * Enqueues a sweep (see the module comment). Rows in `<out>/results.jsonl` (when this machine
 * sees the directory) that Redis lacks are copied to Redis first, so a Redis that lost its data
 * does not train them again.
 */
export async function enqueueSweep(q: SweepQueue, o: EnqueueOptions): Promise<EnqueueOutcome> {
  const { grid, batchSize, maxLength } = sweepSettings(o.base, o.task, o);
  const plan = planRuns(grid, o.base.encoder);
  const frozen = frozenRecord(o.frozen);
  const id = sweepId(o.outDir, o.task.name, frozen);
  await mkdir(o.outDir, { recursive: true });
  const fileRows = (await readSweepResults(join(o.outDir, RESULTS_FILE)))
    .filter((r) => r.task === o.task.name && r.frozenPrecision === frozen.frozenPrecision && r.int8Adapters === frozen.int8Adapters);
  for (const r of fileRows) await q.store.addResult(id, r);
  const finished = await q.store.results(id);
  const meta: SweepMeta = {
    id, out: o.outDir, task: o.task.name, data: o.data, base: o.baseSource, ...(o.revision !== undefined ? { revision: o.revision } : {}),
    batchSize, maxLength, metric: o.task.metrics[0] as string, createdAt: (await q.store.meta(id))?.createdAt ?? new Date().toISOString(),
    ...(frozen.frozenPrecision ? { frozen } : {}),
  };
  const entries: PlanEntry[] = plan.map((spec, order) => ({
    job: jobId({ sweep: id, run: spec, batchSize, maxLength, frozen }, o.task.defaultMaxLength), key: sweepRunKey(o.task.name, spec, { batchSize, maxLength }, frozen),
    method: spec.method, run: spec.id, cost: runCost(spec, o.base.encoder), order,
  }));
  await q.store.saveSweep(meta, entries);
  let queued = 0;
  let done = 0;
  let retried = 0;
  let failed = 0;
  const toAdd: { name: string; data: SweepJobData; opts: JobsOptions }[] = [];
  for (const [i, spec] of plan.entries()) {
    const e = entries[i] as PlanEntry;
    if (finished.has(e.key)) {
      done++;
      continue;
    }
    const state = await q.queue.getJobState(e.job);
    if (state === 'completed') {
      await q.queue.remove(e.job); // finished, but its row is gone (a Redis restored from an old dump): train it again
    } else if (state === 'failed') {
      failed++;
      if (o.retryFailed) {
        // a retried run gets its stalls back too: BullMQ's retry resets the attempts but not the stall
        // counter (the job hash's `stc`), so a run failed by stalls would fail at its next worker death
        await q.redis.hdel(q.queue.toKey(e.job), 'stc');
        await (await q.queue.getJob(e.job))?.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        retried++;
      }
      continue;
    } else if (state !== 'unknown') {
      queued++;
      continue;
    }
    const data: SweepJobData = validateSweepJob({
      v: PAYLOAD_VERSION, sweep: id, out: o.outDir, task: o.task.name, data: o.data, base: o.baseSource,
      ...(o.revision !== undefined ? { revision: o.revision } : {}), run: spec, batchSize, maxLength, ...(frozen.frozenPrecision ? { frozen } : {}),
    });
    toAdd.push({ name: JOB_NAME, data, opts: { ...JOB_OPTIONS, jobId: e.job } });
  }
  for (let i = 0; i < toAdd.length; i += 500) {
    await q.queue.addBulk(toAdd.slice(i, i + 500));
  }
  return { sweep: id, planned: plan.length, added: toAdd.length, queued, done, retried, failed };
}
