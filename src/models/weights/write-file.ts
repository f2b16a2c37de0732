/**
 * What the weight writers (safetensors, torch zip-pickle) share: the check of a tensor handed to
 * them, and writing a file from parts atomically (to `path.tmp-<pid>`, synced, renamed into place,
 * so a reader never sees half a file and a failed write leaves the old file alone).
 */
import { open, rename, unlink } from 'node:fs/promises';
import { AdapterkitError, fail } from '../../errors.js';
import { numelOf } from './dtypes.js';
import type { TensorToWrite, WeightArray, WeightDtype } from './types.js';

/** The typed array each in-memory dtype is held in. */
const ARRAY_OF: Readonly<Record<WeightDtype, (a: WeightArray) => boolean>> = {
  float32: (a) => a instanceof Float32Array,
  int64: (a) => a instanceof BigInt64Array,
  int32: (a) => a instanceof Int32Array,
  int8: (a) => a instanceof Int8Array,
  uint8: (a) => a instanceof Uint8Array,
  bool: (a) => a instanceof Uint8Array,
};

/**
 * Checks a tensor to write: a dtype the format stores (`supported`), data of that dtype, a shape of
 * non-negative integers that holds exactly the data. BAD_WEIGHTS naming the file and tensor.
 */
export function checkTensorToWrite(name: string, t: TensorToWrite, path: string, supported: readonly string[], format: string): void {
  const where = `${path}: tensor ${name}`;
  if (!supported.includes(t.dtype)) fail('BAD_WEIGHTS', `${where}: unsupported dtype ${String(t.dtype)} (a ${format} file can be written from ${supported.join(', ')})`);
  if (!ARRAY_OF[t.dtype](t.data)) fail('BAD_WEIGHTS', `${where}: dtype ${t.dtype} does not match its ${t.data.constructor.name} data`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail('BAD_WEIGHTS', `${where}: shape [${t.shape.join(', ')}] is not a list of non-negative integers`);
  if (numelOf(t.shape) !== t.data.length) {
    fail('BAD_WEIGHTS', `${where}: shape [${t.shape.join(', ')}] holds ${numelOf(t.shape)} elements but the data has ${t.data.length}`);
  }
}

const MAX_WRITE = 1 << 30;
/** Parts below this size are gathered into one write. */
const SMALL_PART = 1 << 20;

async function writeParts(path: string, parts: Iterable<Uint8Array>): Promise<void> {
  const handle = await open(path, 'w');
  const writeAll = async (part: Uint8Array): Promise<void> => {
    for (let done = 0; done < part.length; ) {
      const { bytesWritten } = await handle.write(part, done, Math.min(MAX_WRITE, part.length - done));
      done += bytesWritten;
    }
  };
  try {
    let run: Uint8Array[] = [];
    let runBytes = 0;
    const flush = async (): Promise<void> => {
      if (run.length > 0) await writeAll(Buffer.concat(run, runBytes));
      run = [];
      runBytes = 0;
    };
    for (const part of parts) {
      if (part.length >= SMALL_PART) {
        await flush();
        await writeAll(part);
        continue;
      }
      run.push(part);
      runBytes += part.length;
      if (runBytes >= SMALL_PART) await flush();
    }
    await flush();
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `parts` to `path` atomically; BAD_FILE when the file cannot be written. */
export async function writeFileAtomically(path: string, parts: Iterable<Uint8Array>): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeParts(tmp, parts);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (e instanceof AdapterkitError) throw e;
    throw new AdapterkitError('BAD_FILE', `${path}: cannot write: ${(e as Error).message}`, undefined, { cause: e });
  }
}
