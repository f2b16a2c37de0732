/**
 * The model-side contract the HTTP server is written against. The server never touches tensors:
 * anything that can list tasks, classify a mixed-task batch and load/unload adapters can be served.
 */

/** One input text, or a sentence pair `[a, b]` for pair tasks. */
export type TextInput = string | [string, string];
/** What the server knows about one loaded task. */
export interface TaskInfo { name: string; kind: 'classification' | 'regression' | 'multilabel'; labels: string[]; pair: boolean; bytes: number; dir?: string }
/** One item of a batch: which task, which input. */
export interface ClassifyItem { task: string; input: TextInput }
/** The prediction for one item. */
export interface ClassifyOutput { label?: string; labels?: string[] /* multilabel: labels above threshold */; score?: number /* regression */; scores: Record<string, number> /* per label probability (classification/multilabel) */; truncated: boolean }
/** A shared frozen base with many task adapters + heads on it. */
export interface ClassifierBackend {
  /** Tasks currently loaded. */ tasks(): TaskInfo[];
  /** Classifies a batch that may mix tasks; outputs in input order. */ classify(items: ClassifyItem[]): Promise<ClassifyOutput[]>;
  /** Loads a saved adapter directory under a task name. */ load(name: string, dir: string): Promise<TaskInfo>;
  /** Unloads a task. */ unload(name: string): Promise<void>;
  /** Max tokens per input (texts longer are truncated by the tokenizer and reported). */ readonly maxLength: number;
  /** Description of the base model for /healthz and /v1/adapters. */ readonly baseInfo: Record<string, unknown>;
}
