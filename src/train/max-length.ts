/**
 * Tokens per example: one rule for the CLI and the library. What the caller asks for (or the
 * task's default) is held to the base encoder's limit (its position embeddings), either capped
 * to it (the library) or refused with BAD_CONFIG (an explicit command-line value).
 */
import { fail } from '../errors.js';

/** Tokens per example of sentence-level tasks and tagging when nothing else says (QA: 384). */
export const DEFAULT_MAX_LENGTH = 128;

/** Options of {@link resolveMaxLength}. */
export interface MaxLengthOptions {
  /** Used when nothing is requested (default {@link DEFAULT_MAX_LENGTH}); always capped to the limit. */
  readonly fallback?: number;
  /** A requested length above the limit: capped to it (default), or refused with BAD_CONFIG. */
  readonly over?: 'cap' | 'fail';
  /** How the requested value is named in the refusal (default "max length"; the CLI says "--max-length"). */
  readonly name?: string;
  /**
   * Positions of the limit that the task's adapters take before the input's tokens (PEFT's prompt
   * tuning; see `positionsTaken` of training modes), subtracted from it. Default 0.
   */
  readonly taken?: number;
}

/**
 * The tokens per example to use on a base whose encoder takes at most `base` tokens (less
 * `o.taken`).
 *
 * @example
 * ```ts
 * resolveMaxLength(40, undefined);                 // 40: the default 128, capped to the limit
 * resolveMaxLength(512, 384);                      // 384
 * resolveMaxLength(40, 100, { over: 'fail', name: '--max-length' });
 * // throws BAD_CONFIG: --max-length 100 exceeds the base's limit of 40 tokens
 * resolveMaxLength(40, 36, { over: 'fail', name: '--max-length', taken: 10 });
 * // throws BAD_CONFIG: --max-length 36 exceeds the limit of 30 tokens (the base's 40 positions,
 * // less the 10 that the adapter's prompt takes)
 * ```
 */
export function resolveMaxLength(base: number, requested: number | undefined, o: MaxLengthOptions = {}): number {
  const taken = o.taken ?? 0;
  const limit = base - taken;
  const what = taken > 0 ? `the limit of ${limit} tokens (the base's ${base} positions, less the ${taken} that the adapter's prompt takes)` : `the base's limit of ${base} tokens`;
  if (limit < 2) fail('BAD_CONFIG', `the adapter's prompt takes ${taken} of the base's ${base} positions, which leaves no room for an input`);
  if (requested === undefined) return Math.min(o.fallback ?? DEFAULT_MAX_LENGTH, limit);
  if (!(Number.isInteger(requested) && requested >= 2)) fail('BAD_CONFIG', `${o.name ?? 'max length'} must be an integer of at least 2, got ${requested}`);
  if (requested > limit && o.over === 'fail') fail('BAD_CONFIG', `${o.name ?? 'max length'} ${requested} exceeds ${what}`);
  return Math.min(requested, limit);
}
