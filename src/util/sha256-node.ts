/**
 * Incremental SHA-256 (for base fingerprints) on Node's crypto. The browser build replaces this
 * module with `sha256-web.ts`, a plain TypeScript implementation with the same results.
 */
import { createHash } from 'node:crypto';

/** An incremental SHA-256 hash. */
export interface Sha256 {
  /** Adds bytes, or a string as UTF-8. */
  update(data: Uint8Array | string): void;
  /** The digest as 64 lowercase hex digits (the hash is finished). */
  digestHex(): string;
}

/** A fresh SHA-256 hash. */
export function sha256(): Sha256 {
  const h = createHash('sha256');
  return { update: (d) => void h.update(d), digestHex: () => h.digest('hex') };
}
