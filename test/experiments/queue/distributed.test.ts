/**
 * A distributed sweep end to end on a real Redis: a tiny-BERT grid of 8 runs enqueued with
 * `sweep --queue` (twice: the second adds nothing), two `adapterkit worker` processes, one of them
 * SIGKILLed right after a run's first checkpoint. The other worker takes the stalled job over,
 * resumes it from that checkpoint, and every run finishes exactly once; `--status` showed the run
 * on the killed worker, and the results equal those of a local sweep of the same grid.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSweepQueue, parseQueueUrl, sweepStatus } from '../../../src/train/experiments/queue/index.js';
import { readSweepResults, summarizeSweep, type SweepResult } from '../../../src/train/experiments/sweep-results.js';
import { cli, tempDir } from '../../cli/harness.js';
import { spawnWorker, sweepArgs, toyData, within } from './helpers.js';
import { skipReason, startRedis, type TestRedis } from './redis.js';

const GRID = ['--methods', 'adapters,head-only,layer-norm', '--lrs', '1e-3,1e-2', '--epochs-grid', '3', '--sizes', '4,8'];

/** A row without what differs between two runs of the same configuration (time, date). */
function comparable(r: SweepResult): Omit<SweepResult, 'seconds' | 'finishedAt'> {
  const { seconds: _s, finishedAt: _f, ...rest } = r;
  return rest;
}

describe('distributed sweep', { skip: skipReason }, () => {
  let redis: TestRedis | undefined;
  after(async () => redis?.stop());
  const server = async () => (redis ??= await startRedis());

  test('2 workers, one SIGKILLed mid-run: the stalled run resumes elsewhere, each run finishes once, results equal a local sweep', { timeout: 180_000 }, async () => {
    redis = await server();
    const dir = tempDir('ak-queue-');
    const data = toyData(dir);
    const out = join(dir, 'shared', 'sweep');
    const args = sweepArgs(data, GRID);

    const first = await cli(...args, '--out', out, '--queue', redis.url, '--json');
    assert.equal(first.code, 0, first.stderr);
    const enq = JSON.parse(first.stdout) as { sweep: string; planned: number; added: number; queued: number };
    assert.deepEqual([enq.planned, enq.added, enq.queued], [8, 8, 0]);
    assert.match(first.stderr, /8 run\(s\) planned, 8 enqueued now, 0 already queued, 0 already done/);
    assert.ok(!existsSync(join(out, 'results.jsonl')), 'enqueueing trains nothing');
    const again = await cli(...args, '--out', out, '--queue', redis.url, '--json');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((({ added, queued }) => [added, queued])(JSON.parse(again.stdout) as { added: number; queued: number }), [0, 8]);

    const common = ['--queue', redis.url, '--threads', '1', '--lock-seconds', '2', '--exit-when-idle'];
    const workers = [spawnWorker([...common, '--name', 'w1']), spawnWorker([...common, '--name', 'w2'])];
    // The first checkpoint of any run (end of its first epoch of 3): kill that worker at once.
    const races = workers.map((w, i) => w.waitFor(/ (w[12]) (\S+): checkpoint at step (\d+)\n/).then((m) => ({ i, m })));
    const { i, m } = await Promise.race(races);
    workers[i]!.child.kill('SIGKILL');
    const [, victim, job, step] = m as unknown as [string, string, string, string];
    const survivor = workers[1 - i]!;
    assert.equal(await workers[i]!.exited, 'SIGKILL');

    // The killed worker's run still shows as running on it until its lock runs out.
    const q = await openSweepQueue(parseQueueUrl(redis.url), 'command');
    try {
      const st = await sweepStatus(q, enq.sweep);
      const r = st?.runs.find((x) => x.job === job);
      assert.ok(r?.state === 'running' || r?.state === 'waiting', `the killed run is ${r?.state}`);
      if (r?.state === 'running') assert.equal(r.progress?.worker, victim);
    } finally {
      await q.close();
    }

    assert.equal(await within(survivor.exited, 120_000, 'the surviving worker'), 0, survivor.output());
    const log = survivor.output();
    assert.match(log, new RegExp(`${job.replace(/[.]/g, '\\.')}: resuming from its checkpoint at step ${step} of \\d+`), log);
    const finished = [...workers[0]!.output().matchAll(/ (\S+): finished: /g), ...workers[1]!.output().matchAll(/ (\S+): finished: /g)].map((x) => x[1]);
    assert.equal(finished.length, 8, `finished lines: ${finished.join(', ')}`);
    assert.equal(new Set(finished).size, 8, 'each run finished exactly once');

    const status = await cli('sweep', '--queue', redis.url, '--status', '--out', out);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /8\/8 done, 0 running, 0 waiting, 0 failed; finished/);
    const rows = await readSweepResults(join(out, 'results.jsonl'));
    assert.equal(rows.length, 8);
    assert.equal(new Set(rows.map((r) => `${r.method}/${r.run}`)).size, 8);

    // The report's input from Redis alone equals the shared file.
    const dl = join(dir, 'elsewhere');
    const down = await cli('sweep', '--queue', redis.url, '--download', dl, '--sweep', enq.sweep);
    assert.equal(down.code, 0, down.stderr);
    const fromRedis = await readSweepResults(join(dl, 'results.jsonl'));
    const key = (r: SweepResult) => `${r.method}/${r.run}`;
    assert.deepEqual(new Map(fromRedis.map((r) => [key(r), r])), new Map(rows.map((r) => [key(r), r])));

    // The same grid, locally.
    const local = await cli(...args, '--out', join(dir, 'local'));
    assert.equal(local.code, 0, local.stderr);
    const localRows = await readSweepResults(join(dir, 'local', 'results.jsonl'));
    const byKey = new Map(localRows.map((r) => [key(r), comparable(r)]));
    assert.equal(byKey.size, 8);
    for (const r of rows) assert.deepEqual(comparable(r), byKey.get(key(r)), key(r));
    // The best-on-dev selection is the local one (summarizeSweep ties go to the earlier row: plan order).
    const pick = (rs: SweepResult[]) => summarizeSweep(rs).map((b) => [b.method, b.run, b.devScore, b.testScore, b.runs]);
    assert.deepEqual(pick(fromRedis), pick(localRows));

    // report on the shared directory is the local sweep's report; on the rows from Redis, the same
    // without the training curves (they live in the run directories).
    const html: string[] = [];
    for (const [i, input] of [out, dl, join(dir, 'local')].entries()) {
      const file = join(dir, `report-${i}.html`);
      const rep = await cli('report', input, '--out', file, '--title', 'toy'); // one at a time: cli() captures stdout
      assert.equal(rep.code, 0, rep.stderr);
      html.push(readFileSync(file, 'utf8').replace(/Generated \S+ by/, 'Generated … by'));
    }
    const [shared, downloaded, ofLocal] = html as [string, string, string];
    assert.equal(shared, ofLocal);
    assert.equal(downloaded, shared.replace(/<section[^>]*>\s*<h2[^>]*>Training<\/h2>[\s\S]*?<\/section>\s*/, ''));
  });

  test('sweep --queue --work trains the runs here until the sweep is done, with the summary of a local sweep', { timeout: 60_000 }, async () => {
    const r = await server();
    const dir = tempDir('ak-queue-work-');
    const args = sweepArgs(toyData(dir, 64), ['--methods', 'head-only,layer-norm', '--lrs', '1e-3,1e-2', '--epochs-grid', '1']);
    const worked = await cli(...args, '--out', join(dir, 'queued'), '--queue', r.url, '--queue-name', 'work', '--work', '--threads', '1', '--json');
    assert.equal(worked.code, 0, worked.stderr);
    assert.match(worked.stderr, /4 run\(s\) trained here, 4 of 4 done; results in /);
    const local = await cli(...args, '--out', join(dir, 'local'), '--json');
    assert.equal(local.code, 0, local.stderr);
    const best = (stdout: string) => (JSON.parse(stdout) as { best: object[] }).best;
    assert.deepEqual(best(worked.stdout), best(local.stdout));
    const text = await cli(...args, '--out', join(dir, 'queued'), '--queue', r.url, '--queue-name', 'work', '--work');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stderr, /4 run\(s\) planned, 0 enqueued now, 0 already queued, 4 already done/);
    assert.match(text.stdout, /best run on dev per method \(accuracy\), 4 of 4 runs finished:/);
  });

  test('sweep --queue --frozen-precision int8: the jobs carry the precision; rows, run directories and summary are a local int8 sweep\'s, in a sweep of its own beside the fp32 one', { timeout: 90_000 }, async () => {
    const r = await server();
    const dir = tempDir('ak-queue-int8-');
    const args = sweepArgs(toyData(dir, 64), ['--methods', 'adapters,head-only', '--lrs', '1e-2', '--epochs-grid', '1', '--sizes', '4', '--threads', '1']);
    const out = join(dir, 'queued');
    const queue = ['--out', out, '--queue', r.url, '--queue-name', 'int8'];
    const worked = await cli(...args, ...queue, '--frozen-precision', 'int8', '--int8-tolerance', '0.05', '--work', '--json');
    assert.equal(worked.code, 0, worked.stderr);
    assert.match(worked.stderr, /on \S+, int8 frozen base -> /);
    assert.match(worked.stderr, /\.adapters-m4\.lr1e-2_ep1_seed1_b16_len16_int8: int8 frozen base: \d+ of \d+ matmuls int8/);
    assert.match(worked.stderr, /2 run\(s\) trained here, 2 of 2 done; /);
    const rows = await readSweepResults(join(out, 'results.jsonl'));
    assert.deepEqual(rows.map((x) => [x.method, x.frozenPrecision, x.int8Tolerance, x.runDir.endsWith('_int8')]).sort(), [['adapters-m4', 'int8', 0.05, true], ['head-only', 'int8', 0.05, true]]);
    for (const x of rows) {
      const rec = JSON.parse(readFileSync(join(out, x.runDir, 'run.json'), 'utf8')) as { frozenPrecision?: string; int8Tolerance?: number };
      assert.deepEqual([rec.frozenPrecision, rec.int8Tolerance], ['int8', 0.05], `${x.runDir}/run.json`);
    }

    const local = await cli(...args, '--out', join(dir, 'local'), '--frozen-precision', 'int8', '--int8-tolerance', '0.05', '--json');
    assert.equal(local.code, 0, local.stderr);
    const localRows = new Map((await readSweepResults(join(dir, 'local', 'results.jsonl'))).map((x) => [x.method, comparable(x)]));
    for (const x of rows) assert.deepEqual(comparable(x), localRows.get(x.method), x.method);
    const best = (stdout: string) => (JSON.parse(stdout) as { best: object[] }).best;
    assert.deepEqual(best(worked.stdout), best(local.stdout));

    // The fp32 sweep of the same directory is another sweep: nothing of the int8 one counts as done.
    const fp32 = await cli(...args, ...queue, '--json');
    assert.equal(fp32.code, 0, fp32.stderr);
    const enq = JSON.parse(fp32.stdout) as { sweep: string; added: number; done: number; frozenPrecision?: string };
    assert.deepEqual([enq.added, enq.done, enq.frozenPrecision], [2, 0, undefined]);
    assert.notEqual(enq.sweep, (JSON.parse(worked.stdout) as { sweep: string }).sweep);
    const again = await cli(...args, ...queue, '--frozen-precision', 'int8', '--json');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((({ added, done }) => [added, done])(JSON.parse(again.stdout) as { added: number; done: number }), [0, 2]);
    const status = await cli('sweep', '--queue', r.url, '--queue-name', 'int8', '--status', '--out', out);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /: toy on \S+, int8 frozen base -> .*\n2\/2 done, 0 running, 0 waiting, 0 failed; finished/);
    assert.match(status.stdout, /: toy on \S+ -> .*\n0\/2 done, 0 running, 2 waiting, 0 failed/);
  });
});
