/**
 * Parsing JSON text that comes from outside (model directories, task directories, checkpoint
 * headers) with coded errors that never echo its contents; no file access, so it runs in a
 * browser too (reading files: json.ts).
 *
 * {@link parseJsonText} is a strict, iterative JSON parser: nesting is bounded (no stack overflow,
 * here or in whatever walks the value later), duplicate keys are refused (`JSON.parse` silently
 * keeps the last one), the number of values can be capped, and syntax errors give a line and
 * column instead of the text around them (V8's `JSON.parse` messages quote the input). Values are
 * the ones `JSON.parse` gives, `__proto__` keys included as own properties.
 *
 * @example
 * ```ts
 * parseJsonText('{"a": [1, 2]}', 'x.json');           // { a: [1, 2] }
 * parseJsonText('{"a": 1, "a": 2}', 'x.json');        // throws BAD_FILE: x.json is not valid JSON: key "a" appears twice (line 1, column 9)
 * ```
 */
import { fail } from '../errors.js';
import { describeValue } from './describe.js';

/** Limits applied while reading one JSON document. */
export interface JsonLimits {
  /** Deepest nesting of objects and arrays. Default {@link DEFAULT_JSON_DEPTH}. */
  maxDepth?: number;
  /** Most values (of any kind, containers included) in the document. Default: no limit beyond the size. */
  maxValues?: number;
  /** Largest file read, in bytes. Default {@link DEFAULT_JSON_BYTES}. */
  maxBytes?: number;
  /** What errors about the limits call the document (e.g. `x.safetensors: header`). Default: `where`. */
  name?: string;
}

/** Default nesting limit: far above any configuration file, far below the call stack. */
export const DEFAULT_JSON_DEPTH = 64;
/** Default file size limit. */
export const DEFAULT_JSON_BYTES = 64 * 1024 * 1024;

/**
 * Parses `text` as one JSON document. `where` starts every error message (e.g.
 * `config.json is not valid JSON`); errors are BAD_FILE with a line and column.
 */
export function parseJsonText(text: string, where: string, limits: JsonLimits = {}): unknown {
  return new Parser(text, where, limits.name ?? where, limits.maxDepth ?? DEFAULT_JSON_DEPTH, limits.maxValues ?? Infinity).document();
}

/**
 * Whether a parsed value is a JSON object (not null, not an array), narrowing it for reading keys.
 *
 * @example
 * ```ts
 * isJsonObject({ a: 1 }); // true
 * isJsonObject([1]);      // false
 * ```
 */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The JSON type of a parsed value, for messages: 'an object', 'an array', 'a string'... */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'number') return 'a number';
  if (typeof v === 'boolean') return 'a boolean';
  return typeof v;
}

type Frame = { obj: Record<string, unknown>; key: string; arr?: undefined } | { arr: unknown[]; obj?: undefined };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x22, '"'], [0x5c, '\\'], [0x2f, '/'], [0x62, '\b'], [0x66, '\f'], [0x6e, '\n'], [0x72, '\r'], [0x74, '\t'],
]);

/** One pass over the text with an explicit stack of open containers. */
class Parser {
  private pos = 0;
  private values = 0;
  private readonly stack: Frame[] = [];

  constructor(
    private readonly text: string,
    private readonly where: string,
    private readonly name: string,
    private readonly maxDepth: number,
    private readonly maxValues: number,
  ) {}

  document(): unknown {
    for (;;) {
      let value = this.valueOrOpen();
      if (value === OPENED) continue;
      // Attach the finished value to the open containers, closing those that end here.
      for (;;) {
        const top = this.stack[this.stack.length - 1];
        if (top === undefined) {
          this.skipSpace();
          if (this.pos < this.text.length) this.error('unexpected data after the end of the document');
          return value;
        }
        this.skipSpace();
        const c = this.text.charCodeAt(this.pos);
        if (top.arr) {
          top.arr.push(value);
          if (c === 0x2c) { this.pos++; break; }
          if (c !== 0x5d) this.error(this.pos < this.text.length ? "expected ',' or ']'" : 'unexpected end of the document');
          this.pos++;
          value = top.arr;
        } else {
          setKey(top.obj, top.key, value);
          if (c === 0x2c) { this.pos++; top.key = this.key(top.obj); break; }
          if (c !== 0x7d) this.error(this.pos < this.text.length ? "expected ',' or '}'" : 'unexpected end of the document');
          this.pos++;
          value = top.obj;
        }
        this.stack.pop();
      }
    }
  }

  /** A complete primitive or empty container, or OPENED after pushing a non-empty container. */
  private valueOrOpen(): unknown {
    this.skipSpace();
    if (++this.values > this.maxValues) this.error(`more than ${this.maxValues} values`, this.pos, this.name);
    const c = this.text.charCodeAt(this.pos);
    if (c === 0x7b || c === 0x5b) {
      const at = this.pos++;
      this.skipSpace();
      const close = c === 0x7b ? 0x7d : 0x5d;
      if (this.text.charCodeAt(this.pos) === close) {
        this.pos++;
        return c === 0x7b ? {} : [];
      }
      if (this.stack.length >= this.maxDepth) this.error(`nested more than ${this.maxDepth} levels deep`, at, this.name);
      if (c === 0x5b) {
        this.stack.push({ arr: [] });
      } else {
        const obj: Record<string, unknown> = {};
        this.stack.push({ obj, key: this.key(obj) });
      }
      return OPENED;
    }
    if (c === QUOTE) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.text.startsWith('true', this.pos)) { this.pos += 4; return true; }
    if (this.text.startsWith('false', this.pos)) { this.pos += 5; return false; }
    if (this.text.startsWith('null', this.pos)) { this.pos += 4; return null; }
    return this.error(this.pos < this.text.length ? 'unexpected character' : 'unexpected end of the document');
  }

  /** `"key" :` of an object member; refuses a key the object already has. */
  private key(obj: Record<string, unknown>): string {
    this.skipSpace();
    const at = this.pos;
    if (this.text.charCodeAt(this.pos) !== QUOTE) this.error(this.pos < this.text.length ? 'expected a string key' : 'unexpected end of the document');
    const key = this.string();
    if (Object.prototype.hasOwnProperty.call(obj, key)) this.error(`key ${describeValue(key, 40)} appears twice`, at);
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) !== 0x3a) this.error(this.pos < this.text.length ? "expected ':'" : 'unexpected end of the document');
    this.pos++;
    return key;
  }

  private string(): string {
    const text = this.text;
    const start = ++this.pos;
    let i = start;
    const n = text.length;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return text.slice(start, i);
      }
      if (c === BACKSLASH) break;
      if (c < 0x20) this.error('control character in a string', i);
      i++;
    }
    let out = text.slice(start, i);
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return out;
      }
      if (c < 0x20) this.error('control character in a string', i);
      if (c !== BACKSLASH) {
        let j = i + 1;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === QUOTE || d === BACKSLASH || d < 0x20) break;
          j++;
        }
        out += text.slice(i, j);
        i = j;
        continue;
      }
      const e = text.charCodeAt(i + 1);
      const simple = ESCAPES.get(e);
      if (simple !== undefined) {
        out += simple;
        i += 2;
      } else if (e === 0x75 && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        this.error('invalid escape in a string', i);
      }
    }
    return this.error('unterminated string', start - 1);
  }

  private number(): number {
    const text = this.text;
    const n = text.length;
    const start = this.pos;
    let i = start;
    let c = text.charCodeAt(i);
    if (c === 0x2d) c = text.charCodeAt(++i);
    let int = 0;
    if (c === 0x30) {
      c = text.charCodeAt(++i);
    } else {
      const from = i;
      while (c >= 0x30 && c <= 0x39) {
        int = int * 10 + (c - 0x30);
        c = text.charCodeAt(++i);
      }
      if (i === from) this.error('invalid number', start);
    }
    let simple = i - start <= 15;
    if (c === 0x2e) {
      simple = false;
      const from = ++i;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      if (i === from) this.error('invalid number', start);
      c = text.charCodeAt(i);
    }
    if (c === 0x65 || c === 0x45) {
      simple = false;
      c = text.charCodeAt(++i);
      if (c === 0x2b || c === 0x2d) i++;
      const from = i;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      if (i === from) this.error('invalid number', start);
    }
    this.pos = i;
    if (simple) return text.charCodeAt(start) === 0x2d ? -int : int;
    return Number(text.slice(start, i));
  }

  private skipSpace(): void {
    const text = this.text;
    let i = this.pos;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.pos = i;
  }

  private error(detail: string, at = this.pos, where = this.where): never {
    let line = 1;
    let lineStart = 0;
    for (let i = this.text.indexOf('\n'); i >= 0 && i < at; i = this.text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    return fail('BAD_FILE', `${where}: ${detail} (line ${line}, column ${at - lineStart + 1})`);
  }
}

const OPENED = Symbol('opened');

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}