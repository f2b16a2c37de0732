/**
 * The Redis server behind a distributed sweep: the `--queue` URL
 * (`redis://[[user]:password@]host[:port][/db]`, `rediss://` for TLS), the password from the URL
 * or from {@link PASSWORD_ENV}, a private CA for TLS from {@link CA_ENV}, and a redactor that
 * takes the password out of every message adapterkit prints about the queue.
 *
 * Two kinds of connection: a worker's retries for ever (Redis may restart under a long sweep:
 * commands wait in ioredis's offline queue and go out on reconnect), a command's (enqueue,
 * status) fails after a few seconds with a message that says where it tried.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { AdapterkitError, fail } from '../../../errors.js';

/** Environment variable with the Redis password, used when the URL has none. */
export const PASSWORD_ENV = 'ADAPTERKIT_REDIS_PASSWORD';
/** Environment variable with the path of a PEM file of CA certificates for `rediss://`. */
export const CA_ENV = 'ADAPTERKIT_REDIS_CA';
/** The queue a sweep uses when `--queue-name` is not given. */
export const DEFAULT_QUEUE_NAME = 'sweep';

/** Where a sweep's queue lives; see {@link parseQueueUrl}. */
export interface QueueTarget {
  /** The URL with its password replaced by `***`: safe to print. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly tls: boolean;
  /** BullMQ queue name. */
  readonly queueName: string;
  /** ioredis options (hold the password: never print them). */
  readonly redis: RedisOptions;
  /** Replaces the password (plain and URL-encoded) and the userinfo of any Redis URL by `***`. */
  readonly redact: (text: string) => string;
}

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const USAGE = 'expected redis://[:password@]host[:port][/db] or rediss://… for TLS';

/** A redactor for `secrets` (empty strings ignored); also hides the userinfo of Redis URLs. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const list = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.replace(/(rediss?:\/\/)([^\s/@:]*):[^\s/@]*@/gi, '$1$2:***@');
    for (const s of list) out = out.split(s).join('***');
    return out;
  };
}

/**
 * Parses a `--queue` URL. The password comes from the URL or else from `env[PASSWORD_ENV]`; with
 * `rediss://`, `env[CA_ENV]` names a PEM file of CA certificates (default: Node's). BAD_CONFIG
 * names what is wrong without repeating the URL (it may hold the password).
 *
 * @example
 * ```ts
 * parseQueueUrl('redis://:s3cret@10.0.0.5:6380/2').url; // 'redis://:***@10.0.0.5:6380/2'
 * ```
 */
export function parseQueueUrl(raw: string, o: { env?: NodeJS.ProcessEnv; queueName?: string } = {}): QueueTarget {
  const env = o.env ?? process.env;
  const queueName = o.queueName ?? DEFAULT_QUEUE_NAME;
  if (!QUEUE_NAME.test(queueName)) fail('BAD_CONFIG', `queue name ${JSON.stringify(queueName)}: use 1 to 64 letters, digits, "_" or "-"`);
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return fail('BAD_CONFIG', `--queue is not a URL (${USAGE})`);
  }
  const scheme = u.protocol.toLowerCase();
  if (scheme !== 'redis:' && scheme !== 'rediss:') fail('BAD_CONFIG', `--queue: unsupported scheme "${scheme.slice(0, 16)}" (${USAGE})`);
  if (!u.hostname) fail('BAD_CONFIG', `--queue has no host (${USAGE})`);
  if (u.search || u.hash) fail('BAD_CONFIG', `--queue: query strings and fragments are not supported (${USAGE}); give the password in the URL or in ${PASSWORD_ENV}`);
  const port = u.port ? Number(u.port) : 6379;
  const path = u.pathname.replace(/^\//, '');
  if (!/^\d{0,2}$/.test(path)) fail('BAD_CONFIG', `--queue: the path must be a database number such as /0 (${USAGE})`);
  const db = path ? Number(path) : 0;
  let password: string;
  let username: string;
  try {
    password = decodeURIComponent(u.password);
    username = decodeURIComponent(u.username);
  } catch {
    return fail('BAD_CONFIG', '--queue: the user name or password is not valid percent-encoding');
  }
  const fromEnv = env[PASSWORD_ENV] ?? '';
  if (!password && fromEnv) password = fromEnv;
  const tls = scheme === 'rediss:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const redact = redactor([password, encodeURIComponent(password), u.password]);
  let ca: string | undefined;
  const caFile = env[CA_ENV];
  if (tls && caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (e) {
      fail('BAD_CONFIG', `${CA_ENV}: cannot read ${caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const shown = `${scheme}//${username || password ? `${username}${password ? ':***' : ''}@` : ''}${u.host}/${db}`;
  return {
    url: shown, host, port, db, tls, queueName, redact,
    redis: {
      host, port, db,
      ...(username ? { username } : {}), ...(password ? { password } : {}),
      ...(tls ? { tls: { ...(isIP(host) ? {} : { servername: host }), ...(ca !== undefined ? { ca } : {}) } } : {}),
    },
  };
}

/** How long connecting, the first PING and the SELECT of the database may take before Redis counts as unreachable. */
const REPLY_TIMEOUT_MS = 8000;

/** `p`, or a rejection when it has not settled within `ms`. */
async function answersWithin<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a connection is for: a worker keeps retrying, a command gives up after a few seconds. */
export type ConnectionRole = 'worker' | 'command';

/** A connected client; BAD_CONFIG (with the reason, redacted) when Redis cannot be reached. */
export async function openRedis(t: QueueTarget, role: ConnectionRole, onError?: (message: string) => void): Promise<Redis> {
  const client = new Redis({
    ...t.redis,
    lazyConnect: true,
    connectTimeout: 5000,
    // BullMQ's workers need commands to wait for a reconnect rather than fail (null: no limit).
    maxRetriesPerRequest: role === 'worker' ? null : 2,
    retryStrategy: (times) => (role === 'command' && times > 3 ? null : Math.min(200 * 2 ** Math.min(times, 5), 5000)),
  });
  let connected = false;
  let last = '';
  client.on('error', (e: Error) => {
    const m = t.redact(e.message);
    if (connected && m !== last) onError?.(m);
    last = m;
  });
  try {
    // a server that accepts the connection and never answers (stopped, or not Redis) must not hang a command
    await answersWithin(REPLY_TIMEOUT_MS, (async () => {
      await client.connect();
      await client.ping();
      // the client switches to `db` on connecting and only reports a refusal as an error event; ask again to see it
      if (t.db !== 0) await client.select(t.db);
    })());
  } catch (e) {
    client.disconnect();
    // The error event says why (NOAUTH, ECONNREFUSED...) better than the rejection ("Connection is closed.").
    const why = last || t.redact((e as Error).message);
    throw new AdapterkitError('BAD_CONFIG', `cannot reach Redis at ${t.url}: ${why} (is redis-server running there, and are the host, port, password and TLS setting right?)`);
  }
  connected = true;
  last = '';
  return client;
}

/** Rewrites an error's message through `redact` (an {@link AdapterkitError} keeps its code). */
export function redactError(e: unknown, redact: (s: string) => string): unknown {
  if (e instanceof AdapterkitError) return new AdapterkitError(e.code, redact(e.message), e.details);
  if (e instanceof Error) {
    const r = new Error(redact(e.message));
    r.name = e.name;
    return r;
  }
  return new Error(redact(String(e)));
}
