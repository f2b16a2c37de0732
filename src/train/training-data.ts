/**
 * What the trainer needs of a task's data, whatever the task's level: tokenized training rows,
 * the labels of a batch of rows, and (optionally) an evaluation on held-out data. Sentence tasks
 * ({@link sentenceTrainingData}) and token-level tasks (tagging, QA: src/train/token-tasks/)
 * both provide it, so one trainer loop serves all of them.
 */
import { fail } from '../errors.js';
import type { Example } from './data/types.js';
import type { MetricName } from './metrics/index.js';
import { batchLabels, tokenizeAll, type TokenizedRow } from './batching.js';
import { predictExamples, scorePredictions } from './evaluate.js';
import type { BatchLabels, TaskModel } from './task-model.js';

/**
 * Metric values by name: the sentence metrics of metrics/index.ts, seqeval's (`entity_f1`,
 * `token_accuracy`, ...) or SQuAD's (`f1`, `exact_match`).
 */
export type TaskMetricValues = Partial<Record<string, number>>;

/** Options an evaluation receives from the trainer. */
export interface EvaluateOptions {
  /** Called after each batch with the number of examples (or rows) done. */
  onBatch?: (done: number) => void;
}

/** A task's training data as the trainer consumes it. */
export interface TrainingData {
  /** Tokenized training rows (one per example, or several per example for QA windows). */
  readonly rows: readonly TokenizedRow[];
  /** Training examples behind the rows (reported and part of the resume signature). */
  readonly examples: number;
  /** Labels of the rows `idx`, as {@link TaskModel.trainStep} takes them. */
  labels(idx: readonly number[]): BatchLabels;
  /** Metric names, main first (the main one selects the best checkpoint). */
  readonly metrics: readonly string[];
  /** Held-out examples scored by {@link evaluate} (0 or absent: no evaluation). */
  readonly evalExamples?: number;
  /** Scores the model on held-out data. */
  evaluate?(model: TaskModel, o: EvaluateOptions): Promise<TaskMetricValues>;
}

/**
 * Training data of a sentence-level task (classification, regression, multi-label): examples
 * tokenized once, labels straight from the examples, dev scored with {@link scorePredictions}
 * (`o.positive`: the class index of the positive class, see `TaskData.positive`).
 */
export function sentenceTrainingData(
  model: TaskModel,
  trainSet: readonly Example[],
  dev: readonly Example[] | undefined,
  o: { maxLength: number; metrics: readonly MetricName[]; positive?: number },
): TrainingData {
  for (const e of trainSet) if (e.label === undefined) fail('BAD_DATA', `training example ${e.id} has no label`);
  const tok = model.base.tokenizer;
  const rows = tokenizeAll(tok, trainSet, model.head.pair, o.maxLength);
  const devRows = dev && dev.length ? tokenizeAll(tok, dev, model.head.pair, o.maxLength) : undefined;
  return {
    rows,
    examples: trainSet.length,
    labels: (idx) => batchLabels(trainSet, idx),
    metrics: o.metrics,
    ...(dev && devRows
      ? {
        evalExamples: dev.length,
        evaluate: async (m: TaskModel, eo: EvaluateOptions) => {
          const preds = await predictExamples(m, dev, { maxLength: o.maxLength, tokenized: devRows, ...(eo.onBatch ? { onBatch: eo.onBatch } : {}) });
          return scorePredictions(o.metrics, preds, dev, o.positive !== undefined ? { positive: o.positive } : {});
        },
      }
      : {}),
  };
}
