/**
 * Hyper-parameter sweeps as in the paper, on any {@link ExperimentTask} (sentence-level, tagging,
 * extractive QA): every run of a grid (see `sweep-grid.ts`) is trained,
 * its best dev checkpoint tested, and one line appended to `<outDir>/results.jsonl` as soon as it
 * finishes. Running the same sweep again skips the runs in that file and resumes a run that was
 * interrupted midway from its checkpoint. A time budget stops starting new runs once exceeded.
 *
 * Layout: `<outDir>/results.jsonl`, `<outDir>/runs/<task>/<method>/<run>[_b<batch>_len<length>]/`
 * (a trainer run directory: `metrics.jsonl`, `checkpoint/`, `best/`).
 */
import { join, relative } from 'node:path';
import { fail } from '../../errors.js';
import type { BaseModel } from '../../models/base.js';
import { frozenRecord, type FrozenOptions } from '../frozen-precision.js';
import type { TaskData } from '../data/types.js';
import type { TaskMetricValues } from '../training-data.js';
import { sentenceTask, type ExperimentTask } from './experiment-task.js';
import type { TrainEvent, TrainOptions } from '../trainer.js';
import { trainAndTest } from './train-and-test.js';
import { PAPER_GRID, planRuns, runCost, runMode, type SweepGrid, type SweepRunSpec } from './sweep-grid.js';
import { appendSweepResult, readSweepResults, resultKey, RESULTS_FILE, type SweepResult } from './sweep-results.js';
import { makeOutDir } from '../../util/out-dir.js';

/** Options of {@link runSweep}. */
export interface SweepOptions {
  readonly base: BaseModel;
  /**
   * Sentence-level data, or any {@link ExperimentTask} (token-level tasks: {@link tokenTask}).
   * Needs labeled train and dev splits; the test split is scored when it has labels.
   */
  readonly task: TaskData | ExperimentTask;
  readonly outDir: string;
  /** Grid values; anything not given comes from {@link PAPER_GRID}. */
  readonly grid?: Partial<SweepGrid>;
  /** Batch size (default 32). */
  readonly batchSize?: number;
  /** Tokens per example (default: 128, capped at the base's limit). */
  readonly maxLength?: number;
  /** Other trainer options shared by every run (warm-up, clipping, patience...). */
  readonly train?: Partial<Omit<TrainOptions, 'outDir' | 'taskName' | 'metrics' | 'epochs' | 'lr' | 'seed' | 'batchSize' | 'maxLength' | 'signal' | 'onEvent' | 'resume'>>;
  /** Stop starting new runs once this many minutes have passed since the call began (checked between runs). */
  readonly budgetMinutes?: number;
  /** Results file name inside `outDir` (default `results.jsonl`). */
  readonly resultsFile?: string;
  /** ONNX Runtime threads. */
  readonly threads?: number;
  /**
   * Precision of the frozen base's matmuls in every run (default fp32). An int8 run is a run of
   * its own: its results row records the precision and its key and run directory (`_int8`) differ
   * from the fp32 run's, so both can live in one sweep directory.
   */
  readonly frozen?: FrozenOptions;
  /**
   * Called before a run trains (not for runs already in the results file). `remainingSeconds`
   * estimates the time the runs still to train need (this one included), from the speed of the
   * runs this call has trained so far and each run's relative cost; undefined before the first.
   */
  readonly onRunStart?: (run: SweepRunSpec, runDir: string, index: number, total: number, remainingSeconds?: number) => void | Promise<void>;
  /** Called with each result: `fresh` is false for results read back from the file. */
  readonly onResult?: (r: SweepResult, fresh: boolean) => void;
  readonly onEvent?: (run: SweepRunSpec, e: TrainEvent) => void;
  /** Abort: the current run saves a checkpoint, then INTERRUPTED is thrown. */
  readonly signal?: AbortSignal;
}

/** What {@link runSweep} did. */
export interface SweepOutcome {
  /** Every result of this task (at this frozen precision) in the results file (earlier and new), in file order. */
  readonly results: SweepResult[];
  /** Runs of the grid. */
  readonly planned: number;
  /** Runs trained by this call. */
  readonly trained: number;
  /** Runs skipped because they were already in the results file. */
  readonly skipped: number;
  /** Runs not started because the budget ran out (0 when the grid finished). */
  readonly notStarted: number;
  readonly budgetExceeded: boolean;
  readonly resultsPath: string;
}

/** A sentence-level task's data as an {@link ExperimentTask}; an experiment task as it is. */
export function asExperimentTask(task: TaskData | ExperimentTask): ExperimentTask {
  return 'score' in task ? task : sentenceTask(task);
}

function metricOf(m: TaskMetricValues | null, name: string): number | null {
  const v = m?.[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The settings every run of a sweep shares, resolved as {@link runSweep} resolves them. */
export interface SweepSettings {
  readonly grid: SweepGrid;
  readonly batchSize: number;
  readonly maxLength: number;
}

/** A sweep's grid: anything not given from {@link PAPER_GRID}; the default k values stop at the encoder's depth. */
export function sweepGrid(base: BaseModel, grid: Partial<SweepGrid> = {}): SweepGrid {
  // A 2-layer base has top-1 and top-2 only.
  return { ...PAPER_GRID, topK: PAPER_GRID.topK.filter((k) => k <= base.encoder.numLayers), ...grid };
}

function batchAndLength(base: BaseModel, task: ExperimentTask, o: Pick<SweepOptions, 'batchSize' | 'maxLength'>): Omit<SweepSettings, 'grid'> {
  const batchSize = o.batchSize ?? 32;
  const maxLength = o.maxLength ?? Math.min(task.defaultMaxLength, base.encoder.maxLength);
  if (!(Number.isInteger(maxLength) && maxLength >= 2 && maxLength <= base.encoder.maxLength)) {
    fail('BAD_CONFIG', `max length must be an integer from 2 to ${base.encoder.maxLength} (the base's limit), got ${maxLength}`);
  }
  return { batchSize, maxLength };
}

/**
 * Resolves a sweep's grid ({@link sweepGrid}), batch size (32) and max length (the task's
 * default, capped at the base's limit) as {@link runSweep} does; BAD_CONFIG for a max length the
 * base cannot take.
 */
export function sweepSettings(base: BaseModel, task: ExperimentTask, o: Pick<SweepOptions, 'grid' | 'batchSize' | 'maxLength'>): SweepSettings {
  return { grid: sweepGrid(base, o.grid), ...batchAndLength(base, task, o) };
}

/** The key of a run of a sweep in its results file (see {@link resultKey}); `frozen`: the run's frozen-precision options. */
export function sweepRunKey(taskName: string, spec: SweepRunSpec, s: Pick<SweepSettings, 'batchSize' | 'maxLength'>, frozen?: FrozenOptions): string {
  return resultKey({ task: taskName, method: spec.method, run: spec.id, batchSize: s.batchSize, maxLength: s.maxLength, ...frozenRecord(frozen) });
}

/**
 * The run directory of one run: `<outDir>/runs/<task>/<method>/<run>`, with `_b<batch>_len<length>`
 * appended unless the batch size is 32 and the max length the task's default, and `_int8` for an
 * int8 frozen base (`frozen`; `_int8_fp32adapters` when its test scoring keeps the adapters' matmuls fp32).
 */
export function sweepRunDir(outDir: string, task: Pick<ExperimentTask, 'name' | 'defaultMaxLength'>, spec: Pick<SweepRunSpec, 'method' | 'id'>, s: Pick<SweepSettings, 'batchSize' | 'maxLength'>, frozen?: FrozenOptions): string {
  return join(outDir, 'runs', task.name.replace(/[^A-Za-z0-9_-]/g, '_'), spec.method, `${spec.id}${runSuffix(task.defaultMaxLength, s, frozen)}`);
}

/**
 * What a run's directory and its queue job id append to the run id: `_b<batch>_len<length>` unless
 * the batch size is 32 and the max length `defaultMaxLength`, then `_int8` for an int8 frozen base
 * (`_int8_fp32adapters` when its test scoring keeps the adapters' matmuls fp32).
 */
export function runSuffix(defaultMaxLength: number, s: Pick<SweepSettings, 'batchSize' | 'maxLength'>, frozen?: Pick<FrozenOptions, 'frozenPrecision' | 'int8Adapters'>): string {
  const settings = s.batchSize === 32 && s.maxLength === defaultMaxLength ? '' : `_b${s.batchSize}_len${s.maxLength}`;
  return settings + (frozen?.frozenPrecision === 'int8' ? `_int8${frozen.int8Adapters === false ? '_fp32adapters' : ''}` : '');
}

/** Options of {@link runSweepPoint}: one run of a sweep. */
export interface SweepPointOptions {
  readonly base: BaseModel;
  readonly task: ExperimentTask;
  readonly outDir: string;
  readonly spec: SweepRunSpec;
  readonly batchSize: number;
  readonly maxLength: number;
  readonly train?: SweepOptions['train'];
  readonly threads?: number;
  readonly frozen?: FrozenOptions;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: TrainEvent) => void;
}

/**
 * Trains one run of a sweep in its run directory (see {@link sweepRunDir}; resuming its
 * checkpoint when there is one), tests the best dev checkpoint, and returns its results row. Does
 * not write the row: {@link runSweep} and the queue's workers do.
 */
export async function runSweepPoint(o: SweepPointOptions): Promise<SweepResult> {
  const { spec, batchSize, maxLength } = o;
  const runDir = sweepRunDir(o.outDir, o.task, spec, o, o.frozen);
  const metric = o.task.metrics[0] as string;
  const r = await trainAndTest({
    base: o.base, task: o.task, mode: runMode(spec), outDir: runDir, seed: spec.seed,
    ...(o.threads !== undefined ? { threads: o.threads } : {}), ...(o.frozen ? { frozen: o.frozen } : {}),
    train: {
      ...o.train, epochs: spec.epochs, lr: spec.lr, batchSize, maxLength,
      ...(o.signal ? { signal: o.signal } : {}), onEvent: (e) => o.onEvent?.(e),
    },
  });
  return {
    task: o.task.name, method: spec.method, kind: spec.kind, description: r.description, run: spec.id,
    ...(spec.preset !== undefined ? { preset: spec.preset } : {}),
    ...(spec.size !== undefined ? { size: spec.size } : {}), ...(spec.k !== undefined ? { k: spec.k } : {}),
    ...(spec.initStd !== undefined ? { initStd: spec.initStd } : {}),
    lr: spec.lr, epochs: spec.epochs, seed: spec.seed, batchSize, maxLength, metric,
    dev: r.dev, test: r.test, devScore: metricOf(r.dev, metric), testScore: metricOf(r.test, metric),
    trainableParams: r.trainableParams, baseParams: r.baseParams, share: r.share, bytes: r.bytes,
    seconds: r.seconds, steps: r.steps, runDir: relative(o.outDir, runDir), finishedAt: new Date().toISOString(), ...frozenRecord(o.frozen),
  };
}

/**
 * Runs a sweep; see the module comment.
 *
 * @example
 * ```ts
 * const out = await runSweep({ base, task, outDir: 'runs/sweep-spam', grid: { lrs: [3e-3], epochs: [1], sizes: [8], seeds: [1] } });
 * summarizeSweep(out.results); // best run on dev per method, with its test score
 * ```
 */
export async function runSweep(o: SweepOptions): Promise<SweepOutcome> {
  const t0 = performance.now();
  const plan = planRuns(sweepGrid(o.base, o.grid), o.base.encoder);
  const task = asExperimentTask(o.task); // fails (no train or dev split) before anything is written
  const { batchSize, maxLength } = batchAndLength(o.base, task, o);
  if (o.budgetMinutes !== undefined && !(o.budgetMinutes > 0)) fail('BAD_CONFIG', `the time budget must be a positive number of minutes, got ${o.budgetMinutes}`);
  await makeOutDir(o.outDir);
  const resultsPath = join(o.outDir, o.resultsFile ?? RESULTS_FILE);
  // Rows of the other precision (an fp32 and an int8 sweep in one directory) are neither skipped nor summarised here.
  const record = frozenRecord(o.frozen);
  const sameScoring = (r: SweepResult) => r.frozenPrecision === record.frozenPrecision && r.int8Adapters === record.int8Adapters;
  const earlier = (await readSweepResults(resultsPath)).filter((r) => r.task === o.task.name && sameScoring(r));
  const done = new Map(earlier.map((r) => [resultKey(r), r]));
  for (const r of earlier) o.onResult?.(r, false);
  const results = [...earlier];
  const keyOf = (s: SweepRunSpec) => sweepRunKey(o.task.name, s, { batchSize, maxLength }, o.frozen);
  let trained = 0;
  let skipped = 0;
  let notStarted = 0;
  let budgetExceeded = false;
  let costDone = 0;
  let secondsDone = 0;
  const todoCost = (from: number) => plan.slice(from).reduce((c, s) => (done.has(keyOf(s)) ? c : c + runCost(s, o.base.encoder)), 0);
  for (const [i, spec] of plan.entries()) {
    if (done.has(keyOf(spec))) {
      skipped++;
      continue;
    }
    // The budget is checked between runs: the first run this call trains always starts.
    if (o.budgetMinutes !== undefined && trained > 0 && (performance.now() - t0) / 60000 >= o.budgetMinutes) {
      budgetExceeded = true;
      notStarted = plan.length - i - plan.slice(i).filter((s) => done.has(keyOf(s))).length;
      skipped += plan.length - i - notStarted;
      break;
    }
    const runDir = sweepRunDir(o.outDir, task, spec, { batchSize, maxLength }, o.frozen);
    await o.onRunStart?.(spec, runDir, i, plan.length, costDone > 0 ? (secondsDone / costDone) * todoCost(i) : undefined);
    const res = await runSweepPoint({
      base: o.base, task, outDir: o.outDir, spec, batchSize, maxLength,
      ...(o.train ? { train: o.train } : {}), ...(o.threads !== undefined ? { threads: o.threads } : {}), ...(o.frozen ? { frozen: o.frozen } : {}),
      ...(o.signal ? { signal: o.signal } : {}), onEvent: (e) => o.onEvent?.(spec, e),
    });
    await appendSweepResult(resultsPath, res);
    costDone += runCost(spec, o.base.encoder);
    secondsDone += res.seconds;
    results.push(res);
    trained++;
    o.onResult?.(res, true);
  }
  return { results, planned: plan.length, trained, skipped, notStarted, budgetExceeded, resultsPath };
}
