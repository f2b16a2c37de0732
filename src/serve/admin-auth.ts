/**
 * Bearer-token guard of the admin routes (loading and unloading adapters).
 * The token comes from an environment variable; without it the admin routes are disabled.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
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
   */
  constructor(readonly envName: string = DEFAULT_ADMIN_TOKEN_ENV, env: Record<string, string | undefined> = process.env) {
    const value = env[envName];
    this.token = value !== undefined && value.length > 0 ? value : undefined;
  }

  /** Whether admin routes are enabled. */
  get enabled(): boolean {
    return this.token !== undefined;
  }

  /**
   * Throws ADMIN_DISABLED (403) when no token is configured, UNAUTHORIZED (401) when the header
   * is missing, not a bearer token, or holds the wrong token.
   */
  check(authorization: string | undefined): void {
    if (this.token === undefined) {
      throw new HttpError('ADMIN_DISABLED', `admin routes are disabled: start the server with the environment variable ${this.envName} set to a secret token, then send it as 'Authorization: Bearer <token>'`);
    }
    const challenge = { 'www-authenticate': 'Bearer realm="adapterkit-admin"' };
    const match = authorization === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    if (match === null || match[1] === undefined) {
      throw new HttpError('UNAUTHORIZED', "missing admin token: send 'Authorization: Bearer <token>'", challenge);
    }
    if (!constantTimeEqual(match[1], this.token)) throw new HttpError('UNAUTHORIZED', 'wrong admin token', challenge);
  }
}
