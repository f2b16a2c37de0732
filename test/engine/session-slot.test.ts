/**
 * SessionSlot on stand-in sessions (only `dispose` is called): one build for uses that overlap,
 * a release that waits for the build and for every use that took the session, a failed build
 * retried by the next use, and a sync throw in a build treated as a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionSlot, type Session } from '../../src/engine/index.js';

/** A stand-in session that records when it is released; `id` tells builds apart. */
function stand(log: string[], id: number): { session: Session; id: number } {
  return { session: { dispose: async () => void log.push(`release ${id}`) } as unknown as Session, id };
}

/** A promise with its resolve function. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('uses that overlap share one build; drop releases only after the uses that took the session', async () => {
  const log: string[] = [];
  const slot = new SessionSlot<{ session: Session; id: number }>();
  let builds = 0;
  const build = async () => stand(log, ++builds);
  const running = deferred();
  const a = slot.use(build, async (v) => {
    await running.promise;
    log.push(`use a on ${v.id}`);
    return v.id;
  });
  const b = slot.use(build, async (v) => v.id);
  assert.equal(await b, 1);
  assert.equal(builds, 1);
  const dropped = slot.drop();
  assert.equal(slot.filled, false, 'a later use builds anew');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, [], 'not released while use a runs');
  running.resolve();
  assert.equal(await a, 1);
  await dropped;
  assert.deepEqual(log, ['use a on 1', 'release 1']);
  assert.equal(await slot.use(build, async (v) => v.id), 2);
  await slot.drop();
  assert.deepEqual(log.slice(2), ['release 2']);
  await slot.drop(); // empty: nothing to release
  assert.equal(log.length, 3);
});

test('a failed build rejects the uses waiting on it, releases nothing, and the next use builds again', async () => {
  const log: string[] = [];
  const slot = new SessionSlot<{ session: Session; id: number }>();
  let builds = 0;
  const failing = async (): Promise<{ session: Session; id: number }> => {
    builds++;
    throw new Error('no session');
  };
  const throwing = (): Promise<{ session: Session; id: number }> => {
    builds++;
    throw new Error('thrown at once');
  };
  const r = await Promise.allSettled([slot.use(failing, async () => 0), slot.use(failing, async () => 0)]);
  assert.deepEqual(r.map((x) => x.status), ['rejected', 'rejected']);
  assert.equal(builds, 1);
  assert.equal(slot.filled, false);
  await assert.rejects(slot.use(throwing, async () => 0), /thrown at once/);
  assert.equal(slot.filled, false);
  const next = slot.use(async () => stand(log, 9), async (v) => v.id);
  assert.equal(await next, 9);
  assert.equal(builds, 2);
  await slot.drop();
  assert.deepEqual(log, ['release 9']);
});

test('drop during a build waits for it and releases what it built; the use that started it still runs', async () => {
  const log: string[] = [];
  const slot = new SessionSlot<{ session: Session; id: number }>();
  const building = deferred();
  const use = slot.use(async () => {
    await building.promise;
    return stand(log, 1);
  }, async (v) => v.id);
  const dropped = slot.drop();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, []);
  building.resolve();
  assert.equal(await use, 1);
  await dropped;
  assert.deepEqual(log, ['release 1']);
});
