/**
 * Output directories (`--out`) and files (`--output`): checked before any work is done, so that a
 * file in the way of a directory, a missing parent or a directory in the way of a file is a
 * BAD_CONFIG or BAD_FILE error up front rather than a raw EEXIST, ENOTDIR or ENOENT after the work.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fail } from '../errors.js';

/** Fails with BAD_CONFIG when `dir`, or the nearest of its parents that exists, is not a directory. `name` is how messages call it (e.g. `--out runs/x`). */
export async function checkOutDir(dir: string, name = dir): Promise<void> {
  for (let p = dir; ; p = dirname(p)) {
    const s = await stat(p).catch(() => undefined);
    if (s) {
      if (!s.isDirectory()) fail('BAD_CONFIG', p === dir ? `${name} exists and is not a directory` : `${name}: ${p} is not a directory`);
      return;
    }
    if (dirname(p) === p) return;
  }
}

/** {@link checkOutDir}, then makes `dir` (and its parents). */
export async function makeOutDir(dir: string, name = dir): Promise<void> {
  await checkOutDir(dir, name);
  await mkdir(dir, { recursive: true });
}

/** Fails unless a file can be written at `path`: BAD_FILE when its directory does not exist or `path` is a directory. */
export async function checkOutputFile(path: string, name = path): Promise<void> {
  const s = await stat(path).catch(() => undefined);
  if (s?.isDirectory()) fail('BAD_FILE', `${name}: ${path} is a directory; give a file name`);
  const parent = dirname(path);
  const p = await stat(parent).catch(() => undefined);
  if (!p) fail('BAD_FILE', `${name}: the directory ${parent} does not exist`);
  if (!p.isDirectory()) fail('BAD_FILE', `${name}: ${parent} is not a directory`);
}
