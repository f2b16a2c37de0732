/**
 * Faults of a distributed sweep on a real Redis: Redis SIGKILLed and restarted mid-sweep (no
 * finished result lost, no run trained twice), payloads that do not match the schema and runs
 * that cannot succeed (failed after their first attempt, not retried), and Ctrl-C on a worker
 * (checkpoint, back in the queue, exit 130; the next worker resumes). The password and TLS:
 * security.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  BULL_PREFIX, JOB_NAME, JOB_OPTIONS, openSweepQueue, parseQueueUrl, runSweepWorker, sweepStatus,
} from '../../../src/train/experiments/queue/index.js';
import { appendSweepResult, readSweepResults, RESULTS_FILE, type SweepResult } from '../../../src/train/experiments/sweep-results.js';
import { cli, tempDir } from '../../cli/harness.js';
import { spawnWorker, sweepArgs, toyData, within } from './helpers.js';
import { skipReason, startRedis, type TestRedis } from './redis.js';

const SMALL = ['--methods', 'adapters,head-only', '--lrs', '1e-3,1e-2', '--epochs-grid', '3', '--sizes', '4'];

/** Enqueues the SMALL grid (4 runs) into `out`; returns the sweep id. */
async function enqueue(url: string, data: string[], out: string, grid = SMALL): Promise<string> {
  const r = await cli(...sweepArgs(data, grid), '--out', out, '--queue', url, '--json');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { sweep: string }).sweep;
}

describe('queue faults', { skip: skipReason }, () => {
  const servers: TestRedis[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });
  const redis = async () => {
    const s = await startRedis();
    servers.push(s);
    return s;
  };

  test('Redis killed and restarted mid-sweep: every result kept, no run trained twice', { timeout: 120_000 }, async () => {
    const r = await redis();
    const dir = tempDir('ak-queue-restart-');
    const out = join(dir, 'sweep');
    const id = await enqueue(r.url, toyData(dir), out);
    const lines: string[] = [];
    let onLine = (_l: string) => {};
    const worker = runSweepWorker({
      target: parseQueueUrl(r.url), name: 'w', threads: 1, lockSeconds: 10, until: 'idle',
      log: (l) => {
        lines.push(l);
        onLine(l);
      },
    });
    await new Promise<void>((resolve) => {
      onLine = (l) => l.includes(': finished: ') && resolve();
    });
    const firstDone = lines.find((l) => l.includes(': finished: '))!.split(':')[0];
    await r.kill();
    await new Promise((res) => setTimeout(res, 500));
    await r.start();
    const outcome = await within(worker, 90_000, 'the worker');
    assert.equal(outcome.trained, 4, lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('redis: ')), `the worker saw Redis go away:\n${lines.join('\n')}`);
    const finished = lines.filter((l) => l.includes(': finished: ')).map((l) => l.split(':')[0]);
    assert.equal(new Set(finished).size, 4);
    assert.equal(finished.length, 4);
    const q = await openSweepQueue(parseQueueUrl(r.url), 'command');
    try {
      const st = await sweepStatus(q, id);
      assert.deepEqual(st?.counts, { done: 4, running: 0, waiting: 0, failed: 0, missing: 0 });
      const rows = await q.store.results(id);
      assert.equal(rows.size, 4, 'Redis kept every row, the one finished before the kill included');
      assert.ok([...rows.values()].some((x) => firstDone?.endsWith(`${x.method}.${x.run}_b16_len16`)), `${firstDone} is in Redis`);
      assert.equal((await q.queue.getJobCounts('completed')).completed, 4);
    } finally {
      await q.close();
    }
    assert.equal((await readSweepResults(join(out, 'results.jsonl'))).length, 4);
  });

  test('a bad payload, and a run whose data is gone, fail after their first attempt with their message', { timeout: 60_000 }, async () => {
    const r = await redis();
    const dir = tempDir('ak-queue-bad-');
    const data = toyData(dir, 64);
    const id = await enqueue(r.url, data, join(dir, 'sweep'), ['--methods', 'head-only', '--lrs', '1e-2', '--epochs-grid', '1']);
    rmSync(join(dir, 'toy.csv')); // the run cannot succeed: its training file is gone
    const target = parseQueueUrl(r.url);
    const q = await openSweepQueue(target, 'command');
    try {
      await q.queue.add(JOB_NAME, { v: 1, sweep: 'zz', out: '/tmp', run: { method: 'full; rm -rf /' } } as never, { ...JOB_OPTIONS, jobId: 'bad-1' });
      await q.queue.add(JOB_NAME, 'not an object' as never, { ...JOB_OPTIONS, jobId: 'bad-2' });
      const lines: string[] = [];
      const outcome = await within(runSweepWorker({ target, name: 'w', until: 'idle', log: (l) => lines.push(l) }), 45_000, 'the worker');
      assert.equal(outcome.trained, 0);
      for (const [job, re] of [
        ['bad-1', /^job payload refused: data\.sweep does not match/], ['bad-2', /^job payload refused: data must be an object, got string/],
      ] as const) {
        const j = await q.queue.getJob(job);
        assert.equal(await j?.getState(), 'failed');
        assert.equal(j?.attemptsMade, 1, `${job} was tried once, not ${JOB_OPTIONS.attempts} times`);
        assert.match(j?.failedReason ?? '', re);
      }
      const st = await sweepStatus(q, id);
      assert.equal(st?.counts.failed, 1);
      const failed = st?.runs.find((x) => x.state === 'failed');
      assert.equal(failed?.attempts, 1);
      assert.match(failed?.reason ?? '', /^\[BAD_FILE\] cannot read .*toy\.csv/);
      assert.ok(lines.some((l) => /failed \(attempt 1 of 3\): \[BAD_FILE\].*marked failed, not retried/.test(l)), lines.join('\n'));
      const shown = await cli('sweep', '--queue', r.url, '--status', '--sweep', id);
      assert.match(shown.stdout, /0\/1 done, 0 running, 0 waiting, 1 failed; nothing left to run/);
      assert.match(shown.stdout, /failed {3}head-only lr1e-2_ep1_seed1 after 1 attempt\(s\): \[BAD_FILE\]/);
      // --retry-failed gives the run its stalls back as well as its attempts (BullMQ's retry keeps the stall counter)
      const job = failed?.job as string;
      await q.redis.hset(q.queue.toKey(job), 'stc', '3');
      assert.deepEqual(toyData(dir, 64), data, 'the training file back, as before');
      const again = await cli(...sweepArgs(data, ['--methods', 'head-only', '--lrs', '1e-2', '--epochs-grid', '1']), '--out', join(dir, 'sweep'), '--queue', r.url, '--retry-failed');
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await (await q.queue.getJob(job))?.getState(), 'waiting');
      assert.equal(await q.redis.hget(q.queue.toKey(job), 'stc'), null);
    } finally {
      await q.close();
    }
  });

  test('Ctrl-C on a worker: the run saves a checkpoint and goes back to the queue; the next worker resumes it', { timeout: 90_000 }, async () => {
    const r = await redis();
    const dir = tempDir('ak-queue-sigint-');
    const out = join(dir, 'sweep');
    const id = await enqueue(r.url, toyData(dir), out, ['--methods', 'adapters', '--lrs', '1e-3', '--epochs-grid', '3', '--sizes', '4']);
    const w = spawnWorker(['--queue', r.url, '--threads', '1', '--name', 'w-int']);
    const m = await w.waitFor(/ w-int (\S+): checkpoint at step (\d+)\n/);
    w.child.kill('SIGINT');
    assert.equal(await within(w.exited, 30_000, 'the interrupted worker'), 130, w.output());
    assert.match(w.output(), /SIGINT: saving a checkpoint of the runs in progress/);
    const back = w.output().match(/: checkpoint saved; the run is back in the queue/);
    assert.ok(back, w.output());
    const saved = [...w.output().matchAll(/checkpoint at step (\d+)\n/g)].map((x) => Number(x[1])).at(-1)!;
    assert.ok(saved >= Number(m[2]));
    const job = m[1] as string;
    const target = parseQueueUrl(r.url);
    const q = await openSweepQueue(target, 'command');
    try {
      assert.equal(await q.queue.getJobState(job), 'waiting');
      const runDir = join(out, 'runs', 'toy', 'adapters-m4', 'lr1e-3_ep3_seed1_b16_len16');
      assert.ok(existsSync(join(runDir, 'checkpoint')), 'the checkpoint is in the shared run directory');
      const lines: string[] = [];
      await within(runSweepWorker({ target, name: 'w2', until: 'idle', log: (l) => lines.push(l) }), 45_000, 'the next worker');
      assert.ok(lines.some((l) => l.includes(`${job}: resuming from its checkpoint at step ${saved} of`)), lines.join('\n'));
      assert.equal((await sweepStatus(q, id))?.counts.done, 1);
      assert.equal((await q.redis.keys(`${BULL_PREFIX}:sweep:*`)).length > 0, true);
    } finally {
      await q.close();
    }
  });

  test('a job started before whose row only the results file holds (its worker died between the file and Redis) is not trained again', { timeout: 60_000 }, async () => {
    const r = await redis();
    const dir = tempDir('ak-queue-row-');
    const out = join(dir, 'sweep');
    const id = await enqueue(r.url, toyData(dir), out, ['--methods', 'head-only', '--lrs', '1e-3', '--epochs-grid', '3']);
    const target = parseQueueUrl(r.url);
    // First start: stopped at once, so the job goes back to the queue having started once.
    const ac = new AbortController();
    const first = await within(runSweepWorker({ target, name: 'w1', signal: ac.signal, log: () => undefined, onRunStart: () => ac.abort() }), 30_000, 'the first worker');
    assert.equal(first.returned, 1);
    const q = await openSweepQueue(target, 'command');
    try {
      const [job] = await q.queue.getJobs(['waiting']);
      assert.ok(job?.id && job.attemptsStarted === 1, `one waiting job that started once, got ${job?.id} (${job?.attemptsStarted})`);
      const d = job.data;
      // What the dead start wrote to the file before Redis had it (a made-up score, to recognise it).
      const row = { task: d.task, method: d.run.method, run: d.run.id, batchSize: d.batchSize, maxLength: d.maxLength, devScore: 0.123, testScore: 0.456 } as unknown as SweepResult;
      await appendSweepResult(join(out, RESULTS_FILE), row);
      const lines: string[] = [];
      const second = await within(runSweepWorker({ target, name: 'w2', until: 'idle', log: (l) => lines.push(l) }), 30_000, 'the second worker');
      assert.deepEqual({ trained: second.trained, alreadyDone: second.alreadyDone }, { trained: 0, alreadyDone: 1 }, lines.join('\n'));
      assert.ok(lines.some((l) => l.includes(`${job.id}: already finished`)), lines.join('\n'));
      assert.equal((await q.store.results(id)).size, 1);
      assert.equal([...(await q.store.results(id)).values()][0]?.devScore, 0.123, 'the file\'s row went to Redis');
      assert.equal((await q.queue.getJob(job.id))?.returnvalue.devScore, 0.123);
      assert.equal((await readSweepResults(join(out, RESULTS_FILE))).length, 1, 'no second row');
    } finally {
      await q.close();
    }
  });
});
