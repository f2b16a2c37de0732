/**
 * Building blocks shared by the SVG charts: the colour-blind-safe palette, the outer `<svg>`
 * element, axes with ticks and grid lines, the legend, markers and the "no data" placeholder.
 * Every function returns an SVG fragment as a string; all text goes through {@link escapeXml}.
 */
import { coord, escapeXml } from './format.js';
import type { Scale } from './scale.js';

/**
 * The Okabe–Ito palette (distinguishable with the common colour-vision deficiencies), in the
 * order series take it. Yellow comes last: it is the hardest to see on white.
 */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'] as const;

/** Colour of series `i` (the palette repeats). */
export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

/** Dash pattern of series `i`: solid for the first round of the palette, dashed after. */
export function seriesDash(i: number): string {
  return i < PALETTE.length ? '' : ' stroke-dasharray="6 3"';
}

/** Default chart width in pixels (the page scales it down on narrow screens). */
export const CHART_WIDTH = 640;

/** Pixel box of a chart's plotting area. */
export interface PlotBox {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

/** Approximate width in pixels of `text` at `size` px in a sans-serif font. */
export function textWidth(text: string, size = 12): number {
  return Math.ceil(text.length * size * 0.56);
}

/** Cuts `text` to at most `max` characters, ending with `…` when cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

/** Opens the root `<svg>` with an accessible `<title>`; close it with `</svg>`. */
export function svgOpen(title: string, width: number, height: number): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
    `role="img" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="12">` +
    `<title>${escapeXml(title)}</title>` +
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>` +
    `<text x="${coord(width / 2)}" y="20" text-anchor="middle" font-size="14" font-weight="600" fill="#222222">${escapeXml(truncate(title, 90))}</text>`
  );
}

/** A complete chart that only says "no data" (for empty series), same size as a real one. */
export function noDataChart(title: string, width = CHART_WIDTH, height = 200): string {
  return (
    `${svgOpen(title, width, height)}` +
    `<rect x="16" y="32" width="${width - 32}" height="${height - 48}" fill="#f7f7f7" stroke="#cccccc"/>` +
    `<text class="no-data" x="${coord(width / 2)}" y="${coord(height / 2 + 12)}" text-anchor="middle" fill="#666666">no data</text></svg>`
  );
}

/** Grid lines, tick marks and tick labels of the x axis (bottom) and y axis (left), plus the axis titles. */
export function axes(box: PlotBox, x: Scale, y: Scale, xLabel: string, yLabel: string): string {
  const parts: string[] = [];
  for (const t of x.ticks) {
    const px = coord(x.map(t.value));
    parts.push(`<line x1="${px}" y1="${box.top}" x2="${px}" y2="${box.bottom}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${px}" y="${box.bottom + 16}" text-anchor="middle" fill="#444444">${escapeXml(t.label)}</text>`);
  }
  for (const t of y.ticks) {
    const py = coord(y.map(t.value));
    parts.push(`<line x1="${box.left}" y1="${py}" x2="${box.right}" y2="${py}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${box.left - 6}" y="${py}" dy="4" text-anchor="end" fill="#444444">${escapeXml(t.label)}</text>`);
  }
  parts.push(`<path d="M${box.left} ${box.top}V${box.bottom}H${box.right}" fill="none" stroke="#888888"/>`);
  const midX = coord((box.left + box.right) / 2);
  const midY = coord((box.top + box.bottom) / 2);
  if (xLabel) parts.push(`<text x="${midX}" y="${box.bottom + 34}" text-anchor="middle" fill="#222222">${escapeXml(truncate(xLabel, 80))}</text>`);
  if (yLabel) parts.push(`<text transform="translate(14 ${midY}) rotate(-90)" text-anchor="middle" fill="#222222">${escapeXml(truncate(yLabel, 40))}</text>`);
  return `<g class="axes">${parts.join('')}</g>`;
}

/** Marker shapes, taken in turn by series so they differ by shape as well as colour. */
const MARKERS = ['circle', 'square', 'triangle', 'diamond'] as const;

/** A marker of series `i` centred on (x, y). */
export function marker(i: number, x: number, y: number, r = 4): string {
  const c = seriesColor(i);
  const kind = MARKERS[i % MARKERS.length];
  const [cx, cy] = [coord(x), coord(y)];
  switch (kind) {
    case 'square':
      return `<rect x="${coord(x - r)}" y="${coord(y - r)}" width="${2 * r}" height="${2 * r}" fill="${c}"/>`;
    case 'triangle':
      return `<path d="M${cx} ${coord(y - r * 1.2)}L${coord(x + r * 1.1)} ${coord(y + r * 0.9)}L${coord(x - r * 1.1)} ${coord(y + r * 0.9)}Z" fill="${c}"/>`;
    case 'diamond':
      return `<path d="M${cx} ${coord(y - r * 1.3)}L${coord(x + r * 1.3)} ${cy}L${cx} ${coord(y + r * 1.3)}L${coord(x - r * 1.3)} ${cy}Z" fill="${c}"/>`;
    default:
      return `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${c}"/>`;
  }
}

/** How a legend entry draws its key: a line, a marker, or both. */
export type LegendKey = 'line' | 'marker' | 'both';

/** Positions of legend entries flowed into rows of `width` pixels: [x, row] per entry. */
export function legendLayout(names: readonly string[], width: number): { pos: [number, number][]; rows: number } {
  const pos: [number, number][] = [];
  let x = 0;
  let row = 0;
  for (const name of names) {
    const w = 30 + textWidth(truncate(name, 40)) + 16;
    if (x > 0 && x + w > width) {
      x = 0;
      row++;
    }
    pos.push([x, row]);
    x += w;
  }
  return { pos, rows: names.length ? row + 1 : 0 };
}

/** The legend below a chart, starting at (`left`, `top`), one 18-px row per line of entries. */
export function legend(names: readonly string[], left: number, top: number, width: number, key: LegendKey): string {
  const { pos } = legendLayout(names, width);
  const items = names.map((name, i) => {
    const [dx, row] = pos[i] as [number, number];
    const x = left + dx;
    const y = top + row * 18;
    const line = key !== 'marker' ? `<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${seriesColor(i)}" stroke-width="2.5"${seriesDash(i)}/>` : '';
    const mk = key !== 'line' ? marker(i, x + 11, y) : '';
    return `${line}${mk}<text x="${x + 28}" y="${y}" dy="4" fill="#222222">${escapeXml(truncate(name, 40))}</text>`;
  });
  return `<g class="legend">${items.join('')}</g>`;
}
