/**
 * JSON text exactly as Python's `json.dump(obj, f, indent=2, sort_keys=True)` writes it, which is
 * how AdapterHub and PEFT save their config files. Two things differ from `JSON.stringify`:
 *
 * - Python keeps the float/int distinction that JavaScript numbers lose. A value that must be a
 *   float in Python (AdapterHub's `Adapter` raises `Unknown scaling type: 1` for an int scaling)
 *   is written through {@link pyFloat}, and comes out as Python's `repr` of the float: `1.0`,
 *   `0.0001`, `1e-05`, `1e+16`.
 * - `ensure_ascii`: every character outside printable ASCII is escaped as `\uXXXX`.
 *
 * @example
 * ```ts
 * pythonJson({ scaling: pyFloat(1), r: 8, b: 'é' });
 * // '{\n  "b": "\\u00e9",\n  "r": 8,\n  "scaling": 1.0\n}'
 * ```
 */

/** A number that Python must read as a float. */
export class PyFloat {
  constructor(readonly value: number) {}
  toJSON(): number {
    return this.value;
  }
}

/** Marks a number as a Python float (see {@link PyFloat}). */
export function pyFloat(x: number): PyFloat {
  return new PyFloat(x);
}

/** Python's `repr(float)`: the shortest round-trip digits, positional for 1e-4 <= |x| < 1e16. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let out: string;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) out = `0.${'0'.repeat(-exp - 1)}${digits}`;
    else if (digits.length <= exp + 1) out = `${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
    else out = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    out = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return neg ? `-${out}` : out;
}

function pyString(s: string): string {
  return JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function write(v: unknown, indent: string, step: string): string {
  if (v instanceof PyFloat) return pythonFloatRepr(v.value);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return pythonFloatRepr(v);
    return Number.isInteger(v) ? String(v) : pythonFloatRepr(v);
  }
  if (typeof v === 'string') return pyString(v);
  const inner = indent + step;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + write(x, inner, step)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${inner}${pyString(k)}: ${write(x, inner, step)}`).join(',\n')}\n${indent}}`;
}

/**
 * `json.dumps(value, indent=2, sort_keys=True)` (no trailing newline, as `json.dump` writes).
 * Keys sort by code unit, which equals Python's code point order for the ASCII keys configs use.
 */
export function pythonJson(value: unknown): string {
  return write(value, '', '  ');
}
