/**
 * AsyncOnce: one computation for calls that overlap, a failure not kept, and a reset during a
 * computation that keeps its result out (the calls that started it still get it; onKept is not called).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncOnce } from '../../src/util/once.js';

test('calls during a computation share it; the value is kept and onKept sees it kept', async () => {
  const once = new AsyncOnce<number>();
  let runs = 0;
  const seen: (number | undefined)[] = [];
  const work = async () => {
    await new Promise((r) => setImmediate(r));
    return ++runs * 10;
  };
  const onKept = (v: number) => seen.push(v, once.current);
  assert.deepEqual(await Promise.all([once.get(work, onKept), once.get(work, onKept)]), [10, 10]);
  assert.equal(runs, 1);
  assert.deepEqual(seen, [10, 10], 'called once, with the value already current');
  assert.equal(await once.get(work, onKept), 10);
  assert.equal(runs, 1);
});

test('a failure is not kept: the next call computes again', async () => {
  const once = new AsyncOnce<string>();
  let runs = 0;
  const flaky = async () => {
    if (runs++ === 0) throw new Error('first run fails');
    return 'ok';
  };
  await assert.rejects(once.get(flaky), /first run fails/);
  assert.equal(once.current, undefined);
  assert.equal(await once.get(flaky), 'ok');
  assert.equal(once.current, 'ok');
});

test('reset during a computation: its callers get its value, which is not kept; the next call computes anew', async () => {
  const once = new AsyncOnce<number>();
  let release = () => {};
  const slow = () => new Promise<number>((r) => (release = () => r(1)));
  const kept: number[] = [];
  const first = once.get(slow, (v) => kept.push(v));
  once.reset();
  const second = once.get(async () => 2, (v) => kept.push(v));
  release();
  assert.equal(await first, 1);
  assert.equal(await second, 2);
  assert.equal(once.current, 2);
  assert.deepEqual(kept, [2], 'only the value kept is reported');
});
