/**
 * Many tasks on one base: a single inference graph serves every loaded adapter, and one forward
 * pass can mix examples of different tasks.
 *
 * Each task's tensors (adapters, trained layer norms, head) are stacked along a leading `tasks`
 * axis and fed as inputs; a per-example `task_ids` input gathers each example's weights inside the
 * graph (batched matrix products for adapters and heads, per-example scale and shift after an
 * un-scaled layer norm). Stacks are zero-padded to the largest bottleneck and label count, which
 * is exact: a zero adapter column contributes nothing, and padded logits are ignored. The stacks
 * hold the only copy of each task's tensors (the task's own tensors are views of its rows) and
 * have spare rows, so adding or removing a task writes rows in JavaScript; the ONNX Runtime
 * session (and the base's frozen weights inside it) is built once for a given set of stack shapes.
 */
import { fail } from '../errors.js';
import {
  Graph, Session, add, f32, gather, i64, layerNorm, matmul, mul, squeeze, sub, tanh, unsqueeze, type HostTensor, type Value,
} from '../engine/index.js';
import { adapterSites, applyAdapter, type AdapterSite } from '../adapters/bottleneck.js';
import { ADAPTER_PRESETS, adapterConfig, type AdapterActivation } from '../adapters/config.js';
import type { BaseModel, TextInput } from '../models/base.js';
import { buildEncoderGraph } from '../models/build.js';
import type { EncodedBatch } from '../models/tokenizers/index.js';
import { encoderFeeds, type TaskModel } from './task-model.js';

/** One loaded task. */
interface Entry {
  readonly name: string;
  readonly model: TaskModel;
}

/** One stacked input: its name, the shape of one task's row, and a task's values for it. */
interface StackSpec {
  readonly name: string;
  readonly row: readonly number[];
  readonly source: (m: TaskModel) => HostTensor<'float32'> | undefined;
  /** Whether a task tensor of the row's exact shape may live in the stack (not for derived rows). */
  readonly bind: boolean;
}

/** Shapes that, when unchanged, let the session be reused. */
interface Layout {
  readonly m: number;
  readonly outputs: number;
  readonly headLayers: 1 | 2;
  readonly activation: AdapterActivation;
  /** Base weight names some task trains (layer norms), stacked per task. */
  readonly perTask: readonly string[];
}

const sameLayout = (a: Layout, b: Layout) =>
  a.m === b.m && a.outputs === b.outputs && a.headLayers === b.headLayers && a.activation === b.activation && a.perTask.join() === b.perTask.join();

/** Serves many adapter tasks from one base in mixed-task batches. */
export class MultiTaskModel {
  private readonly entries: Entry[] = [];
  private session?: Session;
  private layout?: Layout;
  private logits?: Value;
  private stacks = new Map<string, HostTensor<'float32'>>();
  private specs: StackSpec[] = [];
  /** Rows each stack has room for. */
  private capacity = 0;
  /** Every site of the base (all layers and points), the union over tasks. */
  private readonly sites: AdapterSite[];

  constructor(readonly base: BaseModel, private readonly o: { threads?: number } = {}) {
    const all = adapterConfig({ ...ADAPTER_PRESETS.houlsby, points: base.encoder.attachmentPoints, size: 1 });
    this.sites = adapterSites(all, base.encoder);
  }

  /** Names of loaded tasks. */
  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  /** The task model of a loaded task. */
  task(name: string): TaskModel {
    const e = this.entries.find((x) => x.name === name);
    if (!e) fail('NOT_FOUND', `task ${name} is not loaded (loaded: ${this.names.join(', ') || 'none'})`);
    return e.model;
  }

  /** Adds a task; it must be trained on this base in a mode that keeps the base frozen. */
  add(name: string, model: TaskModel): void {
    if (model.base !== this.base) fail('ADAPTER_MISMATCH', `task ${name} was built on another base object`);
    if (this.entries.some((e) => e.name === name)) fail('BAD_CONFIG', `task ${name} is already loaded`);
    if (model.head.kind === 'tagging' || model.head.kind === 'qa') {
      fail('BAD_CONFIG', `task ${name} has a ${model.head.kind} head; mixed-task batches serve sentence-level heads only (run token-level tasks on their own TaskModel)`);
    }
    const big = model.trainable.filter((t) => t.origin === 'base' && this.base.encoder.weightSpecs.find((s) => s.name === t.name)?.role !== 'norm');
    if (big.length) {
      fail('BAD_CONFIG', `task ${name} trained base weights other than layer norms (${big[0]?.name} ...); only adapter, layer-norm and head-only tasks share one base`);
    }
    const acts = new Set(this.entries.map((e) => activationOf(e.model)));
    acts.add(activationOf(model));
    if (acts.size > 1) fail('BAD_CONFIG', `task ${name} uses adapter activation ${activationOf(model)}; the loaded tasks use ${[...acts].join(', ')}: one server mixes one activation`);
    this.entries.push({ name, model });
    this.restack();
  }

  /** Removes a task. */
  remove(name: string): void {
    const i = this.entries.findIndex((e) => e.name === name);
    if (i < 0) fail('NOT_FOUND', `task ${name} is not loaded`);
    const [gone] = this.entries.splice(i, 1);
    // Give the task its own copies back: its tensors are rows that the next task moves into.
    if (gone) gone.model.rebind(new Map([...gone.model.owned].map(([k, t]) => [k, new Float32Array(t.data.length)])));
    this.restack(i, true);
  }

  private wantedLayout(): Layout {
    let m = 1;
    let outputs = 1;
    let headLayers: 1 | 2 = 1;
    const perTask = new Set<string>();
    for (const { model } of this.entries) {
      for (const s of model.sites) m = Math.max(m, s.size);
      outputs = Math.max(outputs, model.head.kind === 'regression' ? 1 : model.head.labels.length);
      if (model.head.layers === 2) headLayers = 2;
      for (const t of model.trainable) if (t.origin === 'base') perTask.add(t.name);
    }
    const activation = this.entries[0] ? activationOf(this.entries[0].model) : 'gelu';
    return { m, outputs, headLayers, activation, perTask: [...perTask].sort() };
  }

  /** The stacks a layout needs: name, shape of one task's row, and where a task's values come from. */
  private stackSpecs(layout: Layout): StackSpec[] {
    const specs: StackSpec[] = [];
    const own = (n: string) => (m: TaskModel) => m.owned.get(n);
    for (const s of this.sites) {
      for (const [part, shape] of [['down.weight', [s.width, layout.m]], ['down.bias', [1, layout.m]], ['up.weight', [layout.m, s.width]], ['up.bias', [1, s.width]]] as const) {
        const n = `${s.prefix}.${part}`;
        specs.push({ name: n, row: [...shape], source: own(n), bind: true });
      }
    }
    for (const name of layout.perTask) {
      const baseT = this.base.weights.get(name) as HostTensor<'float32'>;
      specs.push({ name, row: [1, ...baseT.shape], source: (m) => m.owned.get(name) ?? baseT, bind: true });
    }
    const D = this.base.encoder.pooledSize;
    if (layout.headLayers === 2) {
      specs.push({ name: 'head.dense.weight', row: [D, D], source: own('head.dense.weight'), bind: true });
      specs.push({ name: 'head.dense.bias', row: [1, D], source: own('head.dense.bias'), bind: true });
      // 1 for two-layer heads; 0 lets one-layer heads pass the pooled input through unchanged
      const one = f32([1], new Float32Array([1]));
      specs.push({ name: 'head.gate', row: [1, 1], source: (m) => (m.head.layers === 2 ? one : undefined), bind: false });
    }
    specs.push({ name: 'head.out.weight', row: [D, layout.outputs], source: own('head.out.weight'), bind: true });
    specs.push({ name: 'head.out.bias', row: [1, layout.outputs], source: own('head.out.bias'), bind: true });
    return specs;
  }

  /**
   * Brings the stacks in line with the loaded tasks. Each stack has room for `capacity` tasks
   * (unused rows are zero and never gathered), so adding a task writes one row instead of copying
   * every stack; a new layout (a larger bottleneck or label count...) or a full stack reallocates.
   * After a removal at `from`, the later rows move up one place. A task tensor whose shape equals
   * its row (the usual case: same bottleneck size and label count across tasks) is re-pointed at
   * that row, so the stack holds the only copy of it.
   */
  private restack(from = this.entries.length - 1, removed = false): void {
    const layout = this.wantedLayout();
    const n = this.entries.length;
    const newLayout = !this.layout || !sameLayout(layout, this.layout);
    const rebuild = newLayout || n > this.capacity;
    if (newLayout) {
      void this.session?.dispose();
      this.session = undefined;
      this.layout = layout;
    }
    if (rebuild) {
      this.capacity = n + Math.max(4, Math.ceil(n / 8));
      this.specs = this.stackSpecs(layout);
      from = 0;
    }
    const cap = this.capacity;
    const stacks = rebuild ? new Map<string, HostTensor<'float32'>>() : this.stacks;
    const binds = this.entries.map(() => new Map<string, Float32Array>());
    for (const spec of this.specs) {
      const per = spec.row.reduce((a, b) => a * b, 1);
      let t = stacks.get(spec.name);
      if (!t) {
        t = f32([cap, ...spec.row], new Float32Array(cap * per));
        stacks.set(spec.name, t);
      }
      const data = t.data;
      for (let i = from; i < n; i++) {
        const model = (this.entries[i] as Entry).model;
        const row = data.subarray(i * per, (i + 1) * per);
        const src = spec.source(model);
        // After a removal the source may be the next row of this same stack: copy it before zeroing.
        const values = src && src.data.buffer === data.buffer ? f32(src.shape, Float32Array.from(src.data)) : src;
        row.fill(0);
        if (values) copyPadded(values, row, spec.row.length === 1 ? 1 : (spec.row[spec.row.length - 2] as number), spec.row[spec.row.length - 1] as number);
        if (spec.bind && src && src.data.length === per && model.owned.get(spec.name) === src) (binds[i] as Map<string, Float32Array>).set(spec.name, row);
      }
      if (removed) data.subarray(n * per, (n + 1) * per).fill(0);
    }
    this.stacks = stacks;
    for (let i = from; i < n; i++) {
      const model = (this.entries[i] as Entry).model;
      const b = binds[i] as Map<string, Float32Array>;
      // A tensor left out (padded into a wider row) that still views an old stack gets its own array.
      const own = new Map<string, Float32Array>();
      for (const [k, v] of model.owned) if (!b.has(k) && v.data.byteLength !== v.data.buffer.byteLength) own.set(k, new Float32Array(v.data.length));
      model.rebind(own);
      model.rebind(b, { copy: false }); // the rows hold the values already
    }
  }

  private build(): { graph: Graph; logits: Value } {
    const layout = this.layout as Layout;
    const g = new Graph('multi-task');
    const inputs = new Map<string, Value>();
    for (const [name, t] of this.stacks) inputs.set(name, g.input(`stack.${name}`, 'float32', ['tasks', ...t.shape.slice(1)]));
    const taskIds = g.input('task_ids', 'int64', ['batch']);
    const picked = new Map<string, Value>();
    const pick = (name: string) => {
      let v = picked.get(name);
      if (!v) {
        const s = inputs.get(name);
        if (!s) fail('GRAPH_ERROR', `no stacked tensor ${name}`);
        v = gather(s, taskIds, 0); // [B, ...]
        picked.set(name, v);
      }
      return v;
    };
    const perTask = new Set(layout.perTask);
    const ones = new Map<number, Value>();
    const unit = (d: number) => {
      let v = ones.get(d);
      if (!v) {
        v = g.constant(`unit_scale_${d}`, f32([d], new Float32Array(d).fill(1)));
        ones.set(d, v);
      }
      return v;
    };
    const siteBy = new Map(this.sites.map((s) => [`${s.layer}.${s.point}`, s]));
    const eg = buildEncoderGraph(this.base.encoder, this.base.weights, {
      graph: g,
      hook: (point, layer, h) => {
        const site = siteBy.get(`${layer}.${point}`);
        return site ? g.scope(`adapter${layer}_${point}`, () => applyAdapter(h, pick, site, layout.activation)) : h;
      },
      layerNorm: (x, prefix, eps, weight) => {
        const w = `${prefix}.weight`;
        if (!perTask.has(w)) return layerNorm(x, weight(w), weight(`${prefix}.bias`), eps);
        const d = x.shape[x.rank - 1] as number;
        const normed = layerNorm(x, unit(d), undefined, eps); // [B, T, D]
        return add(mul(normed, pick(w)), pick(`${prefix}.bias`)); // per-example scale and shift, [B, 1, D]
      },
    });
    const pooled = unsqueeze(eg.outputs.pooled, [1]); // [B, 1, D]
    let x = pooled;
    if (layout.headLayers === 2) {
      const gate = pick('head.gate'); // [B, 1, 1]
      const dense = tanh(add(matmul(x, pick('head.dense.weight')), pick('head.dense.bias'))); // [B, 1, D]
      x = add(mul(gate, dense), mul(sub(1, gate), x));
    }
    const logits = squeeze(add(matmul(x, pick('head.out.weight')), pick('head.out.bias')), [1]); // [B, C]
    return { graph: g, logits };
  }

  private async sess(): Promise<Session> {
    if (!this.session) {
      const b = this.build();
      this.logits = b.logits;
      this.session = await Session.create(b.graph, { outputs: [b.logits], threads: this.o.threads });
    }
    return this.session;
  }

  /**
   * Logits for a mixed batch: `tasks[i]` names the task of row i. Returns one row of
   * `outputs` logits per example (only the task's own outputs).
   */
  async predict(batch: EncodedBatch, tasks: readonly string[]): Promise<Float32Array[]> {
    if (tasks.length !== batch.batchSize) fail('BAD_DATA', `batch has ${batch.batchSize} rows but ${tasks.length} task names`);
    const ids = tasks.map((t) => {
      const i = this.entries.findIndex((e) => e.name === t);
      if (i < 0) fail('NOT_FOUND', `task ${t} is not loaded (loaded: ${this.names.join(', ') || 'none'})`);
      return i;
    });
    const s = await this.sess();
    const feeds: Record<string, HostTensor> = { ...encoderFeeds(batch, this.base.encoder.usesTokenTypes), task_ids: i64([ids.length], ids) };
    for (const [name, t] of this.stacks) feeds[`stack.${name}`] = t;
    const out = (await s.run(feeds))[(this.logits as Value).name] as HostTensor;
    const C = (this.layout as Layout).outputs;
    const data = out.data as Float32Array;
    return ids.map((i, r) => {
      const m = (this.entries[i] as Entry).model;
      const n = m.head.kind === 'regression' ? 1 : m.head.labels.length;
      return data.slice(r * C, r * C + n);
    });
  }

  /** Encodes inputs with the base's tokenizer. */
  encode(inputs: readonly TextInput[], maxLength: number): EncodedBatch {
    return this.base.tokenizer.encode(inputs, maxLength);
  }

  /** Releases the session. */
  async dispose(): Promise<void> {
    await this.session?.dispose();
    this.session = undefined;
  }
}

function activationOf(m: TaskModel): AdapterActivation {
  return m.mode.kind === 'adapters' ? m.mode.adapter.activation : 'gelu';
}

/** Copies a [rows, cols'] tensor into a zero [rows, cols] buffer (cols' <= cols) or [rows', cols] (rows' <= rows). */
function copyPadded(t: HostTensor<'float32'> | undefined, out: Float32Array, rows: number, cols: number): void {
  if (!t) return;
  const [r, c] = t.shape.length === 1 ? [1, t.shape[0] as number] : [t.shape[0] as number, t.shape[1] as number];
  if (r > rows || c > cols) fail('GRAPH_ERROR', `cannot pad [${r}, ${c}] into [${rows}, ${cols}]`);
  for (let i = 0; i < r; i++) out.set(t.data.subarray(i * c, (i + 1) * c), i * cols);
}
