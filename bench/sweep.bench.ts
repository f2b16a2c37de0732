/**
 * Distributed-sweep benchmark (npm run bench:sweep). One small grid on the tiny BERT fixture
 * (toy sentiment CSV files; 20 runs: adapters m4/m8, head-only, layer-norm and full fine-tuning at
 * two learning rates and two seeds), trained three ways on this machine with 1 ONNX Runtime thread per run:
 *  (1) a local sweep (`runSweep` in this process): the reference for a tiny run's time and for
 *      what any sweep spends around a run besides training it (writing its row...);
 *  (2) the grid enqueued (`enqueueSweep`) on a real Redis (Debian's redis-server, started here on
 *      127.0.0.1 with a free port, as the tests do) and trained by 1 `adapterkit worker` process;
 *  (3) the same with 2 worker processes;
 *  (4) 1 worker again on a Redis that fsyncs its append-only file at every write (`appendfsync
 *      always`, what the tests use so that a SIGKILLed Redis loses nothing), where (2) and (3) use
 *      `appendfsync everysec`, the setting docs/distributed.md gives for real machines.
 * The workers are started and connected before the grid is enqueued, so process start-up is not
 * timed. Reported per configuration: wall time (enqueue to the last job's completion, from BullMQ's
 * own timestamps) and the time each job spends outside its run: the wait from the worker's
 * previous job (or the enqueue) to this one becoming active, plus active-to-completed minus the
 * run's own seconds (its row's `seconds`). Queue overhead per job = that, minus the local sweep's
 * time around a run, as a share of a tiny run's time (the mean run of the local sweep); target
 * <= 1 %. Each worker's first job also loads the base and the data: shown apart, not in the mean.
 *
 * BENCH_ROWS (training rows, default 512) and BENCH_EPOCHS (default 3) change the size.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Job } from 'bullmq';
import { dataSpecFromFlags, type DataFlags } from '../src/cli/data-options.js';
import { loadBase } from '../src/models/base.js';
import { loadExperimentTask } from '../src/train/experiments/experiment-task.js';
import { enqueueSweep, openSweepQueue, parseQueueUrl, type SweepJobData, type SweepQueue } from '../src/train/experiments/queue/index.js';
import type { SweepGrid } from '../src/train/experiments/sweep-grid.js';
import type { SweepResult } from '../src/train/experiments/sweep-results.js';
import { runSweep } from '../src/train/experiments/sweep.js';
import { TINY_BERT, writeToyCsv } from '../test/cli/harness.js';
import { skipReason, startRedis } from '../test/experiments/queue/redis.js';
import { machine, median } from './common.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 512);
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 3);
const GRID: Partial<SweepGrid> = { methods: ['adapters', 'head-only', 'layer-norm', 'full'], lrs: [1e-3, 1e-2], epochs: [EPOCHS], seeds: [1, 2], sizes: [4, 8] };
const BATCH = 16;
const MAX_LENGTH = 16;
const ms = (x: number) => `${x.toFixed(1)} ms`;

/** A worker process, resolved once it is connected to the queue. */
interface WorkerChild {
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  output(): string;
}

async function startWorker(url: string, queueName: string, name: string): Promise<WorkerChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'worker', '--queue', url, '--queue-name', queueName, '--threads', '1', '--name', name], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string>((res) => child.once('exit', (code, signal) => res(code ?? signal ?? -1)));
  await new Promise<void>((res, rej) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes(`worker on queue "${queueName}"`)) res();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((c) => rej(new Error(`worker ${name} exited (${c}) before it connected:\n${out}`)));
  });
  return { child, exited, output: () => out };
}

/** What one configuration measured. */
interface Figures {
  readonly label: string;
  readonly wallSeconds: number;
  /** Time outside the run, per job, each worker's first job left out (ms). */
  readonly outside: number[];
  /** The same for each worker's first job (it also loads the base and the data). */
  readonly firstJobs: number[];
  /** The runs' own seconds. */
  readonly runSeconds: number[];
  /** The parts of `outside` (ms): waiting for the job, from active to the run's start, from the run's end to completed. */
  readonly parts: { readonly pickup: number[]; readonly before: number[]; readonly after: number[] };
}

async function allDone(q: SweepQueue, n: number): Promise<Job<SweepJobData, SweepResult>[]> {
  for (;;) {
    const c = await q.queue.getJobCounts('completed', 'failed');
    if ((c.failed ?? 0) > 0) throw new Error(`${c.failed} job(s) failed: ${(await q.queue.getJobs(['failed'])).map((j) => j.failedReason).join('; ')}`);
    if ((c.completed ?? 0) >= n) return q.queue.getJobs(['completed']);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Per-job time outside the run, from BullMQ's timestamps and the rows. */
function figuresOf(label: string, jobs: readonly Job<SweepJobData, SweepResult>[], enqueuedAt: number): Figures {
  const byWorker = new Map<string, Job<SweepJobData, SweepResult>[]>();
  for (const j of jobs) {
    const w = (j.progress as { worker?: string }).worker ?? '?';
    byWorker.set(w, [...(byWorker.get(w) ?? []), j]);
  }
  const outside: number[] = [];
  const firstJobs: number[] = [];
  const parts = { pickup: [] as number[], before: [] as number[], after: [] as number[] };
  for (const list of byWorker.values()) {
    list.sort((a, b) => (a.processedOn ?? 0) - (b.processedOn ?? 0));
    let prevEnd = enqueuedAt;
    list.forEach((j, i) => {
      const active = j.processedOn as number;
      const done = j.finishedOn as number;
      const around = (active - prevEnd) + (done - active) - j.returnvalue.seconds * 1000;
      (i === 0 ? firstJobs : outside).push(around);
      if (i > 0) {
        // the row's finishedAt is taken right after the run (ms resolution)
        const runEnd = Date.parse(j.returnvalue.finishedAt);
        parts.pickup.push(active - prevEnd);
        parts.before.push(runEnd - j.returnvalue.seconds * 1000 - active);
        parts.after.push(done - runEnd);
      }
      prevEnd = done;
    });
  }
  const wallSeconds = (Math.max(...jobs.map((j) => j.finishedOn as number)) - enqueuedAt) / 1000;
  return { label, wallSeconds, outside, firstJobs, runSeconds: jobs.map((j) => j.returnvalue.seconds), parts };
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

async function main(): Promise<void> {
  if (skipReason) {
    console.log(`bench:sweep skipped: ${skipReason}`);
    return;
  }
  const t0 = performance.now();
  const load0 = loadavg()[0] as number;
  const dir = mkdtempSync(join(tmpdir(), 'ak-bench-sweep-'));
  const redises = { everysec: await startRedis({ fsync: 'everysec' }), always: await startRedis({ fsync: 'always' }) };
  const workers: WorkerChild[] = [];
  try {
    writeToyCsv(join(dir, 'toy.csv'), ROWS, 1);
    writeToyCsv(join(dir, 'dev.csv'), 64, 2);
    writeToyCsv(join(dir, 'test.csv'), 64, 3);
    const spec = dataSpecFromFlags({ train: join(dir, 'toy.csv'), dev: join(dir, 'dev.csv'), test: join(dir, 'test.csv'), text: 'sentence', label: 'sentiment' } as DataFlags);
    const baseSource = resolve(TINY_BERT);
    const base = await loadBase(baseSource);
    const task = { ...(await loadExperimentTask(spec)).task, name: 'toy' };
    console.log(`distributed-sweep benchmark — ${machine()}; tiny BERT, ${ROWS} training rows, batch ${BATCH}, ${MAX_LENGTH} tokens, ${EPOCHS} epoch(s), 1 thread per run`);

    // (1) local
    let startedAt = 0;
    const localAround: number[] = [];
    const tl = performance.now();
    const local = await runSweep({
      base, task, outDir: join(dir, 'local'), grid: GRID, batchSize: BATCH, maxLength: MAX_LENGTH, threads: 1,
      onRunStart: () => {
        startedAt = performance.now();
      },
      onResult: (r, fresh) => {
        if (fresh) localAround.push(performance.now() - startedAt - r.seconds * 1000);
      },
    });
    const localWall = (performance.now() - tl) / 1000;
    const planned = local.planned;
    const tinyRun = mean(local.results.map((r) => r.seconds)) * 1000;
    console.log(`local sweep: ${planned} runs in ${localWall.toFixed(1)} s; a tiny run takes ${ms(tinyRun)} on average (${local.results.map((r) => r.seconds.toFixed(2)).join(', ')} s); around each run ${ms(median(localAround))} (median)`);

    // (2), (3) queue
    const figures: Figures[] = [];
    const configs = [{ n: 1, fsync: 'everysec' }, { n: 2, fsync: 'everysec' }, { n: 1, fsync: 'always' }] as const;
    for (const [c, { n, fsync }] of configs.entries()) {
      const redis = redises[fsync];
      const queueName = `bench${c}`;
      const target = parseQueueUrl(redis.url, { queueName });
      for (let i = 0; i < n; i++) workers.push(await startWorker(redis.url, queueName, `w${c}.${i + 1}`));
      const q = await openSweepQueue(target, 'command');
      try {
        const enqueuedAt = Date.now();
        const e = await enqueueSweep(q, { base, task, data: spec, baseSource, outDir: join(dir, `queue-${c}`), grid: GRID, batchSize: BATCH, maxLength: MAX_LENGTH });
        if (e.added !== planned) throw new Error(`enqueued ${e.added} of ${planned} runs`);
        const f = figuresOf(`${n} worker${n > 1 ? 's' : ''}${fsync === 'always' ? ', fsync' : ''}`, await allDone(q, planned), enqueuedAt);
        figures.push(f);
        console.log(`${f.label}: ${planned} runs in ${f.wallSeconds.toFixed(1)} s; runs took ${f.runSeconds.map((s) => s.toFixed(2)).join(', ')} s`);
      } finally {
        await q.close();
      }
      for (const w of workers.splice(0)) {
        w.child.kill('SIGTERM');
        await w.exited;
      }
    }

    console.log('');
    const localMedian = median(localAround);
    const header = `${'configuration'.padEnd(17)} ${'wall'.padStart(8)}  ${'speed-up'.padStart(8)}  ${'mean run'.padStart(9)}  ${'outside run/job (median, mean)'.padStart(30)}  ${'queue overhead/job'.padStart(18)}  ${'% of a tiny run'.padStart(15)}  ${'1st job/worker'.padStart(14)}`;
    console.log(header);
    console.log('-'.repeat(header.length));
    console.log(`${'local sweep'.padEnd(17)} ${`${localWall.toFixed(1)} s`.padStart(8)}  ${''.padStart(8)}  ${ms(tinyRun).padStart(9)}  ${`${ms(localMedian)}, ${ms(mean(localAround))}`.padStart(30)}  ${''.padStart(18)}  ${''.padStart(15)}  ${''.padStart(14)}`);
    const one = figures[0] as Figures;
    for (const f of figures) {
      const overhead = median(f.outside) - localMedian;
      console.log(`${f.label.padEnd(17)} ${`${f.wallSeconds.toFixed(1)} s`.padStart(8)}  ${`${(one.wallSeconds / f.wallSeconds).toFixed(2)}x`.padStart(8)}  ${ms(mean(f.runSeconds) * 1000).padStart(9)}  ${`${ms(median(f.outside))}, ${ms(mean(f.outside))}`.padStart(30)}  ${ms(overhead).padStart(18)}  ${`${((100 * overhead) / tinyRun).toFixed(2)} %`.padStart(15)}  ${ms(mean(f.firstJobs)).padStart(14)}`);
    }
    for (const f of figures) {
      console.log(`${f.label}, medians per job: waiting for the job ${ms(median(f.parts.pickup))}, active to the run's start ${ms(median(f.parts.before))}, the run's end to completed ${ms(median(f.parts.after))}`);
    }
    console.log('\nqueue overhead per job = median time a job spends outside its run (pickup + active-to-completed minus the run\'s seconds) minus the local sweep\'s median time around a run; target <= 1 % of a tiny run (the local sweep\'s mean run).');
    console.log('Redis: appendonly yes with appendfsync everysec (docs/distributed.md) for "1 worker" and "2 workers"; "1 worker, fsync": appendfsync always (every write waits for the disk).');
    console.log('1st job/worker: the same for each worker\'s first job, which also loads the base and the data (once per worker, not per job).');
    console.log(`load average (1 min) at the start ${load0.toFixed(2)}, at the end ${(loadavg()[0] as number).toFixed(2)}: on a busy machine every Redis round trip and file write waits for a core, so the overhead grows with the load`);
    console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
    for (const r of Object.values(redises)) await r.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
