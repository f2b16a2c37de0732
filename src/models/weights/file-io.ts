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

/** Opens `path`, runs `fn`, and always closes the file. */
export async function withFile<T>(path: string, fn: (file: OpenFile) => Promise<T>): Promise<T> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    fail('BAD_FILE', `${path}: cannot open: ${(e as Error).message}`);
  }
  try {
    const { size } = await handle.stat();
    return await fn({ path, handle, size });
  } catch (e) {
    if (e instanceof AdapterkitError) throw e;
    throw new AdapterkitError('BAD_FILE', `${path}: read failed: ${(e as Error).message}`, undefined, { cause: e });
  } finally {
    await handle.close();
  }
}

/**
 * Fills `target` with the bytes at `position`. `what` describes the read for the error message
 * (e.g. `x.safetensors: tensor a.weight`); a file that ends early is reported as truncated.
 */
export async function readExactly(file: OpenFile, target: Uint8Array, position: number, what: string): Promise<void> {
  if (position + target.length > file.size) {
    fail('BAD_FILE', `${what}: needs bytes ${position}..${position + target.length} but the file has only ${file.size} bytes (truncated?)`);
  }
  let done = 0;
  while (done < target.length) {
    const length = Math.min(MAX_READ, target.length - done);
    const { bytesRead } = await file.handle.read(target, done, length, position + done);
    if (bytesRead === 0) fail('BAD_FILE', `${what}: the file ends early at byte ${position + done} (truncated?)`);
    done += bytesRead;
  }
}

/** Reads `length` bytes at `position` into a new buffer. */
export async function readBytes(file: OpenFile, position: number, length: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await readExactly(file, out, position, what);
  return out;
}
