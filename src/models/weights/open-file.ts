/**
 * Positional reads from an open file (a file on disk in Node, bytes in memory anywhere), with
 * every failure turned into a BAD_FILE that names the file. Reads go straight into the caller's
 * array: no intermediate whole-file buffer. Opening files on disk is file-io.ts.
 */
import { fail } from '../../errors.js';

/** What reads an open file: Node's `FileHandle` is one, {@link bytesFile} another. */
export interface FileReader {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** An open file being read, with its size. */
export interface OpenFile {
  readonly path: string;
  readonly handle: FileReader;
  readonly size: number;
}

/** Largest single read: fs reads are limited to 2 GiB. */
const MAX_READ = 1 << 30;

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

/** `bytes` as an {@link OpenFile} named `path` (for files fetched or unzipped into memory). */
export function bytesFile(path: string, bytes: Uint8Array): OpenFile {
  return {
    path, size: bytes.byteLength,
    handle: {
      read: async (buffer, offset, length, position) => {
        const n = Math.max(0, Math.min(length, bytes.byteLength - position));
        buffer.set(bytes.subarray(position, position + n), offset);
        return { bytesRead: n };
      },
    },
  };
}
