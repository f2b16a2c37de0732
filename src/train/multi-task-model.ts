/**
 * Many tasks on one base: a single inference graph serves every loaded adapter, and one forward
 * pass can mix examples of different tasks and different methods.
 *
 * Tasks whose adapters have the same structure (the method and what its hooks compute; see
 * `AdapterMethod.structure`) form a group. Each group's tensors are stacked along a leading
 * `tasks` axis and fed as inputs; a per-example `task_ids` input gathers each example's rows
 * inside the graph, and the group's hooks (the method's own hook code, on gathered `[B, …]`
 * values) run for every example. Groups add up: a task outside a group has that group's neutral
 * rows (zeros for additive parts, ones for IA³ scales), so it contributes nothing there. Rows are
 * zero-padded to the largest size in the group (bottleneck m, LoRA r), which is exact: a zero
 * column contributes nothing. Methods that add positions (prefix keys, prompt tokens) get the
 * group's longest and a per-example mask of the ones each example's task has (none outside the
 * group), which is exact too: a masked key has softmax weight 0. Trained layer norms become per-example scale and shift, and heads
 * are gathered too (heads/mixed.ts `buildGatheredHead`), in up to two branches as in mixed-task
 * training: sentence heads (classification, regression, multi-label) over the pooled vector, and
 * tagging heads over every position of the last hidden state (stacks `tokens.head.*`). The token
 * branch is built only while a tagging task is loaded, the sentence branch only while a
 * sentence-level task is; every example runs each branch that is built and reads its own task's.
 * Extractive-QA heads are refused (see {@link MIXED_HEAD_KINDS}).
 *
 * The stacks hold the only copy of each task's tensors (the task's own tensors are views of its
 * rows) and have spare rows, so adding or removing a task writes rows in JavaScript; the ONNX
 * Runtime session (and the base's frozen weights inside it) is built once for a given layout.
 *
 * **Fan-out** (Parallel over tasks): `predict(batch, tasks, { rows })` runs the distinct inputs of
 * `batch` once through the layers below the lowest layer where any loaded task acts (its adapters,
 * or a layer norm it trained) and copies row `rows[i]` there for output row i, as a Parallel
 * composition replicates its batch (the encoder's `layerInput` hook). One input asked of N tasks
 * thus costs the shared lower layers once. Tasks with static AdapterDrop (no adapters in the first
 * n layers) join as their adapter with those layers left out, so with every task dropping n layers
 * the copy happens at layer n. A task acting at the embeddings makes the copy happen before the
 * encoder (the inputs are repeated: correct, without the saving).
 */
import { fail } from '../errors.js';
import { Graph, Session, SessionSlot, add, f32, gather, i64, mul, squeeze, unsqueeze, type HostTensor, type Value } from '../engine/index.js';
import { composeHooks, contextLayerNorm, type AdapterTensor, type MethodContext, type PositionKind } from '../adapters/method.js';
import type { Composition } from '../adapters/composition.js';
import type { LayerInput } from '../models/encoder.js';
import { methodOf, type MethodConfig } from '../adapters/methods/index.js';
import { parseAdapterTensorName } from '../adapters/names.js';
import { AsyncOnce } from '../util/once.js';
import { headInputWidth, headOutputs, headPooling } from '../heads/head.js';
import { BRANCH_PREFIX, HEAD_BRANCHES, MIXED_HEAD_KINDS, buildGatheredHead, headBranch, type HeadBranch } from '../heads/mixed.js';
import { HEAD_POOLINGS, pooledInput, pooledWidth, type HeadPooling } from '../heads/pooling.js';
import type { BaseModel, TextInput } from '../models/base.js';
import { buildEncoderGraph } from '../models/build.js';
import type { EncodedBatch } from '../models/tokenizers/index.js';
import { describeMode, isAdapterSetup } from './modes.js';
import { encoderFeeds, type TaskModel, type TaskModelOptions } from './task-model.js';
import {
  checkFrozenPrecision, checkInt8Tolerance, DEFAULT_INT8_TOLERANCE, frozenMatmulSpecs, frozenWeightHook, runFrozenGuard, type FrozenBuild, type FrozenPlan,
} from './frozen-precision.js';

/** One loaded task. */
interface Entry {
  readonly name: string;
  readonly model: TaskModel;
  /** The adapter it runs in the shared graph (none for head-only and layer-norm tasks). */
  readonly adapter?: SharedAdapter;
}

/** The one adapter a task runs in a mixed batch: its config (static AdapterDrop folded into `leave_out`), its name in the task's tensor names, and its tensors. */
export interface SharedAdapter {
  readonly config: MethodConfig;
  readonly name: string;
  readonly tensors: readonly AdapterTensor[];
}

/**
 * The adapter a task runs in a mixed batch, undefined for a task without one (head-only,
 * layer-norm), or why it cannot share a batch. A setup qualifies when its active composition is
 * one adapter: with static AdapterDrop, it is that adapter with the first n layers left out,
 * when the method's `leave_out` removes exactly the tensors of those layers (it does for
 * bottleneck adapters, LoRA and IA³).
 */
export function sharedAdapterOf(name: string, model: TaskModel): SharedAdapter | string | undefined {
  const m = model.mode;
  if (m.kind !== 'adapters') return undefined;
  const enc = model.base.encoder;
  let config: MethodConfig;
  let adapterName = model.adapterName;
  if (isAdapterSetup(m)) {
    const active = singleAdapter(m.active);
    if (active === undefined) return `task ${name} holds several adapters (${describeMode(m, enc)}); compositions are served on their own TaskModel, not in mixed batches yet`;
    const named = m.adapters.find((a) => a.name === active);
    if (!named) return `task ${name} activates ${active}, which it does not hold`;
    adapterName = named.name;
    const n = m.adapterDrop?.kind === 'static' ? m.adapterDrop.layers : 0; // robust AdapterDrop keeps every layer at inference
    const own = methodOf(named.config).tensors(named.config as never, enc, adapterName);
    const layers = siteLayers(enc);
    if (own.some((t) => (layers.get(parseAdapterTensorName(t.name)?.siteKey ?? '') ?? -1) < 0)) return `task ${name}: its adapter ${adapterName} acts outside the Transformer layers' sites, which a composition does not run; serve it on its own TaskModel`;
    config = named.config;
    if (n > 0) {
      const dropped = { ...named.config, leave_out: [...new Set([...named.config.leave_out, ...Array.from({ length: n }, (_, i) => i)])].sort((a, b) => a - b) } as MethodConfig;
      const kept = own.filter((t) => (layers.get(parseAdapterTensorName(t.name)?.siteKey ?? '') as number) >= n).map((t) => t.name);
      const left = methodOf(dropped).tensors(dropped as never, enc, adapterName).map((t) => t.name);
      if (kept.join(',') !== left.join(',')) return `task ${name}: AdapterDrop of its ${methodOf(named.config).id} adapter is not the same adapter with layers 0..${n - 1} left out; serve it on its own TaskModel`;
      config = dropped;
    }
  } else config = m.adapter;
  const s = methodOf(config).structure(config as never);
  if ('unsupported' in s) return `task ${name} cannot share a mixed batch: ${s.unsupported}; serve it on its own TaskModel`;
  return { config, name: adapterName, tensors: methodOf(config).tensors(config as never, enc, adapterName) };
}

/** The adapter a composition runs when it is one adapter (a name, or a Stack of one), else undefined. */
function singleAdapter(c: Composition): string | undefined {
  if (typeof c === 'string') return c;
  return c.type === 'Stack' && c.children.length === 1 ? singleAdapter(c.children[0] as Composition) : undefined;
}

/** The layer of every sub-layer and projection site, by key. */
function siteLayers(enc: BaseModel['encoder']): Map<string, number> {
  return new Map([...enc.sites.sublayers, ...enc.sites.linears].map((s) => [s.key, s.layer]));
}

/** The logits of each head branch a graph builds. */
type BranchOutputs = Partial<Record<HeadBranch, Value>>;

/** A session and the outputs it computes. */
interface Built {
  readonly session: Session;
  readonly outputs: BranchOutputs;
}

/** Tasks that share stacks: same method structure. */
interface Group {
  readonly key: string;
  /** A config whose hooks cover every task of the group (`leave_out` = what all tasks leave out). */
  readonly config: MethodConfig;
  /** The group's tensors (adapter name `stack`), each with the largest shape over the group's tasks. */
  readonly tensors: readonly AdapterTensor[];
  /** Positions the group adds (prefix keys, prompt tokens: the largest count over its tasks), each example masking those its task lacks. */
  readonly positions: Readonly<Partial<Record<PositionKind, number>>>;
}

/** One stacked input: its name, the shape of one task's row, and a task's values for it. */
interface StackSpec {
  readonly name: string;
  readonly row: readonly number[];
  readonly source: (m: TaskModel) => HostTensor<'float32'> | undefined;
  /** Fill of a task without this tensor. */
  readonly neutral: number;
  /** Whether a task tensor of the row's exact shape may live in the stack (not for derived rows). */
  readonly bind: boolean;
}

/** One head branch's layout: the largest output count of its tasks, and 2 when some task of it has a two-layer head. */
interface BranchLayout {
  readonly outputs: number;
  readonly layers: 1 | 2;
}

/** What, when unchanged, lets the session be reused. */
interface Layout {
  /** The head branches some loaded task runs in (see heads/mixed.ts). */
  readonly heads: Readonly<Partial<Record<HeadBranch, BranchLayout>>>;
  /** The sentence-level heads' poolings (several: each example's is selected by its task's `head.pool.<pooling>` gate). */
  readonly poolings: readonly HeadPooling[];
  /** Base weight names some task trains (layer norms), stacked per task. */
  readonly perTask: readonly string[];
  readonly groups: readonly Group[];
  /** Layer where the fan-out copies rows (the lowest layer any task acts in); undefined: some task acts before layer 0. */
  readonly fanoutLayer: number | undefined;
}

const layoutKey = (l: Layout) => JSON.stringify([HEAD_BRANCHES.map((b) => l.heads[b] ?? null), l.poolings, l.perTask, l.fanoutLayer ?? null, l.groups.map((g) => [g.key, g.config.leave_out, g.tensors.map((t) => [t.name, t.shape]), g.positions])]);

/** The stack of a group's per-example position masks (see {@link MethodContext.positions}). */
const positionsKey = (group: number, kind: PositionKind) => `g${group}.positions.${kind}`;

/** The structure key of the adapter a task shares batches with ({@link sharedAdapterOf}'s config). */
function structureKey(config: MethodConfig): string | undefined {
  const s = methodOf(config).structure(config as never);
  return 'key' in s ? s.key : undefined;
}

/** Whether a shared adapter's hooks average over the positions of a row (gates). */
function averagesPositions(config: MethodConfig | undefined): boolean {
  return config !== undefined && (methodOf(config).averagesPositions?.(config as never) ?? false);
}

/** The positions a shared adapter adds (none without one). */
export function positionsOf(config: MethodConfig | undefined): Partial<Record<PositionKind, number>> {
  return config !== undefined ? { ...methodOf(config).positions?.(config as never) } : {};
}

/**
 * Why an adapter with `config` could not share the rows of one batch with the adapters of `others`
 * because of the positions they add, or undefined: prompt tokens laid out otherwise than another
 * task's prompt (one sequence layout per batch), or prompt tokens beside gates that average over
 * every position of a row (UniPELT's). Mixed-task serving and training both ask this.
 */
export function positionsMixIssue(config: MethodConfig, others: readonly { readonly name: string; readonly model: TaskModel; readonly config: MethodConfig }[], enc: BaseModel['encoder']): string | undefined {
  const key = structureKey(config);
  const describe = (e: { name: string; model: TaskModel }) => `task ${e.name} (${describeMode(e.model.mode, enc)})`;
  if (positionsOf(config).prompt !== undefined) {
    const other = others.find((e) => positionsOf(e.config).prompt !== undefined && structureKey(e.config) !== key);
    if (other) return `it joins prompt tokens otherwise than ${describe(other)}, and the rows of one batch share one sequence layout`;
    const gated = others.find((e) => averagesPositions(e.config));
    if (gated) return `its prompt tokens would join the rows of ${describe(gated)}, whose gates average over every position of a row`;
  }
  if (averagesPositions(config)) {
    const prompted = others.find((e) => positionsOf(e.config).prompt !== undefined);
    if (prompted) return `its gates average over every position of a row (padding included, as AdapterHub's), and the prompt tokens of ${describe(prompted)} join the rows of a mixed batch`;
  }
  return undefined;
}

/** The stack key of a task's adapter tensor: `<group>.<site>.<param>`. */
function stackKey(group: number, tensorName: string): string {
  const p = parseAdapterTensorName(tensorName);
  if (!p) fail('GRAPH_ERROR', `not an adapter tensor name: ${tensorName}`);
  return `g${group}.${p.siteKey}.${p.param}`;
}

/** Serves many adapter tasks from one base in mixed-task batches. */
export class MultiTaskModel {
  private readonly entries: Entry[] = [];
  /** The session of the current layout (one build for calls that overlap). */
  private readonly slot = new SessionSlot<Built>();
  private layout?: Layout;
  private stacks = new Map<string, HostTensor<'float32'>>();
  private specs: StackSpec[] = [];
  /** Rows each stack has room for. */
  private capacity = 0;

  /** The int8 outlier guard's choices, once measured on the first batch (int8 only). */
  private readonly guard = new AsyncOnce<FrozenPlan>();

  /**
   * `frozenPrecision: 'int8'` runs the base's frozen matmuls in int8 under the outlier guard, which
   * measures them on the first batch (see train/frozen-precision.ts). `threads` and `spinning` are
   * the session's, as for a TaskModel (`spinning: false` when other sessions take turns on the same cores).
   */
  constructor(readonly base: BaseModel, private readonly o: Pick<TaskModelOptions, 'threads' | 'spinning' | 'frozenPrecision' | 'int8Tolerance' | 'onFrozenPlan'> = {}) {
    if (o.frozenPrecision !== undefined) checkFrozenPrecision(o.frozenPrecision);
    if (o.int8Tolerance !== undefined) checkInt8Tolerance(o.int8Tolerance);
  }

  /** The int8 outlier guard's choices (undefined before the first batch, and with fp32). */
  get frozenPlan(): FrozenPlan | undefined {
    return this.guard.current;
  }

  /**
   * Layer where {@link predict}'s fan-out copies rows: below it every distinct input runs once.
   * Undefined with no task loaded, or when a task acts before layer 0 (the inputs are then repeated).
   */
  get fanoutLayer(): number | undefined {
    return this.layout?.fanoutLayer;
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

  /**
   * Adds a task; it must be trained on this base in a mode that keeps the base frozen, with an
   * adapter that can share a batch, and have a classification, regression, multi-label or tagging
   * head.
   * @throws AdapterkitError ADAPTER_MISMATCH for a task of another base object; BAD_CONFIG when
   *   it is loaded already or cannot join (the message of {@link joinIssue}).
   */
  add(name: string, model: TaskModel): void {
    if (model.base !== this.base) fail('ADAPTER_MISMATCH', `task ${name} was built on another base object`);
    if (this.entries.some((e) => e.name === name)) fail('BAD_CONFIG', `task ${name} is already loaded`);
    const adapter = sharedAdapterOf(name, model);
    const why = this.joinIssue(name, model, adapter);
    if (why) fail('BAD_CONFIG', why);
    this.entries.push({ name, model, ...(typeof adapter === 'object' ? { adapter } : {}) });
    this.restack();
  }

  /**
   * Why a task of this base could not join the mixed batches of the tasks loaded now (what
   * {@link add} refuses it for), or undefined: an extractive-QA head, trained base weights other
   * than layer norms, an adapter that cannot be shared ({@link sharedAdapterOf}), or one that
   * cannot share the batch layout of the loaded tasks ({@link mixIssue}).
   */
  joinIssue(name: string, model: TaskModel, shared: SharedAdapter | string | undefined = sharedAdapterOf(name, model)): string | undefined {
    const kind = model.head.kind;
    if (!MIXED_HEAD_KINDS.includes(kind)) {
      const why = kind === 'qa' ? 'a QA head\'s outputs are answer spans, decoded from start and end logits over the windows of a context, not one answer per row' : `${kind} heads do not mix`;
      return `task ${name} has a ${kind} head; mixed-task batches serve ${MIXED_HEAD_KINDS.join(', ')} heads (${why}): run it on its own TaskModel`;
    }
    const big = model.trainable.filter((t) => t.origin === 'base' && this.base.encoder.weightSpecs.find((s) => s.name === t.name)?.role !== 'norm');
    if (big.length) return `task ${name} trained base weights other than layer norms (${big[0]?.name} ...); only adapter, layer-norm and head-only tasks share one base`;
    if (typeof shared === 'string') return shared;
    const issue = this.mixIssue(model, shared);
    return issue ? `task ${name} cannot share a mixed batch: ${issue}; serve it on its own TaskModel` : undefined;
  }

  /**
   * Why an adapter task could not join the mixed batches of the tasks loaded now, or
   * undefined: its method's structure cannot be mixed (see `AdapterMethod.structure`), or it joins
   * prompt tokens laid out otherwise than a loaded prompt task (one sequence layout per batch).
   * `shared` is the task's {@link sharedAdapterOf}, when the caller has it already.
   */
  mixIssue(model: TaskModel, shared: SharedAdapter | string | undefined = sharedAdapterOf('this task', model)): string | undefined {
    if (typeof shared !== 'object') return undefined; // no adapter, or one that cannot be shared at all (sharedAdapterOf says why, its structure's reason included)
    const adapters = this.entries.flatMap((e) => (e.adapter ? [{ name: e.name, model: e.model, config: e.adapter.config }] : []));
    return positionsMixIssue(shared.config, adapters, this.base.encoder);
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

  /** The group index of each task (undefined outside adapter mode), and the groups. */
  private grouping(): { groups: Group[]; of: (m: TaskModel) => number | undefined } {
    const byKey = new Map<string, { configs: MethodConfig[]; models: TaskModel[]; tensors: (readonly AdapterTensor[])[] }>();
    for (const { model, adapter } of this.entries) {
      if (!adapter) continue;
      const s = methodOf(adapter.config).structure(adapter.config as never) as { key: string };
      const g = byKey.get(s.key) ?? { configs: [], models: [], tensors: [] };
      g.configs.push(adapter.config);
      g.models.push(model);
      g.tensors.push(adapter.tensors);
      byKey.set(s.key, g);
    }
    const groups: Group[] = [];
    const index = new Map<TaskModel, number>();
    for (const [key, { configs, models, tensors: own }] of byKey) {
      const first = configs[0] as MethodConfig;
      const leaveOut = first.leave_out.filter((l) => configs.every((c) => c.leave_out.includes(l)));
      const config = { ...first, leave_out: leaveOut } as MethodConfig;
      const method = methodOf(config);
      // The group's tensors, each as large as the largest task's (per tensor: sizes may differ per site).
      const largest = new Map<string, number[]>();
      for (const ts of own) {
        for (const t of ts) {
          const k = stackKey(0, t.name);
          const cur = largest.get(k);
          largest.set(k, cur ? cur.map((d, i) => Math.max(d, t.shape[i] as number)) : [...t.shape]);
        }
      }
      const tensors = method.tensors(config as never, this.base.encoder, 'stack').map((t) => ({ ...t, shape: largest.get(stackKey(0, t.name)) ?? t.shape }));
      const positions: Partial<Record<PositionKind, number>> = {};
      for (const c of configs) for (const [k, n] of Object.entries(positionsOf(c)) as [PositionKind, number][]) positions[k] = Math.max(positions[k] ?? 0, n);
      for (const m of models) index.set(m, groups.length);
      groups.push({ key, config, tensors, positions });
    }
    return { groups, of: (m) => index.get(m) };
  }

  private wantedLayout(): Layout {
    const heads: Partial<Record<HeadBranch, BranchLayout>> = {};
    const perTask = new Set<string>();
    const poolings = new Set<HeadPooling>();
    for (const { model } of this.entries) {
      const b = headBranch(model.head);
      const h = heads[b];
      heads[b] = { outputs: Math.max(h?.outputs ?? 1, headOutputs(model.head)), layers: h?.layers === 2 || model.head.layers === 2 ? 2 : 1 };
      if (b === 'sentence') poolings.add(headPooling(model.head));
      for (const t of model.trainable) if (t.origin === 'base') perTask.add(t.name);
    }
    const enc = this.base.encoder;
    const widths = new Set([...poolings].map((p) => pooledWidth(p, enc)));
    if (widths.size > 1) fail('BAD_CONFIG', `tasks with head poolings ${[...poolings].join(' and ')} read vectors of different widths on the ${enc.family} base (${[...widths].join(' vs ')}); they cannot share a mixed-task batch`);
    const groups = this.grouping().groups;
    return { heads, poolings: HEAD_POOLINGS.filter((p) => poolings.has(p)), perTask: [...perTask].sort(), groups, fanoutLayer: this.lowestLayer(groups, perTask) };
  }

  /** The lowest layer where a group's tensors or a per-task layer norm act (capped at the last layer); undefined when one acts before layer 0. */
  private lowestLayer(groups: readonly Group[], perTask: ReadonlySet<string>): number | undefined {
    const enc = this.base.encoder;
    const layers = siteLayers(enc);
    let lowest = enc.numLayers - 1;
    for (const g of groups) for (const t of g.tensors) lowest = Math.min(lowest, layers.get(parseAdapterTensorName(t.name)?.siteKey ?? '') ?? -1);
    for (const name of perTask) lowest = Math.min(lowest, enc.weightSpecs.find((s) => s.name === name)?.layer ?? -1);
    return lowest < 0 ? undefined : lowest;
  }

  /** The stacks a layout needs: name, shape of one task's row, and where a task's values come from. */
  private stackSpecs(layout: Layout): StackSpec[] {
    const specs: StackSpec[] = [];
    const { of } = this.grouping();
    // each task's adapter tensors by name (a task with AdapterDrop has none in the dropped layers)
    const mine = new Map(this.entries.map((e) => [e.model, new Set(e.adapter?.tensors.map((t) => t.name))]));
    const adapterName = new Map(this.entries.map((e) => [e.model, e.adapter?.name]));
    const configOf = new Map(this.entries.map((e) => [e.model, e.adapter?.config]));
    layout.groups.forEach((g, gi) => {
      for (const t of g.tensors) {
        const key = stackKey(gi, t.name);
        const p = parseAdapterTensorName(t.name) as NonNullable<ReturnType<typeof parseAdapterTensorName>>;
        const source = (m: TaskModel) => {
          const own = `adapters.${adapterName.get(m) ?? ''}.${p.siteKey}.${p.param}`;
          return of(m) === gi && mine.get(m)?.has(own) ? m.owned.get(own) : undefined;
        };
        specs.push({ name: key, row: t.shape.length === 1 ? [1, ...t.shape] : [...t.shape], source, neutral: t.neutral, bind: true });
      }
      // 1 for each position the task adds, 0 for the rest of the group's (and for tasks outside the group): the masks of the added positions
      for (const [kind, n] of Object.entries(g.positions) as [PositionKind, number][]) {
        const source = (m: TaskModel) => {
          const p = of(m) === gi ? positionsOf(configOf.get(m))[kind] ?? 0 : 0;
          return p ? f32([1, p], new Float32Array(p).fill(1)) : undefined;
        };
        specs.push({ name: positionsKey(gi, kind), row: [1, n], source, neutral: 0, bind: false });
      }
    });
    for (const name of layout.perTask) {
      const baseT = this.base.weights.get(name) as HostTensor<'float32'>;
      specs.push({ name, row: [1, ...baseT.shape], source: (m) => m.owned.get(name) ?? baseT, neutral: 0, bind: true });
    }
    const one = f32([1], new Float32Array([1]));
    const sentence = (m: TaskModel) => headBranch(m.head) === 'sentence';
    if (layout.poolings.length > 1) {
      // 1 for the task's pooling, 0 for the others: each example's head reads its task's pooling
      for (const p of layout.poolings) specs.push({ name: `head.pool.${p}`, row: [1], source: (m) => (sentence(m) && headPooling(m.head) === p ? one : undefined), neutral: 0, bind: false });
    }
    // each branch's head stacks: row t holds task t's head when it runs in that branch
    for (const b of HEAD_BRANCHES) {
      const h = layout.heads[b];
      if (!h) continue;
      const p = BRANCH_PREFIX[b];
      const mine = (m: TaskModel) => headBranch(m.head) === b;
      const D = headInputWidth((this.entries.find((e) => mine(e.model)) as Entry).model.head, this.base.encoder); // one width per branch (wantedLayout checks the poolings')
      const own = (n: string) => (m: TaskModel) => (mine(m) ? m.owned.get(n) : undefined);
      if (h.layers === 2) {
        specs.push({ name: `${p}head.dense.weight`, row: [D, D], source: own('head.dense.weight'), neutral: 0, bind: true });
        specs.push({ name: `${p}head.dense.bias`, row: [1, D], source: own('head.dense.bias'), neutral: 0, bind: true });
        // 1 for two-layer heads; 0 lets one-layer heads pass their input through unchanged
        specs.push({ name: `${p}head.gate`, row: [1, 1], source: (m) => (mine(m) && m.head.layers === 2 ? one : undefined), neutral: 0, bind: false });
      }
      specs.push({ name: `${p}head.out.weight`, row: [D, h.outputs], source: own('head.out.weight'), neutral: 0, bind: true });
      specs.push({ name: `${p}head.out.bias`, row: [1, h.outputs], source: own('head.out.bias'), neutral: 0, bind: true });
    }
    return specs;
  }

  /**
   * Brings the stacks in line with the loaded tasks. Each stack has room for `capacity` tasks
   * (unused rows are never gathered), so adding a task writes one row instead of copying every
   * stack; a new layout (a larger bottleneck or label count, another group...) or a full stack
   * reallocates. After a removal at `from`, the later rows move up one place. A task tensor whose
   * shape equals its row (the usual case: same sizes across a group) is re-pointed at that row,
   * so the stack holds the only copy of it.
   */
  private restack(from = this.entries.length - 1, removed = false): void {
    const layout = this.wantedLayout();
    const n = this.entries.length;
    const newLayout = !this.layout || layoutKey(layout) !== layoutKey(this.layout);
    const rebuild = newLayout || n > this.capacity;
    if (newLayout) {
      void this.slot.drop(); // a new layout needs another session; the old one is released once its build and runs are done
      this.layout = layout;
    }
    if (rebuild) {
      this.capacity = n + Math.max(4, Math.ceil(n / 8));
      this.specs = this.stackSpecs(layout);
      from = 0;
    } else this.specs = this.stackSpecs(layout); // same shapes; sources follow the current grouping
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
        // After a removal the source may be the next row of this same stack: copy it before overwriting.
        const values = src && src.data.buffer === data.buffer ? f32(src.shape, Float32Array.from(src.data)) : src;
        row.fill(values ? 0 : spec.neutral);
        if (values) copyPadded(values, row, spec.row.length === 1 ? 1 : (spec.row[spec.row.length - 2] as number), spec.row[spec.row.length - 1] as number);
        if (spec.bind && src && src.data.length === per && [...model.owned.values()].includes(src)) {
          const name = [...model.owned].find(([, v]) => v === src)?.[0] as string;
          (binds[i] as Map<string, Float32Array>).set(name, row);
        }
      }
      if (removed) data.subarray(n * per, (n + 1) * per).fill(spec.neutral);
    }
    this.stacks = stacks;
    for (let i = from; i < n; i++) {
      const model = (this.entries[i] as Entry).model;
      const b = binds[i] as Map<string, Float32Array>;
      // A tensor left out (padded into a wider row) that still views an old stack gets its own array.
      const ownCopies = new Map<string, Float32Array>();
      for (const [k, v] of model.owned) if (!b.has(k) && v.data.byteLength !== v.data.buffer.byteLength) ownCopies.set(k, new Float32Array(v.data.length));
      model.rebind(ownCopies);
      model.rebind(b, { copy: false }); // the rows hold the values already
    }
  }

  /** The graph of the current layout and its outputs: per head branch, logits [B, C] (sentence) or [B, T, C] (token). */
  private build(frozen?: FrozenBuild): { graph: Graph; outputs: BranchOutputs } {
    const layout = this.layout as Layout;
    const g = new Graph('multi-task');
    const inputs = new Map<string, Value>();
    for (const [name, t] of this.stacks) inputs.set(name, g.input(`stack.${name}`, 'float32', ['tasks', ...t.shape.slice(1)]));
    const at = layout.fanoutLayer;
    const fanRows = at === undefined ? undefined : g.input('fanout_rows', 'int64', ['rows']);
    const taskIds = g.input('task_ids', 'int64', [fanRows ? 'rows' : 'batch']);
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
    const units = new Map<number, Value>();
    const unit = (d: number) => {
      let v = units.get(d);
      if (!v) units.set(d, (v = g.constant(`unit_scale_${d}`, f32([d], new Float32Array(d).fill(1)))));
      return v;
    };
    const groupHooks = layout.groups.map((grp, gi) => {
      const w = (name: string) => pick(stackKey(gi, name));
      const ctx: MethodContext = { w, gathered: true, dropout: (x) => x, layerNorm: contextLayerNorm(w, true, unit), positions: (kind) => pick(positionsKey(gi, kind)) };
      return methodOf(grp.config).hooks(grp.config as never, this.base.encoder, 'stack', ctx);
    });
    const perTask = new Set(layout.perTask);
    const perTaskNorm = contextLayerNorm(pick, true, unit);
    const hooks = composeHooks(groupHooks, (x, prefix, eps, weight) => {
      const w = `${prefix}.weight`;
      const b = this.base.weights.has(`${prefix}.bias`) ? `${prefix}.bias` : undefined; // ModernBERT's norms have a gain only
      return perTask.has(w) ? perTaskNorm(x, w, b, eps) : contextLayerNorm(weight, false, unit)(x, w, b, eps);
    });
    // the fan-out: output row i continues from row fanout_rows[i] of the layer's input (a Parallel over tasks)
    const layerInput = fanRows && ((l: number, x: LayerInput): LayerInput => (l !== at ? x : g.scope('fanout', () => ({
      hidden: gather(x.hidden, fanRows, 0), maskBias: gather(x.maskBias, fanRows, 0), attentionMask: gather(x.attentionMask, fanRows, 0),
    }))));
    const eg = buildEncoderGraph(this.base.encoder, this.base.weights, { graph: g, hooks: layerInput ? { ...hooks, layerInput } : hooks, ...(frozen ? { frozenWeight: frozenWeightHook(frozen) } : {}) });
    const outputs: BranchOutputs = {};
    const gate = (b: HeadBranch) => (layout.heads[b]?.layers === 2 ? pick(`${BRANCH_PREFIX[b]}head.gate`) : undefined); // [B, 1, 1]
    if (layout.heads.sentence) {
      outputs.sentence = g.scope('head', () => {
        const [first, ...more] = layout.poolings.map((p) => (layout.poolings.length > 1 ? mul(pick(`head.pool.${p}`), pooledInput(p, eg.outputs, eg.attentionMask)) : pooledInput(p, eg.outputs, eg.attentionMask)));
        const pooled = more.reduce((a, b) => add(a, b), first as Value); // [B, D]
        return squeeze(buildGatheredHead(unsqueeze(pooled, [1]), pick, gate('sentence')), [1]); // [B, C]
      });
    }
    if (layout.heads.token) {
      // every position of the last hidden state (a prompt's positions are taken out again by its hooks)
      outputs.token = g.scope('tokens_head', () => buildGatheredHead(eg.outputs.hidden, (n) => pick(`${BRANCH_PREFIX.token}${n}`), gate('token'))); // [B, T, C]
    }
    return { graph: g, outputs };
  }

  /**
   * The session of the current layout, built on first use (the int8 guard measuring on `feeds`
   * first, once); calls that arrive while it is being built share that build.
   */
  private async buildSession(feeds: Record<string, HostTensor>): Promise<Built> {
    const plan = this.o.frozenPrecision === 'int8' ? await this.guard.get(() => runFrozenGuard({
      build: (frozen) => this.build(frozen).graph, feeds, session: { threads: this.o.threads, spinning: this.o.spinning },
      specs: frozenMatmulSpecs(this.base.encoder, () => false), tolerance: this.o.int8Tolerance ?? DEFAULT_INT8_TOLERANCE,
    }), this.o.onFrozenPlan) : undefined;
    const b = this.build(plan);
    const session = await Session.create(b.graph, { outputs: HEAD_BRANCHES.flatMap((k) => b.outputs[k] ?? []), threads: this.o.threads, spinning: this.o.spinning });
    return { session, outputs: b.outputs };
  }

  /**
   * Logits for a mixed batch: `tasks[i]` names the task of output row i, which reads input row
   * `o.rows[i]` of `batch` (default: row i). Rows asked of several tasks run once below
   * {@link fanoutLayer} (see the module comment). Returns, per output row, what the task's own
   * `TaskModel.predict` gives for that input row: a sentence-level task's n logits (n = its labels,
   * 1 for regression); a tagging task's [L, n] logits (flat, position after position), L being
   * the input row's own positions (`batch.lengths[row]`, padding left out) and n its tags.
   *
   * @example
   * ```ts
   * multi.add('spam', spam); // classification: ham, spam
   * multi.add('pos', pos); // tagging: O, A, N
   * const batch = multi.encode(['the big cat'], 32); // [CLS] the big cat [SEP]: 5 positions
   * const [s, t] = await multi.predict(batch, ['spam', 'pos'], { rows: [0, 0] });
   * s!.length; // 2
   * t!.length; // 15: 5 positions x 3 tags; t!.subarray(3 * 3, 4 * 3) are the logits at "cat"
   * ```
   */
  async predict(batch: EncodedBatch, tasks: readonly string[], o: { rows?: readonly number[] } = {}): Promise<Float32Array[]> {
    let rows = o.rows ?? tasks.map((_, i) => i);
    if (o.rows === undefined && tasks.length !== batch.batchSize) fail('BAD_DATA', `batch has ${batch.batchSize} rows but ${tasks.length} task names`);
    if (rows.length !== tasks.length) fail('BAD_DATA', `${tasks.length} task names but ${rows.length} input rows to read (one per output row)`);
    rows.forEach((r, i) => {
      if (!Number.isInteger(r) || r < 0 || r >= batch.batchSize) fail('BAD_DATA', `rows[${i}] = ${r} is not a row of the batch (0 to ${batch.batchSize - 1})`);
    });
    const ids = tasks.map((t) => {
      const i = this.entries.findIndex((e) => e.name === t);
      if (i < 0) fail('NOT_FOUND', `task ${t} is not loaded (loaded: ${this.names.join(', ') || 'none'})`);
      return i;
    });
    const inGraph = (this.layout as Layout).fanoutLayer !== undefined;
    if (!inGraph && o.rows !== undefined) {
      batch = selectRows(batch, rows); // a task acts before layer 0: every output row runs the whole encoder
      rows = ids.map((_, i) => i);
    }
    const feeds: Record<string, HostTensor> = { ...encoderFeeds(batch, this.base.encoder.usesTokenTypes), task_ids: i64([ids.length], ids) };
    if (inGraph) feeds.fanout_rows = i64([rows.length], [...rows]);
    for (const [name, t] of this.stacks) feeds[`stack.${name}`] = t;
    const { out, outputs } = await this.slot.use(() => this.buildSession(feeds), async ({ session, outputs }) => ({ out: await session.run(feeds), outputs }));
    const logits = (b: HeadBranch) => out[(outputs[b] as Value).name] as HostTensor;
    return ids.map((i, r) => {
      const head = (this.entries[i] as Entry).model.head;
      const n = headOutputs(head);
      const b = headBranch(head);
      const t = logits(b);
      const data = t.data as Float32Array;
      const C = t.shape[t.shape.length - 1] as number;
      if (b === 'sentence') return data.slice(r * C, r * C + n); // [n] of [B, C]
      const T = t.shape[1] as number;
      const L = batch.lengths[rows[r] as number] as number;
      const own = new Float32Array(L * n); // [L, n] of [B, T, C]
      for (let p = 0; p < L; p++) own.set(data.subarray((r * T + p) * C, (r * T + p) * C + n), p * n);
      return own;
    });
  }

  /** Encodes inputs with the base's tokenizer. */
  encode(inputs: readonly TextInput[], maxLength: number): EncodedBatch {
    return this.base.tokenizer.encode(inputs, maxLength);
  }

  /** Releases the session. */
  async dispose(): Promise<void> {
    await this.slot.drop();
  }
}

/** The rows `rows` of an encoded batch (repeats allowed), padded to the batch's length. */
function selectRows(b: EncodedBatch, rows: readonly number[]): EncodedBatch {
  const T = b.seqLen;
  const pick = (a: Int32Array) => {
    const out = new Int32Array(rows.length * T);
    rows.forEach((r, i) => out.set(a.subarray(r * T, (r + 1) * T), i * T));
    return out;
  };
  return {
    batchSize: rows.length, seqLen: T, inputIds: pick(b.inputIds), attentionMask: pick(b.attentionMask), tokenTypeIds: pick(b.tokenTypeIds),
    lengths: rows.map((r) => b.lengths[r] as number), truncated: rows.map((r) => b.truncated[r] ?? false),
  };
}

/** Copies a [rows, cols'] tensor into a zero [rows, cols] buffer (cols' <= cols) or [rows', cols] (rows' <= rows). */
function copyPadded(t: HostTensor<'float32'> | undefined, out: Float32Array, rows: number, cols: number): void {
  if (!t) return;
  const [r, c] = t.shape.length === 1 ? [1, t.shape[0] as number] : [t.shape[0] as number, t.shape[1] as number];
  if (r > rows || c > cols) fail('GRAPH_ERROR', `cannot pad [${r}, ${c}] into [${rows}, ${cols}]`);
  for (let i = 0; i < r; i++) out.set(t.data.subarray(i * c, (i + 1) * c), i * cols);
}
