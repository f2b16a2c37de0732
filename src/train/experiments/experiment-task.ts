/**
 * What an experiment (a sweep, a method comparison, a layer ablation) needs of a task, the same
 * for sentence-level tasks (classification, regression, multi-label) and token-level ones
 * (tagging, extractive QA): its head, its metrics, how to train with model selection on dev, and
 * how to score a labeled split.
 */
import { fail } from '../../errors.js';
import { DEFAULT_QA_OPTIONS, headConfig, type HeadConfig, type QaHeadOptions } from '../../heads/head.js';
import { devSplitNames, loadTask, type TaskSpec } from '../data/index.js';
import type { Example, SkippedRow, TaskData } from '../data/types.js';
import { predictExamples, scorePredictions } from '../evaluate.js';
import type { TaskModel } from '../task-model.js';
import {
  evaluateQa, evaluateTagging, isTokenTaskSpec, loadTokenTask, QA_METRICS, qaTrainingData, taggingTrainingData, type LoadedTokenTask, type TokenTaskSpec,
} from '../token-tasks/index.js';
import type { TaskMetricValues } from '../training-data.js';
import { trainOn, type TrainDataOptions, type TrainResult } from '../trainer.js';
import { sentenceTrainingData } from '../training-data.js';
import { DEFAULT_MAX_LENGTH } from '../max-length.js';

/** The splits an experiment scores. */
export type ScoredSplit = 'dev' | 'test';

/** A task as experiments see it; build one with {@link sentenceTask} or {@link tokenTask}. */
export interface ExperimentTask {
  readonly name: string;
  /** Sentence-level kinds, `tagging` or `qa`. */
  readonly kind: HeadConfig['kind'];
  /** Metrics of the dev and test scores; the first one selects the best run. */
  readonly metrics: readonly string[];
  /** Tokens per example when the caller gives none (128; 384 for QA). */
  readonly defaultMaxLength: number;
  /** Labeled splits it has among dev and test (dev is always there: experiments select on it). */
  readonly scoredSplits: readonly ScoredSplit[];
  /** Examples per split, for descriptions. */
  readonly sizes: Readonly<Record<string, number>>;
  /** The task's head; `extra` sets the head's layers, dropout or QA decoding. */
  head(extra?: Partial<HeadConfig>): HeadConfig;
  /** Trains `model` on the training split, evaluating on dev (the trainer keeps the best checkpoint). */
  train(model: TaskModel, o: TrainDataOptions): Promise<TrainResult>;
  /** Scores `model` on a labeled split. */
  score(model: TaskModel, split: ScoredSplit, o: { maxLength: number; batchSize?: number }): Promise<TaskMetricValues>;
}

/** What a task must have: a training split and a labeled dev split, unless told otherwise (scoring only). */
export interface TaskRequirements {
  /** Default true. */
  readonly requireTrain?: boolean;
  /** Default true; without dev, training keeps the last step. */
  readonly requireDev?: boolean;
}

function checkSplits(name: string, counts: Record<string, number>, labeled: Record<ScoredSplit, boolean>, o: TaskRequirements): ScoredSplit[] {
  if ((o.requireTrain ?? true) && !(counts.train ?? 0)) fail('BAD_DATA', `task ${name} has no training split`);
  if (!labeled.dev && !(o.requireDev ?? true)) return labeled.test ? ['test'] : [];
  if (!labeled.dev) {
    fail('BAD_DATA', `task ${name} has no labeled dev split: experiments choose the best run on dev (splits: ${Object.keys(counts).join(', ') || 'none'})`);
  }
  return labeled.test ? ['dev', 'test'] : ['dev'];
}

/**
 * A sentence-level task: trained with {@link train}, scored as GLUE scores it. Its dev split is
 * the first of {@link devSplitNames} (MNLI: dev_matched). Throws BAD_DATA without a training split
 * or a labeled dev split, unless `o` waives them.
 */
export function sentenceTask(data: TaskData, o: TaskRequirements = {}): ExperimentTask {
  const devName = devSplitNames(data)[0];
  const splits: Record<ScoredSplit, readonly Example[] | undefined> = { dev: devName ? data.splits[devName] : undefined, test: data.splits.test };
  const labeled = (xs: readonly Example[] | undefined) => !!xs?.some((e) => e.label !== undefined);
  const scoredSplits = checkSplits(data.name, Object.fromEntries(Object.entries(data.splits).map(([k, v]) => [k, v.length])), { dev: labeled(splits.dev), test: labeled(splits.test) }, o);
  const positive = data.positive !== undefined ? { positive: data.positive } : {};
  return {
    name: data.name, kind: data.kind, metrics: data.metrics, defaultMaxLength: 128, scoredSplits,
    sizes: Object.fromEntries(Object.entries(data.splits).map(([k, v]) => [k, v.length])),
    head: (extra = {}) => headConfig({ ...extra, kind: data.kind, labels: data.labels, pair: data.pair }),
    // trainOn with the task's own training data, so that dev is scored with its positive class
    train: (model, t) => trainOn(model, sentenceTrainingData(model, data.splits.train ?? [], labeled(splits.dev) ? splits.dev : undefined, {
      maxLength: t.maxLength ?? DEFAULT_MAX_LENGTH, metrics: data.metrics, ...positive,
    }), t),
    score: async (model, split, so) => {
      const rows = splits[split];
      if (!rows || !labeled(rows)) fail('BAD_DATA', `task ${data.name} has no labeled ${split} split`);
      const preds = await predictExamples(model, rows, so);
      return scorePredictions(data.metrics, preds, rows, positive);
    },
  };
}

/**
 * A token-level task from `loadTokenTask`: tagging (first sub-word of each word, seqeval or token
 * accuracy) or extractive QA (windows, SQuAD EM/F1; `o.qa` sets the decoding). Throws BAD_DATA
 * without a training split or a dev split, unless `o` waives them.
 */
export function tokenTask(t: LoadedTokenTask, o: TaskRequirements & { qa?: Partial<QaHeadOptions> } = {}): ExperimentTask {
  if (t.kind === 'tagging') {
    const d = t.data;
    const sizes = Object.fromEntries(Object.entries(d.splits).map(([k, v]) => [k, v.length]));
    const scoredSplits = checkSplits(t.name, sizes, { dev: !!d.splits.dev?.length, test: !!d.splits.test?.length }, o);
    return {
      name: t.name, kind: 'tagging', metrics: d.metrics, defaultMaxLength: 128, scoredSplits, sizes,
      head: (extra = {}) => headConfig({ ...extra, kind: 'tagging', labels: d.tagSet, scheme: d.scheme }),
      train: (model, o) => trainOn(model, taggingTrainingData(model, d.splits.train ?? [], d.splits.dev, { maxLength: o.maxLength ?? 128, metrics: d.metrics }), o),
      score: (model, split, o) => evaluateTagging(model, d.splits[split] ?? [], { ...o, metrics: d.metrics }),
    };
  }
  const sizes = Object.fromEntries(Object.entries(t.splits).map(([k, v]) => [k, v.length]));
  const scoredSplits = checkSplits(t.name, sizes, { dev: !!t.splits.dev?.length, test: !!t.splits.test?.length }, o);
  const decode = { ...DEFAULT_QA_OPTIONS, allowNoAnswer: t.v2, ...o.qa };
  return {
    name: t.name, kind: 'qa', metrics: QA_METRICS, defaultMaxLength: 384, scoredSplits, sizes,
    head: (extra = {}) => headConfig({ ...extra, kind: 'qa', labels: [], qa: { ...decode, ...extra.qa } }),
    train: (model, o) => trainOn(model, qaTrainingData(model, t.splits.train ?? [], t.splits.dev, { maxLength: o.maxLength ?? 384 }), o),
    score: (model, split, o) => evaluateQa(model, t.splits[split] ?? [], o),
  };
}

/** A loaded task of either level: the experiment view and the data behind it. */
export type LoadedExperimentTask =
  | { readonly level: 'sentence'; readonly task: ExperimentTask; readonly data: TaskData; readonly skipped: readonly SkippedRow[] }
  | { readonly level: 'token'; readonly task: ExperimentTask; readonly data: LoadedTokenTask; readonly skipped: readonly SkippedRow[] };

/**
 * Loads a sentence-level {@link TaskSpec} or a token-level {@link TokenTaskSpec} as an
 * {@link ExperimentTask}, with the data behind it.
 *
 * @example
 * ```ts
 * const { task } = await loadExperimentTask({ builtin: 'brown-pos' });
 * task.kind; // 'tagging'
 * ```
 */
export async function loadExperimentTask(spec: TaskSpec | TokenTaskSpec, o: TaskRequirements = {}): Promise<LoadedExperimentTask> {
  if (isTokenTaskSpec(spec)) {
    const t = await loadTokenTask(spec);
    return { level: 'token', task: tokenTask(t, o), data: t, skipped: t.skipped };
  }
  const data = await loadTask(spec);
  return { level: 'sentence', task: sentenceTask(data, o), data, skipped: data.report.skipped };
}
