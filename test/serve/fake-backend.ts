/**
 * A deterministic stand-in for the model: scores come from a hash of the text, so tests can
 * compute the expected answer for any input. Records every classify call, and can be slowed
 * down or made to fail on demand.
 */
import { createHash } from 'node:crypto';
import { AdapterkitError } from '../../src/errors.js';
import type { ClassifierBackend, ClassifyItem, ClassifyOutput, ItemOutput, TagInput, TagOutput, TaskInfo, TextInput } from '../../src/serve/backend.js';

/** Inputs longer than this many characters are reported as truncated. */
export const FAKE_MAX_CHARS = 50;

function hash01(s: string, salt: number): number {
  const h = createHash('sha256').update(`${salt}\u0000${s}`).digest();
  return h.readUInt32BE(0) / 0x1_0000_0000;
}

function joinInput(input: TextInput): string {
  return typeof input === 'string' ? input : `${input[0]}\u0001${input[1]}`;
}

/** The output the fake backend gives for one item (exported so tests can compute expectations). */
export function expectedOutput(task: TaskInfo, input: TextInput): ClassifyOutput {
  const text = `${task.name}\u0002${joinInput(input)}`;
  const truncated = joinInput(input).length > FAKE_MAX_CHARS;
  if (task.kind === 'regression') return { score: Math.round(hash01(text, 0) * 5000) / 1000, scores: {}, truncated };
  const raw = task.labels.map((_, i) => hash01(text, i + 1) + 0.01);
  const scores: Record<string, number> = {};
  if (task.kind === 'multilabel') {
    task.labels.forEach((l, i) => { scores[l] = raw[i] ?? 0; });
    return { labels: task.labels.filter((l) => (scores[l] ?? 0) > 0.5), scores, truncated };
  }
  const sum = raw.reduce((a, b) => a + b, 0);
  let best = 0;
  task.labels.forEach((l, i) => {
    scores[l] = (raw[i] ?? 0) / sum;
    if ((raw[i] ?? 0) > (raw[best] ?? 0)) best = i;
  });
  return { label: task.labels[best], scores, truncated };
}

/** The tags the fake backend gives for one input: every word 'X' with score 1. */
export function expectedTags(input: TagInput): TagOutput {
  return { words: (typeof input === 'string' ? input.split(/\s+/u).filter(Boolean) : input).map((word) => ({ word, tag: 'X', score: 1 })), truncated: false };
}

/** Options of {@link FakeBackend}. */
export interface FakeBackendOptions {
  tasks?: TaskInfo[];
  /** Delay of every classify call in ms. */
  delayMs?: number;
}

/** Tasks most tests use: a single-text classifier, a pair classifier, a regression and a multilabel task. */
export function defaultTasks(): TaskInfo[] {
  return [
    { name: 'sentiment', kind: 'classification', labels: ['negative', 'positive'], pair: false, bytes: 1000 },
    { name: 'nli', kind: 'classification', labels: ['entailment', 'neutral', 'contradiction'], pair: true, bytes: 2000 },
    { name: 'stsb', kind: 'regression', labels: [], pair: true, bytes: 1500 },
    { name: 'topics', kind: 'multilabel', labels: ['sports', 'politics', 'tech'], pair: false, bytes: 1200 },
  ];
}

/** A fake {@link ClassifierBackend} that records calls. */
export class FakeBackend implements ClassifierBackend {
  readonly maxLength = FAKE_MAX_CHARS;
  readonly baseInfo = { name: 'fake-base', layers: 2, hidden: 16 };
  /** Every classify call's items, in call order. */
  readonly calls: ClassifyItem[][] = [];
  /** Calls running right now (to check that only one runs at a time). */
  active = 0;
  /** `performance.now()` when each classify call ended (returned or threw). */
  readonly finishedAt: number[] = [];
  maxActive = 0;
  delayMs: number;
  /** While set, classify and tag calls wait for it (after `delayMs`): a test opens it when ready. */
  gate: Promise<void> | undefined;
  /** When set, the next classify calls throw this (count down `failTimes`). */
  failWith: Error | undefined;
  failTimes = 0;
  /** Resolves the next time classify is entered. */
  private enteredWaiters: Array<() => void> = [];
  private readonly loaded = new Map<string, TaskInfo>();
  /** Directories `load` accepts, mapped to the task they hold. */
  readonly loadable = new Map<string, Omit<TaskInfo, 'name'>>();

  constructor(opts: FakeBackendOptions = {}) {
    for (const t of opts.tasks ?? defaultTasks()) this.loaded.set(t.name, t);
    this.delayMs = opts.delayMs ?? 0;
  }

  tasks(): TaskInfo[] {
    return [...this.loaded.values()];
  }

  task(name: string): TaskInfo {
    const t = this.loaded.get(name);
    if (t === undefined) throw new Error(`fake backend: no task ${name}`);
    return t;
  }

  /** Closes the {@link gate}; returns the function that opens it. */
  closeGate(): () => void {
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => { open = resolve; });
    return () => {
      this.gate = undefined;
      open();
    };
  }

  /** Resolves when classify is next called. */
  nextCall(): Promise<void> {
    return new Promise((resolve) => this.enteredWaiters.push(resolve));
  }

  /** Answers as {@link expectedOutput}, a tagging task's items as {@link tag} does. */
  async classify(items: ClassifyItem[]): Promise<ItemOutput[]> {
    this.calls.push(items.map((it) => ({ ...it })));
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    const waiters = this.enteredWaiters;
    this.enteredWaiters = [];
    for (const w of waiters) w();
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      await this.gate;
      if (this.failTimes > 0) {
        this.failTimes--;
        throw this.failWith ?? new Error('injected failure');
      }
      return items.map((it) => {
        const t = this.loaded.get(it.task);
        if (t === undefined) throw new AdapterkitError('NOT_FOUND', `fake backend: task ${it.task} not loaded`);
        return t.kind === 'tagging' ? expectedTags(it.input as string) : expectedOutput(t, it.input);
      });
    } finally {
      this.active--;
      this.finishedAt.push(performance.now());
    }
  }

  /** Tags every word 'X' (score 1) after `delayMs`; counts calls in {@link tagCalls}. */
  async tag(task: string, inputs: TagInput[]): Promise<TagOutput[]> {
    this.tagCalls++;
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    await this.gate;
    if (!this.loaded.has(task)) throw new AdapterkitError('NOT_FOUND', `fake backend: task ${task} not loaded`);
    return inputs.map(expectedTags);
  }

  /** How many times {@link tag} was called. */
  tagCalls = 0;

  async load(name: string, dir: string): Promise<TaskInfo> {
    const spec = this.loadable.get(dir);
    if (spec === undefined) throw new AdapterkitError('BAD_FILE', `${dir}/adapter_config.json: no such file`);
    const info: TaskInfo = { ...spec, name, dir };
    this.loaded.set(name, info);
    return info;
  }

  async unload(name: string): Promise<void> {
    if (!this.loaded.delete(name)) throw new AdapterkitError('NOT_FOUND', `fake backend: task ${name} not loaded`);
  }
}
