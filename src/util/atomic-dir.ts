/**
 * Writing a directory all at once: files go into a temporary sibling directory, which is renamed
 * into place only when every file is written. A failure removes the temporary directory, so the
 * target is either absent, the old one, or the complete new one — never half-written.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fail } from '../errors.js';

/** Options of {@link writeDirAtomically}. */
export interface AtomicDirOptions {
  /** Replace an existing directory (default: refuse). */
  readonly overwrite?: boolean;
  /** Words for the refusal message, e.g. `--force` (default `overwrite: true`). */
  readonly overwriteHint?: string;
}

/** Fails unless `dir` can be written (absent, or an existing directory when overwriting). */
export async function checkWritableDir(dir: string, o: AtomicDirOptions = {}): Promise<void> {
  let s;
  try {
    s = await stat(dir);
  } catch {
    return;
  }
  if (!s.isDirectory()) fail('BAD_CONFIG', `${dir} exists and is not a directory`);
  if (!o.overwrite) fail('BAD_CONFIG', `${dir} already exists; choose another directory or replace it with ${o.overwriteHint ?? 'overwrite: true'}`);
}

/**
 * Runs `fill` on a fresh temporary directory next to `dir`, then moves it to `dir`. Returns what
 * `fill` returned.
 */
export async function writeDirAtomically<T>(dir: string, fill: (tmp: string) => Promise<T>, o: AtomicDirOptions = {}): Promise<T> {
  const target = resolve(dir);
  await checkWritableDir(target, o);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(parent, `.${basename(target)}.tmp-${tag}`);
  await mkdir(tmp);
  let result: T;
  try {
    result = await fill(tmp);
    await checkWritableDir(target, o); // something may have appeared meanwhile
    const old = join(parent, `.${basename(target)}.old-${tag}`);
    let moved = false;
    try {
      await rename(target, old);
      moved = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    try {
      await rename(tmp, target);
    } catch (e) {
      if (moved) await rename(old, target); // put the old one back
      throw e;
    }
    if (moved) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return result;
}
