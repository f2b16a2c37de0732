/**
 * A small read-only zip reader over an open file: it reads the central directory, then reads
 * single entries from their offsets into caller-provided arrays. STORED entries (what torch.save
 * writes) are read straight into the target; DEFLATE entries are inflated with node:zlib. Zip64
 * archives (files over 4 GiB) are supported. Nothing else in the archive is read.
 */
import { inflateRawSync } from 'node:zlib';
import { fail } from '../../errors.js';
import { truncateText } from '../../util/describe.js';
import { readBytes, readExactly, type OpenFile } from './file-io.js';

/** One file inside the archive, as the central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 = STORED, 8 = DEFLATE. */
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

/** Reads the central directory: every entry by name. */
export async function readZipDirectory(file: OpenFile): Promise<Map<string, ZipEntry>> {
  const { offset, size, count } = await findCentralDirectory(file);
  const cd = await readBytes(file, offset, size, `${file.path}: zip central directory`);
  const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || view.getUint32(p, true) !== CENTRAL_SIG) fail('BAD_FILE', `${file.path}: zip central directory entry ${i} is corrupt`);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen > cd.length) fail('BAD_FILE', `${file.path}: zip central directory entry ${i} is cut short`);
    const entry: ZipEntry = {
      name: new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen)),
      method: view.getUint16(p + 10, true),
      flags: view.getUint16(p + 8, true),
      compressedSize: view.getUint32(p + 20, true),
      size: view.getUint32(p + 24, true),
      localHeaderOffset: view.getUint32(p + 42, true),
    };
    applyZip64Extra(entry, new DataView(cd.buffer, cd.byteOffset + p + 46 + nameLen, extraLen));
    entries.set(entry.name, entry);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/**
 * Reads a whole entry into a new array (for small entries such as data.pkl). `maxBytes` bounds
 * what the entry may hold, checked before anything is allocated or inflated: the caller knows what
 * an entry of its kind can need, and a zip bomb is refused instead of inflated. Default: the size
 * of the archive itself.
 */
export async function readZipEntry(file: OpenFile, entry: ZipEntry, maxBytes: number = file.size): Promise<Uint8Array> {
  const where = `${file.path}: zip entry ${truncateText(entry.name)}`;
  if (entry.size > maxBytes) fail('BAD_FILE', `${where} holds ${entry.size} bytes, more than the ${maxBytes} an entry of its kind can need`);
  if (entry.size > maxEntryContent(file, entry)) fail('BAD_FILE', `${where} says it holds ${entry.size} bytes, more than its ${entry.compressedSize} stored bytes can hold (corrupt)`);
  const out = new Uint8Array(entry.size);
  await readZipEntryInto(file, entry, out);
  return out;
}

/**
 * Fills `target` with the first `target.length` bytes of the entry's content. Fails when the entry
 * holds fewer bytes, is encrypted, lies outside the file, or uses a compression method other than
 * STORED or DEFLATE. A DEFLATE entry is inflated only up to `target.length` bytes: one that says or
 * turns out to hold more is refused, so memory stays bounded by what the caller asked for.
 */
export async function readZipEntryInto(file: OpenFile, entry: ZipEntry, target: Uint8Array): Promise<void> {
  const where = `${file.path}: zip entry ${truncateText(entry.name)}`;
  if (entry.flags & 1) fail('BAD_FILE', `${where} is encrypted`);
  if (!Number.isSafeInteger(entry.size) || !Number.isSafeInteger(entry.compressedSize) || entry.size < 0 || entry.compressedSize < 0) {
    fail('BAD_FILE', `${where}: its sizes in the central directory are corrupt`);
  }
  if (entry.size < target.length) fail('BAD_FILE', `${where} holds ${entry.size} bytes but ${target.length} are needed`);
  if (entry.compressedSize > file.size) fail('BAD_FILE', `${where}: ${entry.compressedSize} stored bytes cannot fit in a ${file.size}-byte file (truncated or corrupt)`);
  const start = await dataOffset(file, entry);
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) fail('BAD_FILE', `${where} is stored uncompressed but its two sizes differ (${entry.compressedSize} and ${entry.size})`);
    return readExactly(file, target, start, where);
  }
  if (entry.method !== 8) fail('BAD_FILE', `${where} uses compression method ${entry.method}; only STORED and DEFLATE are supported`);
  if (entry.size > target.length) fail('BAD_FILE', `${where} inflates to ${entry.size} bytes but only ${target.length} are needed`);
  const compressed = await readBytes(file, start, entry.compressedSize, where);
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(compressed, { maxOutputLength: Math.max(1, target.length) });
  } catch (e) {
    const tooLarge = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    return fail('BAD_FILE', tooLarge ? `${where} inflates to more than the ${entry.size} bytes its directory entry says` : `${where} does not inflate (corrupt data)`);
  }
  if (inflated.length < target.length) fail('BAD_FILE', `${where} inflates to ${inflated.length} bytes but ${target.length} are needed`);
  target.set(inflated.subarray(0, target.length));
}

/** DEFLATE's largest possible expansion: one stored byte can stand for at most about 1032. */
const MAX_DEFLATE_RATIO = 1032;

/**
 * The most content `entry` can really hold given the bytes it occupies in `file`: its stored size
 * for STORED, at most {@link MAX_DEFLATE_RATIO} times that for DEFLATE, never more than its
 * directory size. Lets callers bound an allocation before reading anything.
 */
export function maxEntryContent(file: OpenFile, entry: ZipEntry): number {
  const stored = Math.min(entry.compressedSize, file.size);
  const most = entry.method === 8 ? stored * MAX_DEFLATE_RATIO + 64 : stored;
  return Math.max(0, Math.min(entry.size, most));
}

async function findCentralDirectory(file: OpenFile): Promise<{ offset: number; size: number; count: number }> {
  if (file.size < EOCD_SIZE) fail('BAD_FILE', `${file.path}: too short to be a zip archive (${file.size} bytes)`);
  const tailLen = Math.min(file.size, EOCD_SIZE + MAX_COMMENT + 20);
  const tailStart = file.size - tailLen;
  const tail = await readBytes(file, tailStart, tailLen, `${file.path}: zip end record`);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let at = -1;
  for (let p = tailLen - EOCD_SIZE; p >= 0; p--) {
    if (view.getUint32(p, true) === EOCD_SIG && p + EOCD_SIZE + view.getUint16(p + 20, true) <= tailLen) {
      at = p;
      break;
    }
  }
  if (at < 0) fail('BAD_FILE', `${file.path}: zip end-of-central-directory record not found (truncated or not a zip archive)`);
  let count = view.getUint16(at + 10, true);
  let size = view.getUint32(at + 12, true);
  let offset = view.getUint32(at + 16, true);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    ({ count, size, offset } = await readZip64End(file, tailStart + at));
  }
  if (offset + size > file.size) fail('BAD_FILE', `${file.path}: zip central directory (bytes ${offset}..${offset + size}) lies past the end of the file (${file.size} bytes): truncated`);
  return { offset, size, count };
}

async function readZip64End(file: OpenFile, eocdPos: number): Promise<{ offset: number; size: number; count: number }> {
  if (eocdPos < 20) fail('BAD_FILE', `${file.path}: zip64 locator missing`);
  const loc = await readBytes(file, eocdPos - 20, 20, `${file.path}: zip64 locator`);
  const lv = new DataView(loc.buffer);
  if (lv.getUint32(0, true) !== EOCD64_LOCATOR_SIG) fail('BAD_FILE', `${file.path}: zip64 locator missing`);
  const recPos = safeNumber(lv.getBigUint64(8, true), file.path);
  const rec = await readBytes(file, recPos, 56, `${file.path}: zip64 end record`);
  const rv = new DataView(rec.buffer);
  if (rv.getUint32(0, true) !== EOCD64_SIG) fail('BAD_FILE', `${file.path}: zip64 end record is corrupt`);
  return {
    count: safeNumber(rv.getBigUint64(32, true), file.path),
    size: safeNumber(rv.getBigUint64(40, true), file.path),
    offset: safeNumber(rv.getBigUint64(48, true), file.path),
  };
}

/** Replaces 0xFFFFFFFF sizes/offsets with their 64-bit values from the zip64 extra field. */
function applyZip64Extra(entry: ZipEntry, extra: DataView): void {
  for (let p = 0; p + 4 <= extra.byteLength; ) {
    const id = extra.getUint16(p, true);
    const len = extra.getUint16(p + 2, true);
    if (id === 0x0001) {
      let q = p + 4;
      const next = (): number => {
        const v = q + 8 <= p + 4 + len && q + 8 <= extra.byteLength ? Number(extra.getBigUint64(q, true)) : -1;
        q += 8;
        return v;
      };
      if (entry.size === 0xffffffff) entry.size = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
    }
    p += 4 + len;
  }
}

async function dataOffset(file: OpenFile, entry: ZipEntry): Promise<number> {
  const where = `${file.path}: zip entry ${truncateText(entry.name)}`;
  if (!Number.isSafeInteger(entry.localHeaderOffset) || entry.localHeaderOffset < 0) fail('BAD_FILE', `${where}: its offset in the central directory is corrupt`);
  const head = await readBytes(file, entry.localHeaderOffset, 30, `${where} (local header)`);
  const view = new DataView(head.buffer);
  if (view.getUint32(0, true) !== LOCAL_SIG) fail('BAD_FILE', `${where}: local header is corrupt`);
  return entry.localHeaderOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
}

function safeNumber(v: bigint, path: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('BAD_FILE', `${path}: zip64 value ${v} is out of range`);
  return Number(v);
}
