/**
 * Many tasks on one base: a single inference graph serves every loaded adapter, and one forward
 * pass can mix examples of different tasks.
 *
 * Each task's tensors (adapters, trained layer norms, head) are stacked along a leading `tasks`
 * axis and fed as inputs; a per-example `task_ids` input gathers each example's weights inside the
 * graph (batched matrix products for adapters and heads, per-example scale and shift after an
 * un-scaled layer norm). Stacks are zero-padded to the largest bottleneck and label count, which
 * is exact: a zero adapter column contributes nothing, and padded logits are ignored. Adding or
 * removing a task only rebuilds the stacks in JavaScript; the ONNX Runtime session (and the base's
 * frozen weights inside it) is built once for a given set of stack shapes.
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
    this.entries.splice(i, 1);
    this.restack();
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

  /** Rebuilds the stacked tensors (and marks the session stale if the layout changed). */
  private restack(): void {
    const layout = this.wantedLayout();
    if (!this.layout || !sameLayout(layout, this.layout)) {
      void this.session?.dispose();
      this.session = undefined;
      this.layout = layout;
    }
    const N = Math.max(1, this.entries.length);
    const D = this.base.encoder.pooledSize;
    const stacks = new Map<string, HostTensor<'float32'>>();
    const stack = (name: string, shape: number[], fill: (t: number, out: Float32Array) => void) => {
      const per = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(N * per);
      for (let t = 0; t < this.entries.length; t++) fill(t, data.subarray(t * per, (t + 1) * per));
      stacks.set(name, f32([N, ...shape], data));
    };
    const m = layout.m;
    for (const s of this.sites) {
      const own = (t: number, n: string) => this.entries[t]?.model.owned.get(`${s.prefix}.${n}`);
      stack(`${s.prefix}.down.weight`, [s.width, m], (t, out) => copyPadded(own(t, 'down.weight'), out, s.width, m));
      stack(`${s.prefix}.down.bias`, [1, m], (t, out) => copyPadded(own(t, 'down.bias'), out, 1, m));
      stack(`${s.prefix}.up.weight`, [m, s.width], (t, out) => copyPadded(own(t, 'up.weight'), out, m, s.width));
      stack(`${s.prefix}.up.bias`, [1, s.width], (t, out) => copyPadded(own(t, 'up.bias'), out, 1, s.width));
    }
    for (const name of layout.perTask) {
      const baseT = this.base.weights.get(name) as HostTensor<'float32'>;
      stack(name, [1, ...baseT.shape], (t, out) => out.set((this.entries[t]?.model.owned.get(name) ?? baseT).data));
    }
    const C = layout.outputs;
    const head = (t: number, n: string) => this.entries[t]?.model.owned.get(n);
    if (layout.headLayers === 2) {
      stack('head.dense.weight', [D, D], (t, out) => copyPadded(head(t, 'head.dense.weight'), out, D, D));
      stack('head.dense.bias', [1, D], (t, out) => copyPadded(head(t, 'head.dense.bias'), out, 1, D));
      // 1 for two-layer heads; 0 lets one-layer heads pass the pooled input through unchanged
      stack('head.gate', [1, 1], (t, out) => (out[0] = this.entries[t]?.model.head.layers === 2 ? 1 : 0));
    }
    stack('head.out.weight', [D, C], (t, out) => {
      const w = head(t, 'head.out.weight');
      if (w) copyPadded(w, out, D, C);
    });
    stack('head.out.bias', [1, C], (t, out) => copyPadded(head(t, 'head.out.bias'), out, 1, C));
    this.stacks = stacks;
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
