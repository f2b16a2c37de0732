/**
 * A bad-input load generator for the server: closed-loop clients over loopback send good
 * classify requests mixed with a share of bad ones (malformed JSON, wrong types, unknown tasks and
 * routes, too many inputs, oversize bodies, wrong content types, pairs to single-text tasks, deep
 * nesting, a classify task sent to /v1/tag, admin calls without a token, adapter loads from
 * outside the adapter roots, and valid but huge texts), and records every answer: status, error
 * code, `Retry-After` and, for good requests, the inputs sent and the results received. What
 * counts as a right answer is in {@link BAD_KINDS} and {@link checkLoad}; latencies are recorded
 * for the benchmark (bench/serve-load.bench.ts), never asserted by the test.
 */

/** Answers a refused request may get: 503 with one of these codes and a `Retry-After`. */
export const BUSY_CODES = ['QUEUE_FULL', 'DEADLINE_EXCEEDED'] as const;

/** Kinds of bad request, each with the answers (status and error code) it may get besides a 503 busy answer. */
export const BAD_KINDS = {
  invalidJson: [[400, 'INVALID_JSON']],
  emptyBody: [[400, 'INVALID_JSON']],
  wrongTypes: [[400, 'BAD_REQUEST']],
  unknownTask: [[404, 'NOT_FOUND']],
  unknownRoute: [[404, 'ROUTE_NOT_FOUND']],
  tooManyInputs: [[413, 'TOO_MANY_INPUTS']],
  oversizeBody: [[413, 'BODY_TOO_LARGE']],
  wrongContentType: [[415, 'UNSUPPORTED_MEDIA_TYPE']],
  pairToSingle: [[400, 'INPUT_KIND_MISMATCH']],
  wrongRoute: [[400, 'INPUT_KIND_MISMATCH']],
  deepNesting: [[400, 'BAD_REQUEST'], [400, 'INVALID_JSON']],
  adminWithoutToken: [[401, 'UNAUTHORIZED']],
  loadOutsideRoots: [[404, 'NOT_FOUND']],
  /** Valid, but 800 KB of text in one input: answered (truncated), or refused as busy. */
  hugeText: [[200, undefined]],
} as const satisfies Record<string, ReadonlyArray<readonly [number, string | undefined]>>;

/** One bad kind. */
export type BadKind = keyof typeof BAD_KINDS;

/** Kinds refused before the queue (validation, routing, auth): they never get a busy 503. */
const NEVER_QUEUED: ReadonlySet<BadKind> = new Set(Object.keys(BAD_KINDS).filter((k) => k !== 'hugeText') as BadKind[]);

/** Options of {@link runLoad}. */
export interface LoadOptions {
  url: string;
  /** A single-text classification task. */
  task: string;
  requests: number;
  concurrency: number;
  /** Share of bad requests, 0..1 (0 for a clean run). */
  badShare: number;
  /** The server's maxInputs and bodyLimit (to build requests just over them). */
  maxInputs: number;
  bodyLimit: number;
  /** The server's admin token (for loads from outside the roots, which must be refused all the same). */
  adminToken: string;
  /** Bad kinds to use (default all), in turn. */
  kinds?: readonly BadKind[];
  seed?: number;
}

/** One answer as the client saw it (`status` is `error:<name>` when no answer came). */
export interface Answer {
  status: number | string;
  /** `error.code` of an error body. */
  code?: string;
  retryAfter: string | null;
  ms: number;
}

/** A good request and its answer. */
export interface GoodRecord extends Answer {
  inputs: string[];
  /** `results` of a 200 answer. */
  results?: unknown[];
}

/** A bad request and its answer. */
export interface BadRecord extends Answer {
  kind: BadKind;
}

/** What a run saw. */
export interface LoadResult {
  good: GoodRecord[];
  bad: BadRecord[];
  wallMs: number;
}

/** Percentile (nearest rank) of a list of numbers. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

const WORDS = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'rain', 'at', 'night', 'good', 'book', 'dog', 'ran', 'fast', 'weather', 'is', 'fine'];

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >> 17; x ^= x << 5; x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function sentence(r: () => number): string {
  return Array.from({ length: 4 + Math.floor(r() * 10) }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ');
}

interface Req { body: string; contentType: string; path: string; headers?: Record<string, string> }

function badRequest(kind: BadKind, o: LoadOptions, r: () => number): Req {
  const json = (v: unknown, path = '/v1/classify'): Req => ({ body: JSON.stringify(v), contentType: 'application/json', path });
  switch (kind) {
    case 'invalidJson': return { body: `{"task": "${o.task}", "inputs": [`, contentType: 'application/json', path: '/v1/classify' };
    case 'emptyBody': return { body: '', contentType: 'application/json', path: '/v1/classify' };
    case 'wrongTypes': return json({ task: 42, inputs: { a: 1 } });
    case 'unknownTask': return json({ task: 'no-such-task', inputs: [sentence(r)] });
    case 'unknownRoute': return json({ task: o.task, inputs: [sentence(r)] }, '/v1/classify/../../etc/passwd?token=x');
    case 'tooManyInputs': return json({ task: o.task, inputs: Array.from({ length: o.maxInputs + 1 }, () => sentence(r)) });
    case 'oversizeBody': return json({ task: o.task, inputs: ['x'.repeat(o.bodyLimit + 10)] });
    case 'wrongContentType': return { body: '<task/>', contentType: 'application/xml', path: '/v1/classify' };
    case 'pairToSingle': return json({ task: o.task, inputs: [['a', 'b']] });
    case 'wrongRoute': return json({ task: o.task, inputs: [sentence(r)] }, '/v1/tag');
    case 'deepNesting': return { body: `{"task": "${o.task}", "inputs": ${'['.repeat(20_000)}${']'.repeat(20_000)}}`, contentType: 'application/json', path: '/v1/classify' };
    case 'adminWithoutToken': return json({ name: 'x', dir: '/etc' }, '/v1/adapters');
    case 'loadOutsideRoots': return { ...json({ name: 'x', dir: r() < 0.5 ? '/etc' : '../../../../etc/passwd' }, '/v1/adapters'), headers: { authorization: `Bearer ${o.adminToken}` } };
    case 'hugeText': {
      const text = `${sentence(r)} `.repeat(Math.floor((o.bodyLimit * 0.8) / 60));
      return json({ task: o.task, inputs: [text.slice(0, Math.floor(o.bodyLimit * 0.8))] });
    }
  }
}

/** Sends one request and reads its answer (30 s client timeout). */
async function send(url: string, req: Req): Promise<Answer & { body?: unknown }> {
  const start = performance.now();
  try {
    const a = await fetch(`${url}${req.path}`, { method: 'POST', body: req.body, headers: { 'content-type': req.contentType, ...req.headers }, signal: AbortSignal.timeout(30_000) });
    const text = await a.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
    return { status: a.status, ...(typeof code === 'string' ? { code } : {}), retryAfter: a.headers.get('retry-after'), ms: performance.now() - start, body };
  } catch (e) {
    return { status: `error:${(e as Error).name}`, retryAfter: null, ms: performance.now() - start };
  }
}

/** Runs the load: `concurrency` closed-loop clients share the plan of `requests` requests. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const r = rng(o.seed ?? 1);
  const kinds = o.kinds ?? (Object.keys(BAD_KINDS) as BadKind[]);
  let bad = 0;
  const plan: Array<{ bad?: BadKind }> = Array.from({ length: o.requests }, () => (r() < o.badShare ? { bad: kinds[bad++ % kinds.length] as BadKind } : {}));
  const res: LoadResult = { good: [], bad: [], wallMs: 0 };
  let next = 0;
  const t0 = performance.now();
  const client = async (): Promise<void> => {
    while (next < plan.length) {
      const item = plan[next++] as { bad?: BadKind };
      if (item.bad !== undefined) {
        const { body: _body, ...answer } = await send(o.url, badRequest(item.bad, o, r));
        res.bad.push({ kind: item.bad, ...answer });
        continue;
      }
      const inputs = Array.from({ length: 1 + Math.floor(r() * 4) }, () => sentence(r));
      const { body, ...answer } = await send(o.url, { body: JSON.stringify({ task: o.task, inputs }), contentType: 'application/json', path: '/v1/classify' });
      const results = answer.status === 200 ? (body as { results?: unknown[] } | undefined)?.results : undefined;
      res.good.push({ inputs, ...answer, ...(results !== undefined ? { results } : {}) });
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, client));
  res.wallMs = performance.now() - t0;
  return res;
}

/** Whether an answer is a busy refusal done right: 503, a busy code, `Retry-After`. */
function isBusy(a: Answer): boolean {
  return a.status === 503 && (BUSY_CODES as readonly string[]).includes(a.code ?? '') && a.retryAfter !== null;
}

/**
 * Every answer of a run that is not right, as messages (empty: all right). A good request must
 * be answered 200 with results equal to `expected(inputs)` (by `same`), or, when `busyAllowed`,
 * refused as busy ({@link isBusy}); a bad one must get one of its kind's answers in
 * {@link BAD_KINDS} with its code, or (huge texts, when `busyAllowed`) a busy refusal.
 */
export function checkLoad(
  r: LoadResult,
  o: { busyAllowed: boolean; expected: (inputs: string[]) => unknown[]; same: (got: unknown, want: unknown) => boolean },
): string[] {
  const wrong: string[] = [];
  for (const g of r.good) {
    if (g.status === 200) {
      const want = o.expected(g.inputs);
      if (!Array.isArray(g.results) || g.results.length !== want.length || !g.results.every((x, i) => o.same(x, want[i]))) {
        wrong.push(`good request ${JSON.stringify(g.inputs)}: results ${JSON.stringify(g.results)}, expected ${JSON.stringify(want)}`);
      }
    } else if (!(o.busyAllowed && isBusy(g))) {
      wrong.push(`good request ${JSON.stringify(g.inputs)}: ${g.status} ${g.code ?? '(no code)'} retry-after ${g.retryAfter ?? 'none'}`);
    }
  }
  for (const b of r.bad) {
    const allowed = BAD_KINDS[b.kind] as ReadonlyArray<readonly [number, string | undefined]>;
    const ok = allowed.some(([status, code]) => b.status === status && b.code === code)
      || (o.busyAllowed && !NEVER_QUEUED.has(b.kind) && isBusy(b));
    if (!ok) wrong.push(`bad request ${b.kind}: ${b.status} ${b.code ?? '(no code)'}`);
  }
  return wrong;
}

/** Counts of `status code` over answers, e.g. `{ "200": 180, "503 QUEUE_FULL": 12 }`. */
export function tally<A extends Answer>(answers: readonly A[], key: (a: A) => string = (a) => `${a.status}${a.code !== undefined ? ` ${a.code}` : ''}`): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) out[key(a)] = (out[key(a)] ?? 0) + 1;
  return out;
}

/** Runs phases of {@link runLoad} one after the other in a separate Node process (its own event loop and CPU time, as real clients have). */
export async function runLoadInChild(phases: readonly LoadOptions[]): Promise<LoadResult[]> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./load-client.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8'); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString('utf8'); });
  child.stdin.end(JSON.stringify(phases));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`load client exited with ${code}: ${err}`);
  return JSON.parse(out) as LoadResult[];
}
