/**
 * A small SVG line chart for the ui page (no dependencies): x and y axes with their ranges, one
 * polyline, optional point markers. Returns markup to put in a container.
 */

/** Chart options. */
export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly width?: number;
  readonly height?: number;
  /** Draw a marker at each point (for sparse series such as evaluations). */
  readonly points?: boolean;
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));

/** The chart of `series` ([x, y] pairs in x order) as SVG markup. */
export function lineChart(series: readonly (readonly [number, number])[], o: LineChartOptions): string {
  const w = o.width ?? 420;
  const h = o.height ?? 220;
  const m = { left: 52, right: 12, top: 26, bottom: 32 };
  const finite = series.filter(([, y]) => Number.isFinite(y));
  const head = `<svg class="chart" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img"><title>${o.title}</title><text x="${m.left}" y="16" class="chart-title">${o.title}</text>`;
  if (finite.length === 0) return `${head}<text x="${w / 2}" y="${h / 2}" text-anchor="middle" class="chart-empty">no data yet</text></svg>`;
  const xs = finite.map(([x]) => x);
  const ys = finite.map(([, y]) => y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) [y0, y1] = [y0 - (Math.abs(y0) * 0.05 || 0.5), y1 + (Math.abs(y1) * 0.05 || 0.5)]; // a flat line, drawn mid-height
  const px = (x: number): number => m.left + ((x - x0) / Math.max(1e-12, x1 - x0)) * (w - m.left - m.right);
  const py = (y: number): number => h - m.bottom - ((y - y0) / (y1 - y0)) * (h - m.top - m.bottom);
  const pts = finite.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
  const axes = `<line x1="${m.left}" y1="${h - m.bottom}" x2="${w - m.right}" y2="${h - m.bottom}" class="axis"/><line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${h - m.bottom}" class="axis"/>`;
  const labels = `<text x="${m.left - 4}" y="${m.top + 4}" text-anchor="end">${fmt(y1)}</text><text x="${m.left - 4}" y="${h - m.bottom}" text-anchor="end">${fmt(y0)}</text>`
    + `<text x="${m.left}" y="${h - 12}" text-anchor="start">${x0}</text><text x="${w - m.right}" y="${h - 12}" text-anchor="end">${x1}</text><text x="${(w + m.left) / 2}" y="${h - 4}" text-anchor="middle">${o.xLabel}</text>`;
  const marks = o.points ? finite.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3"/>`).join('') : '';
  return `${head}${axes}${labels}<polyline points="${pts}" class="line"/>${marks}</svg>`;
}
