/**
 * Writing PyTorch `torch.save` files (`pytorch_model.bin`, AdapterHub's `pytorch_adapter.bin` and
 * `pytorch_model_head.bin`) of contiguous tensors, laid out as current torch (2.x) writes
 * `torch.save(state_dict, path)`, so that `torch.load(path, map_location="cpu", weights_only=True)`
 * and adapterkit's own reader both read them. Nothing here is copied from torch; where its code fixes
 * a detail, the place is named.
 *
 * - Archive folder: the file's stem (`pytorch_adapter/` for `.../pytorch_adapter.bin`), as
 *   `PyTorchStreamWriter(file_name)` names it (`basename` in caffe2/serialize/inline_container.cc).
 *   For a non-ASCII path torch writes through a Python stream and the folder is `archive/`; so is ours
 *   (and for a path with an empty stem, which torch refuses).
 * - Records, in torch's order (`_save` in torch/serialization.py, then `writeEndOfFile`): `data.pkl`,
 *   `.format_version` (`1`: storage keys 0, 1, ... in pickling order, written in that order),
 *   `.storage_alignment` (`64`), `byteorder` (`little`), `data/<key>` (raw little-endian elements),
 *   `version` (`3\n`, `kMinProducedFileFormatVersion` in caffe2/serialize/versions.h) and
 *   `.data/serialization_id` (40 decimal digits; torch hashes record names and CRCs with c10's hash,
 *   only to log it; ours is a SHA-256 of the same, so the same input gives the same bytes).
 * - `data.pkl`: pickle protocol 2 (`DEFAULT_PROTOCOL`), byte for byte what Python's pickler emits for
 *   an `OrderedDict` of tensors: `collections.OrderedDict` by GLOBAL + REDUCE, each tensor
 *   `torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())` whose storage is
 *   the persistent id `('storage', torch.FloatStorage, key, 'cpu', numel)` (`persistent_id` in `_save`,
 *   `Tensor._reduce_ex_internal`). A test compares it with torch's own bytes.
 * - The zip container as torch's miniz writes it: every record STORED, its data aligned to 64 bytes by
 *   an `FB` extra field padded with `Z` (`getPadding`), each non-empty record followed by a data
 *   descriptor (general-purpose bit 3), zip64 end records always (`MZ_ZIP_FLAG_WRITE_ZIP64`), zip64
 *   extra fields past 4 GiB. Current torch may compute storage offsets from this exact layout instead of
 *   reading the local headers (`_get_offset` in `_load`, for files with `.format_version` >= 1), so
 *   the layout is not a free choice. Entry times are 0, as torch writes them.
 *
 * The file is written to `path.tmp-<pid>` and renamed into place, so a reader never sees half a file.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { crc32 } from 'node:zlib';
import { assertLittleEndianHost, bytesOf } from './dtypes.js';
import type { TensorToWrite, WeightDtype } from './types.js';
import { checkTensorToWrite, writeFileAtomically } from './write-file.js';

/** The `torch.<Name>Storage` class of each in-memory dtype the writer accepts. */
const STORAGE_OF: Readonly<Record<WeightDtype, string>> = {
  float32: 'FloatStorage', int64: 'LongStorage', int32: 'IntStorage', int8: 'CharStorage', uint8: 'ByteStorage', bool: 'BoolStorage',
};

/** Alignment of every record's data in the archive (torch's `kFieldAlignment` / `storage_alignment`). */
const ALIGNMENT = 64;

/**
 * Writes `tensors` to `path` as `torch.save` writes an `OrderedDict` of them, in the map's order.
 * Throws BAD_WEIGHTS when a tensor's dtype is not supported or its data does not match its dtype or
 * shape, BAD_FILE when the file cannot be written.
 *
 * @example
 * ```ts
 * await writeTorchStateDict('out/pytorch_adapter.bin', new Map([['classifier.weight', { dtype: 'float32', shape: [2, 4], data }]]));
 * // python: torch.load('out/pytorch_adapter.bin', weights_only=True)['classifier.weight'].shape == (2, 4)
 * ```
 */
export async function writeTorchStateDict(path: string, tensors: ReadonlyMap<string, TensorToWrite>): Promise<void> {
  assertLittleEndianHost();
  for (const [name, t] of tensors) checkTensorToWrite(name, t, path, Object.keys(STORAGE_OF), 'PyTorch');
  const list = [...tensors.values()];
  const text = (s: string): Uint8Array => Buffer.from(s, 'latin1');
  const records: Array<[string, Uint8Array]> = [
    ['data.pkl', pickleStateDict(tensors)],
    ['.format_version', text('1')],
    ['.storage_alignment', text(String(ALIGNMENT))],
    ['byteorder', text('little')],
    ...list.map((t, key): [string, Uint8Array] => [`data/${key}`, bytesOf(t.data)]),
    ['version', text('3\n')],
  ];
  const folder = archiveFolder(path);
  const entries = records.map(([name, data]) => ({ name: `${folder}/${name}`, data, crc: crc32(data) }));
  entries.push(serializationId(entries, folder));
  await writeFileAtomically(path, zipParts(entries));
}

/** The folder torch would name for `path`: its stem, or `archive` where torch writes through a stream. */
function archiveFolder(path: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(path)) return 'archive';
  const name = basename(path.replaceAll('\\', '/'));
  const dot = name.lastIndexOf('.');
  const stem = dot < 0 ? name : name.slice(0, dot);
  return stem === '' ? 'archive' : stem;
}

/** `.data/serialization_id`: 20 digits from the record names, 20 from their CRCs, as torch lays it out. */
function serializationId(entries: ReadonlyArray<{ name: string; crc: number }>, folder: string): ZipRecord {
  const digits = (h: Buffer): string => h.readBigUInt64BE(0).toString().padStart(20, '0');
  const names = createHash('sha256').update(entries.map((e) => e.name).join('\n')).digest();
  const crcs = createHash('sha256').update(Buffer.from(Uint32Array.from(entries, (e) => e.crc).buffer)).digest();
  const data = Buffer.from(digits(names) + digits(crcs), 'latin1');
  return { name: `${folder}/.data/serialization_id`, data, crc: crc32(data) };
}

// ------------------------------------------------------------------------------------ data.pkl

/**
 * Protocol-2 pickle of `OrderedDict((name, tensor) ...)`, memoised exactly as Python's pickler does:
 * every global, string and non-empty tuple gets a memo slot (BINPUT); the globals and the two shared
 * strings ('storage', 'cpu') are fetched from the memo (BINGET) when they come again.
 */
function pickleStateDict(tensors: ReadonlyMap<string, TensorToWrite>): Uint8Array {
  const p = new Pickler();
  p.op(0x80, 2); // PROTO 2
  const emptyOrderedDict = (): void => {
    p.global('collections', 'OrderedDict');
    p.op(0x29, 0x52); // EMPTY_TUPLE, REDUCE
    p.put();
  };
  emptyOrderedDict();
  const items = [...tensors];
  let key = 0; // storage keys in pickling order, as torch's persistent_id numbers them
  // Python's _batch_setitems: batches of 1000, a batch of one as SETITEM without MARK.
  for (let start = 0; start < items.length; start += 1000) {
    const batch = items.slice(start, start + 1000);
    if (batch.length > 1) p.op(0x28); // MARK
    for (const [name, t] of batch) {
      p.unicode(name);
      p.global('torch._utils', '_rebuild_tensor_v2');
      p.op(0x28, 0x28); // MARK (args), MARK (persistent id)
      p.shared('storage');
      p.global('torch', STORAGE_OF[t.dtype]);
      p.unicode(String(key++));
      p.shared('cpu');
      p.int(t.data.length);
      p.op(0x74); // TUPLE
      p.put();
      p.op(0x51); // BINPERSID
      p.int(0); // storage offset
      p.tuple(t.shape);
      p.tuple(contiguousStrides(t.shape));
      p.op(0x89); // NEWFALSE: requires_grad
      emptyOrderedDict(); // backward hooks
      p.op(0x74); // TUPLE
      p.put();
      p.op(0x52); // REDUCE
      p.put();
    }
    p.op(batch.length > 1 ? 0x75 : 0x73); // SETITEMS or SETITEM
  }
  p.op(0x2e); // STOP
  return p.bytes();
}

/** Row-major strides as torch gives them: a dimension of size 0 counts as 1 for the ones before it. */
function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= Math.max(shape[i]!, 1);
  }
  return strides;
}

/** The few opcodes a state dict needs, with Python's memo numbering. */
class Pickler {
  private readonly chunks: number[] = [];
  private readonly memo = new Map<string, number>();
  private next = 0;

  op(...codes: number[]): void {
    this.chunks.push(...codes);
  }

  /** Memoises the object just written: BINPUT, or LONG_BINPUT past slot 255. */
  put(): number {
    const slot = this.next++;
    if (slot < 256) this.op(0x71, slot);
    else this.op(0x72, ...u32(slot));
    return slot;
  }

  /** A global (GLOBAL the first time, BINGET after). */
  global(module: string, name: string): void {
    if (this.get(`g:${module}.${name}`)) return;
    this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'utf8'));
    this.memo.set(`g:${module}.${name}`, this.put());
  }

  /** A string Python pickles as one object each time it is used ('storage', 'cpu'). */
  shared(s: string): void {
    if (!this.get(`s:${s}`)) this.memo.set(`s:${s}`, this.unicode(s));
  }

  /** BINUNICODE (protocol 2 has no short form), memoised; returns its memo slot. */
  unicode(s: string): number {
    const utf8 = Buffer.from(s, 'utf8');
    this.op(0x58, ...u32(utf8.length));
    for (const b of utf8) this.chunks.push(b);
    return this.put();
  }

  /** BININT1 / BININT2 / BININT, or LONG1 for values past 32 bits, as Python's save_long picks. */
  int(v: number): void {
    if (v >= 0 && v <= 0xff) this.op(0x4b, v);
    else if (v >= 0 && v <= 0xffff) this.op(0x4d, v & 0xff, v >> 8);
    else if (v >= -0x80000000 && v <= 0x7fffffff) this.op(0x4a, ...u32(v >>> 0));
    else {
      const bytes: number[] = [];
      for (let x = BigInt(v); x !== 0n && x !== -1n; x >>= 8n) bytes.push(Number(x & 0xffn));
      if (v > 0 && (bytes.at(-1)! & 0x80) !== 0) bytes.push(0); // keep the sign bit clear
      if (v < 0 && (bytes.at(-1)! & 0x80) === 0) bytes.push(0xff);
      this.op(0x8a, bytes.length, ...bytes);
    }
  }

  /** A tuple of ints: EMPTY_TUPLE (not memoised), TUPLE1-3, or MARK ... TUPLE. */
  tuple(values: readonly number[]): void {
    if (values.length === 0) return this.op(0x29);
    if (values.length > 3) this.op(0x28);
    for (const v of values) this.int(v);
    this.op(values.length > 3 ? 0x74 : 0x84 + values.length); // TUPLE, or TUPLE1 (0x85) .. TUPLE3 (0x87)
    this.put();
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }

  private get(key: string): boolean {
    const slot = this.memo.get(key);
    if (slot === undefined) return false;
    if (slot < 256) this.op(0x68, slot);
    else this.op(0x6a, ...u32(slot));
    return true;
  }
}

function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

// ------------------------------------------------------------------------------ zip container

interface ZipRecord {
  name: string;
  data: Uint8Array;
  crc: number;
}

const U32_MAX = 0xffffffff;

/** Local headers, data (views of the records, not copies), descriptors, central directory, end records. */
function zipParts(records: readonly ZipRecord[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const r of records) {
    const name = Buffer.from(r.name, 'utf8');
    const size = r.data.length;
    const big = size >= U32_MAX;
    const far = offset >= U32_MAX;
    const zip64 = big || far ? zip64Extra(big ? [size, size] : [], far ? [offset] : []) : Buffer.alloc(0);
    // getPadding: the data starts after the header, the name, any zip64 field and the FB field's own 4 bytes.
    const pad = (ALIGNMENT - ((offset + 30 + name.length + zip64.length + 4) % ALIGNMENT)) % ALIGNMENT;
    const fb = Buffer.alloc(4 + pad, 'Z');
    fb.write('FB', 0, 'latin1');
    fb.writeUInt16LE(pad, 2);
    const flags = 0x0800 | (size > 0 ? 0x0008 : 0); // UTF-8 names; sizes and CRC in a data descriptor
    const needs = big || far ? 45 : 20;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(needs, 4);
    local.writeUInt16LE(flags, 6);
    if (big) {
      local.writeUInt32LE(U32_MAX, 18);
      local.writeUInt32LE(U32_MAX, 22);
    }
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(zip64.length + fb.length, 28);
    parts.push(local, name, zip64, fb, r.data);
    if (size > 0) parts.push(dataDescriptor(r.crc, size, big || far));

    // The central directory carries the same zip64 field (sizes, offset) but no padding.
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(needs, 4);
    cd.writeUInt16LE(needs, 6);
    cd.writeUInt16LE(flags, 8);
    cd.writeUInt32LE(r.crc, 16);
    cd.writeUInt32LE(Math.min(size, U32_MAX), 20);
    cd.writeUInt32LE(Math.min(size, U32_MAX), 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt16LE(zip64.length, 30);
    cd.writeUInt32LE(Math.min(offset, U32_MAX), 42);
    central.push(cd, name, zip64);
    offset += 30 + name.length + zip64.length + fb.length + size + (size > 0 ? (big || far ? 24 : 16) : 0);
  }
  const cdSize = central.reduce((n, b) => n + b.length, 0);
  for (const b of central) parts.push(b);
  parts.push(endRecords(records.length, cdSize, offset));
  return parts;
}

/** A zip64 extended-information field: the 64-bit sizes and/or local header offset. */
function zip64Extra(sizes: number[], offsets: number[]): Buffer {
  const values = [...sizes, ...offsets];
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return b;
}

function dataDescriptor(crc: number, size: number, wide: boolean): Buffer {
  const b = Buffer.alloc(wide ? 24 : 16);
  b.writeUInt32LE(0x08074b50, 0);
  b.writeUInt32LE(crc, 4);
  if (wide) {
    b.writeBigUInt64LE(BigInt(size), 8); // compressed size (STORED: the same)
    b.writeBigUInt64LE(BigInt(size), 16);
  } else {
    b.writeUInt32LE(size, 8);
    b.writeUInt32LE(size, 12);
  }
  return b;
}

/** The zip64 end record and its locator (torch always writes them), then the classic end record. */
function endRecords(count: number, cdSize: number, cdOffset: number): Buffer {
  const end64At = cdOffset + cdSize;
  const b = Buffer.alloc(56 + 20 + 22);
  b.writeUInt32LE(0x06064b50, 0);
  b.writeBigUInt64LE(44n, 4); // size of the rest of this record
  b.writeUInt16LE(45, 12);
  b.writeUInt16LE(45, 14);
  b.writeBigUInt64LE(BigInt(count), 24);
  b.writeBigUInt64LE(BigInt(count), 32);
  b.writeBigUInt64LE(BigInt(cdSize), 40);
  b.writeBigUInt64LE(BigInt(cdOffset), 48);
  b.writeUInt32LE(0x07064b50, 56);
  b.writeBigUInt64LE(BigInt(end64At), 64);
  b.writeUInt32LE(1, 72); // one disk
  b.writeUInt32LE(0x06054b50, 76);
  b.writeUInt16LE(Math.min(count, 0xffff), 84);
  b.writeUInt16LE(Math.min(count, 0xffff), 86);
  b.writeUInt32LE(Math.min(cdSize, U32_MAX), 88);
  b.writeUInt32LE(Math.min(cdOffset, U32_MAX), 92);
  return b;
}

/** Writes the parts in order; runs of small parts (headers, small tensors) go out as one write. */
