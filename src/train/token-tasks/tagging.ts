/**
 * Sequence tagging with a `tagging` head: sentences of words -> aligned model rows (labels on
 * the first piece of each word, -100 elsewhere), per-word predictions, seqeval metrics, and the
 * {@link TrainingData} the trainer consumes.
 *
 * Shapes: B = rows in a batch, T = padded positions, C = tags.
 */
import { fail } from '../../errors.js';
import { alignWords, wordPredictions, type AlignedRow } from '../tokens/align.js';
import { wordSpans, type CharSpan } from '../tokens/qa-windows.js';
import type { TaggedSentence } from '../tokens/types.js';
import { taggingMetrics, defaultTaggingMetrics } from '../metrics/seqeval.js';
import { collate, evalBatches, type TokenizedRow } from '../batching.js';
import type { HeadConfig } from '../../heads/head.js';
import type { TaskModel } from '../task-model.js';
import type { EvaluateOptions, TaskMetricValues, TrainingData } from '../training-data.js';
import { wordPieces } from './pieces.js';

/** One tagging row: the model row and its alignment to words. */
export interface TaggingRow extends TokenizedRow, Pick<AlignedRow, 'wordIds' | 'labels' | 'keptWords' | 'droppedWords'> {
  /** Words in the sentence. */
  readonly words: number;
}

/** Tags predicted for one sentence. */
export interface TagPrediction {
  /** One tag per word (words dropped by truncation get the fill tag: 'O' when the tag set has it, else the first tag). */
  readonly tags: string[];
  /** Softmax probability of each word's tag (0 for dropped words). */
  readonly scores: number[];
  /** True when words were dropped because the sentence did not fit in the maximum length. */
  readonly truncated: boolean;
  readonly droppedWords: number;
}

/** A sentence to tag: its words, and gold tags for training or evaluation. */
export interface TagInput {
  readonly tokens: readonly string[];
  readonly tags?: readonly string[];
  readonly id?: string;
}

function checkTaggingHead(model: TaskModel): void {
  if (model.head.kind !== 'tagging') fail('BAD_CONFIG', `this task has a ${model.head.kind} head; tagging needs a tagging head`);
}

/** Aligns sentences to rows for `model` (tags given: labels indexed in the head's tag set). */
export function taggingRows(model: TaskModel, sentences: readonly TagInput[], maxLength: number): TaggingRow[] {
  checkTaggingHead(model);
  const wp = wordPieces(model.base);
  const index = new Map(model.head.labels.map((t, i) => [t, i]));
  return sentences.map((s, n) => {
    const labels = s.tags?.map((t, k) => {
      const i = index.get(t);
      if (i === undefined) fail('BAD_DATA', `sentence ${s.id ?? n}, word ${k} (${JSON.stringify(s.tokens[k])}): tag "${t}" is not one of the task's tags (${model.head.labels.join(', ')})`);
      return i;
    });
    const a = alignWords(s.tokens, labels, {
      pieces: wp.pieces, unkId: wp.unkId, maxLength,
      ...(wp.clsId !== undefined ? { clsId: wp.clsId } : {}),
      ...(wp.sepId !== undefined ? { sepId: wp.sepId } : {}),
    });
    return {
      ids: Int32Array.from(a.inputIds),
      types: new Int32Array(a.inputIds.length),
      truncated: a.droppedWords > 0,
      wordIds: a.wordIds,
      labels: a.labels,
      keptWords: a.keptWords,
      droppedWords: a.droppedWords,
      words: s.tokens.length,
    };
  });
}

function softmaxArgmax(logits: Float32Array, off: number, c: number): [number, number] {
  let best = 0;
  let max = -Infinity;
  for (let k = 0; k < c; k++) {
    const z = logits[off + k] as number;
    if (z > max) {
      max = z;
      best = k;
    }
  }
  let sum = 0;
  for (let k = 0; k < c; k++) sum += Math.exp((logits[off + k] as number) - max);
  return [best, 1 / sum];
}

/**
 * The per-word tags of one aligned row from a tagging head's logits: the C logits of position p
 * (C = the head's tags) start at `logits[at + p * C]`, for the row's positions (`row.wordIds`).
 * Each word takes its first piece's tag, with its softmax probability.
 */
export function rowTags(head: Pick<HeadConfig, 'labels'>, row: TaggingRow, logits: Float32Array, at = 0): TagPrediction {
  const tags = head.labels;
  const C = tags.length;
  const fillTag = tags.includes('O') ? 'O' : (tags[0] as string);
  const pos = row.wordIds.map((_, p) => softmaxArgmax(logits, at + p * C, C));
  const perWord = wordPredictions(row, pos, row.words, [-1, 0] as [number, number]);
  return {
    tags: perWord.map(([k]) => (k < 0 ? fillTag : (tags[k] as string))),
    scores: perWord.map(([k, p]) => (k < 0 ? 0 : p)),
    truncated: row.truncated,
    droppedWords: row.droppedWords,
  };
}

/** Per-word tags of aligned rows (batched in length order; results in input order). */
export async function predictTaggingRows(
  model: TaskModel,
  rows: readonly TaggingRow[],
  o: { batchSize?: number; onBatch?: (done: number) => void } = {},
): Promise<TagPrediction[]> {
  checkTaggingHead(model);
  const C = model.head.labels.length;
  const out: TagPrediction[] = new Array(rows.length);
  let done = 0;
  for (const idx of evalBatches(rows, o.batchSize ?? 64)) {
    const batch = collate(idx.map((i) => rows[i] as TaggingRow), model.base.tokenizer.padId);
    const logits = await model.predict(batch); // [B, T, C]
    const T = batch.seqLen;
    idx.forEach((i, r) => {
      out[i] = rowTags(model.head, rows[i] as TaggingRow, logits, r * T * C);
    });
    done += idx.length;
    o.onBatch?.(done);
  }
  return out;
}

/**
 * Tags pre-split sentences.
 *
 * @example
 * ```ts
 * const [p] = await predictTags(model, [{ tokens: ['John', 'lives', 'in', 'Paris'] }], { maxLength: 128 });
 * p!.tags; // e.g., for a trained NER model: ['B-PER', 'O', 'O', 'B-LOC']
 * ```
 */
export async function predictTags(
  model: TaskModel,
  sentences: readonly TagInput[],
  o: { maxLength: number; batchSize?: number; onBatch?: (done: number) => void },
): Promise<TagPrediction[]> {
  const rows = taggingRows(model, sentences.map((s) => ({ tokens: s.tokens })), o.maxLength);
  return predictTaggingRows(model, rows, o);
}

/** Metric names of a tagging head (from its scheme), main first. */
export function taggingMetricNames(model: TaskModel): string[] {
  return defaultTaggingMetrics(model.head.scheme ?? 'plain');
}

/** Scores a tagging model on gold-tagged sentences (seqeval entity P/R/F1 and/or token accuracy). */
export async function evaluateTagging(
  model: TaskModel,
  sentences: readonly TaggedSentence[],
  o: { maxLength: number; batchSize?: number; metrics?: readonly string[]; rows?: readonly TaggingRow[]; onBatch?: (done: number) => void },
): Promise<TaskMetricValues> {
  if (sentences.length === 0) fail('BAD_DATA', 'cannot evaluate: no tagged sentences');
  const rows = o.rows ?? taggingRows(model, sentences.map((s) => ({ tokens: s.tokens })), o.maxLength);
  const preds = await predictTaggingRows(model, rows, o);
  const metrics = o.metrics ?? taggingMetricNames(model);
  return taggingMetrics(metrics, sentences.map((s) => s.tags), preds.map((p) => p.tags));
}

/** The trainer's view of a tagging task: aligned training rows with their labels, dev scored with seqeval. */
export function taggingTrainingData(
  model: TaskModel,
  train: readonly TaggedSentence[],
  dev: readonly TaggedSentence[] | undefined,
  o: { maxLength: number; metrics?: readonly string[] },
): TrainingData {
  const rows = taggingRows(model, train, o.maxLength);
  const metrics = o.metrics ?? taggingMetricNames(model);
  const devRows = dev && dev.length ? taggingRows(model, dev.map((s) => ({ tokens: s.tokens })), o.maxLength) : undefined;
  return {
    rows,
    examples: train.length,
    labels: (idx) => idx.map((i) => (rows[i] as TaggingRow).labels),
    metrics,
    ...(dev && devRows
      ? {
        evalExamples: dev.length,
        evaluate: (m: TaskModel, eo: EvaluateOptions) => evaluateTagging(m, dev, { maxLength: o.maxLength, metrics, rows: devRows, ...(eo.onBatch ? { onBatch: eo.onBatch } : {}) }),
      }
      : {}),
  };
}

/** Words of a raw text with their character spans, split as the base's tokenizer splits words (whitespace, and punctuation for WordPiece). */
export function splitWords(model: TaskModel, text: string): { words: string[]; spans: CharSpan[] } {
  const spans = wordSpans(text, { splitPunctuation: wordPieces(model.base).splitPunctuation });
  return { words: spans.map((s) => text.slice(s.start, s.end)), spans };
}
