// Seeded mutations of valid files: raw bytes, JSON structure, pickle opcodes, zip records and
// safetensors headers. Every mutation is a pure function of the Rng, so a case replays from its seed.
import type { Rng } from '../../src/util/random.js';
import { craftZip, type CraftEntry } from '../weights/craft.js';

/** Picks one element. */
export function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

const INTERESTING_U32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];

/** One random byte-level change: flip, set, overwrite with an interesting integer, insert, delete, duplicate, truncate, append. */
export function mutateBytes(rng: Rng, input: Uint8Array, focus = input.length): { bytes: Buffer; what: string } {
  const b = Buffer.from(input);
  const n = b.length;
  const at = n === 0 ? 0 : rng.int(Math.max(1, Math.min(focus, n)));
  switch (rng.int(10)) {
    case 0:
      if (n === 0) break;
      b[at] = b[at]! ^ (1 << rng.int(8));
      return { bytes: b, what: `flip a bit at ${at}` };
    case 1:
      if (n === 0) break;
      b[at] = pick(rng, [0, 0xff, 0x7f, 0x80, rng.int(256)]);
      return { bytes: b, what: `set byte ${at}` };
    case 2: {
      if (n < 4) break;
      const p = Math.min(at, n - 4);
      b.writeUInt32LE(pick(rng, INTERESTING_U32), p);
      return { bytes: b, what: `u32 at ${p}` };
    }
    case 3: {
      if (n < 8) break;
      const p = Math.min(at, n - 8);
      b.writeBigUInt64LE(pick(rng, [0n, 1n, 0xffffffffn, 1n << 32n, 1n << 53n, (1n << 63n) - 1n, (1n << 64n) - 1n]), p);
      return { bytes: b, what: `u64 at ${p}` };
    }
    case 4: {
      const len = pick(rng, [1, 2, 4, 16, 256]);
      const ins = Buffer.alloc(len);
      for (let i = 0; i < len; i++) ins[i] = rng.int(256);
      return { bytes: Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]), what: `insert ${len} bytes at ${at}` };
    }
    case 5: {
      const len = Math.min(n - at, pick(rng, [1, 4, 64, 1024]));
      return { bytes: Buffer.concat([b.subarray(0, at), b.subarray(at + len)]), what: `delete ${len} bytes at ${at}` };
    }
    case 6: {
      const len = Math.min(n - at, pick(rng, [4, 64, 512]));
      const copies = pick(rng, [1, 2, 16]);
      const chunk = b.subarray(at, at + len);
      return { bytes: Buffer.concat([b.subarray(0, at), ...Array.from({ length: copies }, () => chunk), b.subarray(at)]), what: `duplicate ${len} bytes x${copies} at ${at}` };
    }
    case 7:
      return { bytes: b.subarray(0, at), what: `truncate to ${at}` };
    case 8: {
      const len = pick(rng, [1, 8, 100, 4096]);
      return { bytes: Buffer.concat([b, Buffer.alloc(len, rng.int(256))]), what: `append ${len} bytes` };
    }
    default:
      break;
  }
  // Several random bytes at once.
  for (let i = 0; i < 8 && n > 0; i++) b[rng.int(n)] = rng.int(256);
  return { bytes: b, what: 'scribble 8 bytes' };
}

// ---- JSON --------------------------------------------------------------------------------------

const MARK = '\u0001MARK';

/** Huge or nested values are spliced in as text after JSON.stringify (which could not build them). */
function bulkyText(rng: Rng): string {
  const n = pick(rng, [9, 65, 1000, 100_000]);
  switch (rng.int(5)) {
    case 0: return `${'['.repeat(n)}${']'.repeat(n)}`;
    case 1: return `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    case 2: return JSON.stringify('x'.repeat(pick(rng, [1000, 1_000_000])));
    case 3: return `[${Array.from({ length: 10_000 }, (_, i) => i).join(',')}]`;
    default: return `{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
  }
}

const NAMES = ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf', 'type', 'vocab', 'id', 'weight_map', 'model', 'dtype', 'shape', 'data_offsets', '__metadata__', 'hidden_act', 'num_hidden_layers'];

function randomValue(rng: Rng, bulky: string[]): unknown {
  switch (rng.int(8)) {
    case 0: return pick(rng, [0, -1, 1, 1.5, 7, 1e9, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53 + 2, 1e-300, -0]);
    case 1: return pick(rng, ['', 'toString', '__proto__', 'constructor', '../../etc/hostname', '/etc/hostname', 'model.safetensors', '\u0000', 'gelu', 'bert', 'A', '[CLS]', '\\', 'F32', 'I64', 'WordPiece', 'Sequence', 'x'.repeat(300)]);
    case 2: return pick(rng, [null, true, false]);
    case 3: return pick(rng, [[], {}, [1, 2], [-1], [1e9], ['[CLS]', 1e9], [0, 1e15], { type: 'Sequence' }, { type: 'toString' }]);
    case 4: {
      bulky.push(bulkyText(rng));
      return `${MARK}${bulky.length - 1}`;
    }
    default: return pick(rng, NAMES);
  }
}

interface Slot {
  parent: Record<string, unknown> | unknown[];
  key: string | number;
}

function slots(root: unknown, max = 50_000): Slot[] {
  const out: Slot[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0 && out.length < max) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      v.forEach((x, i) => { out.push({ parent: v, key: i }); stack.push(x); });
    } else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) { out.push({ parent: v as Record<string, unknown>, key: k }); stack.push((v as Record<string, unknown>)[k]); }
    }
  }
  return out;
}

/** One structural change to a JSON document (replace, delete, add, retype, duplicate a key), or a text-level change. */
export function mutateJson(rng: Rng, text: string): { bytes: Buffer; what: string } {
  if (rng.int(5) === 0) {
    const r = mutateBytes(rng, Buffer.from(text, 'utf8'));
    return { bytes: r.bytes, what: `text: ${r.what}` };
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return mutateBytes(rng, Buffer.from(text, 'utf8'));
  }
  const all = slots(root);
  const bulky: string[] = [];
  let what: string;
  let duplicate: string | undefined;
  if (all.length === 0) {
    root = randomValue(rng, bulky);
    what = 'replace the document';
  } else {
    const s = pick(rng, all);
    const { parent, key } = s;
    const get = (): unknown => (parent as Record<string | number, unknown>)[key];
    const set = (v: unknown): void => { (parent as Record<string | number, unknown>)[key] = v; };
    switch (rng.int(7)) {
      case 0:
      case 1:
        set(randomValue(rng, bulky));
        what = `replace ${String(key)}`;
        break;
      case 2:
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        what = `delete ${String(key)}`;
        break;
      case 3: {
        const name = pick(rng, NAMES);
        if (Array.isArray(parent)) parent.push(randomValue(rng, bulky));
        else if (name === '__proto__') Object.defineProperty(parent, name, { value: randomValue(rng, bulky), enumerable: true, writable: true, configurable: true });
        else parent[name] = randomValue(rng, bulky);
        what = `add ${name}`;
        break;
      }
      case 4: {
        const v = get();
        set(typeof v === 'number' ? String(v) : typeof v === 'string' ? Number(v.length) : Array.isArray(v) ? { ...v } : v !== null && typeof v === 'object' ? Object.values(v) : [v]);
        what = `retype ${String(key)}`;
        break;
      }
      case 5:
        if (!Array.isArray(parent)) {
          duplicate = String(key);
          what = `duplicate key ${String(key)}`;
        } else {
          parent.push(get(), get());
          what = 'repeat an element';
        }
        break;
      default: {
        const v = get();
        if (typeof v === 'number') set(pick(rng, [v * 1e6, -v, v + 0.5, 1e308, 2 ** 53, v * 1000 + 7]));
        else set(randomValue(rng, bulky));
        what = `scale ${String(key)}`;
      }
    }
  }
  let out = JSON.stringify(root, null, rng.int(2) === 0 ? 1 : undefined) ?? 'null';
  if (duplicate !== undefined) {
    const k = JSON.stringify(duplicate);
    const i = out.search(new RegExp(`${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*:`));
    if (i >= 0) out = `${out.slice(0, i)}${k}:0,${out.slice(i)}`;
  }
  out = out.replace(new RegExp(`"${MARK}(\\d+)"`, 'g'), (_m, i: string) => bulky[Number(i)]!);
  return { bytes: Buffer.from(out, 'utf8'), what };
}

// ---- pickles -----------------------------------------------------------------------------------

/** Opcode snippets that stress the unpickler: huge lengths, deep nesting, memo misuse, odd globals. */
function pickleSnippet(rng: Rng): Buffer {
  const depth = pick(rng, [100, 10_000]);
  switch (rng.int(12)) {
    case 0: return Buffer.from([0x8b, 0x00, 0x00, 0x04, 0x00]); // LONG4 of 256 KiB (data missing or following)
    case 1: return Buffer.from([0x58, 0xff, 0xff, 0xff, 0x7f]); // BINUNICODE of 2 GiB
    case 2: return Buffer.concat([Buffer.from([0x8e]), Buffer.from('ffffffffffffff7f', 'hex')]); // BINBYTES8 huge
    case 3: return Buffer.alloc(depth, 0x28); // MARK x depth
    case 4: return Buffer.concat([Buffer.alloc(depth, 0x5d), Buffer.alloc(depth - 1, 0x61)]); // nested lists
    case 5: return Buffer.from([0x7d, 0x71, 0x00, 0x8c, 0x01, 0x61, 0x68, 0x00, 0x73]); // a dict that contains itself
    case 6: return Buffer.from(`c${pick(rng, ['torch\nconstructor', 'torch\n__proto__', 'torch\ntoString', 'os\nsystem', 'builtins\neval', 'torch\nFloatStorage', 'collections\nOrderedDict'])}\n`, 'latin1');
    case 7: return Buffer.from([0x6a, 0xff, 0xff, 0xff, 0xff]); // LONG_BINGET of a missing key
    case 8: return Buffer.from([0x4a, ...Buffer.from(Int32Array.of(pick(rng, [-1, 2 ** 31 - 1, 0, 600_000_000])).buffer)]); // BININT
    case 9: return Buffer.from([0x8a, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]); // LONG1 2^63-1
    case 10: return Buffer.alloc(pick(rng, [1000, 100_000]), 0x7d); // many dicts
    default: return Buffer.from([pick(rng, [0x2e, 0x30, 0x31, 0x32, 0x51, 0x52, 0x62, 0x65, 0x73, 0x75, 0x74, 0x81, 0x92, 0x94, 0x95])]);
  }
}

/** A byte mutation of a pickle, or an opcode snippet inserted at a random position. */
export function mutatePickle(rng: Rng, bytes: Uint8Array): { bytes: Buffer; what: string } {
  if (rng.int(2) === 0) return mutateBytes(rng, bytes);
  const at = rng.int(bytes.length + 1);
  return { bytes: Buffer.concat([bytes.subarray(0, at), pickleSnippet(rng), bytes.subarray(at)]), what: `pickle snippet at ${at}` };
}

// ---- zip and safetensors -------------------------------------------------------------------------

/** Mutates one entry of a zip archive (its content, its compression, or what the directory says), then rebuilds it. */
export function mutateZip(rng: Rng, entries: readonly CraftEntry[]): { bytes: Buffer; what: string } {
  const es = entries.map((e) => ({ ...e }));
  const i = rng.int(es.length);
  const e = es[i]!;
  let what: string;
  switch (rng.int(6)) {
    case 0:
    case 1: {
      const r = e.name.endsWith('.pkl') ? mutatePickle(rng, e.data) : mutateBytes(rng, e.data);
      e.data = r.bytes;
      what = `${e.name}: ${r.what}`;
      break;
    }
    case 2:
      e.deflate = !e.deflate;
      what = `${e.name}: ${e.deflate ? 'deflate' : 'store'}`;
      break;
    case 3:
      e.claimedSize = pick(rng, [0, 1, e.data.length - 1, e.data.length + 1, e.data.length * 1000, 0xffffffff]);
      what = `${e.name}: claims ${e.claimedSize} bytes`;
      break;
    case 4:
      es.splice(i, 1);
      what = `drop ${e.name}`;
      break;
    default:
      es.push({ ...e });
      what = `repeat ${e.name}`;
  }
  return { bytes: craftZip(es), what };
}

/** Mutates a safetensors file's header as JSON (keeping its length field right), or its bytes. */
export function mutateSafetensors(rng: Rng, file: Uint8Array): { bytes: Buffer; what: string } {
  const b = Buffer.from(file);
  if (rng.int(3) === 0 || b.length < 8) return mutateBytes(rng, b);
  const n = Number(b.readBigUInt64LE(0));
  if (8 + n > b.length) return mutateBytes(rng, b);
  const header = b.subarray(8, 8 + n).toString('utf8');
  const data = b.subarray(8 + n);
  const r = rng.int(4) === 0 ? mutateBytes(rng, data) : undefined;
  const h = r === undefined ? mutateJson(rng, header) : { bytes: Buffer.from(header), what: '' };
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.bytes.length));
  return { bytes: Buffer.concat([len, h.bytes, r?.bytes ?? data]), what: r ? `data: ${r.what}` : `header: ${h.what}` };
}
