/**
 * Positional reads from an open file, with every failure turned into a BAD_FILE that names the
 * file. Reads go straight into the caller's array: no intermediate whole-file buffer.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { AdapterkitError, fail } from '../../errors.js';

/** An open file being read, with its size. */
export interface OpenFile {
  readonly path: string;
  readonly handle: FileHandle;
  readonly size: number;
}

/** Largest single read: fs reads are limited to 2 GiB. */
const MAX_READ = 1 << 30;

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

/**
 * Fills `target` with the bytes at `position`. `what` describes the read for the error message
 * (e.g. `x.safetensors: tensor a.weight`); a file that ends early is reported as truncated.
 */
export async function readExactly(file: OpenFile, target: Uint8Array, position: number, what: string): Promise<void> {
  checkRange(file, position, target.length, what);
  let done = 0;
  while (done < target.length) {
    const length = Math.min(MAX_READ, target.length - done);
    const { bytesRead } = await file.handle.read(target, done, length, position + done);
    if (bytesRead === 0) fail('BAD_FILE', `${what}: the file ends early at byte ${position + done} (truncated?)`);
    done += bytesRead;
  }
}

/** Reads `length` bytes at `position` into a new buffer (checked against the file size before allocating). */
export async function readBytes(file: OpenFile, position: number, length: number, what: string): Promise<Uint8Array> {
  checkRange(file, position, length, what);
  const out = new Uint8Array(length);
  await readExactly(file, out, position, what);
  return out;
}

/** Fails unless bytes `position`..`position + length` lie inside the file. */
export function checkRange(file: OpenFile, position: number, length: number, what: string): void {
  if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0 || position + length > file.size) {
    fail('BAD_FILE', `${what}: needs bytes ${position}..${position + length} but the file has only ${file.size} bytes (truncated?)`);
  }
}

/** An error from the operating system (it carries an errno code such as EIO or EISDIR). */
function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}
