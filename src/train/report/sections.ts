/**
 * The sections of the HTML report, each a pure function from its part of the input to an HTML
 * fragment: results table, training curves, parameter/score trade-off, layer ablation,
 * initialisation scale, notes.
 */
import { fail } from '../../errors.js';
import { columnFormatter, escapeXml, formatNumber, formatSi } from './format.js';
import { mainMetric, smoothedLoss, smoothingWindow, type RunData } from './runs.js';
import { barChart, heatMap, lineChart, PALETTE, scatterChart, type ScatterSeries } from './svg.js';

/** A results table: column names and rows of cells. */
export interface SummaryTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
}

/** Score against trained parameters for the methods of one task. */
export interface TradeoffInput {
  readonly task: string;
  readonly metric: string;
  readonly points: readonly { readonly method: string; readonly params: number; readonly score: number; readonly label?: string }[];
}

/** A layer-ablation grid for one task: `values[first][last]` is the score with layers first..last removed. */
export interface AblationInput {
  readonly task: string;
  readonly metric: string;
  readonly layers: number;
  readonly values: readonly (readonly (number | null)[])[];
  /** Score with no layer removed. */
  readonly baseline: number;
}

/** Scores of one task's adapters trained with several initialisation stds (means over seeds). */
export interface InitScaleInput {
  readonly task: string;
  readonly metric: string;
  readonly points: readonly { readonly std: number; readonly dev: number | null; readonly test: number | null; readonly runs: number }[];
}

/**
 * A table cell: numbers right-aligned and formatted with their column's formatter, text escaped;
 * text with spaces may wrap there (class `wrap`), so that a wide table fits the page.
 */
function cell(v: string | number, fmt: (v: number) => string): string {
  if (typeof v === 'number') return `<td class="num">${escapeXml(fmt(v))}</td>`;
  return /\s/.test(v.trim()) ? `<td class="wrap">${escapeXml(v)}</td>` : `<td>${escapeXml(v)}</td>`;
}

/** An HTML table; throws BAD_CONFIG when a row's length differs from the columns'. */
export function htmlTable(t: SummaryTable, caption?: string): string {
  t.rows.forEach((row, i) => {
    if (row.length !== t.columns.length) fail('BAD_CONFIG', `report table: row ${i} has ${row.length} cells for ${t.columns.length} columns`);
  });
  const numericCol = t.columns.map((_, c) => t.rows.length > 0 && t.rows.every((r) => typeof r[c] === 'number'));
  const head = t.columns.map((c, i) => `<th${numericCol[i] ? ' class="num"' : ''}>${escapeXml(c)}</th>`).join('');
  const formats = t.columns.map((_, c) => columnFormatter(t.rows.map((r) => r[c]).filter((v): v is number => typeof v === 'number')));
  const body = t.rows.map((r) => `<tr>${r.map((v, c) => cell(v, formats[c] ?? formatNumber)).join('')}</tr>`).join('\n');
  const cap = caption ? `<caption>${escapeXml(caption)}</caption>` : '';
  return `<div class="table-wrap"><table>${cap}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div>`;
}

/** A chart in a `<figure>`, with an optional caption. */
function figure(svg: string, caption?: string): string {
  return `<figure>${svg}${caption ? `<figcaption>${escapeXml(caption)}</figcaption>` : ''}</figure>`;
}

/** How a run is named in legends: the task name and its mode. */
export function runLabel(run: RunData): string {
  return run.mode ? `${run.name} · ${run.mode}` : run.name;
}

/** The best value of `metric` over a run's evaluations, with its step. */
function bestEval(run: RunData, metric: string): { step: number; value: number } | undefined {
  let best: { step: number; value: number } | undefined;
  for (const e of run.evals) {
    const v = e.metrics[metric];
    if (v !== undefined && Number.isFinite(v) && (!best || v > best.value)) best = { step: e.step, value: v };
  }
  return best;
}

/** A table of the runs: steps, last smoothed loss, best dev score. */
function runsTable(runs: readonly RunData[]): string {
  const rows = runs.map((r) => {
    const metric = mainMetric(r);
    const best = metric ? bestEval(r, metric) : undefined;
    const last = smoothedLoss(r).at(-1)?.loss ?? NaN;
    return [r.name, r.mode ?? '–', r.train.at(-1)?.step ?? 0, last, metric ?? '–', best?.value ?? NaN, best?.step ?? NaN];
  });
  return htmlTable({ columns: ['task', 'mode', 'steps', 'final loss (smoothed)', 'dev metric', 'best dev', 'at step'], rows });
}

/** The most series one chart draws: one round of the palette, so no two series share a colour. */
export const MAX_SERIES = PALETTE.length;

/** Runs drawn together in one chart: a title suffix and the runs, plus how many were left out. */
interface RunGroup {
  readonly title: string;
  readonly runs: readonly RunData[];
  readonly omitted: number;
}

/** A run's best main dev score (-Infinity without one), to rank runs when a chart cannot hold them all. */
function bestScore(r: RunData): number {
  const m = mainMetric(r);
  return (m ? bestEval(r, m)?.value : undefined) ?? -Infinity;
}

/**
 * The charts' groups of runs: all runs together when they fit in {@link MAX_SERIES} distinct
 * colours; else one group per task, each holding at most that many runs (the best on dev first).
 */
export function runGroups(runs: readonly RunData[]): RunGroup[] {
  if (runs.length <= MAX_SERIES) return [{ title: '', runs, omitted: 0 }];
  const tasks = [...new Set(runs.map((r) => r.name))];
  return tasks.map((task) => {
    const mine = runs.filter((r) => r.name === task);
    const kept = mine.length <= MAX_SERIES ? mine : [...mine].sort((a, b) => bestScore(b) - bestScore(a)).slice(0, MAX_SERIES);
    return { title: tasks.length > 1 ? `: ${task}` : '', runs: mine.filter((r) => kept.includes(r)), omitted: mine.length - kept.length };
  });
}

/**
 * One dev-metric chart: lines over steps; when no run has more than one evaluation, a bar per run
 * (labelled with its run and step) instead of a column of lone dots at the last step.
 */
function devChart(runs: readonly RunData[], m: string, title: string): string {
  const points = runs.map((r) => r.evals.map((e) => [e.step, e.metrics[m] ?? NaN] as const).filter(([, v]) => Number.isFinite(v)));
  if (points.every((p) => p.length <= 1)) {
    const bars = runs.flatMap((r, i) => (points[i]?.length ? [{ label: `${runLabel(r)} (step ${points[i]?.[0]?.[0]})`, value: points[i]?.[0]?.[1] as number }] : []));
    if (bars.length) return figure(barChart({ title: `${title} (one evaluation per run)`, xLabel: m, bars }));
  }
  return figure(lineChart({
    title, xLabel: 'step', yLabel: m,
    series: runs.map((r) => ({ name: runLabel(r), points: r.evals.map((e) => [e.step, e.metrics[m] ?? NaN] as const) })),
  }));
}

/**
 * Training section: runs table, smoothed loss curves, and one chart per main dev metric; the
 * charts hold at most {@link MAX_SERIES} runs each (see {@link runGroups}).
 */
export function runsSection(runs: readonly RunData[]): string {
  const figures: string[] = [];
  for (const g of runGroups(runs)) {
    const windows = [...new Set(g.runs.map((r) => smoothingWindow(r.train.length)))].sort((a, b) => a - b);
    const loss = lineChart({
      title: `Training loss${g.title}`, xLabel: 'step', yLabel: 'loss (moving average)',
      series: g.runs.map((r) => ({ name: runLabel(r), points: smoothedLoss(r).map((p) => [p.step, p.loss] as const) })),
    });
    const omitted = g.omitted ? ` The ${MAX_SERIES} best runs on dev are drawn; ${g.omitted} more are in the table.` : '';
    figures.push(figure(loss, `Moving average over ${windows.join(' / ')} step${windows.length === 1 && windows[0] === 1 ? '' : 's'}.${omitted}`));
    const metrics = [...new Set(g.runs.map(mainMetric).filter((m): m is string => m !== undefined))];
    for (const m of metrics) figures.push(devChart(g.runs.filter((r) => mainMetric(r) === m), m, `Dev ${m}${g.title}`));
  }
  return `<section><h2>Training</h2>${runsTable(runs)}<div class="charts">${figures.join('\n')}</div></section>`;
}

/** One task's trade-off chart (score against trained parameters, log x, one series per method) as a standalone SVG document. */
export function tradeoffChart(t: TradeoffInput): string {
  const methods = [...new Set(t.points.map((p) => p.method))];
  const series: ScatterSeries[] = methods.map((m) => ({
    name: m,
    points: t.points.filter((p) => p.method === m).map((p) => ({ x: p.params, y: p.score, ...(p.label !== undefined ? { label: p.label } : {}) })),
  }));
  return scatterChart({ title: `${t.task}: ${t.metric} vs trained parameters`, xLabel: 'trained parameters (log scale)', yLabel: t.metric, logX: true, connect: true, series });
}

/** Trade-off section: for each task, score against trained parameters (log x), one series per method. */
export function tradeoffSection(items: readonly TradeoffInput[]): string {
  const figures = items.map((t) => {
    const sizes = t.points.filter((p) => Number.isFinite(p.params)).map((p) => p.params);
    const caption = sizes.length ? `Trained parameters from ${formatSi(Math.min(...sizes))} to ${formatSi(Math.max(...sizes))}.` : undefined;
    return figure(tradeoffChart(t), caption);
  });
  return `<section><h2>Score vs trained parameters</h2><div class="charts">${figures.join('\n')}</div></section>`;
}

/** Ablation section: for each task, a heat map of the score with a span of layers' adapters removed. */
export function ablationSection(items: readonly AblationInput[]): string {
  const figures = items.map((a) => {
    if (a.values.length !== a.layers) fail('BAD_CONFIG', `ablation of ${a.task}: ${a.values.length} rows of values for ${a.layers} layers`);
    const layers = Array.from({ length: a.layers }, (_, i) => i);
    const finite = a.values.flat().filter((v): v is number => v !== null && Number.isFinite(v));
    const range: [number, number] | undefined = finite.length ? [Math.min(...finite), Math.max(...finite, a.baseline)] : undefined;
    const svg = heatMap({
      title: `${a.task}: ${a.metric} with adapters removed`, rows: layers, cols: layers, values: a.values,
      rowLabel: 'first removed layer', colLabel: 'last removed layer', ...(range ? { range } : {}),
    });
    return figure(svg, `Baseline with all adapters: ${formatNumber(a.baseline)}. Cell (i, j): adapters of layers i to j removed.`);
  });
  return `<section><h2>Ablation</h2><div class="charts">${figures.join('\n')}</div></section>`;
}

/** Initialisation-scale section: for each task, dev and test score against the init std (log x). */
export function initScaleSection(items: readonly InitScaleInput[]): string {
  const figures = items.map((t) => {
    const pts = [...t.points].sort((a, b) => a.std - b.std);
    const series: ScatterSeries[] = (['dev', 'test'] as const)
      .map((split) => ({ name: split, points: pts.flatMap((p) => (p[split] === null ? [] : [{ x: p.std, y: p[split] as number }])) }))
      .filter((s) => s.points.length > 0);
    const svg = scatterChart({ title: `${t.task}: ${t.metric} vs adapter init std`, xLabel: 'init std of the adapter weights (log scale)', yLabel: t.metric, logX: true, connect: true, series });
    const runs = pts.map((p) => p.runs);
    const caption = `Mean over ${Math.min(...runs) === Math.max(...runs) ? runs[0] : `${Math.min(...runs)}–${Math.max(...runs)}`} run(s) per std: ` +
      pts.map((p) => `${formatNumber(p.std)}: test ${p.test === null ? '–' : formatNumber(p.test)}`).join(', ') + '.';
    return figure(svg, caption);
  });
  return `<section><h2>Initialisation scale</h2><div class="charts">${figures.join('\n')}</div></section>`;
}

/** Notes section: one escaped paragraph per note. */
export function notesSection(notes: readonly string[]): string {
  return `<section><h2>Notes</h2>${notes.map((n) => `<p>${escapeXml(n)}</p>`).join('\n')}</section>`;
}
