/**
 * Short, bounded descriptions of values read from files, for error messages. Whatever a file
 * holds (a megabyte string, a list nested 100,000 deep, a dict that contains itself, bigints),
 * the description is at most `max` characters (plus an ellipsis), walks at most a few levels deep
 * and stops as soon as it is long enough. Use it instead of `JSON.stringify` on anything that came
 * from a file.
 *
 * @example
 * ```ts
 * describeValue({ a: [1, 2n, 'x'.repeat(500)] }); // '{"a":[1,2,"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'
 * ```
 */

const MAX_DEPTH = 6;

/** A JSON-like rendering of `v`, cut to `max` characters (an ellipsis marks the cut). */
export function describeValue(v: unknown, max = 60): string {
  const out = { text: '', full: false };
  write(v, out, max, 0);
  return out.full ? `${out.text.slice(0, max)}…` : out.text;
}

interface Out {
  text: string;
  full: boolean;
}

function put(out: Out, s: string, max: number): boolean {
  if (out.full) return false;
  out.text += s;
  if (out.text.length > max) out.full = true;
  return !out.full;
}

function write(v: unknown, out: Out, max: number, depth: number): void {
  if (out.full) return;
  if (v === null || v === undefined || typeof v === 'boolean' || typeof v === 'number') {
    put(out, String(v), max);
  } else if (typeof v === 'bigint') {
    put(out, v.toString().length > max ? 'a very large integer' : v.toString(), max);
  } else if (typeof v === 'string') {
    put(out, JSON.stringify(v.length > max ? v.slice(0, max + 1) : v), max);
  } else if (typeof v === 'function' || typeof v === 'symbol') {
    put(out, `[${typeof v}]`, max);
  } else if (ArrayBuffer.isView(v)) {
    put(out, `<${v.byteLength} bytes>`, max);
  } else if (depth >= MAX_DEPTH) {
    put(out, '…', max);
  } else if (Array.isArray(v) || v instanceof Set) {
    put(out, v instanceof Set ? 'set(' : '[', max);
    let i = 0;
    for (const x of v as Iterable<unknown>) {
      if ((i++ > 0 && !put(out, ',', max)) || out.full) break;
      write(x, out, max, depth + 1);
    }
    put(out, v instanceof Set ? ')' : ']', max);
  } else if (v instanceof Map) {
    put(out, '{', max);
    let i = 0;
    for (const [k, x] of v) {
      if ((i++ > 0 && !put(out, ',', max)) || out.full) break;
      write(k, out, max, depth + 1);
      put(out, ':', max);
      write(x, out, max, depth + 1);
    }
    put(out, '}', max);
  } else {
    put(out, '{', max);
    let i = 0;
    for (const k in v as object) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
      if ((i++ > 0 && !put(out, ',', max)) || out.full) break;
      write(k, out, max, depth + 1);
      put(out, ':', max);
      write((v as Record<string, unknown>)[k], out, max, depth + 1);
    }
    put(out, '}', max);
  }
}

/** `s` cut to `max` characters (an ellipsis marks the cut), for names read from files. */
export function truncateText(s: string, max = 120): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
