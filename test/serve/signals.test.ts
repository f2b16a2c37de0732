import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { installShutdownSignals } from '../../src/serve/signals.js';

test('signals: first signal closes gracefully once, second forces, handlers are removed afterwards', async () => {
  const target = new EventEmitter();
  const log: string[] = [];
  let closes = 0;
  let release: () => void = () => {};
  const closed = new Promise<number>((resolve) => {
    installShutdownSignals(
      () => { closes++; return new Promise<void>((r) => { release = r; }); },
      { target, log: (m) => log.push(m), onClosed: resolve, onForce: (s) => log.push(`forced by ${s}`) },
    );
  });
  assert.equal(target.listenerCount('SIGINT'), 1);
  assert.equal(target.listenerCount('SIGTERM'), 1);
  target.emit('SIGTERM', 'SIGTERM');
  target.emit('SIGINT', 'SIGINT');
  assert.equal(closes, 1);
  assert.ok(log.includes('forced by SIGINT'));
  release();
  assert.equal(await closed, 0);
  assert.equal(target.listenerCount('SIGINT'), 0);
  assert.equal(target.listenerCount('SIGTERM'), 0);
});

test('signals: a failing close reports exit code 1; the returned function uninstalls', async () => {
  const target = new EventEmitter();
  const code = await new Promise<number>((resolve) => {
    installShutdownSignals(() => Promise.reject(new Error('boom')), { target, onClosed: resolve });
    target.emit('SIGINT', 'SIGINT');
  });
  assert.equal(code, 1);
  const uninstall = installShutdownSignals(async () => {}, { target, signals: ['SIGHUP'] });
  assert.equal(target.listenerCount('SIGHUP'), 1);
  uninstall();
  assert.equal(target.listenerCount('SIGHUP'), 0);
});

test('signals: a close still running giveUpAfterMs after the signal is given up on (logged, onGiveUp called); one that ends in time is not', async () => {
  const target = new EventEmitter();
  const log: string[] = [];
  const gaveUp = new Promise<void>((resolve) => {
    installShutdownSignals(() => new Promise<void>(() => {}), { target, log: (m) => log.push(m), giveUpAfterMs: 30, onGiveUp: resolve });
  });
  target.emit('SIGTERM', 'SIGTERM');
  await gaveUp;
  assert.deepEqual(log, [
    'SIGTERM: finishing in-flight requests, then stopping (send SIGTERM again to stop at once)',
    'still not closed 30 ms after SIGTERM: giving up on running work (a backend call cannot be cancelled) and stopping now',
  ]);
  assert.equal(target.listenerCount('SIGTERM'), 0);
  const target2 = new EventEmitter();
  let calls = 0;
  const code = await new Promise<number>((resolve) => {
    installShutdownSignals(async () => {}, { target: target2, giveUpAfterMs: 30, onGiveUp: () => { calls++; }, onClosed: resolve });
    target2.emit('SIGINT', 'SIGINT');
  });
  assert.equal(code, 0);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls, 0, 'the give-up timer was cleared');
});
