/**
 * Output formatting for the CLI: plain-text tables and number formats. Everything returns
 * strings; commands decide where to write them.
 */

/** A table cell: text, or a number (right-aligned). */
export type Cell = string | number;

/**
 * Renders a table with a header row, aligned columns (numbers right-aligned) and a rule.
 *
 * @example
 * ```ts
 * table(['split', 'examples'], [['train', 4833], ['dev', 599]]);
 * // split  examples
 * // -----  --------
 * // train      4833
 * // dev         599
 * ```
 */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === undefined || r[i] === ''));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n') + '\n';
}

function cellText(c: Cell | undefined): string {
  if (c === undefined) return '';
  return typeof c === 'number' ? formatNumber(c) : c;
}

/** Key/value lines with aligned values. */
export function keyValues(rows: readonly (readonly [string, Cell])[]): string {
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(w + 1)}  ${cellText(v)}`).join('\n') + '\n';
}

/** Integers with thousands separators; other numbers with 4 significant decimals. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return formatInt(n);
  if (!Number.isFinite(n)) return String(n);
  return n.toFixed(4);
}

/** `1234567` -> `1,234,567`. */
export function formatInt(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `123456` -> `120.6 KiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A share as a percentage with enough digits for small values: `0.0123` -> `1.23%`. */
export function formatPercent(share: number): string {
  const p = share * 100;
  return `${p >= 10 ? p.toFixed(1) : p >= 0.1 ? p.toFixed(2) : p.toPrecision(2)}%`;
}

/** Seconds as `42.1s`, `3m 05s` or `1h 02m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 59.95) return `${seconds.toFixed(1)}s`;
  // round first, so that 479.6 s is 8m 00s rather than 7m 60s
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const mins = Math.round(seconds / 60);
  return `${Math.floor(mins / 60)}h ${String(mins % 60).padStart(2, '0')}m`;
}

/** Metric values as `accuracy 0.9100, f1 0.8800`. */
export function formatMetrics(m: Readonly<Record<string, number | undefined>>): string {
  return Object.entries(m).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join(', ');
}

/** Writes a JSON document (pretty, newline-terminated) to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
