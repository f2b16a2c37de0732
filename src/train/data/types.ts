/**
 * The shape every task loader returns: a named task with its kind, label names, metrics and
 * splits of examples. GLUE directories, generic CSV/TSV/JSONL files and the built-in datasets all
 * produce this.
 */
import type { MetricName } from '../metrics/index.js';

/** What the model predicts: one class, one real score, or a set of classes. */
export type TaskKind = 'classification' | 'regression' | 'multilabel';

/** One input (a text or a text pair) with its label. */
export interface Example {
  /** Stable id: the file's own index/id column where there is one, else `<split>-<n>` or a document-derived id. */
  id: string;
  textA: string;
  /** Second text of a pair task. */
  textB?: string;
  /** Class index, real score, or multi-hot 0/1 array; undefined for unlabeled (test) rows. */
  label?: number | number[];
  /** Where the example came from (1-based line of the row's start). */
  source?: { file: string; line: number };
}

/** A loaded task. */
export interface TaskData {
  name: string;
  kind: TaskKind;
  /** Label names, index = class id; [] for regression. */
  labels: string[];
  /** True when examples carry `textB`. */
  pair: boolean;
  /** Splits by name: 'train', 'dev' (MNLI: 'dev_matched', 'dev_mismatched'), 'test' (MNLI: 'test_matched', 'test_mismatched'). */
  splits: Record<string, Example[]>;
  /** Metrics to report; the first is the main one used for model selection. */
  metrics: MetricName[];
  /** Class index of the positive class of f1, precision, recall and roc_auc (default 1); see `positiveLabel` of the task specs. */
  positive?: number;
  description?: string;
}

/** One row a loader skipped, and why. */
export interface SkippedRow {
  file: string;
  /** 1-based line number where the row starts. */
  line: number;
  reason: string;
}

/** What a loader left out (only non-empty with `onBadRow: 'skip'`). */
export interface LoadReport {
  skipped: SkippedRow[];
}

/** A task together with its load report. */
export interface LoadedTask extends TaskData {
  report: LoadReport;
}

/** What to do with a malformed row: throw BAD_DATA (default), or record it in the report and go on. */
export type OnBadRow = 'fail' | 'skip';
