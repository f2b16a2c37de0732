// Crafting hostile checkpoints for tests and the fuzzer: a pickle opcode writer, torch state-dict
// pickles built from it, and a zip writer that can DEFLATE entries and lie about their sizes.
import { crc32, deflateRawSync } from 'node:zlib';

/** Writes pickle opcodes; each method appends one opcode (with its argument) and returns `this`. */
export class PickleWriter {
  private readonly parts: Buffer[] = [];

  raw(...bytes: number[]): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }
  buf(b: Uint8Array): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  proto(v = 2): this { return this.raw(0x80, v); }
  stop(): this { return this.raw(0x2e); }
  mark(): this { return this.raw(0x28); }
  tuple(): this { return this.raw(0x74); }
  emptyDict(): this { return this.raw(0x7d); }
  emptyList(): this { return this.raw(0x5d); }
  append(): this { return this.raw(0x61); }
  setitem(): this { return this.raw(0x73); }
  setitems(): this { return this.raw(0x75); }
  reduce(): this { return this.raw(0x52); }
  persid(): this { return this.raw(0x51); }
  newFalse(): this { return this.raw(0x89); }
  binput(i: number): this { return this.raw(0x71, i); }
  binget(i: number): this { return this.raw(0x68, i); }
  int(n: number): this {
    if (n < -(2 ** 31) || n >= 2 ** 31) {
      const b = Buffer.alloc(11);
      b[0] = 0x8a; // LONG1, 8 bytes
      b[1] = 8;
      b.writeBigInt64LE(BigInt(n), 2);
      return this.buf(b.subarray(0, 10));
    }
    const b = Buffer.alloc(5);
    b[0] = 0x4a;
    b.writeInt32LE(n, 1);
    return this.buf(b);
  }
  /** LONG4 with `n` payload bytes of `fill`. */
  long4(n: number, fill = 0x01): this {
    const b = Buffer.alloc(5 + n, fill);
    b[0] = 0x8b;
    b.writeInt32LE(n, 1);
    return this.buf(b);
  }
  str(s: string): this {
    const text = Buffer.from(s, 'utf8');
    const b = Buffer.alloc(5);
    b[0] = 0x58;
    b.writeUInt32LE(text.length, 1);
    return this.buf(b).buf(text);
  }
  global(module: string, name: string): this {
    return this.raw(0x63).buf(Buffer.from(`${module}\n${name}\n`, 'utf8'));
  }
  /** A tuple of ints: MARK, ints, TUPLE. */
  ints(values: readonly number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** One tensor of a crafted state dict. */
export interface CraftTensor {
  name: string;
  key: string;
  storage?: string;
  numel: number;
  offset?: number;
  shape: readonly number[];
  stride: readonly number[];
}

/** `_rebuild_tensor_v2(storage, offset, shape, stride, False, {})` as torch pickles it. */
export function writeTensor(p: PickleWriter, t: CraftTensor): PickleWriter {
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', t.storage ?? 'FloatStorage').str(t.key).str('cpu').int(t.numel).tuple().persid();
  p.int(t.offset ?? 0).ints(t.shape).ints(t.stride).newFalse().emptyDict();
  return p.tuple().reduce();
}

/** A protocol-2 pickle of `{ name: tensor, ... }`. */
export function stateDictPickle(tensors: readonly CraftTensor[]): Buffer {
  const p = new PickleWriter().proto().emptyDict().mark();
  for (const t of tensors) writeTensor(p.str(t.name), t);
  return p.setitems().stop().bytes();
}

/** A zip entry to write: its content, DEFLATE or STORED, and optionally a false uncompressed size. */
export interface CraftEntry {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** What the directory says the content's size is (default: the truth). */
  claimedSize?: number;
  /** Already-deflated bytes to store as they are (with `deflate`). */
  compressed?: Uint8Array;
}

/** A zip archive (central directory and all) of `entries`. */
export function craftZip(entries: readonly CraftEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const stored = e.deflate ? Buffer.from(e.compressed ?? deflateRawSync(e.data)) : Buffer.from(e.data);
    const size = Math.max(0, Math.min(e.claimedSize ?? e.data.length, 0xffffffff));
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, stored);
    centrals.push(central, name);
    offset += 30 + name.length + stored.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A torch zip checkpoint: `archive/data.pkl`, the storages (`key -> bytes`) and `archive/version`. */
export function torchZip(pickle: Uint8Array, storages: ReadonlyArray<[string, Uint8Array]> = [], pickleEntry: Partial<CraftEntry> = {}): Buffer {
  return craftZip([
    { name: 'archive/data.pkl', data: pickle, ...pickleEntry },
    ...storages.map(([key, data]) => ({ name: `archive/data/${key}`, data })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}

/** A safetensors file from a header object (or raw header text) and the data region. */
export function craftSafetensors(header: unknown, data: Uint8Array, rawHeader?: string): Buffer {
  const json = Buffer.from(rawHeader ?? JSON.stringify(header), 'utf8');
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([n, json, Buffer.from(data)]);
}

/**
 * A legacy (torch < 1.6) checkpoint: magic, protocol 1001, sys_info, the state-dict pickle, the
 * storage key list, then each storage as an 8-byte element count and its bytes.
 */
export function legacyFile(statePickle: Uint8Array, storages: ReadonlyArray<[string, number, Uint8Array]> = []): Buffer {
  const magic = Buffer.from('6cfc9c46f9206aa85019', 'hex');
  const keys = new PickleWriter().proto().mark();
  for (const [key] of storages) keys.str(key);
  keys.raw(0x6c).stop(); // LIST
  const records = storages.map(([, numel, data]) => {
    const n = Buffer.alloc(8);
    n.writeBigUInt64LE(BigInt(numel));
    return Buffer.concat([n, Buffer.from(data)]);
  });
  return Buffer.concat([
    new PickleWriter().proto().raw(0x8a, 10).buf(magic).stop().bytes(),
    new PickleWriter().proto().raw(0x4d, 0xe9, 0x03).stop().bytes(),
    new PickleWriter().proto().emptyDict().stop().bytes(),
    Buffer.from(statePickle),
    keys.bytes(),
    ...records,
  ]);
}
