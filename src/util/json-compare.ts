/**
 * Comparing JSON-like settings (configs written to a run's `trainer.json` and read back): a
 * canonical form whose keys are sorted, so two equal settings compare equal however their
 * objects were built, and the paths at which two settings differ, for messages that say which
 * field changed rather than printing both whole.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: { d: [2, 3], c: undefined } }); // { a: { d: [2, 3] }, b: 1 }
 * jsonDifferences({ adapter: { r: 8, alpha: 8 } }, { adapter: { r: 8, alpha: 16 } });
 * // [ 'adapter.alpha 8 then, 16 now' ]
 * ```
 */
import { describeValue } from './describe.js';
import { isJsonObject } from './json-text.js';

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * `v` as JSON would store it (undefined fields dropped, non-finite numbers as null) with every
 * object's keys sorted.
 */
export function canonicalJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((x) => canonicalJson(x));
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).filter((k) => o[k] !== undefined && typeof o[k] !== 'function').sort().map((k) => [k, canonicalJson(o[k])]));
  }
  return String(v);
}

/**
 * Where `then` and `now` differ, one `path then-value then, now-value now` entry per differing
 * leaf (arrays of different lengths and values of different types count as one leaf), at most
 * `max` entries plus a count of the rest. Values are described briefly (see describeValue); a
 * field present on one side only shows as `absent`.
 */
export function jsonDifferences(then: unknown, now: unknown, max = 4): string[] {
  const out: string[] = [];
  let more = 0;
  const show = (v: unknown) => (v === undefined ? 'absent' : describeValue(v, 40));
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (isJsonObject(a) && isJsonObject(b)) {
      for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(a[k], b[k], path ? `${path}.${k}` : k);
      return;
    }
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
      a.forEach((x, i) => walk(x, b[i], `${path}[${i}]`));
      return;
    }
    if (JSON.stringify(canonicalJson(a)) === JSON.stringify(canonicalJson(b))) return;
    if (out.length < max) out.push(`${path || '(the whole value)'} ${show(a)} then, ${show(b)} now`);
    else more++;
  };
  walk(then, now, '');
  if (more) out.push(`and ${more} more`);
  return out;
}
