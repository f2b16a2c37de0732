/**
 * Coded errors for the whole library, declared in one place.
 *
 * Every error adapterkit throws on purpose is an {@link AdapterkitError} with a stable `code`.
 * The CLI maps codes to exit codes and the server maps them to HTTP statuses; library code never
 * calls `process.exit`. Add a new code to {@link ERROR_CODES} rather than throwing a bare `Error`.
 *
 * @example
 * ```ts
 * try { ... } catch (e) {
 *   if (e instanceof AdapterkitError && e.code === 'SHAPE_MISMATCH') console.error(e.message);
 * }
 * ```
 */

/** Every error code, with the HTTP status and CLI exit code it maps to. */
export const ERROR_CODES = {
  /** A graph op got inputs whose shapes cannot work together. */
  SHAPE_MISMATCH: { status: 400, exit: 2, summary: 'tensor shapes do not fit the operation' },
  /** A graph op got an input of the wrong element type. */
  DTYPE_MISMATCH: { status: 400, exit: 2, summary: 'tensor element type does not fit the operation' },
  /** Invalid use of the graph builder (wrong graph, bad attribute, unknown value...). */
  GRAPH_ERROR: { status: 500, exit: 2, summary: 'invalid graph construction' },
  /** Differentiation reached an op without a gradient rule. */
  NO_GRADIENT: { status: 500, exit: 2, summary: 'no gradient rule for an operation' },
  /** Feeds passed to a session do not match its inputs. */
  BAD_FEED: { status: 400, exit: 2, summary: 'session inputs do not match the graph' },
  /** ONNX Runtime failed while creating or running a session. */
  RUNTIME_ERROR: { status: 500, exit: 3, summary: 'ONNX Runtime failed' },
  /** A file could not be read or has the wrong format. */
  BAD_FILE: { status: 400, exit: 4, summary: 'file missing, unreadable or malformed' },
  /** A weight file lacks a tensor, or a tensor has the wrong shape. */
  BAD_WEIGHTS: { status: 400, exit: 4, summary: 'weights do not match the model' },
  /** A model configuration is not supported or is malformed. */
  UNSUPPORTED_MODEL: { status: 400, exit: 4, summary: 'model not supported' },
  /** A dataset file has malformed rows or is missing columns. */
  BAD_DATA: { status: 400, exit: 4, summary: 'malformed data' },
  /** Invalid user configuration (flags, options, config objects). */
  BAD_CONFIG: { status: 400, exit: 2, summary: 'invalid configuration' },
  /** Network download failed or is not allowed (offline mode). */
  DOWNLOAD_FAILED: { status: 502, exit: 5, summary: 'download failed' },
  /** An adapter does not fit the base model it is loaded onto. */
  ADAPTER_MISMATCH: { status: 409, exit: 4, summary: 'adapter does not fit this base model' },
  /** A requested thing (task, adapter, dataset) does not exist. */
  NOT_FOUND: { status: 404, exit: 4, summary: 'not found' },
  /** The training loss became NaN or infinite (the learning rate is usually too high). */
  TRAINING_DIVERGED: { status: 500, exit: 6, summary: 'training diverged: the loss is not a finite number' },
  /** Training or another long job was interrupted. */
  INTERRUPTED: { status: 503, exit: 130, summary: 'interrupted' },
} as const;

/** A stable error code; see {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class adapterkit throws on purpose. */
export class AdapterkitError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Optional structured details (shapes, file names, line numbers...). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  /** `options.cause` is the underlying error, as for `Error`. */
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdapterkitError';
    this.code = code;
    this.details = details;
  }

  /** HTTP status the server uses for this error. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  /** Process exit code the CLI uses for this error. */
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
}

/** Shorthand constructor: `fail('BAD_FILE', 'x.bin: truncated')` throws. */
export function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new AdapterkitError(code, message, details);
}
