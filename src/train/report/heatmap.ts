/**
 * Heat map SVG builder, e.g. for the layer-ablation study (rows = first removed layer,
 * cols = last removed layer, value = score). Colours follow viridis (perceptually uniform and
 * colour-blind safe); empty cells (`null`) are light grey with a dash.
 */
import { fail } from '../../errors.js';
import { columnFormatter, coord, escapeXml } from './format.js';
import { CHART_WIDTH, noDataChart, svgOpen, textWidth, truncate } from './svg-parts.js';

/** Options of {@link heatMap}. */
export interface HeatMapOptions {
  readonly title: string;
  /** Row labels, top to bottom. */
  readonly rows: readonly (string | number)[];
  /** Column labels, left to right. */
  readonly cols: readonly (string | number)[];
  /** `values[r][c]`; `null` (or a non-finite number) for an empty cell. */
  readonly values: readonly (readonly (number | null)[])[];
  /** Formats a cell's value (default: the same decimals for every cell, see {@link columnFormatter}). */
  readonly format?: (v: number) => string;
  /** Title of the row axis (left). */
  readonly rowLabel?: string;
  /** Title of the column axis (below). */
  readonly colLabel?: string;
  /** Value range of the colour scale (default: the values' min and max). */
  readonly range?: readonly [number, number];
  readonly width?: number;
}

/** Viridis, sampled at 5 stops. */
const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37],
];

/** Viridis colour at t ∈ [0, 1] as `#rrggbb`, interpolated linearly between stops. */
export function viridis(t: number): string {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const f = u - i;
  const a = VIRIDIS[i] as readonly [number, number, number];
  const b = VIRIDIS[i + 1] as readonly [number, number, number];
  const hex = a.map((c, k) => Math.round(c + f * ((b[k] as number) - c)).toString(16).padStart(2, '0'));
  return `#${hex.join('')}`;
}

/** Checks that `values` has one row per row label and one entry per column label. */
function checkShape(o: HeatMapOptions): void {
  if (o.values.length !== o.rows.length) fail('BAD_CONFIG', `heat map "${o.title}": ${o.values.length} rows of values for ${o.rows.length} row labels`);
  o.values.forEach((row, r) => {
    if (row.length !== o.cols.length) fail('BAD_CONFIG', `heat map "${o.title}": row ${r} has ${row.length} values for ${o.cols.length} column labels`);
  });
}

/** The finite values of the grid. */
function finiteValues(o: HeatMapOptions): number[] {
  return o.values.flat().filter((v): v is number => v !== null && Number.isFinite(v));
}

/** Cell geometry of a heat map. */
interface Grid {
  readonly left: number;
  readonly top: number;
  readonly cw: number;
  readonly ch: number;
}

/** One cell: coloured rectangle and, when it fits, its value. */
function cell(g: Grid, r: number, c: number, v: number | null, lo: number, hi: number, fmt: (v: number) => string): string {
  const x = g.left + c * g.cw;
  const y = g.top + r * g.ch;
  const empty = v === null || !Number.isFinite(v);
  const t = empty ? 0 : hi > lo ? (v - lo) / (hi - lo) : 0.5;
  const fill = empty ? '#eeeeee' : viridis(t);
  const rect = `<rect x="${coord(x)}" y="${coord(y)}" width="${coord(g.cw - 1)}" height="${coord(g.ch - 1)}" fill="${fill}"/>`;
  const text = empty ? '–' : fmt(v);
  const size = g.cw >= 44 ? 11 : 9;
  if (textWidth(text, size) > g.cw - 4) return rect;
  const color = empty ? '#999999' : t < 0.6 ? '#ffffff' : '#000000';
  return `${rect}<text x="${coord(x + (g.cw - 1) / 2)}" y="${coord(y + (g.ch - 1) / 2)}" dy="4" text-anchor="middle" font-size="${size}" fill="${color}">${escapeXml(text)}</text>`;
}

/** Row labels left of the grid and column labels below it, with the axis titles. */
function labels(o: HeatMapOptions, g: Grid): string {
  const bottom = g.top + o.rows.length * g.ch;
  const rows = o.rows.map((l, r) => `<text x="${g.left - 6}" y="${coord(g.top + r * g.ch + (g.ch - 1) / 2)}" dy="4" text-anchor="end" fill="#444444">${escapeXml(truncate(String(l), 12))}</text>`);
  const cols = o.cols.map((l, c) => `<text x="${coord(g.left + c * g.cw + (g.cw - 1) / 2)}" y="${bottom + 14}" text-anchor="middle" fill="#444444">${escapeXml(truncate(String(l), 8))}</text>`);
  const midX = coord(g.left + (o.cols.length * g.cw) / 2);
  const midY = coord(g.top + (o.rows.length * g.ch) / 2);
  const colTitle = o.colLabel ? `<text x="${midX}" y="${bottom + 32}" text-anchor="middle" fill="#222222">${escapeXml(truncate(o.colLabel, 80))}</text>` : '';
  const rowTitle = o.rowLabel ? `<text transform="translate(14 ${midY}) rotate(-90)" text-anchor="middle" fill="#222222">${escapeXml(truncate(o.rowLabel, 40))}</text>` : '';
  return `<g class="axes">${rows.join('')}${cols.join('')}${colTitle}${rowTitle}</g>`;
}

/** A colour key: six swatches from `lo` to `hi` with their values. */
function colourKey(x: number, y: number, lo: number, hi: number, fmt: (v: number) => string): string {
  const n = 6;
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = i / (n - 1);
    const v = lo + t * (hi - lo);
    parts.push(`<rect x="${x + i * 48}" y="${y}" width="46" height="10" fill="${viridis(t)}"/>`);
    parts.push(`<text x="${x + i * 48 + 23}" y="${y + 24}" text-anchor="middle" font-size="10" fill="#444444">${escapeXml(fmt(v))}</text>`);
  }
  return `<g class="legend">${parts.join('')}</g>`;
}

/**
 * A heat map of `values` with row and column labels, each cell coloured on viridis from the lowest
 * to the highest value (or `range`) and printed when the text fits; a colour key below.
 * Throws BAD_CONFIG when `values` does not match the labels; all-empty values give a "no data" chart.
 *
 * @example
 * ```ts
 * heatMap({ title: 'Ablation', rows: [0, 1], cols: [0, 1], values: [[0.8, 0.7], [null, 0.85]] });
 * ```
 */
export function heatMap(o: HeatMapOptions): string {
  checkShape(o);
  const width = o.width ?? CHART_WIDTH;
  const finite = finiteValues(o);
  if (finite.length === 0 || o.cols.length === 0) return noDataChart(o.title, width);
  const fmt = o.format ?? columnFormatter(finite);
  const lo = o.range ? o.range[0] : Math.min(...finite);
  const hi = o.range ? o.range[1] : Math.max(...finite);
  const left = 36 + Math.min(12, Math.max(...o.rows.map((r) => String(r).length))) * 7;
  const cw = Math.max(12, Math.min(64, Math.floor((width - left - 16) / o.cols.length)));
  const g: Grid = { left, top: 34, cw, ch: Math.min(30, Math.max(12, cw)) };
  const bottom = g.top + o.rows.length * g.ch;
  const keyY = bottom + 44;
  const svgWidth = Math.max(width, left + cw * o.cols.length + 16);
  const cells = o.values.map((row, r) => row.map((v, c) => cell(g, r, c, v, lo, hi, fmt)).join('')).join('');
  return `${svgOpen(o.title, svgWidth, keyY + 34)}<g class="cells">${cells}</g>${labels(o, g)}${colourKey(left, keyY, lo, hi, fmt)}</svg>`;
}
