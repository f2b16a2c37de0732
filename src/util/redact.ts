/**
 * Redaction of secrets in text meant for people: error messages, logs, HTTP error bodies.
 * Linear in the length of the text (messages may quote what a client sent).
 *
 * Four kinds of secret are replaced with `[REDACTED]`: the exact values of known secrets (HF
 * tokens and admin tokens read from the environment), strings shaped like Hugging Face tokens
 * (`hf_…`), the values of `Authorization` headers and bare bearer tokens, and the passwords of
 * URLs (`https://user:password@host`) and token-like URL query parameters (`?access_token=…`).
 *
 * @example
 * ```ts
 * const redact = makeRedactor(secretsFromEnv(process.env));
 * redact('HTTP 401 from https://me:pw@hub.example/x (server says: bad token hf_abcdefghijklmnopqrstuvwxyz0123456789)');
 * // 'HTTP 401 from https://me:[REDACTED]@hub.example/x (server says: bad token [REDACTED])'
 * ```
 */

/** What secrets are replaced with. */
export const REDACTED = '[REDACTED]';

/** Environment variables whose values are secrets wherever they appear. */
export const SECRET_ENV_VARS = ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'ADAPTERKIT_ADMIN_TOKEN'] as const;

/** Known secrets shorter than this are not searched for (a one-letter "secret" would shred every message). */
export const MIN_SECRET_LENGTH = 4;

/** Hugging Face user and organisation tokens (`hf_` + at least 8 letters or digits; real ones have 34). */
const HF_TOKEN_PATTERN = /\b(?:hf|api_org)_[A-Za-z0-9]{8,}\b/g;
/** `Authorization: Bearer x`, `authorization=x`, `"authorization":"Basic x"`; a placeholder such as `<token>` is kept. */
const AUTH_HEADER_PATTERN = /\b((?:proxy-)?authorization)(["']?\s*[:=]\s*["']?)(?:(bearer|basic|token)\s+)?(?![<[])(?!(?:bearer|basic|token)\b)[^\s"',;}]+/gi;
/** A bare `Bearer x` with x of 8 or more token characters (not a placeholder such as `<token>`). */
const BEARER_PATTERN = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/g;
/**
 * The password of a URL: `scheme://user:password@`. Every part is bounded, so that each start
 * position costs a bounded number of steps (an unbounded scheme made `a.a.a.…` quadratic).
 */
const URL_PASSWORD_PATTERN = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/:@]{0,256}):([^\s/@]{1,256})@/gi;
/** Token-like query parameters. */
const QUERY_SECRET_PATTERN = /([?&](?:access_token|token|api_key|apikey|password|passwd|secret|sig|signature)=)[^&\s#"']+/gi;

/** The values of {@link SECRET_ENV_VARS} (and of `extraNames`) set in `env`. */
export function secretsFromEnv(env: Record<string, string | undefined>, extraNames: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const name of [...SECRET_ENV_VARS, ...extraNames]) {
    const v = env[name]?.trim();
    if (v !== undefined && v.length > 0) out.push(v);
  }
  return out;
}

/** Replaces every secret in `text` (see the module comment) with {@link REDACTED}. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so a secret containing another is replaced whole.
  for (const s of [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join(REDACTED);
  }
  return out
    .replace(URL_PASSWORD_PATTERN, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`)
    .replace(QUERY_SECRET_PATTERN, (_m, key: string) => `${key}${REDACTED}`)
    .replace(AUTH_HEADER_PATTERN, (_m, name: string, sep: string, scheme: string | undefined) => `${name}${sep}${scheme !== undefined ? `${scheme} ` : ''}${REDACTED}`)
    .replace(BEARER_PATTERN, (_m, word: string) => `${word} ${REDACTED}`)
    .replace(HF_TOKEN_PATTERN, REDACTED);
}

/** A redactor bound to a fixed list of known secrets. */
export type Redactor = (text: string) => string;

/** Binds {@link redact} to `secrets`. */
export function makeRedactor(secrets: readonly string[] = []): Redactor {
  const list = [...secrets];
  return (text) => redact(text, list);
}

/** A redacted, plain-object copy of an error for logs: type, code, message, stack and cause chain (3 deep). */
export function redactError(err: unknown, r: Redactor, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: r(String(err)) };
  const code = (err as { code?: unknown }).code;
  const out: Record<string, unknown> = { type: err.name, message: r(err.message) };
  if (typeof code === 'string') out['code'] = code;
  if (err.stack !== undefined) out['stack'] = r(err.stack);
  if (err.cause !== undefined && depth < 3) out['cause'] = redactError(err.cause, r, depth + 1);
  return out;
}
