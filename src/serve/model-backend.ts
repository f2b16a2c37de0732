/**
 * The real backend of the server: one base model, any number of saved tasks attached to it,
 * and every batch — mixed tasks included — answered in one forward pass by a MultiTaskModel:
 * sentence-level tasks and tagging tasks alike (a tagging task's items are its texts, split into
 * words and tagged as POST /v1/tag does; `tag` runs the same rows through the same graph). QA
 * tasks run on their own task model's session (any training mode), and so do tasks holding
 * several adapters under a composition (adapter setups), tasks whose adapter cannot share a mixed
 * batch (non-additive bottlenecks, PEFT's prompt placement, a second prompt layout; see
 * `MultiTaskModel.mixIssue`) and tagging tasks that trained base weights: each is a group of its
 * own in a batch, answering as the library's `predict` does. Prefix- and prompt-tuning tasks share the mixed batch,
 * each example masking the prefix keys and prompt tokens its task does not have. A setup whose outputs
 * depend on the batch's layout or come per channel (BatchSplit, Split, Parallel) is refused at load.
 * A setup of one active adapter (with static AdapterDrop, say) joins the shared graph. In the shared
 * graph an input that a batch holds for several tasks runs once below the graph's fan-out layer
 * (`MultiTaskModel.fanoutLayer`): one input asked of N tasks is a Parallel over their adapters.
 */
import { fail } from '../errors.js';
import { baseFingerprint, baseParamCount, type BaseModel } from '../models/base.js';
import { formatComposition } from '../adapters/composition.js';
import { perInputIssue } from '../adapters/compose.js';
import type { HeadConfig } from '../heads/head.js';
import { collate, rowsOf, type TokenizedRow } from '../train/batching.js';
import { toPrediction } from '../train/evaluate.js';
import { isAdapterSetup } from '../train/modes.js';
import { MultiTaskModel, sharedAdapterOf } from '../train/multi-task-model.js';
import { loadSavedTask } from '../train/task-io.js';
import type { TaskModel } from '../train/task-model.js';
import type { FrozenOptions } from '../train/frozen-precision.js';
import { rowTags, splitWords, taggingRows, type TaggingRow, type TagPrediction } from '../train/token-tasks/tagging.js';
import { predictAnswers, qaRows } from '../train/token-tasks/qa.js';
import type { CharSpan } from '../train/tokens/qa-windows.js';
import { distinctRows } from './fanout.js';
import type { AnswerInput, AnswerOutput, ClassifierBackend, ClassifyItem, ClassifyOutput, ItemOutput, TagInput, TagOutput, TaskInfo, TextInput } from './backend.js';

/** Options of {@link ModelBackend}. */
export interface ModelBackendOptions {
  /** Tokens per input (default 128, at most the base's limit). */
  maxLength?: number;
  /** Intra-op threads of each ONNX Runtime session (default: all available cores). */
  threads?: number;
  /**
   * Characters of a classify input (of each side of a pair) or of a tagging input the tokenizer
   * sees, per token of `maxLength`. Default {@link CHARS_PER_TOKEN}. See {@link capText} and {@link capWords}.
   */
  charsPerToken?: number;
  /** Precision of the base's frozen matmuls for every task served (int8: under the outlier guard, measured on the first batch). */
  frozen?: FrozenOptions;
}

/**
 * Default characters per token kept by {@link capText}: English text averages 4 to 6 characters
 * per WordPiece or BPE token, so 64 keeps every token that fits in `maxLength` for any real text,
 * while a 1 MiB input costs the tokenizer what 8 KiB does (128 tokens).
 */
export const CHARS_PER_TOKEN = 64;

/**
 * Cuts a text longer than `limit` characters before tokenizing it (the tokenizer reads the whole
 * text before truncating, about 130 ms per MiB on one core, while the model only sees `maxLength`
 * tokens): at the last whitespace in the last quarter of the limit, else at the limit (never
 * inside a surrogate pair). Returns the text and whether it was cut.
 */
export function capText(text: string, limit: number): { text: string; cut: boolean } {
  if (text.length <= limit) return { text, cut: false };
  let end = limit;
  for (let i = limit; i > limit - Math.floor(limit / 4); i--) {
    if (/\s/u.test(text[i] as string)) {
      end = i;
      break;
    }
  }
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return { text: text.slice(0, end), cut: true };
}

/** A tagging input as POST /v1/tag reads it: its words (with their spans in a text) and its aligned row. */
interface TagRow {
  readonly words: readonly string[];
  readonly spans: readonly CharSpan[] | undefined;
  readonly row: TaggingRow;
  /** Whether words were dropped before tokenizing ({@link capWords}). */
  readonly cut: boolean;
}

/**
 * The words of a tagging input that the tokenizer reads, as {@link capText} keeps a classify
 * input: a text cut to `limit` characters, then split into words (a word the cut went through is
 * dropped, unless it is the only one); a word list's first words whose length, joined by single
 * spaces, is at most `limit` (at least one word). Spans stay offsets into the whole text.
 */
export function capWords(split: (text: string) => { words: string[]; spans: CharSpan[] }, input: TagInput, limit: number): { words: string[]; spans: CharSpan[] | undefined; cut: boolean } {
  if (typeof input !== 'string') {
    let used = -1;
    let n = 0;
    while (n < input.length && (n === 0 || used + 1 + (input[n] as string).length <= limit)) used += 1 + (input[n++] as string).length;
    return { words: n === input.length ? input : input.slice(0, n), spans: undefined, cut: n < input.length };
  }
  const c = capText(input, limit);
  const s = split(c.text);
  const last = s.spans[s.spans.length - 1];
  if (c.cut && s.words.length > 1 && last !== undefined && last.end === c.text.length && !/\s/u.test(input[c.text.length] as string)) {
    return { words: s.words.slice(0, -1), spans: s.spans.slice(0, -1), cut: true };
  }
  return { ...s, cut: c.cut };
}

/** One item ready to run: its row of tokens, and its answer from that row's logits. */
interface Prepared {
  readonly row: TokenizedRow;
  readonly answer: (logits: Float32Array) => ItemOutput;
}

/** The tagging route's answer for one input: each word with its tag, score and (texts only) span. */
function tagOutput(t: TagRow, p: TagPrediction): TagOutput {
  return {
    words: t.words.map((word, k) => ({ word, tag: p.tags[k] as string, score: p.scores[k] as number, ...(t.spans ? { start: t.spans[k]?.start as number, end: t.spans[k]?.end as number } : {}) })),
    truncated: p.truncated || t.cut,
  };
}

/** A sentence-level head's answer from its logits. */
function classifyOutput(head: HeadConfig, logits: Float32Array, truncated: boolean): ClassifyOutput {
  const p = toPrediction(head, Array.from(logits), truncated);
  if (head.kind === 'regression') return { score: p.value as number, scores: {}, truncated: p.truncated };
  const scores = Object.fromEntries(head.labels.map((l, i) => [l, p.probs[i] as number]));
  if (head.kind === 'classification') return { label: head.labels[p.value as number], scores, truncated: p.truncated };
  return { labels: head.labels.filter((_, i) => (p.value as number[])[i] === 1), scores, truncated: p.truncated };
}

/** What is wrong when a tensor the task owns holds NaN or ±Infinity (the first such tensor), else undefined. */
function nonFiniteIssue(model: TaskModel): string | undefined {
  for (const [name, t] of model.owned) {
    let bad = 0;
    for (const v of t.data) if (!Number.isFinite(v)) bad++;
    if (bad > 0) return `tensor ${name} holds ${bad} non-finite value(s) (NaN or Infinity) of ${t.data.length}`;
  }
  return undefined;
}

/** Serves saved tasks on one shared base. */
export class ModelBackend implements ClassifierBackend {
  /** Tokens per input: `maxLength` of the options (default 128), at most the base's limit. */
  readonly maxLength: number;
  /** Characters of a classify or tagging input the tokenizer sees (see {@link capText}, {@link capWords}). */
  readonly maxChars: number;
  private readonly multi: MultiTaskModel;
  private readonly info = new Map<string, TaskInfo>();
  /** Tasks on their own TaskModel, each with its own sessions: QA tasks, and tasks that cannot join the shared graph (see the module comment). */
  private readonly own = new Map<string, TaskModel>();

  /** The frozen-precision options of tasks served on their own TaskModel. */
  private readonly frozen: NonNullable<ModelBackendOptions['frozen']>;

  /** A backend with no tasks loaded, on `base` (every task loaded later must be built on this object). */
  constructor(readonly base: BaseModel, o: ModelBackendOptions = {}) {
    this.maxLength = Math.min(o.maxLength ?? 128, base.encoder.maxLength);
    this.maxChars = this.maxLength * (o.charsPerToken ?? CHARS_PER_TOKEN);
    this.multi = new MultiTaskModel(base, { threads: o.threads, ...o.frozen });
    this.frozen = o.frozen ?? {};
  }

  /** The base for /healthz and /v1/adapters: `id`, `family`, `params`, `fingerprint`, `maxLength`. */
  get baseInfo(): Record<string, unknown> {
    return { id: this.base.id, family: this.base.encoder.family, params: baseParamCount(this.base), fingerprint: baseFingerprint(this.base), maxLength: this.maxLength };
  }

  /** The loaded tasks, in load order. */
  tasks(): TaskInfo[] {
    return [...this.info.values()];
  }

  /**
   * Attaches an already built task model (used by tests and the library API): into the shared
   * graph when it can join it, else on its own TaskModel (QA tasks; compositions, adapters that
   * cannot share a batch, and tagging tasks that trained base weights). A sentence-level task
   * that trained base weights other than layer norms is refused (it would hold a second base).
   */
  attach(name: string, model: TaskModel, dir?: string): TaskInfo {
    if (this.info.has(name)) fail('BAD_CONFIG', `task ${name} is already loaded`);
    if (model.base !== this.base) fail('ADAPTER_MISMATCH', `task ${name} was built on another base object`);
    const shared = sharedAdapterOf(name, model);
    const issue = this.multi.joinIssue(name, model, shared);
    const own = issue !== undefined && (model.head.kind === 'qa' || model.head.kind === 'tagging' || typeof shared === 'string' || this.multi.mixIssue(model, shared) !== undefined);
    if (own) {
      if (isAdapterSetup(model.mode)) {
        const perInput = perInputIssue(model.mode.active);
        if (perInput) fail('BAD_CONFIG', `task ${name} is the composition ${formatComposition(model.mode.active)}: ${perInput}, so it cannot answer each input on its own; save it with a Stack or Average active (TaskModel.activate) to serve it`);
      }
      this.own.set(name, model);
    } else this.multi.add(name, model); // refuses what cannot be served (its issue)
    const t: TaskInfo = {
      name, kind: model.head.kind, labels: [...model.head.labels], pair: model.head.pair, bytes: model.stats().bytesPerTask, ...(dir ? { dir } : {}),
    };
    this.info.set(name, t);
    return t;
  }

  /**
   * Loads the saved task in `dir` under `name`, in its inference form, and attaches it (see
   * {@link attach}).
   *
   * @throws AdapterkitError BAD_CONFIG when `name` is already loaded; BAD_WEIGHTS when a tensor
   *   of the task (adapter, head, trained base weight) holds NaN or ±Infinity; what
   *   `loadSavedTask` and {@link attach} throw.
   */
  async load(name: string, dir: string): Promise<TaskInfo> {
    if (this.info.has(name)) fail('BAD_CONFIG', `task ${name} is already loaded`);
    const saved = await loadSavedTask(this.base, dir, { ...this.frozen, inference: true });
    const issue = nonFiniteIssue(saved.model);
    if (issue !== undefined) {
      await saved.model.dispose();
      fail('BAD_WEIGHTS', `task directory ${dir}: ${issue}; a task with non-finite weights answers no label (retrain it, e.g. with a lower learning rate)`);
    }
    return this.attach(name, saved.model, dir);
  }

  /**
   * Unloads a task and releases its sessions.
   *
   * @throws AdapterkitError NOT_FOUND when `name` is not loaded.
   */
  async unload(name: string): Promise<void> {
    if (!this.info.has(name)) fail('NOT_FOUND', `task ${name} is not loaded`);
    const own = this.own.get(name);
    if (own) {
      this.own.delete(name);
      this.info.delete(name);
      await own.dispose();
      return;
    }
    const m = this.multi.task(name);
    this.multi.remove(name);
    this.info.delete(name);
    await m.dispose();
  }

  /** The model of a loaded task (its own or the shared graph's). */
  private model(name: string): TaskModel {
    return this.own.get(name) ?? this.multi.task(name);
  }

  /** Tokens per input for `model`: the backend's max length, less the positions its adapters take (PEFT's prompt tuning). */
  private tokensFor(model: TaskModel): number {
    return Math.min(this.maxLength, model.maxTokens);
  }

  /** The model of a loaded task of `kind`. */
  private modelOfKind(name: string, kind: 'tagging' | 'qa'): TaskModel {
    if (!this.info.has(name)) fail('NOT_FOUND', `task ${name} is not loaded`);
    const m = this.model(name);
    if (m.head.kind !== kind) fail('BAD_CONFIG', `task ${name} is a ${m.head.kind} task, not ${kind}`);
    return m;
  }

  /**
   * Tagging inputs as rows of `model`: texts split into words as the tokenizer splits them, word
   * lists as given; both capped to {@link maxChars} characters first ({@link capWords}), so that
   * a megabyte of text costs (and answers) what a page does.
   */
  private tagRows(model: TaskModel, inputs: readonly TagInput[]): TagRow[] {
    const split = inputs.map((x) => capWords((text) => splitWords(model, text), x, this.maxChars));
    const rows = taggingRows(model, split.map((s) => ({ tokens: s.words })), this.tokensFor(model));
    return split.map((s, i) => ({ words: s.words, spans: s.spans, row: rows[i] as TaggingRow, cut: s.cut }));
  }

  /**
   * Each row's logits for its task: on the task's own model (`own`) in one batch, or in the
   * shared graph, where each distinct row runs once below its fan-out layer. A sentence-level
   * row gets its n logits, a tagging row [positions, tags] (flat).
   */
  private async logits(own: TaskModel | undefined, rows: readonly TokenizedRow[], tasks: readonly string[]): Promise<Float32Array[]> {
    const padId = this.base.tokenizer.padId;
    if (own) {
      const flat = await own.predict(collate(rows, padId));
      const n = flat.length / rows.length;
      return rows.map((_, k) => flat.subarray(k * n, (k + 1) * n));
    }
    const d = distinctRows(rows);
    return this.multi.predict(collate(d.rows, padId), tasks, { rows: d.index });
  }

  /** Tags texts (split into words as the tokenizer splits them) or pre-split word lists. */
  async tag(task: string, inputs: TagInput[]): Promise<TagOutput[]> {
    const model = this.modelOfKind(task, 'tagging');
    const rows = this.tagRows(model, inputs);
    const logits = await this.logits(this.own.get(task), rows.map((t) => t.row), rows.map(() => task));
    return rows.map((t, k) => tagOutput(t, rowTags(model.head, t.row, logits[k] as Float32Array)));
  }

  /**
   * How many windows of the backend's max length each input's context is split into: what
   * {@link answer} costs, linear in them (the server refuses inputs over its `maxAnswerWindows`).
   */
  answerWindows(task: string, inputs: AnswerInput[]): number[] {
    const model = this.modelOfKind(task, 'qa');
    const counts = inputs.map(() => 0);
    for (const r of qaRows(model, inputs, this.tokensFor(model))) counts[r.example] = (counts[r.example] as number) + 1;
    return counts;
  }

  /** Answers questions over contexts (windows of the backend's max length). */
  async answer(task: string, inputs: AnswerInput[]): Promise<AnswerOutput[]> {
    const model = this.modelOfKind(task, 'qa');
    const preds = await predictAnswers(model, inputs, { maxLength: this.tokensFor(model) });
    return preds.map((p) => ({ answer: p.text, score: p.score, start: p.start ?? null, end: p.end ?? null }));
  }

  /**
   * The rows of a batch's items, each with how to answer from its logits: a sentence-level task's
   * input capped ({@link capText}) and tokenized, a tagging task's text as {@link tag} reads it.
   */
  private prepare(items: readonly ClassifyItem[]): Prepared[] {
    const prepared = new Array<Prepared>(items.length);
    const sentence: number[] = [];
    items.forEach((item, r) => {
      const model = this.model(item.task);
      if (model.head.kind !== 'tagging') {
        sentence.push(r);
        return;
      }
      if (typeof item.input !== 'string') fail('BAD_DATA', `task ${item.task} is a tagging task: it tags one text, not a pair`);
      const [t] = this.tagRows(model, [item.input]) as [TagRow];
      prepared[r] = { row: t.row, answer: (l) => tagOutput(t, rowTags(model.head, t.row, l)) };
    });
    const cut: boolean[] = [];
    const texts = sentence.map((r): TextInput => {
      const input = (items[r] as ClassifyItem).input;
      if (typeof input === 'string') {
        const a = capText(input, this.maxChars);
        cut.push(a.cut);
        return a.text;
      }
      const [a, b] = [capText(input[0], this.maxChars), capText(input[1], this.maxChars)];
      cut.push(a.cut || b.cut);
      return [a.text, b.text];
    });
    // one encoding per token limit: the backend's, or less for a task whose adapters take positions (PEFT's prompt)
    const rows = new Array<TokenizedRow>(texts.length);
    const byLimit = new Map<number, number[]>();
    sentence.forEach((r, k) => {
      const limit = this.tokensFor(this.model((items[r] as ClassifyItem).task));
      byLimit.set(limit, [...(byLimit.get(limit) ?? []), k]);
    });
    for (const [limit, ks] of byLimit) rowsOf(this.multi.encode(ks.map((k) => texts[k] as TextInput), limit)).forEach((row, j) => { rows[ks[j] as number] = row; });
    sentence.forEach((r, k) => {
      const head = this.model((items[r] as ClassifyItem).task).head;
      const row = rows[k] as TokenizedRow;
      prepared[r] = { row, answer: (l) => classifyOutput(head, l, row.truncated || (cut[k] ?? false)) };
    });
    return prepared;
  }

  /**
   * Answers a batch that may mix tasks, in item order: a sentence-level input capped to
   * {@link maxChars} characters and truncated to {@link maxLength} tokens, a tagging task's text
   * tagged as {@link tag} does. The shared graph's tasks run in one call, each task on its own
   * model in one more.
   */
  async classify(items: ClassifyItem[]): Promise<ItemOutput[]> {
    if (items.length === 0) return [];
    const prepared = this.prepare(items);
    // one group for the tasks of the shared multi-task graph, one per task on its own model
    const groups = new Map<TaskModel | undefined, number[]>();
    items.forEach((item, r) => {
      const own = this.own.get(item.task);
      groups.set(own, [...(groups.get(own) ?? []), r]);
    });
    const out = new Array<ItemOutput>(items.length);
    for (const [own, rows] of groups) {
      const logits = await this.logits(own, rows.map((r) => (prepared[r] as Prepared).row), rows.map((r) => (items[r] as ClassifyItem).task));
      rows.forEach((r, k) => {
        out[r] = (prepared[r] as Prepared).answer(logits[k] as Float32Array);
      });
    }
    return out;
  }

  /** Releases the sessions of every loaded task and of the shared graph. */
  async dispose(): Promise<void> {
    for (const name of this.info.keys()) await this.model(name).dispose();
    await this.multi.dispose();
  }
}
