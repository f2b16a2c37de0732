/**
 * Axis scales and ticks for the SVG charts: "nice" linear ticks (steps of 1, 2 or 5 times a power
 * of ten) and logarithmic ticks at powers of ten.
 */
import { formatSi, formatTick } from './format.js';

/** One axis tick: its value and its label. */
export interface Tick {
  readonly value: number;
  readonly label: string;
}

/** A mapping from data values to pixels along one axis, with its ticks. */
export interface Scale {
  /** Data value → pixel. */
  readonly map: (v: number) => number;
  /** Domain after rounding to ticks: [min, max]. */
  readonly domain: readonly [number, number];
  readonly ticks: readonly Tick[];
  readonly log: boolean;
}

/** The nice step (1, 2 or 5 × 10^k) closest above `span / count`. */
export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nice * mag;
}

/**
 * Nice linear ticks covering [min, max] with about `count` intervals. The first and last tick
 * enclose the data. A zero-width range is widened around its value.
 *
 * @example
 * ```ts
 * niceTicks(0.12, 0.87).map((t) => t.label); // ['0', '0.2', '0.4', '0.6', '0.8', '1.0']
 * ```
 */
export function niceTicks(min: number, max: number, count = 5): Tick[] {
  let lo = min;
  let hi = max;
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, count);
  const start = Math.floor(lo / step + 1e-9);
  const end = Math.ceil(hi / step - 1e-9);
  const ticks: Tick[] = [];
  for (let i = start; i <= end; i++) {
    const value = Number((i * step).toPrecision(12));
    ticks.push({ value, label: formatTick(value, step) });
  }
  return ticks;
}

/**
 * Logarithmic ticks: every power of ten from below `min` to above `max` (both must be positive).
 * When the data span less than one decade, the 2× and 5× multiples are added so the axis is not bare.
 *
 * @example
 * ```ts
 * logTicks(3e3, 2e6).map((t) => t.value); // [1000, 10000, 100000, 1000000, 10000000]
 * ```
 */
export function logTicks(min: number, max: number): Tick[] {
  const lo = Math.floor(Math.log10(min) + 1e-9);
  let hi = Math.ceil(Math.log10(max) - 1e-9);
  if (hi === lo) hi = lo + 1;
  const values: number[] = [];
  for (let e = lo; e <= hi; e++) {
    values.push(Number((10 ** e).toPrecision(12)));
    if (hi - lo <= 1 && e < hi) values.push(Number((2 * 10 ** e).toPrecision(12)), Number((5 * 10 ** e).toPrecision(12)));
  }
  return values.map((value) => ({ value, label: formatSi(value) }));
}

/**
 * Builds a scale for values in [min, max] onto pixels [p0, p1] (p1 < p0 for a y axis). The domain
 * is widened to the outer ticks. With `log`, values must be positive.
 */
export function makeScale(min: number, max: number, p0: number, p1: number, log = false): Scale {
  const ticks = log ? logTicks(min, max) : niceTicks(min, max);
  const d0 = (ticks[0] as Tick).value;
  const d1 = (ticks[ticks.length - 1] as Tick).value;
  const t = log ? Math.log10 : (v: number) => v;
  const a = t(d0);
  const b = t(d1);
  const map = (v: number): number => p0 + ((t(v) - a) / (b - a || 1)) * (p1 - p0);
  return { map, domain: [d0, d1], ticks, log };
}

/**
 * Builds a scale on a fixed range (`yRange`): ticks are the nice ticks inside it, the domain is
 * exactly the range.
 */
export function fixedScale(range: readonly [number, number], p0: number, p1: number): Scale {
  const [d0, d1] = range;
  const ticks = niceTicks(d0, d1).filter((tk) => tk.value >= d0 - 1e-12 && tk.value <= d1 + 1e-12);
  const map = (v: number): number => p0 + ((v - d0) / (d1 - d0 || 1)) * (p1 - p0);
  return { map, domain: [d0, d1], ticks, log: false };
}
