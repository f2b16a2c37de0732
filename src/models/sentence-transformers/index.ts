/** sentence-transformers checkpoint directories: the layout and its parsing (config.ts), reading a directory (read.ts). */
export * from './config.js';
export { readSentenceTransformersConfig } from './read.js';
