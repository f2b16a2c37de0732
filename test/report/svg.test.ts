/**
 * The SVG chart builders: well-formed output, escaped labels, nice and logarithmic ticks, "no data"
 * for empty input, deterministic strings, and the number formatting they rely on.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart, heatMap, lineChart, logTicks, niceTicks, scatterChart, PALETTE } from '../../src/train/report/svg.js';
import { columnFormatter, escapeXml, formatNumber, formatSi } from '../../src/train/report/format.js';
import { viridis } from '../../src/train/report/heatmap.js';
import { checkWellFormed } from './xml-check.js';

const EVIL = '<script>alert("x")</script> & \'q\'';

/** Number of non-overlapping occurrences of `needle` in `s`. */
function count(s: string, needle: string): number {
  return s.split(needle).length - 1;
}

/** The x1 coordinates of the vertical grid lines of a chart's axes group. */
function verticalGridXs(svg: string): number[] {
  const axes = svg.slice(svg.indexOf('<g class="axes">'), svg.indexOf('</g>', svg.indexOf('<g class="axes">')));
  return [...axes.matchAll(/<line x1="([\d.]+)" y1="[\d.]+" x2="\1"/g)].map((m) => Number(m[1]));
}

const lines = {
  title: 'Training loss', xLabel: 'step', yLabel: 'loss',
  series: [
    { name: 'adapters', points: [[1, 0.7], [2, 0.6], [3, 0.4]] as [number, number][] },
    { name: 'full', points: [[1, 0.69], [2, 0.5], [3, 0.3]] as [number, number][] },
  ],
};

describe('xml checker', () => {
  test('rejects what is not well-formed', () => {
    assert.throws(() => checkWellFormed('<a><b></a></b>'), /<\/a> closes <b>/);
    assert.throws(() => checkWellFormed('<a x=1></a>'), /not quoted/);
    assert.throws(() => checkWellFormed('<a>&foo;</a>'), /bad entity/);
    assert.throws(() => checkWellFormed('<a><</a>'), /expected a name/);
    assert.throws(() => checkWellFormed('<a>'), /unclosed <a>/);
    assert.throws(() => checkWellFormed('<a x="1" x="2"/>'), /repeated/);
    assert.deepEqual(checkWellFormed('<a><b c="&amp;"/>t&lt;</a>').elements, ['a', 'b']);
  });
});

describe('lineChart', () => {
  test('is well-formed SVG with one polyline per series, axes and a legend', () => {
    const svg = lineChart(lines);
    const { elements } = checkWellFormed(svg);
    assert.equal(elements[0], 'svg');
    assert.equal(count(svg, '<polyline'), 2);
    assert.ok(svg.includes(`stroke="${PALETTE[0]}"`) && svg.includes(`stroke="${PALETTE[1]}"`));
    assert.match(svg, /<g class="legend">.*>adapters<.*>full</);
    assert.match(svg, /<title>Training loss<\/title>/);
    assert.ok(!svg.includes(' id='), 'no ids that could clash between charts');
  });

  test('escapes every user-supplied text', () => {
    const svg = lineChart({ title: EVIL, xLabel: EVIL, yLabel: EVIL, series: [{ name: EVIL, points: [[1, 1], [2, 2]] }] });
    checkWellFormed(svg);
    assert.ok(!svg.includes('<script'));
    assert.ok(svg.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;'));
  });

  test('gives the same string for the same input', () => {
    assert.equal(lineChart(lines), lineChart(structuredClone(lines)));
  });

  test('a non-finite value breaks the line in two', () => {
    const svg = lineChart({ title: 't', series: [{ name: 'a', points: [[1, 1], [2, 2], [3, NaN], [4, 3], [5, 2]] }] });
    assert.equal(count(svg, '<polyline'), 2);
  });

  test('yRange fixes the axis and clamps values into the plot', () => {
    const svg = lineChart({ title: 't', yRange: [0, 1], series: [{ name: 'a', points: [[0, -5], [1, 0.5], [2, 9]] }] });
    const pts = /<polyline points="([^"]+)"/.exec(svg)?.[1]?.split(' ').map((p) => Number(p.split(',')[1])) ?? [];
    assert.equal(pts.length, 3);
    assert.ok(pts.every((y) => y >= 34 && y <= 34 + 240), `y pixels inside the plot: ${pts}`);
    assert.ok(svg.includes('>1.0</text>') && svg.includes('>0</text>'));
  });

  test('empty input gives a "no data" chart instead of a crash', () => {
    for (const series of [[], [{ name: 'a', points: [] }], [{ name: 'a', points: [[1, NaN]] as [number, number][] }]]) {
      const svg = lineChart({ title: 'Empty', series });
      checkWellFormed(svg);
      assert.match(svg, /class="no-data"[^>]*>no data</);
    }
    assert.match(lineChart({ title: 'log', logX: true, series: [{ name: 'a', points: [[0, 1], [-1, 2]] }] }), /no data/);
  });
});

describe('ticks', () => {
  test('linear ticks are nice numbers enclosing the data', () => {
    assert.deepEqual(niceTicks(0.12, 0.87).map((t) => t.label), ['0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    assert.deepEqual(niceTicks(0, 600).map((t) => t.value), [0, 200, 400, 600]);
    assert.deepEqual(niceTicks(0.901, 0.977).map((t) => t.label), ['0.90', '0.92', '0.94', '0.96', '0.98']);
    const flat = niceTicks(5, 5).map((t) => t.value);
    assert.ok(flat.includes(5) && (flat[0] as number) < 5 && (flat.at(-1) as number) > 5, `a zero-width range is widened: ${flat}`);
  });

  test('log ticks sit at powers of ten', () => {
    assert.deepEqual(logTicks(3e3, 2e6).map((t) => t.value), [1e3, 1e4, 1e5, 1e6, 1e7]);
    assert.deepEqual(logTicks(3e3, 2e6).map((t) => t.label), ['1k', '10k', '100k', '1M', '10M']);
    assert.deepEqual(logTicks(20, 50).map((t) => t.value), [10, 20, 50, 100]);
  });

  test('a log x axis draws its power-of-ten ticks equally spaced', () => {
    const svg = scatterChart({ title: 's', logX: true, series: [{ name: 'a', points: [{ x: 3e3, y: 0.8 }, { x: 2e6, y: 0.9 }] }] });
    const xs = verticalGridXs(svg);
    assert.equal(xs.length, 5);
    const gaps = xs.slice(1).map((x, i) => x - (xs[i] as number));
    for (const g of gaps) assert.ok(Math.abs(g - (gaps[0] as number)) < 0.02, `equal decade widths: ${gaps}`);
    for (const label of ['1k', '10k', '100k', '1M', '10M']) assert.ok(svg.includes(`>${label}</text>`), label);
  });
});

describe('scatterChart', () => {
  const series = [
    { name: 'adapters', points: [{ x: 1e5, y: 0.9, label: 'm=8' }, { x: 1e4, y: 0.85, label: 'm=2' }] },
    { name: 'full', points: [{ x: 1e8, y: 0.92 }] },
  ];

  test('draws markers, labels and connecting lines', () => {
    const svg = scatterChart({ title: 'score vs params', logX: true, connect: true, series });
    checkWellFormed(svg);
    assert.equal(count(svg, '<polyline'), 1, 'only the series with 2+ points is connected');
    assert.ok(svg.includes('>m=8</text>') && svg.includes('>m=2</text>'));
    // the connecting line runs in increasing x: first point is the m=2 one (smaller x)
    const first = Number(/<polyline points="([\d.]+),/.exec(svg)?.[1]);
    const second = Number(/<polyline points="[\d.,]+ ([\d.]+),/.exec(svg)?.[1]);
    assert.ok(first < second);
  });

  test('points that cannot sit on a log axis are left out; labels are escaped', () => {
    const svg = scatterChart({ title: 't', logX: true, series: [{ name: EVIL, points: [{ x: 0, y: 1 }, { x: 10, y: 2, label: EVIL }, { x: 100, y: 3 }] }] });
    checkWellFormed(svg);
    assert.ok(!svg.includes('<script'));
    assert.equal(count(svg, '<circle'), 2 + 1, 'two drawn points plus the legend marker');
  });
});

describe('heatMap', () => {
  const grid = { title: 'ablation', rows: [0, 1, 2], cols: [0, 1, 2], values: [[0.5, 0.6, 0.7], [null, 0.8, 0.9], [null, null, 1]] };

  test('colours cells on viridis, prints values and dashes for empty cells', () => {
    const svg = heatMap(grid);
    checkWellFormed(svg);
    assert.equal(count(svg, `fill="${viridis(1)}"`), 2, 'the top cell and the key swatch');
    assert.equal(count(svg, 'fill="#eeeeee"'), 3);
    assert.equal(count(svg, '>–</text>'), 3);
    assert.ok(svg.includes('>0.500</text>') && svg.includes('>1.000</text>'), 'same decimals in every cell');
  });

  test('checks the shape of the values against the labels', () => {
    assert.throws(() => heatMap({ ...grid, values: [[1, 2, 3], [1, 2], [1, 2, 3]] }), /row 1 has 2 values for 3 column labels/);
    assert.throws(() => heatMap({ ...grid, values: [[1, 2, 3]] }), /1 rows of values for 3 row labels/);
  });

  test('all-empty grids give "no data"; labels are escaped', () => {
    assert.match(heatMap({ ...grid, values: [[null, null, null], [null, null, null], [null, null, null]] }), /no data/);
    const svg = heatMap({ ...grid, title: EVIL, rows: [EVIL, 'b', 'c'], format: () => EVIL });
    checkWellFormed(svg);
    assert.ok(!svg.includes('<script'));
  });

  test('viridis runs from dark purple to yellow', () => {
    assert.equal(viridis(0), '#440154');
    assert.equal(viridis(1), '#fde725');
    assert.equal(viridis(0.5), '#21918c');
  });
});

describe('barChart', () => {
  test('one bar per entry, values printed, empty gives no data', () => {
    const svg = barChart({ title: 'b', bars: [{ label: 'a', value: 2 }, { label: EVIL, value: -1 }, { label: 'nan', value: NaN }] });
    checkWellFormed(svg);
    assert.equal(count(svg, `fill="${PALETTE[0]}"`), 2);
    assert.ok(svg.includes('>2</text>') && svg.includes('>-1</text>') && svg.includes('>–</text>'));
    assert.match(barChart({ title: 'b', bars: [] }), /no data/);
  });
});

describe('formatting', () => {
  test('numbers, SI suffixes, escaping, column decimals', () => {
    assert.equal(formatNumber(1234567), '1,234,567');
    assert.equal(formatNumber(0.834567), '0.8346');
    assert.equal(formatNumber(3e-5), '3e-5');
    assert.equal(formatNumber(NaN), '–');
    assert.equal(formatSi(1500), '1.5k');
    assert.equal(formatSi(110e6), '110M');
    assert.equal(escapeXml('a\u0001<b>'), 'a&lt;b&gt;');
    const f = columnFormatter([0.833, 0.8346]);
    assert.deepEqual([f(0.833), f(0.8346)], ['0.8330', '0.8346']);
    assert.equal(columnFormatter([1234.5, 2])(1234.5), '1,234.5');
    const mixed = columnFormatter([1234.5, 0.0123]);
    assert.deepEqual([mixed(1234.5), mixed(0.0123)], ['1,234.500', '0.012']);
    assert.equal(columnFormatter([1, 2])(1000), '1,000');
  });
});
