/**
 * The durable results file of a sweep (`results.jsonl`): one JSON object per finished run,
 * appended as each run finishes, so an interrupted sweep knows what is done. Also the per-method
 * summary: the best run on dev and its test score, as the paper reports.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { AdapterkitError, fail } from '../../errors.js';
import type { MetricValues } from '../metrics/index.js';
import { MODE_NAMES } from '../modes.js';
import type { SweepMethodKind } from './sweep-grid.js';

/** File name of the results inside a sweep's output directory. */
export const RESULTS_FILE = 'results.jsonl';

/** One finished run, as stored in the results file. */
export interface SweepResult {
  readonly task: string;
  /** Method id (`adapters-m64`, `top-2`, `full`...). */
  readonly method: string;
  readonly kind: SweepMethodKind;
  /** The trainer's description of the mode (`adapters (m=64 + layer norms)`). */
  readonly description: string;
  /** Run id within the method (`lr3e-4_ep3_seed1`). */
  readonly run: string;
  /** Adapter method preset (absent: the paper's bottleneck). */
  readonly preset?: string;
  readonly size?: number;
  readonly k?: number;
  readonly initStd?: number;
  readonly lr: number;
  readonly epochs: number;
  readonly seed: number;
  readonly batchSize: number;
  readonly maxLength: number;
  /** The main metric (selects the best run on dev). */
  readonly metric: string;
  /** Best dev metrics of the run (null without a dev evaluation). */
  readonly dev: MetricValues | null;
  /** Test metrics of the best dev checkpoint (null when the test split has no labels). */
  readonly test: MetricValues | null;
  readonly devScore: number | null;
  readonly testScore: number | null;
  readonly trainableParams: number;
  readonly baseParams: number;
  /** trainableParams / baseParams. */
  readonly share: number;
  /** Bytes stored per task. */
  readonly bytes: number;
  /** Training and testing time of the call that finished the run, seconds. */
  readonly seconds: number;
  readonly steps: number;
  /** Run directory relative to the sweep's output directory. */
  readonly runDir: string;
  readonly finishedAt: string;
  /** `int8` when the frozen base ran in int8 (absent: fp32), with the outlier guard's tolerance. */
  readonly frozenPrecision?: 'int8';
  readonly int8Tolerance?: number;
  /** `false` when the test split was scored with the adapters' matmuls kept fp32 (`--no-int8-adapters`; absent: they followed the guard). */
  readonly int8Adapters?: false;
}

/**
 * The key that identifies a run across restarts: task, method, run id, batch/length settings and,
 * for an int8 frozen base, the precision, and whether its adapters' matmuls were kept fp32 (fp32
 * keys are as they were before int8 existed, int8 keys as before --no-int8-adapters).
 */
export function resultKey(r: Pick<SweepResult, 'task' | 'method' | 'run' | 'batchSize' | 'maxLength' | 'frozenPrecision' | 'int8Adapters'>): string {
  const int8 = r.frozenPrecision === 'int8' ? `\u0000int8${r.int8Adapters === false ? '\u0000fp32-adapters' : ''}` : '';
  return `${r.task}\u0000${r.method}\u0000${r.run}\u0000${r.batchSize}\u0000${r.maxLength}${int8}`;
}

/**
 * Reads a results file; [] when it does not exist. A last line cut short by a crash is ignored;
 * an invalid line elsewhere throws BAD_FILE naming the file and line.
 */
export async function readSweepResults(path: string): Promise<SweepResult[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new AdapterkitError('BAD_FILE', `cannot read ${path}: ${(e as Error).message}`, undefined, { cause: e });
  }
  const lines = text.split('\n');
  const out: SweepResult[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      const last = lines.slice(i + 1).every((l) => !l.trim());
      if (last) return; // a write cut short: that run is trained (or resumed) again
      fail('BAD_FILE', `${path}: line ${i + 1} is not valid JSON: ${line.slice(0, 80)}`);
    }
    const r = v as Partial<SweepResult>;
    if (!r || typeof r !== 'object' || typeof r.task !== 'string' || typeof r.method !== 'string' || typeof r.run !== 'string') {
      fail('BAD_FILE', `${path}: line ${i + 1} is not a sweep result (needs task, method and run)`);
    }
    out.push(r as SweepResult);
  });
  return out;
}

/** Appends one result as a line (a single write, so a crash leaves at most one partial line). */
export async function appendSweepResult(path: string, r: SweepResult): Promise<void> {
  await appendFile(path, `${JSON.stringify(r)}\n`);
}

/** The best run of one method on one task. */
export interface SweepSummaryRow {
  readonly task: string;
  readonly method: string;
  readonly kind: SweepMethodKind;
  readonly description: string;
  readonly metric: string;
  readonly devScore: number | null;
  readonly testScore: number | null;
  readonly dev: MetricValues | null;
  readonly test: MetricValues | null;
  /** The chosen run's hyper-parameters. */
  readonly run: string;
  readonly lr: number;
  readonly epochs: number;
  readonly seed: number;
  readonly preset?: string;
  readonly size?: number;
  readonly k?: number;
  readonly initStd?: number;
  readonly trainableParams: number;
  readonly share: number;
  readonly bytes: number;
  readonly runDir: string;
  /** How many runs of the method were compared. */
  readonly runs: number;
}

function score(x: number | null | undefined): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : -Infinity;
}

/**
 * Per task and method, the run with the best dev score (ties: the earlier result) and its test
 * score. Rows come in task order of first appearance, then methods by kind, size and k.
 *
 * @example
 * ```ts
 * summarizeSweep(await readSweepResults('runs/sweep/results.jsonl'))
 *   .map((r) => `${r.method} ${r.testScore}`); // ['adapters-m8 0.95', 'full 0.96', ...]
 * ```
 */
export function summarizeSweep(results: readonly SweepResult[]): SweepSummaryRow[] {
  const best = new Map<string, { r: SweepResult; n: number }>();
  for (const r of results) {
    const key = `${r.task}\u0000${r.method}`;
    const cur = best.get(key);
    if (!cur) best.set(key, { r, n: 1 });
    else best.set(key, { r: score(r.devScore) > score(cur.r.devScore) ? r : cur.r, n: cur.n + 1 });
  }
  const taskOrder = [...new Set(results.map((r) => r.task))];
  const kindOrder = [...MODE_NAMES] as string[];
  const rows = [...best.values()].map(({ r, n }): SweepSummaryRow => ({
    task: r.task, method: r.method, kind: r.kind, description: r.description, metric: r.metric,
    devScore: r.devScore, testScore: r.testScore, dev: r.dev, test: r.test,
    run: r.run, lr: r.lr, epochs: r.epochs, seed: r.seed,
    ...(r.preset !== undefined ? { preset: r.preset } : {}),
    ...(r.size !== undefined ? { size: r.size } : {}), ...(r.k !== undefined ? { k: r.k } : {}), ...(r.initStd !== undefined ? { initStd: r.initStd } : {}),
    trainableParams: r.trainableParams, share: r.share, bytes: r.bytes, runDir: r.runDir, runs: n,
  }));
  return rows.sort((a, b) =>
    taskOrder.indexOf(a.task) - taskOrder.indexOf(b.task) || kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) ||
    (a.size ?? 0) - (b.size ?? 0) || (a.k ?? 0) - (b.k ?? 0) || (a.initStd ?? 0) - (b.initStd ?? 0) || a.method.localeCompare(b.method));
}

/** The mean of the scores that exist (null entries left out); null when none does. */
export function meanScore(xs: readonly (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/**
 * Appends a result unless the file already holds one with its key (read first): for writers
 * that may finish the same run twice, such as the queue's workers after a stalled job. True
 * when it appended.
 */
export async function appendSweepResultOnce(path: string, r: SweepResult): Promise<boolean> {
  const key = resultKey(r);
  if ((await readSweepResults(path)).some((x) => resultKey(x) === key)) return false;
  await appendSweepResult(path, r);
  return true;
}
