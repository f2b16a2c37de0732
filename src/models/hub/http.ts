/**
 * The HTTP boundary of the hub client: one place that sends requests (Node's global `fetch`),
 * enforces an idle timeout, and turns network failures and hub error responses into
 * {@link AdapterkitError}s that name the repo, revision and file.
 */
import { AdapterkitError } from '../../errors.js';

/** What a request is about, for error messages. */
export interface RequestContext {
  repoId: string;
  revision: string;
  filename: string;
  endpoint: string;
  /** Whether a token was sent, so auth errors can say so. */
  hasToken: boolean;
}

/**
 * An abort signal that fires when nothing happened for `ms` milliseconds; call `touch()` whenever
 * data arrives. Unlike `AbortSignal.timeout`, a long but steady download never times out.
 */
export class IdleTimeout {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Set once the timer fired. */
  expired = false;

  constructor(readonly ms: number) {
    this.touch();
  }

  /** Signal to pass to `fetch`. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Restarts the countdown. */
  touch(): void {
    this.clear();
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort();
    }, this.ms);
  }

  /** Stops the countdown for good. */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Request headers for a hub URL: the token only goes to the endpoint's own origin. */
export function hubHeaders(url: URL, endpoint: string, token: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': 'adapterkit', 'accept-encoding': 'identity', ...extra };
  if (token !== undefined && url.origin === new URL(endpoint).origin) headers['authorization'] = `Bearer ${token}`;
  return headers;
}

const KNOWN_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection closed by the server',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** Describes a thrown network error by its code (ECONNREFUSED...) or its innermost message. */
function networkReason(e: unknown): string {
  let cur: unknown = e;
  let message = e instanceof Error ? e.message : String(e);
  for (let depth = 0; depth < 5 && cur instanceof Error; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return KNOWN_CODES[code] ? `${KNOWN_CODES[code]} (${code})` : `${cur.message} (${code})`;
    message = cur.message;
    cur = (cur as { cause?: unknown }).cause;
  }
  return message;
}

/** Text to append to network errors: where cached files can still be used. */
export const OFFLINE_HINT = 'If the files are already in the cache, set HF_HUB_OFFLINE=1 to use them without network.';

/**
 * Turns an error thrown by `fetch` (or while reading its body) into DOWNLOAD_FAILED, with
 * `details.network` true (the hub was not reached or stopped answering).
 */
export function networkError(e: unknown, url: URL, ctx: RequestContext, timeout: IdleTimeout, what: string): AdapterkitError {
  if (e instanceof AdapterkitError) return e;
  const where = `'${ctx.filename}' of '${ctx.repoId}' (revision '${ctx.revision}')`;
  const reason = timeout.expired ? `timed out after ${timeout.ms} ms without data` : networkReason(e);
  return new AdapterkitError(
    'DOWNLOAD_FAILED',
    `${what} ${where} from host ${url.host} failed: ${reason}. ${OFFLINE_HINT}`,
    { repoId: ctx.repoId, revision: ctx.revision, filename: ctx.filename, host: url.host, reason, network: true },
    { cause: e },
  );
}

/** Sends one request without following redirects; network failures become DOWNLOAD_FAILED. */
export async function send(
  url: URL,
  init: { method: 'HEAD' | 'GET'; headers: Record<string, string> },
  ctx: RequestContext,
  timeout: IdleTimeout,
): Promise<Response> {
  try {
    return await fetch(url, { method: init.method, headers: init.headers, redirect: 'manual', signal: timeout.signal });
  } catch (e) {
    throw networkError(e, url, ctx, timeout, init.method === 'HEAD' ? 'Resolving' : 'Downloading');
  }
}

/** The hub's `X-Error-Code` values this client explains (`RepositoryNotFound` is an alias seen in the wild). */
export type HubErrorCode = 'RepoNotFound' | 'RevisionNotFound' | 'EntryNotFound' | 'GatedRepo' | 'other';

function hubErrorCode(res: Response): HubErrorCode {
  const code = res.headers.get('x-error-code') ?? '';
  if (code === 'RepoNotFound' || code === 'RepositoryNotFound') return 'RepoNotFound';
  if (code === 'RevisionNotFound' || code === 'EntryNotFound' || code === 'GatedRepo') return code;
  return 'other';
}

/**
 * Turns a hub error response into an {@link AdapterkitError}: NOT_FOUND for a missing repo,
 * revision or file (with `details.hubError` set so callers can fall back), DOWNLOAD_FAILED for
 * auth and other failures.
 */
export function responseError(res: Response, url: URL, ctx: RequestContext): AdapterkitError {
  const hubError = hubErrorCode(res);
  const serverMessage = res.headers.get('x-error-message');
  const suffix = serverMessage ? ` (server says: ${serverMessage})` : '';
  const details = { repoId: ctx.repoId, revision: ctx.revision, filename: ctx.filename, status: res.status, hubError, url: url.href };
  const repoPage = `${ctx.endpoint}/${ctx.repoId}`;
  const tokenState = ctx.hasToken ? 'the token that was sent has no access' : 'no token was sent';
  if (hubError === 'GatedRepo') {
    return new AdapterkitError(
      'DOWNLOAD_FAILED',
      `'${ctx.repoId}' is a gated repo (HTTP ${res.status}) and ${tokenState}: accept its conditions at ${repoPage} and set HF_TOKEN to a token of that account to download '${ctx.filename}'${suffix}`,
      details,
    );
  }
  if (hubError === 'RepoNotFound') {
    const auth = res.status === 401 || !ctx.hasToken ? `; if it is private or gated, set HF_TOKEN to a token with access (${tokenState})` : '';
    return new AdapterkitError('NOT_FOUND', `repository '${ctx.repoId}' not found on ${ctx.endpoint}${auth}${suffix}`, details);
  }
  if (hubError === 'RevisionNotFound') {
    return new AdapterkitError('NOT_FOUND', `revision '${ctx.revision}' not found in repo '${ctx.repoId}' (no such branch, tag or commit)${suffix}`, details);
  }
  if (hubError === 'EntryNotFound') {
    return new AdapterkitError('NOT_FOUND', `file '${ctx.filename}' not found in repo '${ctx.repoId}' at revision '${ctx.revision}'${suffix}`, details);
  }
  if (res.status === 401 || res.status === 403) {
    return new AdapterkitError(
      'DOWNLOAD_FAILED',
      `access denied (HTTP ${res.status}) to '${ctx.filename}' of '${ctx.repoId}' (revision '${ctx.revision}'): the repo may be gated or private and ${tokenState}; set HF_TOKEN to a token with access${suffix}`,
      details,
    );
  }
  if (res.status === 404) {
    return new AdapterkitError('NOT_FOUND', `'${ctx.filename}' of '${ctx.repoId}' (revision '${ctx.revision}') not found: HTTP 404 from ${url.href}${suffix}`, details);
  }
  return new AdapterkitError(
    'DOWNLOAD_FAILED',
    `HTTP ${res.status} ${res.statusText} for '${ctx.filename}' of '${ctx.repoId}' (revision '${ctx.revision}') from ${url.href}${suffix}`,
    details,
  );
}

/** True for the redirect statuses. */
export function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}
