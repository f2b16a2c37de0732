/**
 * Ablations of a trained adapter task (Houlsby et al., 2019, section 3.6):
 * - {@link ablateLayers}: remove the adapters of every span of layers [i..j] at inference and score
 *   the task on dev and test. Removing an adapter = zeroing its up-projection weight and bias, so
 *   the adapter computes the identity (its skip connection only); all other weights stay trained.
 * - {@link initScaleRobustness}: train with several initialisation std values and score each.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { f32, type HostTensor } from '../../engine/index.js';
import { TaskModel } from '../task-model.js';
import { frozenRecord, type FrozenOptions, type FrozenRecord } from '../frozen-precision.js';
import type { TaskMetricValues } from '../training-data.js';
import type { ExperimentTask, ScoredSplit } from './experiment-task.js';
import type { SweepGrid } from './sweep-grid.js';
import { type SweepOptions, runSweep } from './sweep.js';
import { meanScore, type SweepResult } from './sweep-results.js';

/** The ablation grid of one split. */
export interface AblationSplit {
  /** Main metric with no adapter removed. */
  readonly baseline: number;
  readonly baselineMetrics: TaskMetricValues;
  /** `values[i][j]`: main metric with the adapters of layers i..j removed; null for j < i. */
  readonly values: (number | null)[][];
}

/** What {@link ablateLayers} reports (also the JSON stored as `ablation-<task>.json`). */
export interface AblationResult extends FrozenRecord {
  readonly task: string;
  readonly metric: string;
  readonly layers: number;
  /** Per split name (`dev`, `test`). */
  readonly splits: Readonly<Record<string, AblationSplit>>;
  /** Where the adapter came from, when known. */
  readonly source?: string;
}

/**
 * The task's weights with the adapters of layers first..last switched off: each of their tensors
 * set to its method's neutral value (0 for additive parts, 1 for IA³ scales), which makes the
 * Houlsby, Pfeiffer and parallel bottlenecks, LoRA and IA³ the identity there; a copy, `model`
 * is untouched.
 */
export function withoutAdapters(model: TaskModel, first: number, last: number): Map<string, HostTensor<'float32'>> {
  const neutral = new Map(model.adapterTensors.filter((t) => t.site.layer >= first && t.site.layer <= last).map((t) => [t.name, t.neutral]));
  const out = new Map<string, HostTensor<'float32'>>();
  for (const [k, t] of model.owned) {
    const v = neutral.get(k);
    out.set(k, v === undefined ? t : f32(t.shape, new Float32Array(t.data.length).fill(v)));
  }
  return out;
}

/** Scores `model`, or its variant with `weights`, on every split. */
async function scoreSplits(
  model: TaskModel, weights: ReadonlyMap<string, HostTensor<'float32'>> | undefined, task: ExperimentTask, splits: readonly ScoredSplit[],
  o: { maxLength: number; batchSize?: number; threads?: number; frozen?: FrozenOptions },
): Promise<Record<string, TaskMetricValues>> {
  // Each variant runs its own outlier guard on its first batch; only the full model's plan is reported.
  const m = weights
    ? TaskModel.create(model.base, {
      mode: model.mode, head: model.head, seed: 0, weights, adapterName: model.adapterName, trainPooler: model.trainPooler,
      ...(o.threads !== undefined ? { threads: o.threads } : {}), ...o.frozen, onFrozenPlan: undefined,
    })
    : model;
  const out: Record<string, TaskMetricValues> = {};
  try {
    for (const name of splits) out[name] = await task.score(m, name, { maxLength: o.maxLength, ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}) });
  } finally {
    if (m !== model) await m.dispose();
  }
  return out;
}

/**
 * Removes the adapters of every span of layers [i..j] of a trained adapter task at inference and
 * scores it on each split: `layers x layers` grids (null below the diagonal) plus the baseline.
 *
 * @example
 * ```ts
 * const { saved } = ...; // loadSavedTask(base, 'runs/spam-adapters/best')
 * const a = await ablateLayers(saved.model, { task: sentenceTask(data), maxLength: 128 });
 * a.splits.dev.values[0][1]; // the main metric with every adapter removed, e.g. 0.52
 * ```
 */
export async function ablateLayers(
  model: TaskModel,
  o: {
    /** The task's data and scoring (sentence- or token-level). */
    task: ExperimentTask;
    /** Splits to score (default: the task's labeled dev and test splits). */
    splits?: readonly ScoredSplit[];
    maxLength: number;
    batchSize?: number;
    threads?: number;
    /**
     * The frozen precision of the variants with adapters removed: pass `model`'s own (default
     * fp32) so that every span is scored like the baseline; recorded in the result.
     */
    frozen?: FrozenOptions;
    /** Task name in the result (default: the task's). */
    name?: string;
    source?: string;
    /** Called after each span (for progress). */
    onSpan?: (done: number, total: number) => void;
  },
): Promise<AblationResult> {
  if (model.mode.kind !== 'adapters') fail('BAD_CONFIG', `layer ablation needs an adapter task; this task was trained in mode ${model.mode.kind}`);
  const precision = o.frozen?.frozenPrecision ?? 'fp32';
  if (precision !== model.frozenPrecision) fail('BAD_CONFIG', `layer ablation: the model runs its frozen base in ${model.frozenPrecision} but the options ask for ${precision}; score every span at the model's precision`);
  const names = o.splits ?? o.task.scoredSplits;
  if (names.length === 0) fail('BAD_CONFIG', 'layer ablation: no split to score');
  for (const n of names) if (!o.task.scoredSplits.includes(n)) fail('BAD_DATA', `layer ablation: task ${o.task.name} has no labeled ${n} split`);
  const metric = o.task.metrics[0];
  if (metric === undefined) fail('BAD_CONFIG', 'layer ablation: the task names no metric');
  const main = (m: TaskMetricValues) => m[metric] ?? NaN;
  const layers = model.base.encoder.numLayers;
  const base = await scoreSplits(model, undefined, o.task, names, o);
  const grids: Record<string, (number | null)[][]> = {};
  for (const n of names) grids[n] = Array.from({ length: layers }, () => new Array<number | null>(layers).fill(null));
  const total = (layers * (layers + 1)) / 2;
  let done = 0;
  for (let i = 0; i < layers; i++) {
    for (let j = i; j < layers; j++) {
      const scores = await scoreSplits(model, withoutAdapters(model, i, j), o.task, names, o);
      for (const n of names) (grids[n] as (number | null)[][])[i]![j] = main(scores[n] as TaskMetricValues);
      o.onSpan?.(++done, total);
    }
  }
  const splits: Record<string, AblationSplit> = {};
  for (const n of names) splits[n] = { baseline: main(base[n] as TaskMetricValues), baselineMetrics: base[n] as TaskMetricValues, values: grids[n] as (number | null)[][] };
  return { task: o.name ?? o.task.name, metric, layers, splits, ...(o.source !== undefined ? { source: o.source } : {}), ...frozenRecord(o.frozen) };
}

/** File name of an ablation stored next to a sweep. */
export function ablationFileName(task: string): string {
  return `ablation-${task.replace(/[^A-Za-z0-9_-]/g, '_')}.json`;
}

/** Writes an ablation as `<dir>/ablation-<task>.json`; returns the path. */
export async function saveAblation(dir: string, a: AblationResult): Promise<string> {
  const p = join(dir, ablationFileName(a.task));
  await writeFile(p, `${JSON.stringify(a, null, 2)}\n`);
  return p;
}

/** File of the init-scale runs in a sweep's output directory (read by the report). */
export const INIT_SCALE_FILE = 'init-scale.jsonl';

/** One init std's scores, averaged over seeds. */
export interface InitScaleRow {
  readonly initStd: number;
  readonly runs: number;
  readonly devMean: number | null;
  readonly testMean: number | null;
  readonly results: readonly SweepResult[];
}

/**
 * Trains adapters with several initialisation std values (the paper: robust up to 1e-2, worse
 * above) and reports the main dev and test metric per std, averaged over seeds. The runs are a
 * sweep of their own (`init-scale.jsonl` in `outDir`), so they resume and skip like one.
 */
export async function initScaleRobustness(
  o: Omit<SweepOptions, 'grid' | 'resultsFile'> & {
    stds?: readonly number[];
    size?: number;
    lr?: number;
    epochs?: number;
    seeds?: readonly number[];
  },
): Promise<InitScaleRow[]> {
  const stds = o.stds ?? [1e-3, 1e-2, 1e-1, 5e-1];
  const grid: Partial<SweepGrid> = {
    methods: ['adapters'], sizes: [o.size ?? 64], lrs: [o.lr ?? 3e-3], epochs: [o.epochs ?? 3], seeds: o.seeds ?? [1], initStds: stds,
  };
  const out = await runSweep({ ...o, grid, resultsFile: INIT_SCALE_FILE });
  return stds.map((s) => {
    const rs = out.results.filter((r) => r.initStd === s && r.size === grid.sizes?.[0] && r.lr === grid.lrs?.[0] && r.epochs === grid.epochs?.[0]);
    return { initStd: s, runs: rs.length, devMean: meanScore(rs.map((r) => r.devScore)), testMean: meanScore(rs.map((r) => r.testScore)), results: rs };
  });
}
