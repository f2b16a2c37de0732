/**
 * Opening files on disk for the positional readers of open-file.ts, with every failure turned
 * into a BAD_FILE that names the file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { AdapterkitError, fail } from '../../errors.js';
import type { OpenFile } from './open-file.js';

export { bytesFile, checkRange, readBytes, readExactly, type FileReader, type OpenFile } from './open-file.js';

/**
 * Opens `path`, runs `fn`, and always closes the file. File-system failures become BAD_FILE naming
 * the file; anything else `fn` throws (a coded error, or a bug) passes through unchanged, so an
 * internal error is never disguised as a bad file.
 */
export async function withFile<T>(path: string, fn: (file: OpenFile) => Promise<T>): Promise<T> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    fail('BAD_FILE', `${path}: cannot open: ${(e as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) fail('BAD_FILE', `${path}: cannot open: not a regular file`);
    return await fn({ path, handle, size: st.size });
  } catch (e) {
    if (e instanceof AdapterkitError || !isSystemError(e)) throw e;
    throw new AdapterkitError('BAD_FILE', `${path}: read failed: ${e.message}`, undefined, { cause: e });
  } finally {
    await handle.close();
  }
}

/** An error from the operating system (it carries an errno code such as EIO or EISDIR). */
function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}
