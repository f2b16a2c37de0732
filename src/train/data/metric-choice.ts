/**
 * The user's choice of metrics for a sentence-level task: which to report, which selects the
 * best checkpoint (the first of the list), and which label is the positive class of f1,
 * precision, recall and roc_auc. Labels are sorted when they are read from files, so "class 1"
 * is whichever name sorts second; `positiveLabel` names the user's positive class instead.
 */
import { fail } from '../../errors.js';
import { isMetricName, METRICS, type MetricInput, type MetricName } from '../metrics/index.js';
import type { TaskData, TaskKind } from './types.js';

/** Metric options any task spec may carry. */
export interface MetricChoice {
  /** Metrics to report (default: the task's own); the first selects the best checkpoint unless `selectOn` says. */
  readonly metrics?: readonly MetricName[];
  /** The metric that selects the best checkpoint (moved to the front of `metrics`, added when absent). */
  readonly selectOn?: MetricName;
  /** Name of the positive class (classification); default: the label of class index 1. */
  readonly positiveLabel?: string;
}

const INPUTS_OF_KIND: Record<TaskKind, readonly MetricInput[]> = {
  classification: ['class', 'probability'],
  regression: ['score'],
  multilabel: ['multilabel'],
};

/** The metrics that fit a task kind, for messages. */
export function metricsForKind(kind: TaskKind): MetricName[] {
  return (Object.keys(METRICS) as MetricName[]).filter((m) => INPUTS_OF_KIND[kind].includes(METRICS[m].input));
}

/**
 * Applies a {@link MetricChoice} to loaded task data: its metrics (selection metric first) and
 * `positive`, the class index of the positive label. BAD_CONFIG names an unknown metric, one that
 * does not fit the task's kind, roc_auc on more than two classes, or a positive label that is not
 * one of the task's labels.
 *
 * @example
 * ```ts
 * const t = applyMetricChoice(data, { metrics: ['f1', 'accuracy'], selectOn: 'roc_auc', positiveLabel: 'yes' });
 * t.metrics;  // ['roc_auc', 'f1', 'accuracy']
 * t.positive; // index of 'yes' in t.labels
 * ```
 */
export function applyMetricChoice<T extends TaskData>(data: T, choice: MetricChoice, where = `task ${data.name}`): T {
  const fits = metricsForKind(data.kind);
  const check = (m: string, what: string): MetricName => {
    if (!isMetricName(m)) fail('BAD_CONFIG', `${what} "${m}" is not a metric; for a ${data.kind} task: ${fits.join(', ')}`);
    if (!fits.includes(m)) fail('BAD_CONFIG', `${what} "${m}" does not apply to ${where}, a ${data.kind} task; use one of ${fits.join(', ')}`);
    return m;
  };
  let metrics = (choice.metrics ?? data.metrics).map((m) => check(m, 'metric'));
  if (metrics.length === 0) fail('BAD_CONFIG', `no metrics chosen for ${where}`);
  metrics = [...new Set(metrics)];
  if (choice.selectOn !== undefined) {
    const s = check(choice.selectOn, 'selection metric');
    metrics = [s, ...metrics.filter((m) => m !== s)];
  }
  let positive = data.positive;
  if (choice.positiveLabel !== undefined) {
    if (data.kind !== 'classification') fail('BAD_CONFIG', `a positive label applies to classification; ${where} is a ${data.kind} task`);
    const i = data.labels.indexOf(choice.positiveLabel);
    if (i < 0) fail('BAD_CONFIG', `positive label "${choice.positiveLabel}" is not one of the labels of ${where} (${data.labels.join(', ')})`);
    positive = i;
  }
  if (data.kind === 'classification') {
    if (metrics.includes('roc_auc') && data.labels.length !== 2) {
      fail('BAD_CONFIG', `roc_auc is for binary classification; ${where} has ${data.labels.length} labels (${data.labels.join(', ')})`);
    }
    const needPositive = metrics.filter((m) => METRICS[m].positiveClass);
    if (needPositive.length && positive === undefined && data.labels.length > 2) {
      fail('BAD_CONFIG', `${needPositive.join(', ')} score(s) one positive class, but ${where} has ${data.labels.length} labels: choose it with positiveLabel (--positive-label on the command line): one of ${data.labels.join(', ')}`);
    }
  }
  return { ...data, metrics, ...(positive !== undefined ? { positive } : {}) };
}

/** The positive class's label of a task whose metrics need one (undefined when none does). */
export function positiveLabelOf(data: TaskData): string | undefined {
  if (data.kind !== 'classification' || !data.metrics.some((m) => METRICS[m].positiveClass)) return undefined;
  return data.labels[data.positive ?? 1];
}
