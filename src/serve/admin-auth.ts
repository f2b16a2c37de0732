/**
 * Bearer-token guard of the admin routes (loading and unloading adapters).
 * The token comes from an environment variable; without it the admin routes are disabled.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { AdapterkitError } from '../errors.js';
import { HttpError } from './http-errors.js';

/** Default name of the environment variable holding the admin token. */
export const DEFAULT_ADMIN_TOKEN_ENV = 'ADAPTERKIT_ADMIN_TOKEN';

/** Compares two strings in time independent of where they differ (both are hashed to 32 bytes first). */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** Checks the `Authorization` header of admin requests. */
export class AdminGuard {
  private readonly token: string | undefined;

  /**
   * @param envName variable the token is read from (once, now).
   * @param env environment to read (default `process.env`).
   * @throws AdapterkitError BAD_CONFIG when the token holds whitespace (or is only whitespace):
   *   no `Authorization: Bearer <token>` header could carry it, so the admin routes would be on
   *   yet unusable.
   */
  constructor(readonly envName: string = DEFAULT_ADMIN_TOKEN_ENV, env: Record<string, string | undefined> = process.env) {
    const value = env[envName];
    if (value !== undefined && /\s/u.test(value)) {
      throw new AdapterkitError('BAD_CONFIG', `the admin token in $${envName} contains whitespace${value.trim() === '' ? ' only' : ''}, which no 'Authorization: Bearer <token>' header can carry: set it to a token without spaces or newlines (e.g. \`openssl rand -hex 32\`), or unset it to disable the admin routes`);
    }
    this.token = value !== undefined && value.length > 0 ? value : undefined;
  }

  /** Whether admin routes are enabled. */
  get enabled(): boolean {
    return this.token !== undefined;
  }

  /**
   * Throws ADMIN_DISABLED (403) when no token is configured, UNAUTHORIZED (401) when the header
   * is missing, malformed (not `Bearer <token>`), or holds the wrong token.
   */
  check(authorization: string | undefined): void {
    if (this.token === undefined) {
      throw new HttpError('ADMIN_DISABLED', `admin routes are disabled: start the server with the environment variable ${this.envName} set to a secret token, then send it as 'Authorization: Bearer <token>'`);
    }
    const challenge = { 'www-authenticate': 'Bearer realm="adapterkit-admin"' };
    if (authorization === undefined || authorization.trim() === '') {
      throw new HttpError('UNAUTHORIZED', "missing admin token: send 'Authorization: Bearer <token>'", challenge);
    }
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    if (match === null || match[1] === undefined) {
      throw new HttpError('UNAUTHORIZED', "malformed Authorization header: it must be 'Bearer <token>' (one token, no spaces)", challenge);
    }
    if (!constantTimeEqual(match[1], this.token)) throw new HttpError('UNAUTHORIZED', 'wrong admin token', challenge);
  }
}
