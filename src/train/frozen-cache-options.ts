/**
 * The frozen-layer cache's settings that the trainer's options check (train/frozen-cache.ts holds
 * the cache itself, with its Node file store): kept apart so that the trainer's option checks stay
 * free of Node-only imports for the browser build.
 */
import { fail } from '../errors.js';

/** The default memory budget of the cache: 2 GiB (BERT-base, 128 tokens: about 5,400 rows). */
export const DEFAULT_CACHE_MEMORY_BYTES = 2 * 1024 ** 3;

/** BAD_CONFIG unless `bytes` is a usable memory budget (a non-negative number of bytes). */
export function checkCacheMemory(bytes: number): number {
  if (!(Number.isFinite(bytes) && bytes >= 0)) fail('BAD_CONFIG', `the frozen-layer cache's memory budget must be a non-negative number of bytes, got ${bytes}`);
  return bytes;
}
