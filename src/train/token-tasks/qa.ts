/**
 * Extractive question answering with a `qa` head: examples -> `[CLS] question [SEP] context
 * [SEP]` windows (src/train/tokens/qa-windows.ts), start/end logits per position, answers by
 * n-best extraction (qa-answers.ts), SQuAD EM/F1, and the {@link TrainingData} the trainer
 * consumes (one row per window; labels are the window's answer positions, 0 = no answer).
 *
 * Shapes: B = windows in a batch, T = padded positions; logits [B, T, 2] (start, end).
 */
import { fail } from '../../errors.js';
import { DEFAULT_QA_OPTIONS, type QaHeadOptions } from '../../heads/head.js';
import { buildQaWindows, tokenizeWithSpans, type QaWindow } from '../tokens/qa-windows.js';
import { extractAnswer, type ExtractedAnswer, type WindowLogits } from '../tokens/qa-answers.js';
import type { QaExample } from '../tokens/types.js';
import { squadScores } from '../metrics/squad.js';
import { collate, evalBatches, type TokenizedRow } from '../batching.js';
import type { TaskModel } from '../task-model.js';
import type { EvaluateOptions, TaskMetricValues, TrainingData } from '../training-data.js';
import { wordPieces } from './pieces.js';

/** Metric names of QA tasks, main first (SQuAD F1 and exact match, as fractions). */
export const QA_METRICS = ['f1', 'exact_match'] as const;

/** One window row. */
export interface QaRow extends TokenizedRow {
  /** Index of its example in the input list. */
  readonly example: number;
  readonly window: QaWindow;
}

/** A question over a context (gold answers optional). */
export type QaInput = Pick<QaExample, 'question' | 'context'> & Partial<Pick<QaExample, 'id' | 'answers' | 'isImpossible'>>;

/** The answer predicted for one example. */
export interface AnswerPrediction {
  /** Answer text ("" for no answer). */
  readonly text: string;
  /** Character span of the best candidate in the context (absent when there is none or the answer is ""). */
  readonly start?: number;
  readonly end?: number;
  /** Start logit + end logit of the best candidate (the null score when the answer is ""). */
  readonly score: number;
  /** Windows the context was split into. */
  readonly windows: number;
  readonly extracted: ExtractedAnswer;
}

function qaOptions(model: TaskModel): QaHeadOptions {
  if (model.head.kind !== 'qa') fail('BAD_CONFIG', `this task has a ${model.head.kind} head; question answering needs a qa head`);
  return model.head.qa ?? DEFAULT_QA_OPTIONS;
}

/**
 * Window rows of examples. The head's stride (overlap) is capped at half of a window's context
 * budget so that short `maxLength` values still make progress through the context.
 */
export function qaRows(model: TaskModel, examples: readonly QaInput[], maxLength: number): QaRow[] {
  const qa = qaOptions(model);
  const wp = wordPieces(model.base);
  const rows: QaRow[] = [];
  examples.forEach((e, n) => {
    const id = e.id ?? String(n);
    const qLen = Math.min(qa.maxQuestionLength, tokenizeWithSpans(e.question, { pieces: wp.pieces, unkId: wp.unkId, splitPunctuation: wp.splitPunctuation }).length);
    const budget = maxLength - qLen - 3;
    if (budget < 1) fail('BAD_CONFIG', `max length ${maxLength} leaves no room for the context of question ${id} (${qLen} question tokens + 3 specials)`);
    const stride = Math.min(qa.stride, Math.floor(budget / 2));
    const windows = buildQaWindows({ id, question: e.question, context: e.context, answers: e.answers ?? [], ...(e.isImpossible !== undefined ? { isImpossible: e.isImpossible } : {}) }, {
      pieces: wp.pieces, clsId: wp.qaStartId, sepId: wp.qaSepId, unkId: wp.unkId, maxLength, stride,
      maxQuestionLength: qa.maxQuestionLength, splitPunctuation: wp.splitPunctuation,
    });
    for (const w of windows) rows.push({ ids: Int32Array.from(w.inputIds), types: Int32Array.from(w.tokenTypeIds), truncated: false, example: n, window: w });
  });
  return rows;
}

/** Answers of examples from their window rows (batched in length order). */
export async function predictQaRows(
  model: TaskModel,
  examples: readonly QaInput[],
  rows: readonly QaRow[],
  o: { batchSize?: number; onBatch?: (done: number) => void } = {},
): Promise<AnswerPrediction[]> {
  const qa = qaOptions(model);
  const logits: WindowLogits[] = new Array(rows.length);
  let done = 0;
  for (const idx of evalBatches(rows, o.batchSize ?? 64)) {
    const batch = collate(idx.map((i) => rows[i] as QaRow), model.base.tokenizer.padId);
    const out = await model.predict(batch); // [B, T, 2]
    const T = batch.seqLen;
    idx.forEach((i, r) => {
      const L = (rows[i] as QaRow).ids.length;
      const startLogits = new Float32Array(L);
      const endLogits = new Float32Array(L);
      for (let p = 0; p < L; p++) {
        startLogits[p] = out[(r * T + p) * 2] as number;
        endLogits[p] = out[(r * T + p) * 2 + 1] as number;
      }
      logits[i] = { startLogits, endLogits };
    });
    done += idx.length;
    o.onBatch?.(done);
  }
  const byExample: number[][] = examples.map(() => []);
  rows.forEach((r, i) => byExample[r.example]?.push(i));
  return examples.map((e, n) => {
    const ws = byExample[n] as number[];
    const extracted = extractAnswer(e.context, ws.map((i) => (rows[i] as QaRow).window), ws.map((i) => logits[i] as WindowLogits), {
      nBest: qa.nBest, maxAnswerLength: qa.maxAnswerLength, allowNoAnswer: qa.allowNoAnswer, nullThreshold: qa.nullThreshold,
    });
    const best = extracted.best;
    const answered = extracted.text !== '' && best !== undefined;
    return {
      text: extracted.text,
      ...(answered ? { start: best.start, end: best.end } : {}),
      score: answered ? best.score : extracted.nullScore ?? best?.score ?? 0,
      windows: ws.length,
      extracted,
    };
  });
}

/**
 * Answers questions over contexts.
 *
 * @example
 * ```ts
 * const [a] = await predictAnswers(model, [{ question: 'Who won?', context: 'The Denver Broncos won.' }], { maxLength: 384 });
 * a!.text; // e.g., for a trained QA model: 'Denver Broncos'
 * ```
 */
export async function predictAnswers(
  model: TaskModel,
  examples: readonly QaInput[],
  o: { maxLength: number; batchSize?: number; onBatch?: (done: number) => void },
): Promise<AnswerPrediction[]> {
  return predictQaRows(model, examples, qaRows(model, examples, o.maxLength), o);
}

/** Official SQuAD exact match and F1 (fractions; v2 no-answer rules) of a QA model. */
export async function evaluateQa(
  model: TaskModel,
  examples: readonly QaExample[],
  o: { maxLength: number; batchSize?: number; rows?: readonly QaRow[]; onBatch?: (done: number) => void },
): Promise<TaskMetricValues> {
  if (examples.length === 0) fail('BAD_DATA', 'cannot evaluate: no questions');
  const preds = await predictQaRows(model, examples, o.rows ?? qaRows(model, examples.map((e) => ({ question: e.question, context: e.context, id: e.id })), o.maxLength), o);
  const s = squadScores(examples, new Map(examples.map((e, i) => [e.id, (preds[i] as AnswerPrediction).text])));
  return { f1: s.f1, exact_match: s.exact_match };
}

/** The trainer's view of a QA task: one row per window with its answer positions; dev scored with SQuAD EM/F1. */
export function qaTrainingData(
  model: TaskModel,
  train: readonly QaExample[],
  dev: readonly QaExample[] | undefined,
  o: { maxLength: number },
): TrainingData {
  const rows = qaRows(model, train, o.maxLength);
  const devRows = dev && dev.length ? qaRows(model, dev.map((e) => ({ question: e.question, context: e.context, id: e.id })), o.maxLength) : undefined;
  return {
    rows,
    examples: train.length,
    labels: (idx) => idx.map((i) => {
      const w = (rows[i] as QaRow).window;
      return [w.startPosition, w.endPosition];
    }),
    metrics: QA_METRICS,
    ...(dev && devRows
      ? {
        evalExamples: devRows.length,
        evaluate: (m: TaskModel, eo: EvaluateOptions) => evaluateQa(m, dev, { maxLength: o.maxLength, rows: devRows, ...(eo.onBatch ? { onBatch: eo.onBatch } : {}) }),
      }
      : {}),
  };
}
