/**
 * Task data: one entry point, {@link loadTask}, over the three sources (built-in datasets, GLUE
 * directories, generic CSV/TSV/JSONL files), all returning the same {@link TaskData} shape plus
 * a {@link LoadReport} of skipped rows.
 *
 * @example
 * ```ts
 * const mrpc = await loadTask({ glue: 'MRPC', dir: 'glue_data/MRPC' });
 * const spam = await loadTask({ builtin: 'spam' });
 * const mine = await loadTask({
 *   files: { train: 'train.csv', dev: 'dev.csv' },
 *   columns: { text: 'text', label: 'label' },
 *   kind: 'classification',
 * });
 * ```
 */
import { fail } from '../../errors.js';
import { loadBuiltinDataset } from './builtin/index.js';
import { loadGlueTask, type GlueLoadOptions } from './glue.js';
import { loadTabularTask, type TabularTaskOptions } from './tabular.js';
import type { LoadedTask, TaskData } from './types.js';
import { applyMetricChoice, type MetricChoice } from './metric-choice.js';

export type { Example, LoadedTask, LoadReport, OnBadRow, SkippedRow, TaskData, TaskKind } from './types.js';
export { GLUE_TASK_NAMES, GLUE_TASKS, glueTaskSpec, loadGlueTask } from './glue.js';
export type { GlueLoadOptions, GlueTaskName, GlueTaskSpec } from './glue.js';
export { loadTabularTask } from './tabular.js';
export type { ColumnRef, TabularColumns, TabularFormat, TabularTaskOptions } from './tabular.js';
export { listBuiltinDatasets, loadBuiltinDataset } from './builtin/index.js';
export { applyMetricChoice, metricsForKind, positiveLabelOf, type MetricChoice } from './metric-choice.js';
export type { BuiltinDatasetInfo } from './builtin/index.js';

/**
 * What {@link loadTask} accepts: a built-in dataset, a GLUE directory, or generic files; each
 * with an optional {@link MetricChoice} (metrics, the selection metric, the positive label).
 */
export type TaskSpec =
  | ({ builtin: string } & MetricChoice)
  | ({ glue: string; dir: string } & GlueLoadOptions & MetricChoice)
  | TabularTaskOptions;

/** Loads a task from any source. */
export async function loadTask(spec: TaskSpec): Promise<LoadedTask> {
  if ('builtin' in spec) return applyMetricChoice({ ...(await loadBuiltinDataset(spec.builtin)), report: { skipped: [] } }, spec);
  if ('glue' in spec) return applyMetricChoice(await loadGlueTask(spec.glue, spec.dir, spec.onBadRow === undefined ? {} : { onBadRow: spec.onBadRow }), spec);
  if ('files' in spec) return loadTabularTask(spec);
  return fail('BAD_CONFIG', 'task spec needs one of: { builtin }, { glue, dir }, { files, columns, kind }');
}

/** Names of a task's dev splits ('dev', or MNLI's 'dev_matched' and 'dev_mismatched'); the first is used for model selection. */
export function devSplitNames(task: TaskData): string[] {
  return Object.keys(task.splits).filter((s) => s === 'dev' || s.startsWith('dev_'));
}
