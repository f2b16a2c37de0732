/**
 * Small SVG chart builders for the HTML report: line charts (training curves), scatter charts
 * (score against trained parameters on a log axis), horizontal bar charts and heat maps (see
 * `heatmap.ts`). Each is a pure function from data to an SVG string: no ids, no scripts, fixed
 * number formatting, every label escaped — the same input always gives the same string.
 */
import { coord, escapeXml, formatNumber } from './format.js';
import { fixedScale, makeScale, type Scale } from './scale.js';
import {
  CHART_WIDTH, axes, legend, legendLayout, marker, noDataChart, seriesColor, seriesDash, svgOpen, textWidth, truncate,
  type PlotBox,
} from './svg-parts.js';

export { heatMap, type HeatMapOptions } from './heatmap.js';
export { PALETTE } from './svg-parts.js';
export { logTicks, niceTicks, type Tick } from './scale.js';
export { escapeXml, formatNumber, formatSi } from './format.js';

/** One named line of a {@link lineChart}. */
export interface LineSeries {
  readonly name: string;
  /** [x, y] pairs in drawing order; a non-finite y breaks the line. */
  readonly points: readonly (readonly [number, number])[];
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  readonly title: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly series: readonly LineSeries[];
  /** Logarithmic x axis (points with x ≤ 0 are left out). */
  readonly logX?: boolean;
  /** Fixed y range [min, max]; values outside are clamped to its edges. */
  readonly yRange?: readonly [number, number];
  /** Width in pixels (default 640). */
  readonly width?: number;
  /** Height of the plotting area in pixels (default 240). */
  readonly plotHeight?: number;
}

/** One point of a {@link scatterChart}, with an optional label drawn beside it. */
export interface ScatterPoint {
  readonly x: number;
  readonly y: number;
  readonly label?: string;
}

/** One named group of points of a {@link scatterChart}. */
export interface ScatterSeries {
  readonly name: string;
  readonly points: readonly ScatterPoint[];
}

/** Options of {@link scatterChart}. */
export interface ScatterChartOptions extends Omit<LineChartOptions, 'series'> {
  readonly series: readonly ScatterSeries[];
  /** Join each series' points with a line, in increasing x. */
  readonly connect?: boolean;
}

/** Options of {@link barChart}. */
export interface BarChartOptions {
  readonly title: string;
  readonly xLabel?: string;
  readonly bars: readonly { readonly label: string; readonly value: number }[];
  /** Formats the value printed at the end of each bar (default {@link formatNumber}). */
  readonly format?: (v: number) => string;
  readonly width?: number;
}

const MARGIN = { left: 64, right: 20, top: 34, axis: 44 } as const;

/** Whether a point can be drawn on the axes (finite, and x > 0 on a log axis). */
function drawable(x: number, y: number, logX: boolean): boolean {
  return Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0);
}

/** Extent [min, max] of numbers, or undefined when there are none. */
function extent(values: readonly number[]): [number, number] | undefined {
  if (values.length === 0) return undefined;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Everything a chart with x/y axes needs: size, plotting box and scales. */
interface Frame {
  readonly width: number;
  readonly height: number;
  readonly box: PlotBox;
  readonly x: Scale;
  readonly y: Scale;
  readonly legendTop: number;
}

/** Lays out a chart with axes for the given drawable points and legend names. */
function frame(o: LineChartOptions, xs: [number, number], ys: [number, number], names: readonly string[]): Frame {
  const width = o.width ?? CHART_WIDTH;
  const plotHeight = o.plotHeight ?? 240;
  const box: PlotBox = { left: MARGIN.left, right: width - MARGIN.right, top: MARGIN.top, bottom: MARGIN.top + plotHeight };
  const { rows } = legendLayout(names, box.right - box.left);
  const legendTop = box.bottom + MARGIN.axis + 6;
  const height = legendTop + rows * 18 + 4;
  const x = makeScale(xs[0], xs[1], box.left, box.right, !!o.logX);
  const y = o.yRange && o.yRange[1] > o.yRange[0] ? fixedScale(o.yRange, box.bottom, box.top) : makeScale(ys[0], ys[1], box.bottom, box.top);
  return { width, height, box, x, y, legendTop };
}

/** Clamps `v` into the y scale's domain. */
function clampY(f: Frame, v: number): number {
  const [lo, hi] = f.y.domain;
  return Math.min(hi, Math.max(lo, v));
}

/** Splits a series into runs of drawable points (a non-drawable point breaks the line). */
function segments(points: readonly (readonly [number, number])[], logX: boolean): [number, number][][] {
  const out: [number, number][][] = [];
  let cur: [number, number][] = [];
  for (const [x, y] of points) {
    if (drawable(x, y, logX)) cur.push([x, y]);
    else if (cur.length) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length) out.push(cur);
  return out;
}

/** An SVG polyline through pixel points. */
function polyline(px: readonly [number, number][], i: number, strokeWidth = 2): string {
  const pts = px.map(([x, y]) => `${coord(x)},${coord(y)}`).join(' ');
  return `<polyline points="${pts}" fill="none" stroke="${seriesColor(i)}" stroke-width="${strokeWidth}" stroke-linejoin="round"${seriesDash(i)}/>`;
}

/**
 * A line chart with nice ticks, grid lines, axis titles and a legend below. Short series (≤ 30
 * points) also get markers, so a series of a few evaluations stays visible; a series with no
 * drawable point keeps its legend entry. With no drawable point at all, a "no data" chart.
 *
 * @example
 * ```ts
 * lineChart({ title: 'Training loss', xLabel: 'step', yLabel: 'loss',
 *   series: [{ name: 'adapters', points: [[1, 0.7], [2, 0.5]] }] }); // '<svg xmlns=…</svg>'
 * ```
 */
export function lineChart(o: LineChartOptions): string {
  const logX = !!o.logX;
  const segs = o.series.map((s) => segments(s.points, logX));
  const flat = segs.flat(2);
  const xs = extent(flat.map((p) => p[0]));
  const ys = extent(flat.map((p) => p[1]));
  if (!xs || !ys) return noDataChart(o.title, o.width ?? CHART_WIDTH);
  const names = o.series.map((s) => s.name);
  const f = frame(o, xs, ys, names);
  const body = segs.map((ss, i) => {
    const count = ss.reduce((n, s) => n + s.length, 0);
    return ss.map((s) => {
      const px = s.map(([x, y]): [number, number] => [f.x.map(x), f.y.map(clampY(f, y))]);
      const line = px.length > 1 ? polyline(px, i) : '';
      const marks = count <= 30 ? px.map(([x, y]) => marker(i, x, y, 3)).join('') : '';
      return line + marks;
    }).join('');
  });
  return (
    svgOpen(o.title, f.width, f.height) +
    axes(f.box, f.x, f.y, o.xLabel ?? '', o.yLabel ?? '') +
    `<g class="series">${body.join('')}</g>` +
    legend(names, f.box.left, f.legendTop, f.box.right - f.box.left, 'both') +
    '</svg>'
  );
}

/** The text label of a scatter point, placed right of it (left of it near the right edge). */
function pointLabel(f: Frame, px: number, py: number, label: string): string {
  const text = truncate(label, 28);
  const rightSide = px + 8 + textWidth(text, 11) <= f.width - 4;
  const x = rightSide ? px + 7 : px - 7;
  return `<text x="${coord(x)}" y="${coord(py)}" dy="-5" font-size="11" fill="#333333" text-anchor="${rightSide ? 'start' : 'end'}">${escapeXml(text)}</text>`;
}

/**
 * A scatter chart, e.g. score against trained parameters with `logX: true`. Each series has its own
 * colour and marker shape; points may carry labels; `connect` joins a series' points in x order.
 * Points that cannot be drawn (non-finite, or x ≤ 0 on a log axis) are left out; with none left,
 * a "no data" chart.
 */
export function scatterChart(o: ScatterChartOptions): string {
  const logX = !!o.logX;
  const kept = o.series.map((s) => s.points.filter((p) => drawable(p.x, p.y, logX)));
  const flat = kept.flat();
  const xs = extent(flat.map((p) => p.x));
  const ys = extent(flat.map((p) => p.y));
  if (!xs || !ys) return noDataChart(o.title, o.width ?? CHART_WIDTH);
  const names = o.series.map((s) => s.name);
  const f = frame({ ...o, series: [] }, xs, ys, names);
  const pix = kept.map((pts) => pts.map((p) => ({ px: f.x.map(p.x), py: f.y.map(clampY(f, p.y)), p })));
  const lines = o.connect
    ? pix.map((pts, i) => (pts.length > 1 ? polyline([...pts].sort((a, b) => a.p.x - b.p.x).map((q) => [q.px, q.py]), i, 1.5) : '')).join('')
    : '';
  const marks = pix.map((pts, i) => pts.map((q) => marker(i, q.px, q.py, 4.5)).join('')).join('');
  const labels = pix.flat().filter((q) => q.p.label).map((q) => pointLabel(f, q.px, q.py, q.p.label as string)).join('');
  return (
    svgOpen(o.title, f.width, f.height) +
    axes(f.box, f.x, f.y, o.xLabel ?? '', o.yLabel ?? '') +
    `<g class="series">${lines}${marks}</g><g class="labels">${labels}</g>` +
    legend(names, f.box.left, f.legendTop, f.box.right - f.box.left, o.connect ? 'both' : 'marker') +
    '</svg>'
  );
}

/**
 * A horizontal bar chart: one bar per entry, its label on the left and its value at its end.
 * Non-finite values are listed with an empty bar; an empty list gives a "no data" chart.
 */
export function barChart(o: BarChartOptions): string {
  const width = o.width ?? CHART_WIDTH;
  if (o.bars.length === 0) return noDataChart(o.title, width);
  const fmt = o.format ?? formatNumber;
  const labelW = Math.min(200, Math.max(...o.bars.map((b) => textWidth(truncate(b.label, 30)))) + 12);
  const finite = o.bars.map((b) => b.value).filter(Number.isFinite);
  const lo = Math.min(0, ...finite);
  const hi = Math.max(0, ...finite);
  const box: PlotBox = { left: labelW + 8, right: width - 64, top: 34, bottom: 34 + o.bars.length * 24 };
  const x = makeScale(lo, hi === lo ? lo + 1 : hi, box.left, box.right);
  const bars = o.bars.map((b, i) => barRow(b, i, box, x, fmt)).join('');
  const ticks = x.ticks.map((t) => {
    const px = coord(x.map(t.value));
    return `<line x1="${px}" y1="${box.top}" x2="${px}" y2="${box.bottom}" stroke="#e5e5e5"/><text x="${px}" y="${box.bottom + 16}" text-anchor="middle" fill="#444444">${escapeXml(t.label)}</text>`;
  }).join('');
  const xTitle = o.xLabel ? `<text x="${coord((box.left + box.right) / 2)}" y="${box.bottom + 34}" text-anchor="middle" fill="#222222">${escapeXml(o.xLabel)}</text>` : '';
  return `${svgOpen(o.title, width, box.bottom + 44)}<g class="axes">${ticks}${xTitle}</g><g class="series">${bars}</g></svg>`;
}

/** One bar of {@link barChart} with its label and value. */
function barRow(b: { label: string; value: number }, i: number, box: PlotBox, x: Scale, fmt: (v: number) => string): string {
  const y = box.top + i * 24 + 4;
  const label = `<text x="${box.left - 8}" y="${y + 8}" dy="4" text-anchor="end" fill="#222222">${escapeXml(truncate(b.label, 30))}</text>`;
  if (!Number.isFinite(b.value)) return `${label}<text x="${box.left + 4}" y="${y + 8}" dy="4" fill="#666666">${escapeXml(fmt(b.value))}</text>`;
  const x0 = x.map(0);
  const x1 = x.map(b.value);
  const rect = `<rect x="${coord(Math.min(x0, x1))}" y="${y}" width="${coord(Math.abs(x1 - x0))}" height="16" fill="${seriesColor(0)}"/>`;
  const value = `<text x="${coord(Math.max(x0, x1) + 4)}" y="${y + 8}" dy="4" fill="#222222">${escapeXml(fmt(b.value))}</text>`;
  return label + rect + value;
}
