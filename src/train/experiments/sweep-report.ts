/**
 * Builds the HTML report input of experiments from sweep output directories (`results.jsonl`,
 * `ablation-<task>.json`, `init-scale.jsonl`) and training run directories (`metrics.jsonl`):
 * score vs trained parameters per task, a table per task as in the paper (score, % of parameters
 * per task, total parameters for N tasks as a multiple of one model), ablation heat maps, and the
 * training curves of the best runs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdapterkitError, fail } from '../../errors.js';
import { readRun, type AblationInput, type InitScaleInput, type ReportInput, type RunData, type SummaryTable, type TradeoffInput } from '../report/index.js';
import { INIT_SCALE_FILE, type AblationResult } from './ablation.js';
import { meanScore, readSweepResults, RESULTS_FILE, summarizeSweep, type SweepResult, type SweepSummaryRow } from './sweep-results.js';
import { exists } from '../../util/fs.js';
import { modeFamily } from '../modes.js';
import { sizeName } from './sweep-grid.js';

/** What one input directory held. */
export interface ExperimentDir {
  readonly dir: string;
  readonly kind: 'sweep' | 'run';
  readonly results: readonly SweepResult[];
  readonly ablations: readonly AblationResult[];
  readonly initScale: readonly SweepResult[];
  /** For a run directory: the run itself. */
  readonly run?: RunData;
}

async function readAblation(path: string): Promise<AblationResult> {
  let v: unknown;
  try {
    v = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new AdapterkitError('BAD_FILE', `${path} is not valid JSON: ${(e as Error).message}`, undefined, { cause: e });
  }
  const a = v as Partial<AblationResult>;
  if (!a || typeof a.task !== 'string' || typeof a.layers !== 'number' || !a.splits || typeof a.splits !== 'object') {
    fail('BAD_FILE', `${path} is not an ablation result (needs task, layers and splits)`);
  }
  return a as AblationResult;
}

/**
 * Reads a sweep output directory (has `results.jsonl`) or a training run directory (has
 * `metrics.jsonl`); NOT_FOUND when it is neither.
 */
export async function readExperimentDir(dir: string): Promise<ExperimentDir> {
  if (await exists(join(dir, RESULTS_FILE))) {
    const names = await readdir(dir);
    const ablations = await Promise.all(names.filter((n) => /^ablation-.*\.json$/.test(n)).sort().map((n) => readAblation(join(dir, n))));
    return {
      dir, kind: 'sweep', results: await readSweepResults(join(dir, RESULTS_FILE)), ablations,
      initScale: await readSweepResults(join(dir, INIT_SCALE_FILE)),
    };
  }
  if (await exists(join(dir, 'metrics.jsonl'))) return { dir, kind: 'run', results: [], ablations: [], initScale: [], run: await readRun(dir) };
  return fail('NOT_FOUND', `${dir} is neither a sweep output directory (no ${RESULTS_FILE}) nor a training run directory (no metrics.jsonl)`);
}

/** Total parameters for `n` tasks as a multiple of one model: n x 1.0 for full fine-tuning, 1 + n x share otherwise. */
export function totalParamsMultiple(kind: string, share: number, n: number): number {
  return kind === 'full' ? n : 1 + n * share;
}

/** The legend name of a method in the trade-off charts: the mode's family, and the adapter method when it is not the paper's. */
function family(r: Pick<SweepSummaryRow, 'kind' | 'preset'>): string {
  return r.kind === 'adapters' && r.preset !== undefined ? `adapters: ${r.preset}` : modeFamily(r.kind);
}

function pointLabel(r: SweepSummaryRow): string | undefined {
  if (r.kind === 'adapters') {
    const n = sizeName(r.preset);
    return [n && r.size !== undefined ? `${n}=${r.size}` : '', r.initStd !== undefined ? `std ${r.initStd}` : ''].filter(Boolean).join(', ') || undefined;
  }
  if (r.kind === 'top-k') return `k=${r.k}`;
  return undefined;
}

/**
 * The results table's average rows: per method, the mean over the tasks scored with the same
 * metric (an f1 is never averaged with an accuracy): one row per method and metric that two or
 * more tasks share, its task cell naming how many tasks it averages and its metric cell the metric.
 */
function averageRows(rows: readonly SweepSummaryRow[], num: (x: number | null) => string | number): (string | number)[][] {
  const out: (string | number)[][] = [];
  const mean = (xs: (number | null)[]) => (xs.every((x) => x !== null) ? (xs as number[]).reduce((a, b) => a + b, 0) / xs.length : null);
  for (const method of [...new Set(rows.map((r) => r.method))]) {
    for (const metric of [...new Set(rows.filter((r) => r.method === method).map((r) => r.metric))]) {
      const rs = rows.filter((r) => r.method === method && r.metric === metric);
      const tasks = [...new Set(rs.map((r) => r.task))];
      if (tasks.length < 2 || tasks.length !== rs.length) continue; // an average of one task says nothing
      const share = mean(rs.map((r) => r.share)) as number;
      out.push([
        `average of ${tasks.length} tasks (${metric})`, method, metric, num(mean(rs.map((r) => r.testScore))), num(mean(rs.map((r) => r.devScore))),
        '–', '–', '–', Math.round(mean(rs.map((r) => r.trainableParams)) as number), `${(share * 100).toPrecision(3)}%`,
        `${(rs[0]!.kind === 'full' ? rs.length : 1 + rs.reduce((a, r) => a + r.share, 0)).toFixed(2)}x`, rs.reduce((a, r) => a + r.runs, 0),
      ]);
    }
  }
  return out;
}

/** The results table: per task and method, the best run on dev (as in the paper's tables), then the {@link averageRows}. */
export function resultsTable(rows: readonly SweepSummaryRow[], nTasks: number): SummaryTable {
  const out: (string | number)[][] = [];
  const num = (x: number | null) => (x === null ? '–' : x);
  for (const r of rows) {
    out.push([
      r.task, r.method, r.metric, num(r.testScore), num(r.devScore), r.lr.toExponential(), r.epochs, r.seed, r.trainableParams,
      `${(r.share * 100).toPrecision(3)}%`, `${totalParamsMultiple(r.kind, r.share, nTasks).toFixed(2)}x`, r.runs,
    ]);
  }
  out.push(...averageRows(rows, num));
  return {
    columns: ['task', 'method', 'metric', 'test', 'dev', 'lr', 'epochs', 'seed', 'trained params', '% params per task', `params for ${nTasks} task${nTasks === 1 ? '' : 's'} (x one model)`, 'runs'],
    rows: out,
  };
}

/** The init-scale runs of a directory as chart input: per task, each std's mean dev and test score. */
export function initScaleInputs(results: readonly SweepResult[]): InitScaleInput[] {
  return [...new Set(results.map((r) => r.task))].map((task) => {
    const byStd = new Map<number, SweepResult[]>();
    for (const r of results) if (r.task === task && r.initStd !== undefined) byStd.set(r.initStd, [...(byStd.get(r.initStd) ?? []), r]);
    const points = [...byStd.entries()].sort((a, b) => a[0] - b[0])
      .map(([std, rs]) => ({ std, runs: rs.length, dev: meanScore(rs.map((r) => r.devScore)), test: meanScore(rs.map((r) => r.testScore)) }));
    return { task, metric: results.find((r) => r.task === task)?.metric ?? '', points };
  }).filter((t) => t.points.length > 0);
}

/** Options of {@link buildSweepReport}. */
export interface SweepReportOptions {
  readonly title?: string;
  readonly generatedAt: string;
  /** N of "total parameters for N tasks" (default: the number of tasks in the input). */
  readonly tasks?: number;
}

/**
 * The report input for experiment directories (see the module comment).
 *
 * @example
 * ```ts
 * const dirs = await Promise.all(['runs/sweep-spam'].map(readExperimentDir));
 * await writeReport('report.html', await buildSweepReport(dirs, { generatedAt: new Date().toISOString() }));
 * ```
 */
export async function buildSweepReport(dirs: readonly ExperimentDir[], o: SweepReportOptions): Promise<ReportInput> {
  const summaries = dirs.flatMap((d) => summarizeSweep(d.results).map((row) => ({ row, dir: d.dir })));
  const rows = summaries.map((s) => s.row);
  const tasks = [...new Set(rows.map((r) => r.task))];
  const nTasks = o.tasks ?? Math.max(1, tasks.length);
  const tradeoff: TradeoffInput[] = tasks.map((task) => {
    const rs = rows.filter((r) => r.task === task);
    const useTest = rs.every((r) => r.testScore !== null);
    return {
      task, metric: `${useTest ? 'test' : 'dev'} ${rs[0]?.metric ?? ''}`.trim(),
      points: rs.map((r) => {
        const label = pointLabel(r);
        return { method: family(r), params: r.trainableParams, score: (useTest ? r.testScore : r.devScore) ?? NaN, ...(label !== undefined ? { label } : {}) };
      }).sort((a, b) => a.params - b.params),
    };
  });
  const ablation: AblationInput[] = dirs.flatMap((d) => d.ablations).map((a) => {
    const split = a.splits.dev ? 'dev' : Object.keys(a.splits)[0];
    const s = split !== undefined ? a.splits[split] : undefined;
    if (!s) return fail('BAD_FILE', `ablation of ${a.task} holds no split`);
    return { task: a.task, metric: `${split} ${a.metric}`, layers: a.layers, values: s.values, baseline: s.baseline };
  });
  const runs: RunData[] = [];
  for (const { row, dir } of summaries) {
    try {
      const run = await readRun(join(dir, row.runDir));
      runs.push({ ...run, name: row.task });
    } catch (e) {
      if (!(e instanceof AdapterkitError && e.code === 'NOT_FOUND')) throw e; // a run directory removed since: no curve
    }
  }
  for (const d of dirs) if (d.run) runs.push(d.run);
  const initScale = dirs.flatMap((d) => initScaleInputs(d.initScale));
  const notes: string[] = [];
  if (rows.length) {
    notes.push(`Each method's row is its best run on dev among all learning rates, epochs and seeds; "params for N tasks" counts N x 1.0 models for full fine-tuning and 1 + N x share otherwise (N = ${nTasks}).`);
  }
  return {
    title: o.title ?? (tasks.length ? `Experiments: ${tasks.join(', ')}` : 'Training runs'),
    subtitle: `${dirs.length} director${dirs.length === 1 ? 'y' : 'ies'}, ${dirs.reduce((n, d) => n + d.results.length, 0)} sweep runs`,
    generatedAt: o.generatedAt,
    ...(rows.length ? { summary: resultsTable(rows, nTasks), tradeoff } : {}),
    ...(runs.length ? { runs } : {}),
    ...(ablation.length ? { ablation } : {}),
    ...(initScale.length ? { initScale } : {}),
    ...(notes.length ? { notes } : {}),
  };
}
