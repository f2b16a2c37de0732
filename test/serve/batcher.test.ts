import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher } from '../../src/serve/batcher.js';
import { HttpError } from '../../src/serve/http-errors.js';

/** A backend doubling numbers, recording calls, failing on any batch containing a negative number. */
function doubler(delayMs = 0): { calls: number[][]; run: (items: number[]) => Promise<number[]> } {
  const calls: number[][] = [];
  return {
    calls,
    run: async (items) => {
      calls.push([...items]);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (items.some((x) => x < 0)) throw new Error(`negative in ${items.join(',')}`);
      return items.map((x) => x * 2);
    },
  };
}

test('batcher: requests within the window share a call; big requests are split and reassembled', async () => {
  const d = doubler();
  const b = new Batcher(d.run, { windowMs: 10, maxBatch: 3 });
  const [r1, r2, r3] = await Promise.all([b.submit([1, 2]), b.submit([3, 4, 5, 6, 7]), b.submit([8])]);
  assert.deepEqual(r1, [2, 4]);
  assert.deepEqual(r2, [6, 8, 10, 12, 14]);
  assert.deepEqual(r3, [16]);
  assert.deepEqual(d.calls, [[1, 2, 3], [4, 5, 6], [7, 8]]);
});

test('batcher: a full batch runs without waiting for the window', async () => {
  const d = doubler();
  const b = new Batcher(d.run, { windowMs: 5000, maxBatch: 2 });
  const t0 = performance.now();
  assert.deepEqual(await b.submit([1, 2]), [2, 4]);
  assert.ok(performance.now() - t0 < 1000);
});

test('batcher: a failed batch fails exactly its requests, including the rest of a split request', async () => {
  const d = doubler(5);
  const b = new Batcher(d.run, { windowMs: 5, maxBatch: 2 });
  const p1 = b.submit([1, 2]);
  const p2 = b.submit([-3, 4, 5]); // [-3, 4] fails; its 5 must not run
  const p3 = b.submit([6]);
  const [s1, s2, s3] = await Promise.allSettled([p1, p2, p3]);
  assert.deepEqual(s1, { status: 'fulfilled', value: [2, 4] });
  assert.equal(s2.status, 'rejected');
  const err = (s2 as PromiseRejectedResult).reason as HttpError;
  assert.ok(err instanceof HttpError);
  assert.equal(err.code, 'BACKEND_FAILED');
  assert.match(err.message, /batch of 2 inputs: negative in -3,4/);
  assert.deepEqual(s3, { status: 'fulfilled', value: [12] });
  assert.deepEqual(d.calls, [[1, 2], [-3, 4], [6]]);
  assert.equal(b.queuedItems, 0);
});

test('batcher: a backend returning the wrong number of outputs fails the batch', async () => {
  const b = new Batcher(async (items: number[]) => items.slice(1), { windowMs: 1 });
  await assert.rejects(b.submit([1, 2]), /backend returned 1 outputs for a batch of 2 items/);
});

test('batcher: queue bound, checkRequest, exclusive ordering, drain and close', async () => {
  const d = doubler(20);
  const order: string[] = [];
  const b = new Batcher((items: number[]) => { order.push(`batch ${items.join(',')}`); return d.run(items); }, {
    windowMs: 1, maxBatch: 2, maxQueue: 3,
    checkRequest: (items) => (items.includes(99) ? new Error('99 is not allowed any more') : undefined),
  });
  const p1 = b.submit([1, 2]); // dispatched at once (full batch)
  const p2 = b.submit([3, 99]);
  const p3 = b.submit([5]);
  await assert.rejects(b.submit([7]), (e: unknown) => e instanceof HttpError && e.code === 'QUEUE_FULL' && /3 inputs already queued \(limit 3\)/.test(e.message));
  const ex = b.exclusive(async () => { order.push('exclusive'); return 'done'; });
  assert.equal(await ex, 'done');
  await assert.rejects(p2, /99 is not allowed/);
  assert.deepEqual(await p1, [2, 4]);
  assert.deepEqual(await p3, [10]);
  assert.deepEqual(order, ['batch 1,2', 'exclusive', 'batch 5']);
  await b.drain();
  assert.equal(b.running, false);
  b.close();
  await assert.rejects(b.submit([1]), (e: unknown) => e instanceof HttpError && e.code === 'SHUTTING_DOWN');
});

test('batcher: failQueued rejects waiting requests and lets drain resolve', async () => {
  const d = doubler(50);
  const b = new Batcher(d.run, { windowMs: 1, maxBatch: 1 });
  const p1 = b.submit([1]);
  const p2 = b.submit([2]);
  const drained = b.drain();
  b.failQueued(new HttpError('SHUTTING_DOWN', 'bye'));
  await assert.rejects(p2, /bye/);
  assert.deepEqual(await p1, [2]);
  await drained;
  assert.deepEqual(d.calls, [[1]]);
});

test('batcher: bad options are refused', () => {
  const run = async (x: number[]) => x;
  assert.throws(() => new Batcher(run, { maxBatch: 0 }), /maxBatch must be a positive integer, got 0/);
  assert.throws(() => new Batcher(run, { maxQueue: 1.5 }), /maxQueue must be a positive integer/);
  assert.throws(() => new Batcher(run, { windowMs: -1 }), /windowMs must be >= 0/);
});

/** A backend doubling numbers that holds every call until `open()`. */
function gatedDoubler(): { calls: number[][]; run: (items: number[]) => Promise<number[]>; open: () => void } {
  const calls: number[][] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  return {
    calls, open,
    run: async (items) => {
      calls.push([...items]);
      await gate;
      return items.map((x) => x * 2);
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

test('batcher: an aborted request leaves the queue (its undispatched items never run) and rejects with the reason', async () => {
  const d = gatedDoubler();
  const b = new Batcher(d.run, { windowMs: 1, maxBatch: 2 });
  const running = b.submit([1]);
  await tick();
  const c = new AbortController();
  const split = b.submit([2, 3, 4], c.signal); // 2, 3 go in the next batch, 4 after it
  const other = b.submit([5]);
  assert.equal(b.queuedItems, 4);
  const reason = new HttpError('DEADLINE_EXCEEDED', 'too late', { 'retry-after': '1' });
  c.abort(reason);
  await assert.rejects(split, (e) => e === reason);
  assert.equal(b.queuedItems, 1, 'only the other request waits');
  d.open();
  assert.deepEqual(await running, [2]);
  assert.deepEqual(await other, [10]);
  assert.deepEqual(d.calls, [[1], [5]]);
  // Aborted while its batch runs: rejected at once, the batch's other requests still answered.
  const d2 = gatedDoubler();
  const b2 = new Batcher(d2.run, { windowMs: 1, maxBatch: 4 });
  const c2 = new AbortController();
  const mine = b2.submit([1, 2], c2.signal);
  const theirs = b2.submit([3]);
  await tick();
  c2.abort(reason);
  await assert.rejects(mine, (e) => e === reason);
  d2.open();
  assert.deepEqual(await theirs, [6]);
  assert.deepEqual(d2.calls, [[1, 2, 3]]);
  // Already aborted: refused without queueing; a signal with a non-Error reason gives DEADLINE_EXCEEDED.
  const c3 = new AbortController();
  c3.abort('gone');
  await assert.rejects(b2.submit([9], c3.signal), (e: HttpError) => e.code === 'DEADLINE_EXCEEDED' && e.message === 'request cancelled before it ran; retry in a moment');
  assert.equal(b2.queuedItems, 0);
});

test('batcher: weighted exclusive operations count towards maxQueue until they start, and leave it when aborted', async () => {
  const d = gatedDoubler();
  const b = new Batcher(d.run, { windowMs: 1, maxBatch: 8, maxQueue: 4 });
  const running = b.submit([1]);
  await tick();
  let ran = 0;
  const c = new AbortController();
  const waiting = b.exclusive(async () => { ran++; return 'w'; }, { weight: 3, signal: c.signal });
  assert.equal(b.queuedItems, 3);
  await assert.rejects(b.exclusive(async () => 'x', { weight: 2 }), (e: HttpError) => e.code === 'QUEUE_FULL' && e.message === 'server busy: 3 inputs already queued (limit 4); retry in a moment' && e.headers['retry-after'] === '1');
  await assert.rejects(b.submit([2, 3]), (e: HttpError) => e.code === 'QUEUE_FULL');
  const unweighted = b.exclusive(async () => 'admin'); // loads and unloads are never refused
  c.abort(new HttpError('DEADLINE_EXCEEDED', 'too late'));
  await assert.rejects(waiting, (e: HttpError) => e.code === 'DEADLINE_EXCEEDED' && e.message === 'too late');
  assert.equal(b.queuedItems, 0);
  d.open();
  assert.deepEqual(await running, [2]);
  assert.equal(await unweighted, 'admin');
  assert.equal(ran, 0, 'the aborted operation never ran');
  // Aborted after it started: rejects at once, runs to its end.
  let release!: () => void;
  let finished = false;
  const c2 = new AbortController();
  const started = b.exclusive(async () => {
    await new Promise<void>((r) => { release = r; });
    finished = true;
    return 'late';
  }, { weight: 1, signal: c2.signal });
  await tick();
  assert.equal(b.queuedItems, 0, 'a started operation no longer counts');
  c2.abort(new HttpError('DEADLINE_EXCEEDED', 'too late'));
  await assert.rejects(started, (e: HttpError) => e.code === 'DEADLINE_EXCEEDED');
  assert.equal(finished, false);
  release();
  await b.drain();
  assert.equal(finished, true);
  b.close();
  await assert.rejects(b.exclusive(async () => 1, { weight: 1 }), (e: HttpError) => e.code === 'SHUTTING_DOWN');
});

test('batcher: checkRequest runs before every part of a split request, with its remaining items; a failing check fails that request alone', async () => {
  const banned = new Set<number>();
  const seen: number[][] = [];
  const calls: number[][] = [];
  const b = new Batcher(async (items: number[]) => {
    calls.push([...items]);
    if (items.includes(1)) banned.add(5); // e.g. a task of the split request is unloaded after its first part ran
    return items.map((x) => x * 2);
  }, {
    windowMs: 1, maxBatch: 2,
    checkRequest: (items) => {
      seen.push([...items]);
      const bad = items.find((x) => banned.has(x));
      return bad === undefined ? undefined : new Error(`${bad} is gone`);
    },
  });
  const split = b.submit([1, 2, 3, 4, 5]);
  const other = b.submit([6]);
  await assert.rejects(split, /^Error: 5 is gone$/);
  assert.deepEqual(await other, [12]);
  assert.deepEqual(calls, [[1, 2], [6]], 'the rest of the failed request never ran; the other request did');
  assert.deepEqual(seen, [[1, 2, 3, 4, 5], [3, 4, 5], [6]]);
  assert.equal(b.queuedItems, 0);
});

test('batcher: waiting exclusive operations and batches take turns, so a stream of operations cannot starve the batches', async () => {
  const order: string[] = [];
  const d = gatedDoubler();
  const b = new Batcher((items: number[]) => { order.push(`batch ${items.join(',')}`); return d.run(items); }, { windowMs: 1, maxBatch: 1 });
  const first = b.submit([1]);
  await tick();
  const ops = [1, 2, 3].map((k) => b.exclusive(async () => { order.push(`op ${k}`); }));
  const batches = [2, 3, 4].map((x) => b.submit([x]));
  d.open();
  await Promise.all([first, ...ops, ...batches]);
  assert.deepEqual(order, ['batch 1', 'op 1', 'batch 2', 'op 2', 'batch 3', 'op 3', 'batch 4']);
  // An operation that queues the next one as it ends (a looping /v1/tag client) still lets batches in.
  const order2: string[] = [];
  const b2 = new Batcher(async (items: number[]) => { order2.push('batch'); return items; }, { windowMs: 1, maxBatch: 1 });
  let loops = 0;
  const loop = async (): Promise<void> => {
    while (loops < 6) {
      await b2.exclusive(async () => { loops++; order2.push('op'); await tick(); });
    }
  };
  const looping = [loop(), loop()];
  await tick();
  const answered = await Promise.all([b2.submit([1]), b2.submit([2])]);
  assert.deepEqual(answered, [[1], [2]]);
  await Promise.all(looping);
  assert.ok(order2.indexOf('batch') <= 2, `a batch ran after at most two operations: ${order2.join(' ')}`);
});
