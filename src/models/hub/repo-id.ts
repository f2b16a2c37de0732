/** Validation of hub repo ids (`name` or `org/name`), with the rules `huggingface_hub` applies. */
import { fail } from '../../errors.js';

const PART = /^[A-Za-z0-9_.-]+$/;

/**
 * Throws BAD_CONFIG with the reason when `repoId` is not a valid hub model id. Valid ids are
 * `name` or `org/name` of letters, digits, `_`, `.` and `-`, at most 96 characters, with no `--`
 * or `..`, and no part starting or ending with `-` or `.`.
 *
 * @example
 * ```ts
 * validateRepoId('google/bert_uncased_L-2_H-128_A-2'); // ok
 * validateRepoId('a/b/c'); // throws: invalid hub model id 'a/b/c': use 'name' or 'org/name' ...
 * ```
 */
export function validateRepoId(repoId: string): void {
  const bad = (why: string): never =>
    fail('BAD_CONFIG', `invalid hub model id '${repoId}': ${why} (expected 'name' or 'org/name', e.g. 'google/bert_uncased_L-2_H-128_A-2', or an existing local directory)`);
  const parts = repoId.split('/');
  if (repoId === '' || parts.length > 2) bad(`use 'name' or 'org/name' with at most one '/'`);
  if (repoId.length > 96) bad('longer than 96 characters');
  for (const p of parts) {
    if (!PART.test(p)) bad(`'${p}' may only contain letters, digits, '_', '.' and '-'`);
    if (/^[-.]|[-.]$/.test(p)) bad(`'${p}' must not start or end with '-' or '.'`);
  }
  if (repoId.includes('--') || repoId.includes('..')) bad(`'--' and '..' are not allowed`);
}
