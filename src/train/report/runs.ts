/**
 * Reads a training run directory (see `trainer.ts`) into plain data for the report: the training
 * loss per step and the dev metrics per evaluation from `metrics.jsonl`, plus the task manifest
 * from `best/adapterkit.json` when present. A last line cut short by a crash is ignored.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { AdapterkitError, fail } from '../../errors.js';
import type { TaskManifest } from '../../adapters/files.js';
import { isJsonObject } from '../../util/json-text.js';

/** One training step from the log. */
export interface TrainPoint {
  readonly step: number;
  readonly loss: number;
}

/** One evaluation from the log: its step and every numeric metric, in logged order. */
export interface EvalPoint {
  readonly step: number;
  readonly split: string;
  readonly metrics: Readonly<Record<string, number>>;
}

/** A run as the report sees it. */
export interface RunData {
  /** Task name from the manifest, else the directory name. */
  readonly name: string;
  /** Training mode as described by the trainer (e.g. `adapters (m=64)`), when known. */
  readonly mode?: string;
  readonly train: readonly TrainPoint[];
  readonly evals: readonly EvalPoint[];
  readonly manifest?: TaskManifest;
}

/** What {@link parseMetricsLog} found in a log. */
export interface ParsedLog {
  readonly train: TrainPoint[];
  readonly evals: EvalPoint[];
  /** Whether an unparseable last line (a write cut short) was dropped. */
  readonly truncatedLastLine: boolean;
}

/** Keys of an eval line that are not metrics. */
const EVAL_META = new Set(['time', 'type', 'split', 'step', 'epoch']);

/** Parses one log line, or returns undefined when it is not valid JSON. */
function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return isJsonObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The numeric metrics of an eval record, in their logged order. */
function evalMetrics(rec: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(rec)) if (!EVAL_META.has(k) && typeof v === 'number') out[k] = v;
  return out;
}

/**
 * Parses the text of a `metrics.jsonl` log. Blank lines are skipped; an invalid last line is
 * dropped (a crash mid-write); an invalid line elsewhere throws BAD_FILE naming `file` and the line.
 * Records of other types, and train records without a numeric step and loss, are ignored.
 */
export function parseMetricsLog(text: string, file = 'metrics.jsonl'): ParsedLog {
  const lines = text.split('\n');
  while (lines.length && (lines[lines.length - 1] as string).trim() === '') lines.pop();
  const train: TrainPoint[] = [];
  const evals: EvalPoint[] = [];
  let truncatedLastLine = false;
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const rec = parseLine(line);
    if (!rec) {
      if (i === lines.length - 1) {
        truncatedLastLine = true;
        return;
      }
      fail('BAD_FILE', `${file}: line ${i + 1} is not a JSON object: ${line.slice(0, 80)}`);
    }
    if (typeof rec.step !== 'number') return;
    if (rec.type === 'train' && typeof rec.loss === 'number') train.push({ step: rec.step, loss: rec.loss });
    else if (rec.type === 'eval') evals.push({ step: rec.step, split: typeof rec.split === 'string' ? rec.split : 'dev', metrics: evalMetrics(rec) });
  });
  return { train, evals, truncatedLastLine };
}

/** Reads a JSON file, or undefined when it does not exist; BAD_FILE when it is not valid JSON. */
async function readJsonIfPresent(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AdapterkitError('BAD_FILE', `cannot read ${path}: ${(e as Error).message}`, undefined, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AdapterkitError('BAD_FILE', `${path} is not valid JSON: ${(e as Error).message}`, undefined, { cause: e });
  }
}

/** The mode description of a manifest: the trainer's own words when saved, else the mode kind. */
function manifestMode(m: TaskManifest): string | undefined {
  const described = m.training?.mode;
  if (typeof described === 'string') return described;
  return typeof m.mode?.kind === 'string' ? m.mode.kind : undefined;
}

/**
 * Reads a run directory: `metrics.jsonl` (required) and `best/adapterkit.json` (optional).
 * Throws NOT_FOUND when the log is missing, BAD_FILE when a file is malformed.
 *
 * @example
 * ```ts
 * const run = await readRun('runs/spam');
 * run.train.length; // e.g. 570 steps
 * run.evals.at(-1)?.metrics.accuracy; // e.g. 0.97
 * ```
 */
export async function readRun(dir: string): Promise<RunData> {
  const logPath = join(dir, 'metrics.jsonl');
  let text: string;
  try {
    text = await readFile(logPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') fail('NOT_FOUND', `${logPath} does not exist: is ${dir} a training run directory?`);
    throw new AdapterkitError('BAD_FILE', `cannot read ${logPath}: ${(e as Error).message}`, undefined, { cause: e });
  }
  const { train, evals } = parseMetricsLog(text, logPath);
  const manifestPath = join(dir, 'best', 'adapterkit.json');
  const raw = await readJsonIfPresent(manifestPath);
  if (raw !== undefined && (raw === null || typeof raw !== 'object' || (raw as { format?: unknown }).format !== 'adapterkit-task')) {
    fail('BAD_FILE', `${manifestPath} is not an adapterkit task manifest (no "format": "adapterkit-task")`);
  }
  const manifest = raw as TaskManifest | undefined;
  const name = manifest && typeof manifest.name === 'string' ? manifest.name : basename(resolve(dir));
  const mode = manifest ? manifestMode(manifest) : undefined;
  return { name, ...(mode !== undefined ? { mode } : {}), train, evals, ...(manifest ? { manifest } : {}) };
}

/**
 * The moving-average window for `n` training steps: about 2 % of the steps, odd, from 1 (no
 * smoothing under 20 steps) to 101.
 */
export function smoothingWindow(n: number): number {
  if (n < 20) return 1;
  const w = Math.min(101, Math.max(3, Math.round(n / 50)));
  return w % 2 === 1 ? w : w + 1;
}

/**
 * Centred moving average with window `window` (shrunk at both ends so every output averages
 * the points that exist). Non-finite values are skipped inside a window.
 *
 * @example
 * ```ts
 * movingAverage([1, 2, 3, 4, 5], 3); // [1.5, 2, 3, 4, 4.5]
 * ```
 */
export function movingAverage(values: readonly number[], window: number): number[] {
  const half = Math.floor(Math.max(1, window) / 2);
  return values.map((_, i) => {
    let sum = 0;
    let n = 0;
    for (let j = Math.max(0, i - half); j <= Math.min(values.length - 1, i + half); j++) {
      const v = values[j] as number;
      if (Number.isFinite(v)) {
        sum += v;
        n++;
      }
    }
    return n ? sum / n : NaN;
  });
}

/** The training loss of a run smoothed with {@link movingAverage} over {@link smoothingWindow} steps. */
export function smoothedLoss(run: Pick<RunData, 'train'>): TrainPoint[] {
  const avg = movingAverage(run.train.map((p) => p.loss), smoothingWindow(run.train.length));
  return run.train.map((p, i) => ({ step: p.step, loss: avg[i] as number }));
}

/** The main metric of a run: the first metric of its first evaluation (the trainer logs it first). */
export function mainMetric(run: Pick<RunData, 'evals'>): string | undefined {
  for (const e of run.evals) {
    const first = Object.keys(e.metrics)[0];
    if (first !== undefined) return first;
  }
  return undefined;
}
