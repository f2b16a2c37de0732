/**
 * A restricted unpickler: it decodes the pickle opcodes that state dicts use and never runs code.
 * Values become plain JavaScript data (None -> null, int -> number or bigint when too large,
 * str -> string, bytes -> Uint8Array, list and tuple -> array, dict -> Map, set -> Set). Every
 * GLOBAL goes through `hooks.findGlobal`, which decides what (if anything) a name may become; only
 * values it returns as {@link PickleCallable} can be called by REDUCE / NEWOBJ. Persistent ids go
 * through `hooks.persistentLoad`.
 *
 * Each opcode is one small entry in {@link OPS}; opcodes not listed there are rejected.
 */
import { AdapterkitError } from '../../errors.js';

/** What the caller decides about globals and persistent ids. */
export interface PickleHooks {
  /** Resolves `module.name` (GLOBAL / STACK_GLOBAL). Throw to refuse the name. */
  findGlobal(module: string, name: string): unknown;
  /** Resolves a persistent id (BINPERSID). */
  persistentLoad(pid: unknown): unknown;
}

/** A global that REDUCE / NEWOBJ may call. */
export interface PickleCallable {
  readonly pickleName: string;
  call(args: readonly unknown[]): unknown;
}

/** True when `v` is a {@link PickleCallable}. */
export function isPickleCallable(v: unknown): v is PickleCallable {
  return typeof v === 'object' && v !== null && typeof (v as PickleCallable).call === 'function' && typeof (v as PickleCallable).pickleName === 'string';
}

/** Thrown when the pickle ends before STOP: the caller may retry with more bytes. */
export class PickleTruncatedError extends AdapterkitError {
  constructor(message: string) {
    super('BAD_FILE', message);
  }
}

/** Result of {@link unpickle}: the value and the byte position just after its STOP opcode. */
export interface Unpickled {
  value: unknown;
  end: number;
}

/** Bounds on what one pickle may build. */
export interface PickleLimits {
  /** Most containers (lists, tuples, dicts, sets, built objects). Default {@link DEFAULT_MAX_CONTAINERS}. */
  maxContainers?: number;
}

/**
 * Default container budget: a state dict needs about eight per tensor, so this allows well over
 * 100,000 tensors while keeping what a hostile pickle can make the decoder build to a few hundred MB.
 */
export const DEFAULT_MAX_CONTAINERS = 1 << 20;

/**
 * Decodes one pickle starting at `start`. `where` names the source in error messages (file and
 * entry). Decoding is iterative (any nesting depth), linear in the input, and bounded by `limits`.
 * Throws BAD_FILE for corrupt or unsupported content ({@link PickleTruncatedError} when the
 * bytes end before STOP); whatever `hooks` throw passes through.
 */
export function unpickle(bytes: Uint8Array, start: number, hooks: PickleHooks, where: string, limits: PickleLimits = {}): Unpickled {
  const m = new Machine(bytes, start, hooks, where, limits.maxContainers ?? DEFAULT_MAX_CONTAINERS);
  for (;;) {
    m.opStart = m.pos;
    const code = m.u8();
    const op = OPS[code];
    if (!op) throw m.corrupt(`unsupported opcode 0x${code.toString(16).padStart(2, '0')}`);
    if (op(m) === STOP) return { value: m.pop(), end: m.pos };
  }
}

const STOP = Symbol('stop');

/** Decoder state: input cursor, value stack, mark stack and memo. */
class Machine {
  stack: unknown[] = [];
  marks: unknown[][] = [];
  memo = new Map<number, unknown>();
  opStart = 0;
  private containers = 0;
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    readonly hooks: PickleHooks,
    readonly where: string,
    readonly maxContainers: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  corrupt(msg: string): AdapterkitError {
    return new AdapterkitError('BAD_FILE', `${this.where}: corrupt pickle at byte ${this.opStart}: ${msg}`);
  }

  take(n: number): number {
    if (n < 0 || this.pos + n > this.bytes.length) {
      throw new PickleTruncatedError(`${this.where}: the pickle ends early at byte ${this.bytes.length} (truncated file?)`);
    }
    const p = this.pos;
    this.pos += n;
    return p;
  }
  u8(): number { return this.view.getUint8(this.take(1)); }
  u16(): number { return this.view.getUint16(this.take(2), true); }
  u32(): number { return this.view.getUint32(this.take(4), true); }
  i32(): number { return this.view.getInt32(this.take(4), true); }
  u64(): number {
    const v = this.view.getBigUint64(this.take(8), true);
    if (v > BigInt(this.bytes.length)) throw this.corrupt(`length ${v} exceeds the pickle size`);
    return Number(v);
  }
  f64be(): number { return this.view.getFloat64(this.take(8), false); }
  raw(n: number): Uint8Array {
    const p = this.take(n);
    return this.bytes.slice(p, p + n);
  }
  text(n: number, encoding: 'utf-8' | 'latin1' = 'utf-8'): string {
    const p = this.take(n);
    try {
      return new TextDecoder(encoding, { fatal: true }).decode(this.bytes.subarray(p, p + n));
    } catch {
      throw this.corrupt('string is not valid UTF-8');
    }
  }
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.take(this.bytes.length + 1);
    return this.text(end - this.pos + 1).slice(0, -1);
  }

  push(v: unknown): void { this.stack.push(v); }
  pop(): unknown {
    if (this.stack.length === 0) throw this.corrupt('stack underflow');
    return this.stack.pop();
  }
  top(): unknown {
    if (this.stack.length === 0) throw this.corrupt('stack underflow');
    return this.stack[this.stack.length - 1];
  }
  mark(): void {
    this.made(this.stack);
    this.marks.push(this.stack);
    this.stack = [];
  }
  popMark(): unknown[] {
    const items = this.stack;
    const prev = this.marks.pop();
    if (!prev) throw this.corrupt('no MARK to pop to');
    this.stack = prev;
    return items;
  }
  get(i: number): unknown {
    if (!this.memo.has(i)) throw this.corrupt(`memo key ${i} was never stored`);
    return this.memo.get(i);
  }
  asList(v: unknown): unknown[] {
    if (!Array.isArray(v)) throw this.corrupt('expected a list or tuple on the stack');
    return v;
  }
  asMap(v: unknown): Map<unknown, unknown> {
    if (!(v instanceof Map)) throw this.corrupt('expected a dict on the stack');
    return v;
  }
  asSet(v: unknown): Set<unknown> {
    if (!(v instanceof Set)) throw this.corrupt('expected a set on the stack');
    return v;
  }
  call(fn: unknown, args: unknown): unknown {
    if (!isPickleCallable(fn)) throw this.corrupt('REDUCE/NEWOBJ applied to something that is not an allowed callable');
    return this.made(fn.call(this.asList(args)));
  }
  /** Counts one new container (list, tuple, dict, set, object) against the budget; returns it. */
  made<T>(v: T): T {
    if (++this.containers > this.maxContainers) {
      throw this.corrupt(`more than ${this.maxContainers} lists, tuples, dicts and objects: far more than a state dict needs`);
    }
    return v;
  }
  /** A signed 32-bit length field, refused when negative. */
  length(n: number): number {
    if (n < 0) throw this.corrupt(`negative length ${n}`);
    return n;
  }
}

type Op = (m: Machine) => void | typeof STOP;

/** Longest LONG1 / LONG4 integer accepted, in bytes (Python writes LONG4 only past 255 bytes). */
export const MAX_LONG_BYTES = 255;

/**
 * The little-endian two's-complement integer of the next `n` bytes (LONG1 / LONG4). Decoded in one
 * step from hex, so the cost is linear in `n`; longer integers than any checkpoint holds are refused
 * before they are read.
 */
function decodeLong(m: Machine, n: number): number | bigint {
  if (n > MAX_LONG_BYTES) throw m.corrupt(`a ${n}-byte integer; integers in a checkpoint are at most ${MAX_LONG_BYTES} bytes`);
  const bytes = m.raw(n);
  if (n === 0) return 0;
  let hex = '';
  for (let i = n - 1; i >= 0; i--) hex += bytes[i]!.toString(16).padStart(2, '0');
  let v = BigInt(`0x${hex}`);
  if (bytes[n - 1]! & 0x80) v -= 1n << BigInt(n * 8);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function setItems(m: Machine, dict: unknown, items: unknown[]): void {
  const map = m.asMap(dict);
  if (items.length % 2) throw m.corrupt('SETITEMS with an odd number of items');
  for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
}

function pair(m: Machine): [unknown, unknown] {
  const b = m.pop();
  return [m.pop(), b];
}

/** Opcode table: byte -> action. Opcodes absent here are refused. */
const OPS: Partial<Record<number, Op>> = {
  0x80: (m) => { const v = m.u8(); if (v > 5) throw m.corrupt(`unknown protocol ${v}`); }, // PROTO
  0x95: (m) => { m.u64(); }, // FRAME (length ignored: the whole pickle is in memory)
  0x2e: () => STOP, // STOP
  0x28: (m) => m.mark(), // MARK
  0x30: (m) => { m.pop(); }, // POP
  0x31: (m) => { m.popMark(); }, // POP_MARK
  0x32: (m) => m.push(m.top()), // DUP
  0x4e: (m) => m.push(null), // NONE
  0x88: (m) => m.push(true), // NEWTRUE
  0x89: (m) => m.push(false), // NEWFALSE
  0x4a: (m) => m.push(m.i32()), // BININT
  0x4b: (m) => m.push(m.u8()), // BININT1
  0x4d: (m) => m.push(m.u16()), // BININT2
  0x8a: (m) => m.push(decodeLong(m, m.u8())), // LONG1
  0x8b: (m) => m.push(decodeLong(m, m.length(m.i32()))), // LONG4
  0x47: (m) => m.push(m.f64be()), // BINFLOAT
  0x58: (m) => m.push(m.text(m.u32())), // BINUNICODE
  0x8c: (m) => m.push(m.text(m.u8())), // SHORT_BINUNICODE
  0x8d: (m) => m.push(m.text(m.u64())), // BINUNICODE8
  0x54: (m) => m.push(m.text(m.length(m.i32()), 'latin1')), // BINSTRING
  0x55: (m) => m.push(m.text(m.u8(), 'latin1')), // SHORT_BINSTRING
  0x42: (m) => m.push(m.raw(m.u32())), // BINBYTES
  0x43: (m) => m.push(m.raw(m.u8())), // SHORT_BINBYTES
  0x8e: (m) => m.push(m.raw(m.u64())), // BINBYTES8
  0x29: (m) => m.push(m.made([])), // EMPTY_TUPLE
  0x74: (m) => m.push(m.popMark()), // TUPLE (the mark's array becomes the tuple)
  0x85: (m) => m.push(m.made([m.pop()])), // TUPLE1
  0x86: (m) => m.push(m.made(pair(m))), // TUPLE2
  0x87: (m) => { const c = m.pop(); const [a, b] = pair(m); m.push(m.made([a, b, c])); }, // TUPLE3
  0x5d: (m) => m.push(m.made([])), // EMPTY_LIST
  0x6c: (m) => m.push(m.popMark()), // LIST
  0x61: (m) => { const v = m.pop(); m.asList(m.top()).push(v); }, // APPEND
  0x65: (m) => { const items = m.popMark(); const list = m.asList(m.top()); for (const v of items) list.push(v); }, // APPENDS
  0x7d: (m) => m.push(m.made(new Map())), // EMPTY_DICT
  0x64: (m) => { const map = m.made(new Map()); setItems(m, map, m.popMark()); m.push(map); }, // DICT
  0x73: (m) => { const [k, v] = pair(m); m.asMap(m.top()).set(k, v); }, // SETITEM
  0x75: (m) => { const items = m.popMark(); setItems(m, m.top(), items); }, // SETITEMS
  0x8f: (m) => m.push(m.made(new Set())), // EMPTY_SET
  0x90: (m) => { const items = m.popMark(); const s = m.asSet(m.top()); for (const v of items) s.add(v); }, // ADDITEMS
  0x91: (m) => m.push(m.made(new Set(m.popMark()))), // FROZENSET
  0x71: (m) => { m.memo.set(m.u8(), m.top()); }, // BINPUT
  0x72: (m) => { m.memo.set(m.u32(), m.top()); }, // LONG_BINPUT
  0x94: (m) => { m.memo.set(m.memo.size, m.top()); }, // MEMOIZE
  0x68: (m) => m.push(m.get(m.u8())), // BINGET
  0x6a: (m) => m.push(m.get(m.u32())), // LONG_BINGET
  0x63: (m) => { const mod = m.line(); m.push(m.hooks.findGlobal(mod, m.line())); }, // GLOBAL
  0x93: (m) => { // STACK_GLOBAL
    const [mod, name] = pair(m);
    if (typeof mod !== 'string' || typeof name !== 'string') throw m.corrupt('STACK_GLOBAL needs two strings');
    m.push(m.hooks.findGlobal(mod, name));
  },
  0x52: (m) => { const [fn, args] = pair(m); m.push(m.call(fn, args)); }, // REDUCE
  0x81: (m) => { const [cls, args] = pair(m); m.push(m.call(cls, args)); }, // NEWOBJ
  0x92: (m) => { // NEWOBJ_EX
    const kwargs = m.pop();
    const [cls, args] = pair(m);
    if (!(kwargs instanceof Map) || kwargs.size > 0) throw m.corrupt('NEWOBJ_EX with keyword arguments is not supported');
    m.push(m.call(cls, args));
  },
  0x62: (m) => { m.pop(); m.top(); }, // BUILD: the state (e.g. a state dict's _metadata) is dropped
  0x51: (m) => m.push(m.made(m.hooks.persistentLoad(m.pop()))), // BINPERSID
};
