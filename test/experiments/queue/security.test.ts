/**
 * Security of a distributed sweep on a real Redis: the password (from the URL or from the
 * environment) never appears in any output nor in what Redis stores, and `rediss://` talks TLS to
 * a Redis that accepts nothing else, trusting a private CA named in the environment.
 * Payloads that do not match the schema: faults.test.ts and units.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CA_ENV, parseQueueUrl, PASSWORD_ENV, runSweepWorker } from '../../../src/train/experiments/queue/index.js';
import { cli, tempDir } from '../../cli/harness.js';
import { sweepArgs, toyData, within } from './helpers.js';
import { freePort, makeCerts, skipReason, startRedis, tlsSkipReason, type TestRedis } from './redis.js';

/** Runs `fn` with `vars` set in process.env (the in-process CLI reads it), then restores it. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const ONE_RUN = ['--methods', 'head-only', '--lrs', '1e-2', '--epochs-grid', '1'];

describe('queue security', { skip: skipReason }, () => {
  const servers: TestRedis[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });
  const redis = async (o: Parameters<typeof startRedis>[0] = {}) => {
    const s = await startRedis(o);
    servers.push(s);
    return s;
  };

  test('the password never appears in any output, whether it comes from the URL or the environment', { timeout: 60_000 }, async () => {
    const pw = `p@ss/${Math.random().toString(36).slice(2)}`;
    const r = await redis({ password: pw });
    const dir = tempDir('ak-queue-pw-');
    const data = toyData(dir, 64);
    const withPw = `redis://:${encodeURIComponent(pw)}@127.0.0.1:${r.port}/0`;
    const outputs: string[] = [];
    const run = async (...argv: string[]) => {
      const x = await cli(...argv);
      outputs.push(x.stdout, x.stderr);
      return x;
    };
    const e = await run(...sweepArgs(data, ONE_RUN), '--out', join(dir, 'sweep'), '--queue', withPw);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stderr, new RegExp(`redis://:\\*\\*\\*@127\\.0\\.0\\.1:${r.port}/0`));
    const noAuth = await run('sweep', '--queue', r.url, '--status');
    assert.equal(noAuth.code, 2);
    assert.match(noAuth.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/0: NOAUTH/);
    const wrong = await run('sweep', '--queue', `redis://:${encodeURIComponent(`${pw}-wrong`)}@127.0.0.1:${r.port}/0`, '--status');
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /WRONGPASS|invalid password/);
    await withEnv({ [PASSWORD_ENV]: pw }, async () => {
      const w = await run('worker', '--queue', r.url, '--exit-when-idle', '--name', 'w-env', '--threads', '1');
      assert.equal(w.code, 0, w.stderr);
      assert.match(w.stderr, /finished: dev accuracy/);
      const st = await run('sweep', '--queue', r.url, '--status', '--json');
      assert.equal(st.code, 0, st.stderr);
    });
    const st2 = await run('sweep', '--queue', withPw, '--status');
    assert.match(st2.stdout, /1\/1 done/);
    const all = outputs.join('\n');
    for (const form of [pw, encodeURIComponent(pw), `${pw}-wrong`]) assert.ok(!all.includes(form), `the password (${form === pw ? 'plain' : 'encoded'}) leaked:\n${all}`);
    // Nor is it stored with the jobs or the sweep records.
    const c = new Redis({ port: r.port, host: '127.0.0.1', password: pw, lazyConnect: true });
    await c.connect();
    try {
      const dump: string[] = [];
      for (const k of await c.keys('*')) {
        const t = await c.type(k);
        if (t === 'hash') dump.push(...Object.values(await c.hgetall(k)));
        else if (t === 'string') dump.push((await c.get(k)) ?? '');
        else if (t === 'list') dump.push(...(await c.lrange(k, 0, -1)));
      }
      assert.ok(dump.length > 0 && dump.every((v) => !v.includes(pw) && !v.includes(encodeURIComponent(pw))));
    } finally {
      c.disconnect();
    }
  });

  test('rediss:// with a private CA: enqueue, a worker and --status over TLS; without the CA or without TLS, a clear refusal', { skip: tlsSkipReason, timeout: 60_000 }, async () => {
    const dir = tempDir('ak-queue-tls-');
    const certs = makeCerts(dir);
    const pw = `tls-${Math.random().toString(36).slice(2)}`;
    const r = await redis({ tls: certs, password: pw });
    assert.match(r.url, /^rediss:\/\//);
    const outputs: string[] = [];
    const run = async (...argv: string[]) => {
      const x = await cli(...argv);
      outputs.push(x.stdout, x.stderr);
      return x;
    };
    await withEnv({ [PASSWORD_ENV]: pw }, async () => {
      const noCa = await run('sweep', '--queue', r.url, '--status');
      assert.equal(noCa.code, 2, noCa.stderr);
      assert.match(noCa.stderr, /cannot reach Redis at rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0: .*certificate/i);
      const plain = await run('sweep', '--queue', `redis://127.0.0.1:${r.port}/0`, '--status');
      assert.equal(plain.code, 2, plain.stderr);
      assert.match(plain.stderr, /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0/);
    });
    await withEnv({ [PASSWORD_ENV]: pw, [CA_ENV]: certs.ca }, async () => {
      const e = await run(...sweepArgs(toyData(dir, 64), ONE_RUN), '--out', join(dir, 'sweep'), '--queue', r.url);
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stderr, /1 run\(s\) planned, 1 enqueued now/);
    });
    const lines: string[] = [];
    const target = parseQueueUrl(r.url, { env: { [PASSWORD_ENV]: pw, [CA_ENV]: certs.ca } });
    assert.equal(target.tls, true);
    const outcome = await within(runSweepWorker({ target, name: 'w-tls', threads: 1, until: 'idle', log: (l) => lines.push(l) }), 45_000, 'the TLS worker');
    assert.equal(outcome.trained, 1, lines.join('\n'));
    await withEnv({ [PASSWORD_ENV]: pw, [CA_ENV]: certs.ca }, async () => {
      const st = await run('sweep', '--queue', r.url, '--status');
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, /1\/1 done, 0 running, 0 waiting, 0 failed; finished/);
    });
    const all = [...outputs, ...lines].join('\n');
    assert.ok(!all.includes(pw), `the password leaked:\n${all}`);
  });

  test('a database number the server does not have, and a server that accepts but never answers, are "cannot reach Redis" (exit 2), not db 0 or a hang; --download of one of several sweeps must name it', { timeout: 60_000 }, async () => {
    const r = await redis();
    const db = await cli('sweep', '--queue', r.url.replace(/\/0$/, '/42'), '--status');
    assert.equal(db.code, 2, db.stderr);
    assert.match(db.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/42: ERR DB index is out of range/);
    // --download of a queue holding several sweeps, without choosing one, would mix their rows
    const dir = tempDir('ak-queue-dl-');
    const data = toyData(dir, 64);
    for (const o of ['a', 'b']) assert.equal((await cli(...sweepArgs(data, ONE_RUN), '--out', join(dir, o), '--queue', r.url)).code, 0);
    const dl = await cli('sweep', '--queue', r.url, '--download', join(dir, 'dl'));
    assert.equal(dl.code, 2, dl.stderr);
    assert.match(dl.stderr, /--download writes one sweep, and 2 on queue "sweep" match: choose one with --sweep <id> or --out <dir> \(/);
    assert.equal((await cli('sweep', '--queue', r.url, '--download', join(dir, 'dl'), '--out', join(dir, 'a'))).code, 0);
    const sockets: Socket[] = [];
    const silent = createServer((s) => { sockets.push(s); });
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    try {
      const t0 = performance.now();
      const hang = await cli('sweep', '--queue', `redis://127.0.0.1:${port}/0`, '--status');
      assert.equal(hang.code, 2, hang.stderr);
      assert.match(hang.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/0: no answer within 8 s/);
      assert.ok(performance.now() - t0 < 40_000, 'gave up (the bound is generous: the limit is 8 s)');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

