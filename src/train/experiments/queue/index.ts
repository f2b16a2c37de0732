/**
 * Distributed sweeps: a sweep's runs as jobs of a BullMQ queue on Redis, trained by any number of
 * workers on any number of machines that share the output directory. See docs/distributed.md.
 */
export { CA_ENV, DEFAULT_QUEUE_NAME, openRedis, parseQueueUrl, PASSWORD_ENV, redactError, redactor } from './connection.js';
export type { ConnectionRole, QueueTarget } from './connection.js';
export { jobId, PAYLOAD_VERSION, sweepId, validateSweepJob } from './payload.js';
export type { SweepJobData } from './payload.js';
export { SweepStore } from './store.js';
export type { PlanEntry, SweepMeta } from './store.js';
export { BULL_PREFIX, enqueueSweep, JOB_NAME, JOB_OPTIONS, openSweepQueue } from './sweep-queue.js';
export type { EnqueueOptions, EnqueueOutcome, SweepQueue } from './sweep-queue.js';
export { findSweeps, sweepStatus } from './status.js';
export type { RunState, RunStatus, SweepStatus } from './status.js';
export { MAX_STALLED, NON_RETRYABLE, runSweepWorker } from './worker.js';
export type { RunProgress, SweepWorkerOptions, SweepWorkerOutcome } from './worker.js';
