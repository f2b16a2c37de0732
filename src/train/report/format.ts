/**
 * Text and number formatting shared by the SVG charts and the HTML report. Everything here is
 * deterministic (no locale, no time zone) so that a report rendered twice is byte-identical.
 */

const XML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes text for XML/HTML content and attribute values (`& < > " '`), and drops control
 * characters that XML 1.0 does not allow.
 *
 * @example
 * ```ts
 * escapeXml('<script>'); // '&lt;script&gt;'
 * ```
 */
export function escapeXml(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c] as string);
}

/** Digits grouped by thousands with commas: `1234567` → `1,234,567` (integers only). */
function groupThousands(int: string): string {
  const neg = int.startsWith('-');
  const digits = neg ? int.slice(1) : int;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return neg ? `-${grouped}` : grouped;
}

/**
 * Formats a number for a table cell or a label: integers with thousands separators, other values
 * with 4 significant digits (without trailing zeros), tiny/huge ones in exponent form; `NaN` and
 * infinities as `–`, `∞`, `-∞`.
 *
 * @example
 * ```ts
 * formatNumber(1234567); // '1,234,567'
 * formatNumber(0.834567); // '0.8346'
 * formatNumber(3e-5); // '3e-5'
 * ```
 */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return groupThousands(String(v));
  const abs = Math.abs(v);
  if (abs < 1e-3 || abs >= 1e15) return trimExponent(v.toExponential(2));
  return String(Number(v.toPrecision(4)));
}

/** `3.00e-5` → `3e-5`, `1.50e+20` → `1.5e20`. */
function trimExponent(s: string): string {
  const [mant = '', exp = ''] = s.split('e');
  const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
  return `${m}e${exp.replace('+', '')}`;
}

const SI = [
  { p: 1e12, s: 'T' }, { p: 1e9, s: 'G' }, { p: 1e6, s: 'M' }, { p: 1e3, s: 'k' },
] as const;

/**
 * Formats a value with an SI suffix (k, M, G, T) and up to 3 significant digits, for counts such as
 * parameters: `1500` → `1.5k`, `2e6` → `2M`, `0.5` → `0.5`.
 */
export function formatSi(v: number): string {
  if (!Number.isFinite(v)) return formatNumber(v);
  const abs = Math.abs(v);
  for (const { p, s } of SI) if (abs >= p) return `${Number((v / p).toPrecision(3))}${s}`;
  if (abs !== 0 && abs < 1e-3) return trimExponent(v.toExponential(1));
  return String(Number(v.toPrecision(3)));
}

/**
 * Formats an axis tick of a linear axis whose ticks are `step` apart: just enough decimals to tell
 * neighbouring ticks apart (`0.25` with step 0.05 → `0.25`, `2` with step 0.5 → `2.0`).
 */
export function formatTick(v: number, step: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e4 || abs < 1e-3) return formatSi(v);
  const decimals = step > 0 ? Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))) : 2;
  return v.toFixed(decimals);
}

/** A coordinate with at most 2 decimals and no trailing zeros (keeps SVG small and stable). */
export function coord(v: number): string {
  const r = Math.round(v * 100) / 100;
  return String(r === 0 ? 0 : r);
}

/**
 * A formatter that prints every value of a column (or a heat map) with the same number of decimals,
 * so right-aligned numbers line up: integers stay integers (with thousands separators), otherwise
 * 4 significant digits of the largest magnitude, or more decimals when the smallest needs them to
 * show 2 significant digits (at most 6 decimals). Columns holding tiny values
 * (below 0.001) fall back to {@link formatNumber} per value.
 *
 * @example
 * ```ts
 * const f = columnFormatter([0.833, 0.8346]);
 * [f(0.833), f(0.8346)]; // ['0.8330', '0.8346']
 * ```
 */
export function columnFormatter(values: readonly number[]): (v: number) => string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.every((v) => Number.isInteger(v))) return formatNumber;
  if (finite.some((v) => v !== 0 && Math.abs(v) < 1e-3)) return formatNumber;
  const nonzero = finite.filter((v) => v !== 0).map(Math.abs);
  if (nonzero.length === 0) return formatNumber;
  const forLargest = 3 - Math.floor(Math.log10(Math.max(...nonzero)));
  const forSmallest = 1 - Math.floor(Math.log10(Math.min(...nonzero)));
  const decimals = Math.max(0, Math.min(6, Math.max(forLargest, forSmallest)));
  return (v) => {
    if (!Number.isFinite(v)) return formatNumber(v);
    const [int = '', frac] = v.toFixed(decimals).split('.');
    return frac === undefined ? groupThousands(int) : `${groupThousands(int)}.${frac}`;
  };
}
