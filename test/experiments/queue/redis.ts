/**
 * A real Redis for the queue tests: Debian's `redis-server` started as a child process on
 * 127.0.0.1 with a free port and a temporary directory, append-only file on and fsynced at every
 * write (so a kill and restart keeps every acknowledged write), no RDB snapshots; optionally with
 * a password, or TLS only (a throw-away CA and server certificate made with `openssl`).
 * `skipReason` is set when redis-server is not installed, `tlsSkipReason` also when openssl is not.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../../temp-dir.js';

function find(program: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

const REDIS = find('redis-server');
const OPENSSL = find('openssl');

/** Why the queue tests are skipped, or false when redis-server is there. */
export const skipReason: string | false = REDIS ? false : 'redis-server not found (apt-get install -y redis-server to run the queue tests)';
/** Why the TLS test is skipped, or false. */
export const tlsSkipReason: string | false = skipReason || (OPENSSL ? false : 'openssl not found (needed to make the TLS test\'s certificates)');

/** PEM files of a throw-away CA and a server certificate for 127.0.0.1 it signed. */
export interface TestCerts {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Makes a CA and a server certificate for IP 127.0.0.1 in `dir` (EC P-256, valid one day). */
export function makeCerts(dir: string): TestCerts {
  if (!OPENSSL) throw new Error('openssl not found');
  const p = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync(OPENSSL, args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=adapterkit test CA');
  ssl('req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(p('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.pem'), '-days', '1', '-extfile', p('san.ext'));
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key') };
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** A running test Redis. */
export interface TestRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>/0` (without the password; `rediss://` with TLS). */
  readonly url: string;
  readonly dir: string;
  /** Everything the server printed. */
  output(): string;
  /** SIGKILLs the server (no shutdown: only the fsynced append-only file survives). */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts a Redis (`password`: requirepass; `tls`: TLS only, on the free port, no client certificates;
 * `fsync`: the append-only file's `appendfsync`, default `always` so that a SIGKILL loses nothing —
 * `everysec` is what docs/distributed.md sets on real machines).
 */
export async function startRedis(o: { password?: string; tls?: TestCerts; fsync?: 'always' | 'everysec' } = {}): Promise<TestRedis> {
  if (!REDIS) throw new Error('redis-server not found');
  const port = await freePort();
  const dir = tempDir('ak-redis-');
  let child: ChildProcess | undefined;
  let out = '';
  const listen = o.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', o.tls.cert, '--tls-key-file', o.tls.key, '--tls-ca-cert-file', o.tls.ca, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const args = [
    ...listen, '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', o.fsync ?? 'always',
    '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'notice', ...(o.password ? ['--requirepass', o.password] : []),
  ];
  const start = () => new Promise<void>((resolve, reject) => {
    const c = spawn(REDIS, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 15_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (/Ready to accept connections/.test(out.slice(-4000))) {
        clearTimeout(timer);
        c.stdout?.off('data', onData);
        c.stdout?.on('data', (x: Buffer) => (out += x.toString()));
        resolve();
      }
    };
    c.stdout?.on('data', onData);
    c.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    c.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}):\n${out}`));
    });
  });
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    port, dir, url: `${o.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}/0`, output: () => out, kill, start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
