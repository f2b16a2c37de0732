/**
 * Error codes the HTTP server answers with, beyond the library's own {@link ERROR_CODES}.
 *
 * Every error response has the body `{ "error": { "code", "message" } }`. Library errors
 * ({@link AdapterkitError}) keep their code and map to their `.status`; the codes below cover
 * what only exists at the HTTP layer. docs/serve.md lists them all (a test keeps it in sync).
 */
import { AdapterkitError, ERROR_CODES, type ErrorCode } from '../errors.js';

/** HTTP-only error codes with their status. */
export const SERVE_ERROR_CODES = {
  /** The body is not valid JSON (or is empty while declared as JSON). */
  INVALID_JSON: { status: 400, summary: 'request body is not valid JSON' },
  /** The body is JSON but does not have the expected fields and types. */
  BAD_REQUEST: { status: 400, summary: 'request fields missing or of the wrong type' },
  /** A sentence pair was sent to a single-text task, or a single text to a pair task. */
  INPUT_KIND_MISMATCH: { status: 400, summary: 'pair input for a single-text task or vice versa' },
  /** A missing or wrong bearer token on an admin route. */
  UNAUTHORIZED: { status: 401, summary: 'missing or wrong admin token' },
  /** Admin routes are disabled because the token environment variable is unset. */
  ADMIN_DISABLED: { status: 403, summary: 'admin routes disabled' },
  /** No route for this method and path. */
  ROUTE_NOT_FOUND: { status: 404, summary: 'no such route' },
  /** The request (its headers and body) was not received within the request timeout. */
  REQUEST_TIMEOUT: { status: 408, summary: 'request not received in time' },
  /** An adapter is already loaded under this name. */
  ALREADY_LOADED: { status: 409, summary: 'task name already in use' },
  /** The request body exceeds the body limit. */
  BODY_TOO_LARGE: { status: 413, summary: 'request body too large' },
  /** More inputs in one request than allowed. */
  TOO_MANY_INPUTS: { status: 413, summary: 'too many inputs in one request' },
  /** One input would take more work than allowed (a QA context over `maxAnswerWindows` windows). */
  INPUT_TOO_LONG: { status: 413, summary: 'an input is too long' },
  /** The body has a content type other than JSON. */
  UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'request body must be application/json' },
  /** The request's headers are larger than the HTTP server accepts. */
  HEADERS_TOO_LARGE: { status: 431, summary: 'request headers too large' },
  /** The backend failed while classifying the batch this request was in. */
  BACKEND_FAILED: { status: 500, summary: 'model backend failed' },
  /** An unexpected server error. */
  INTERNAL: { status: 500, summary: 'internal server error' },
  /** The batch queue is full; retry later. */
  QUEUE_FULL: { status: 503, summary: 'server busy, queue full' },
  /** The request did not finish within the request timeout; retry later. */
  DEADLINE_EXCEEDED: { status: 503, summary: 'request timed out in the server' },
  /** The server is shutting down. */
  SHUTTING_DOWN: { status: 503, summary: 'server shutting down' },
} as const;

/** A code that only the HTTP layer uses. */
export type ServeErrorCode = keyof typeof SERVE_ERROR_CODES;

/** Any code an error response can carry. */
export type ResponseErrorCode = ServeErrorCode | ErrorCode;

/** An error meant to be answered as-is: status, stable code, message for the client. */
export class HttpError extends Error {
  /** Stable machine-readable code; it sets the status ({@link SERVE_ERROR_CODES}). */
  readonly code: ServeErrorCode;
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>;

  /** `message` is sent to the client as is; `headers` are added to the response. */
  constructor(code: ServeErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.headers = headers;
  }

  /** HTTP status of this error. */
  get status(): number {
    return SERVE_ERROR_CODES[this.code].status;
  }
}

/** 408 REQUEST_TIMEOUT: the request's headers and body were not in within `requestTimeoutMs`. */
export function requestNotReceived(requestTimeoutMs: number): HttpError {
  return new HttpError('REQUEST_TIMEOUT', `request not received within the server's request timeout of ${requestTimeoutMs} ms: send the headers and the whole body without pausing`);
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ResponseErrorCode; message: string };
}

/** A fully resolved error answer. */
export interface ErrorAnswer {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

/** Fastify's own error codes we translate, and into what. */
const FASTIFY_CODES: Record<string, ServeErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'BAD_REQUEST',
};

/** Client-facing messages for fastify's errors (theirs do not say what to do). */
function fastifyMessage(fcode: string, err: Error, bodyLimit: number | undefined): string {
  switch (fcode) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY': return 'request body is not valid JSON (content-type is application/json)';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY': return 'request body is empty but content-type is application/json; send a JSON object';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyLimit === undefined ? 'request body is too large' : `request body is larger than the limit of ${bodyLimit} bytes; send fewer or shorter inputs`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return `${err.message}; send the body as application/json`;
    // These two quote the path in fastify's message: never echoed (it may hold a token, percent-encoded past the redactor).
    case 'FST_ERR_BAD_URL': return 'the request path is not valid: it holds a malformed percent-encoding';
    case 'FST_ERR_MAX_PARAM_LENGTH': return 'a path parameter is longer than 100 characters (task names have at most 64); see docs/serve.md for the API';
    default: return err.message;
  }
}

/**
 * Turns anything thrown by a handler (or by fastify itself) into a status and an error body.
 * Unknown errors become 500 INTERNAL with a generic message (details go to the log, not the client).
 * @param bodyLimit the server's body limit, quoted in BODY_TOO_LARGE messages.
 */
export function toErrorAnswer(err: unknown, bodyLimit?: number): ErrorAnswer {
  if (err instanceof HttpError) {
    return { status: err.status, body: { error: { code: err.code, message: err.message } }, headers: { ...err.headers } };
  }
  if (err instanceof AdapterkitError && err.code in ERROR_CODES) {
    return { status: err.status, body: { error: { code: err.code, message: err.message } }, headers: {} };
  }
  const fcode = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof fcode === 'string') {
    const mapped = FASTIFY_CODES[fcode];
    if (mapped !== undefined) {
      const message = fastifyMessage(fcode, err as Error, bodyLimit);
      return { status: SERVE_ERROR_CODES[mapped].status, body: { error: { code: mapped, message } }, headers: {} };
    }
  }
  // Other fastify client errors (4xx with a statusCode) keep their status under BAD_REQUEST.
  const statusCode = typeof err === 'object' && err !== null ? (err as { statusCode?: unknown }).statusCode : undefined;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { status: statusCode, body: { error: { code: 'BAD_REQUEST', message: (err as Error).message } }, headers: {} };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal server error' } }, headers: {} };
}
