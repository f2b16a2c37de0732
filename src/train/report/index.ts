/**
 * Self-contained HTML reports of training runs and experiments, with inline SVG charts.
 *
 * @example
 * ```ts
 * import { readRun, writeReport } from './train/report/index.js';
 * const run = await readRun('runs/spam');
 * await writeReport('runs/spam/report.html', { title: 'spam', generatedAt: new Date().toISOString(), runs: [run] });
 * ```
 */
export { renderReport, writeReport, type ReportInput, type AblationInput, type InitScaleInput, type SummaryTable, type TradeoffInput } from './html.js';
export { readRun, parseMetricsLog, movingAverage, smoothingWindow, smoothedLoss, mainMetric, type RunData, type TrainPoint, type EvalPoint, type ParsedLog } from './runs.js';
export {
  lineChart, scatterChart, barChart, heatMap, niceTicks, logTicks, escapeXml, formatNumber, formatSi, PALETTE,
  type LineChartOptions, type LineSeries, type ScatterChartOptions, type ScatterSeries, type ScatterPoint, type BarChartOptions, type HeatMapOptions, type Tick,
} from './svg.js';
export { tradeoffChart } from './sections.js';
