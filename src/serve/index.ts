/**
 * The HTTP server for serving many task adapters from one base model. See docs/serve.md.
 */
export type {
  ClassifierBackend, ClassifyItem, ClassifyOutput, ItemOutput, TagOutput, TaskInfo, TextInput, TagInput, TaggedWord, AnswerInput, AnswerOutput,
} from './backend.js';
export { createServer, startServer, type ClassifyResponse, type ServeOptions, type StartOptions, type StartedServer } from './server.js';
export { Batcher, type BatcherOptions } from './batcher.js';
export { SERVE_ERROR_CODES, HttpError, type ServeErrorCode, type ResponseErrorCode, type ErrorBody } from './http-errors.js';
export { METRIC_NAMES } from './metrics.js';
export { DEFAULT_ADMIN_TOKEN_ENV } from './admin-auth.js';
export { installShutdownSignals, type ShutdownSignalOptions } from './signals.js';
export { ModelBackend, type ModelBackendOptions } from './model-backend.js';
