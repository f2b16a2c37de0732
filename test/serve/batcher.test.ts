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
