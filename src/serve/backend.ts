/**
 * The model-side contract the HTTP server is written against. The server never touches tensors:
 * anything that can list tasks, classify a mixed-task batch and load/unload adapters can be served.
 */

/** One input text, or a sentence pair `[a, b]` for pair tasks. */
export type TextInput = string | [string, string];
/** What the server knows about one loaded task (`tagging` tasks answer POST /v1/tag, `qa` tasks POST /v1/answer). */
export interface TaskInfo {
  /** The name requests use. */
  name: string;
  /** The head's kind. */
  kind: 'classification' | 'regression' | 'multilabel' | 'tagging' | 'qa';
  /** Label (or tag) names in class-index order (regression: none or one; QA: none). */
  labels: string[];
  /** Whether inputs are sentence pairs `[a, b]`. */
  pair: boolean;
  /** Bytes of the task's own float32 tensors (adapters and head; the shared base not counted). */
  bytes: number;
  /** The directory it was loaded from (absent for a task attached in code). */
  dir?: string;
}
/** One input of a tagging request: a raw text (split into words by the server) or pre-split words. */
export type TagInput = string | string[];
/** One tagged word. */
export interface TaggedWord { word: string; tag: string; score: number; /** Character span in the input text (text inputs only). */ start?: number; end?: number }
/** The tags of one input. */
export interface TagOutput { words: TaggedWord[]; truncated: boolean }
/** One question over one context. */
export interface AnswerInput { question: string; context: string }
/** The answer to one question: text ("" = no answer), start+end logit score, and its character span in the context. */
export interface AnswerOutput { answer: string; score: number; start: number | null; end: number | null }
/** One item of a batch: which task, which input (a tagging task's is one text, split into words as {@link ClassifierBackend.tag} splits a text). */
export interface ClassifyItem { task: string; input: TextInput }
/** The prediction for one item. */
export interface ClassifyOutput { label?: string; labels?: string[] /* multilabel: labels above threshold */; score?: number /* regression */; scores: Record<string, number> /* per label probability (classification/multilabel) */; truncated: boolean }
/** The answer to one item: a {@link ClassifyOutput}, or for a tagging task the {@link TagOutput} that {@link ClassifierBackend.tag} gives for its text. */
export type ItemOutput = ClassifyOutput | TagOutput;
/** A shared frozen base with many task adapters + heads on it. */
export interface ClassifierBackend {
  /** Tasks currently loaded. */ tasks(): TaskInfo[];
  /** Answers a batch that may mix tasks, outputs in input order; items of tagging tasks are sent only to backends with {@link tag}. */ classify(items: ClassifyItem[]): Promise<ItemOutput[]>;
  /** Loads a saved adapter directory under a task name. */ load(name: string, dir: string): Promise<TaskInfo>;
  /** Unloads a task. */ unload(name: string): Promise<void>;
  /** Max tokens per input (texts longer are truncated by the tokenizer and reported). */ readonly maxLength: number;
  /** Description of the base model for /healthz and /v1/adapters. */ readonly baseInfo: Record<string, unknown>;
  /** Tags the inputs of one tagging task (optional: backends without it answer 400 for tagging routes). */ tag?(task: string, inputs: TagInput[]): Promise<TagOutput[]>;
  /** Answers the questions of one QA task (optional, as {@link tag}). */ answer?(task: string, inputs: AnswerInput[]): Promise<AnswerOutput[]>;
  /**
   * How many windows (model rows) answering each input takes: what {@link answer} costs. Optional;
   * with it the server refuses an input over its `maxAnswerWindows` before queueing it (413
   * INPUT_TOO_LONG) and counts a waiting request's windows towards `maxQueue`.
   */
  answerWindows?(task: string, inputs: AnswerInput[]): number[];
}
