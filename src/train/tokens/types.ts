/**
 * Data shapes of token-level tasks: sequence tagging (NER, POS, chunking) and extractive
 * question answering. Loaders in src/train/data (conll.ts, squad.ts, builtin/brown-pos.ts)
 * produce them; the modules next to this file turn them into model rows and score predictions.
 */
import type { LoadReport } from '../data/types.js';

/** One pre-split sentence with one tag per token. */
export interface TaggedSentence {
  /** Stable id: the file's own `id` field where there is one, else `<split>-<n>` or `<document>#<n>`. */
  id: string;
  tokens: string[];
  /** Same length as `tokens`. */
  tags: string[];
  /** Where the sentence came from (1-based line of its first token). */
  source?: { file: string; line: number };
}

/** How tags encode spans: BIO (B-X, I-X, O), BIOES (adds E-X, S-X), or plain labels (POS). */
export type TagScheme = 'BIO' | 'BIOES' | 'plain';

/** A loaded tagging task. */
export interface TaggingData {
  name: string;
  /** Tag names, index = class id used for labels. */
  tagSet: string[];
  scheme: TagScheme;
  /** Splits by name ('train', 'dev', 'test'). */
  splits: Record<string, TaggedSentence[]>;
  /** Metrics to report, main first; names from {@link TAGGING_METRIC_NAMES} in metrics/seqeval.ts. */
  metrics: string[];
  description?: string;
}

/** A tagging task with what its loader skipped. */
export interface LoadedTaggingData extends TaggingData {
  report: LoadReport;
}

/** One gold answer of a QA example. */
export interface QaAnswer {
  text: string;
  /** Character offset of the answer in the context, in UTF-16 code units (JavaScript string index); SQuAD's code-point offsets are converted on load. */
  start: number;
}

/** One extractive QA question over one context. */
export interface QaExample {
  id: string;
  question: string;
  context: string;
  /** Gold answers; [] for an unanswerable (SQuAD v2) question. */
  answers: QaAnswer[];
  /** SQuAD v2 `is_impossible`. */
  isImpossible?: boolean;
  /** SQuAD v2 `plausible_answers` of an unanswerable question (never used as gold). */
  plausibleAnswers?: QaAnswer[];
  title?: string;
}
