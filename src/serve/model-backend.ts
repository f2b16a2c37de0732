/**
 * The real backend of the server: one base model, any number of saved tasks attached to it,
 * and every batch — mixed tasks included — classified in one forward pass by a MultiTaskModel.
 * Token-level tasks (tagging, QA) run on their own task model's session (any training mode), and
 * so do tasks holding several adapters under a composition (adapter setups) and tasks whose
 * adapter cannot share a mixed batch (non-additive bottlenecks, PEFT's prompt placement, a second
 * prompt layout; see `MultiTaskModel.mixIssue`): each is a group of its own in a classify batch,
 * answering as the library's `predict` does. Prefix- and prompt-tuning tasks share the mixed batch,
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
import type { EncodedBatch } from '../models/tokenizers/index.js';
import { toPrediction } from '../train/evaluate.js';
import { isAdapterSetup } from '../train/modes.js';
import { MultiTaskModel, sharedAdapterOf } from '../train/multi-task-model.js';
import { loadSavedTask } from '../train/task-io.js';
import type { TaskModel, TaskModelOptions } from '../train/task-model.js';
import { predictTags, splitWords } from '../train/token-tasks/tagging.js';
import { predictAnswers } from '../train/token-tasks/qa.js';
import { distinctInputs } from './fanout.js';
import type { AnswerInput, AnswerOutput, ClassifierBackend, ClassifyItem, ClassifyOutput, TagInput, TagOutput, TaskInfo, TextInput } from './backend.js';

/** Options of {@link ModelBackend}. */
export interface ModelBackendOptions {
  /** Tokens per input (default 128, at most the base's limit). */
  maxLength?: number;
  threads?: number;
  /**
   * Characters of a classify input (of each side of a pair) the tokenizer sees, per token of
   * `maxLength`. Default {@link CHARS_PER_TOKEN}. See {@link capText}.
   */
  charsPerToken?: number;
  /** Precision of the base's frozen matmuls for every task served (int8: under the outlier guard, measured on the first batch). */
  frozen?: Pick<TaskModelOptions, 'frozenPrecision' | 'int8Tolerance' | 'onFrozenPlan'>;
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

/** Serves saved tasks on one shared base. */
export class ModelBackend implements ClassifierBackend {
  readonly maxLength: number;
  /** Characters of a classify input the tokenizer sees (see {@link capText}). */
  readonly maxChars: number;
  private readonly multi: MultiTaskModel;
  private readonly info = new Map<string, TaskInfo>();
  /** Token-level tasks, each with its own sessions. */
  private readonly tokenTasks = new Map<string, TaskModel>();
  /** Sentence-level adapter setups (compositions) and tasks that cannot share a mixed batch, each with its own sessions. */
  private readonly setups = new Map<string, TaskModel>();

  /** The frozen-precision options of tasks served on their own TaskModel (token tasks, setups). */
  private readonly frozen: NonNullable<ModelBackendOptions['frozen']>;

  constructor(readonly base: BaseModel, o: ModelBackendOptions = {}) {
    this.maxLength = Math.min(o.maxLength ?? 128, base.encoder.maxLength);
    this.maxChars = this.maxLength * (o.charsPerToken ?? CHARS_PER_TOKEN);
    this.multi = new MultiTaskModel(base, { threads: o.threads, ...o.frozen });
    this.frozen = o.frozen ?? {};
  }

  get baseInfo(): Record<string, unknown> {
    return { id: this.base.id, family: this.base.encoder.family, params: baseParamCount(this.base), fingerprint: baseFingerprint(this.base), maxLength: this.maxLength };
  }

  tasks(): TaskInfo[] {
    return [...this.info.values()];
  }

  /** Attaches an already built task model (used by tests and the library API). */
  attach(name: string, model: TaskModel, dir?: string): TaskInfo {
    const token = model.head.kind === 'tagging' || model.head.kind === 'qa';
    const shared = token ? undefined : sharedAdapterOf(name, model);
    const setup = !token && (typeof shared === 'string' || this.multi.mixIssue(model, shared) !== undefined);
    if (token || setup) {
      if (this.info.has(name)) fail('BAD_CONFIG', `task ${name} is already loaded`);
      if (model.base !== this.base) fail('ADAPTER_MISMATCH', `task ${name} was built on another base object`);
      if (isAdapterSetup(model.mode)) {
        const issue = perInputIssue(model.mode.active);
        if (issue) fail('BAD_CONFIG', `task ${name} is the composition ${formatComposition(model.mode.active)}: ${issue}, so it cannot answer each input on its own; save it with a Stack or Average active (TaskModel.activate) to serve it`);
      }
      (token ? this.tokenTasks : this.setups).set(name, model);
    } else this.multi.add(name, model);
    const t: TaskInfo = {
      name, kind: model.head.kind, labels: [...model.head.labels], pair: model.head.pair, bytes: model.stats().bytesPerTask, ...(dir ? { dir } : {}),
    };
    this.info.set(name, t);
    return t;
  }

  async load(name: string, dir: string): Promise<TaskInfo> {
    if (this.info.has(name)) fail('BAD_CONFIG', `task ${name} is already loaded`);
    const saved = await loadSavedTask(this.base, dir, { ...this.frozen, inference: true });
    return this.attach(name, saved.model, dir);
  }

  async unload(name: string): Promise<void> {
    if (!this.info.has(name)) fail('NOT_FOUND', `task ${name} is not loaded`);
    const own = this.tokenTasks.get(name) ?? this.setups.get(name);
    if (own) {
      this.tokenTasks.delete(name);
      this.setups.delete(name);
      this.info.delete(name);
      await own.dispose();
      return;
    }
    const m = this.multi.task(name);
    this.multi.remove(name);
    this.info.delete(name);
    await m.dispose();
  }

  private tokenTask(name: string, kind: 'tagging' | 'qa'): TaskModel {
    const m = this.tokenTasks.get(name);
    if (!m) fail('NOT_FOUND', `task ${name} is not loaded`);
    if (m.head.kind !== kind) fail('BAD_CONFIG', `task ${name} is a ${m.head.kind} task, not ${kind}`);
    return m;
  }

  /** Tags texts (split into words as the tokenizer splits them) or pre-split word lists. */
  async tag(task: string, inputs: TagInput[]): Promise<TagOutput[]> {
    const model = this.tokenTask(task, 'tagging');
    const split = inputs.map((x) => (typeof x === 'string' ? splitWords(model, x) : { words: x, spans: undefined }));
    const preds = await predictTags(model, split.map((s) => ({ tokens: s.words })), { maxLength: this.maxLength });
    return preds.map((p, i) => {
      const { words, spans } = split[i] as (typeof split)[number];
      return {
        words: words.map((word, k) => ({ word, tag: p.tags[k] as string, score: p.scores[k] as number, ...(spans ? { start: spans[k]?.start as number, end: spans[k]?.end as number } : {}) })),
        truncated: p.truncated,
      };
    });
  }

  /** Answers questions over contexts (windows of the backend's max length). */
  async answer(task: string, inputs: AnswerInput[]): Promise<AnswerOutput[]> {
    const model = this.tokenTask(task, 'qa');
    const preds = await predictAnswers(model, inputs, { maxLength: this.maxLength });
    return preds.map((p) => ({ answer: p.text, score: p.score, start: p.start ?? null, end: p.end ?? null }));
  }

  async classify(items: ClassifyItem[]): Promise<ClassifyOutput[]> {
    if (items.length === 0) return [];
    const cut: boolean[] = [];
    const inputs = items.map((i): TextInput => {
      if (typeof i.input === 'string') {
        const a = capText(i.input, this.maxChars);
        cut.push(a.cut);
        return a.text;
      }
      const [a, b] = [capText(i.input[0], this.maxChars), capText(i.input[1], this.maxChars)];
      cut.push(a.cut || b.cut);
      return [a.text, b.text];
    });
    // one group for the tasks of the shared multi-task graph, one per adapter setup
    const groups = new Map<TaskModel | undefined, number[]>();
    items.forEach((item, r) => {
      const setup = this.setups.get(item.task);
      const rows = groups.get(setup) ?? [];
      rows.push(r);
      groups.set(setup, rows);
    });
    const logits = new Array<Float32Array>(items.length);
    const truncated = new Array<boolean>(items.length);
    for (const [setup, rows] of groups) {
      // the shared graph runs each distinct input once below its fan-out layer
      const distinct = setup ? { inputs: rows.map((r) => inputs[r] as TextInput), rows: rows.map((_, k) => k) } : distinctInputs(rows.map((r) => inputs[r] as TextInput));
      const batch: EncodedBatch = this.multi.encode(distinct.inputs, this.maxLength);
      let out: Float32Array[];
      if (setup) {
        const flat = await setup.predict(batch);
        const n = flat.length / rows.length;
        out = rows.map((_, k) => flat.subarray(k * n, (k + 1) * n));
      } else out = await this.multi.predict(batch, rows.map((r) => (items[r] as ClassifyItem).task), { rows: distinct.rows });
      rows.forEach((r, k) => {
        logits[r] = out[k] as Float32Array;
        truncated[r] = batch.truncated[distinct.rows[k] as number] ?? false;
      });
    }
    return items.map((item, r) => {
      const head = (this.setups.get(item.task) ?? this.multi.task(item.task)).head;
      const p = toPrediction(head, Array.from(logits[r] as Float32Array), (truncated[r] ?? false) || (cut[r] ?? false));
      if (head.kind === 'regression') return { score: p.value as number, scores: {}, truncated: p.truncated };
      const scores = Object.fromEntries(head.labels.map((l, i) => [l, p.probs[i] as number]));
      if (head.kind === 'classification') return { label: head.labels[p.value as number], scores, truncated: p.truncated };
      return { labels: head.labels.filter((_, i) => (p.value as number[])[i] === 1), scores, truncated: p.truncated };
    });
  }

  /** Releases the sessions. */
  async dispose(): Promise<void> {
    for (const name of this.info.keys()) await (this.tokenTasks.get(name) ?? this.setups.get(name) ?? this.multi.task(name)).dispose();
    await this.multi.dispose();
  }
}
