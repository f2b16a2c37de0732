/**
 * Mixed-task training: one training graph on one frozen base in which every example of a batch
 * runs its own task's adapter and head, and one run gives each task the gradient of its own
 * tensors.
 *
 * The layout is that of {@link MultiTaskModel} (src/train/multi-task-model.ts): tasks whose
 * adapters have the same structure form a group; each group's tensors are stacked along a leading
 * `tasks` axis, a per-example `task_ids` input gathers each example's rows inside the graph and the
 * method's own hooks run on the gathered `[B, …]` values (MethodContext `gathered`). Here the
 * stacks are trainable parameters: the gradient of a stack is the scatter-add of its gathered
 * rows' gradients, so row t of it is exactly the gradient of task t's tensor (tensors padded into
 * a larger row get zeros in the padding, which is dropped). Trained layer norms are per-task
 * stacks too, as in inference.
 *
 * The loss: the sum over examples of each example's own head loss, over a shared denominator,
 * `L = (1/B) Σ_i ℓ_{task(i)}(x_i)`. Task t's tensors appear only in its own examples' terms, so
 * the gradient of task t is `(n_t/B) ∇ mean_{i ∈ t} ℓ_t`, that of its own single-task model on its
 * sub-batch of n_t examples times n_t/B: exactly checkable (test/train/multi-task-train.test.ts).
 *
 * Heads: single-label classification heads only (any label counts, one or two layers, one
 * pooling shared by every task). Each example's logits are padded to the largest label count and
 * its task's missing classes get a large negative logit, so its softmax and cross-entropy are
 * those over its own classes alone (the padded classes' probabilities are exactly 0 in float32).
 * Token heads (tagging, QA), regression and multi-label heads are refused: their losses live on
 * other shapes ([B, T, C] positions, scores), and mixing them in one batch is not in this slice.
 */
import { fail } from '../errors.js';
import { Graph, Session, add, dropout as dropoutOp, f32, gather, gradients, i64, linear, logSoftmax, mul, neg, reduceSum, squeeze, sub, tanh, unsqueeze, bool, type HostTensor, type Value } from '../engine/index.js';
import { composeHooks, contextLayerNorm, type AdapterTensor, type MethodContext } from '../adapters/method.js';
import { methodOf, type MethodConfig } from '../adapters/methods/index.js';
import { parseAdapterTensorName } from '../adapters/names.js';
import { headPooling } from '../heads/head.js';
import { pooledInput, type HeadPooling } from '../heads/pooling.js';
import type { BaseModel } from '../models/base.js';
import { buildEncoderGraph } from '../models/build.js';
import type { EncodedBatch } from '../models/tokenizers/index.js';
import { describeMode } from './modes.js';
import { encoderFeeds, type TaskModel } from './task-model.js';
import { DEFAULT_INT8_TOLERANCE, frozenMatmulSpecs, frozenWeightHook, runFrozenGuard, type FrozenBuild, type FrozenOptions, type FrozenPlan } from './frozen-precision.js';

/** A logit far below any real one: exp(MASKED - max) is exactly 0 in float32. */
const MASKED = -1e9;

/** One stacked parameter: the shape of one task's row and each task's tensor name in it (undefined: neutral fill). */
interface Stack {
  readonly name: string;
  readonly row: readonly number[];
  readonly neutral: number;
  /** Per task: the name of the task's own tensor that lives in this row, if any. */
  readonly sources: readonly (string | undefined)[];
  /** Per task: whether the row's values come from the base (a layer norm the task does not train). */
  readonly fromBase?: string;
  readonly tensor: HostTensor<'float32'>;
}

/** What one mixed step gives: the loss and, per task, one gradient per trainable tensor (in `model.trainable` order). */
export interface MixedStepResult {
  /** `(1/B) Σ_i ℓ_i`, see the module comment. */
  readonly loss: number;
  /** Sum of each task's examples' losses (for per-task logging: divide by its count). */
  readonly taskLossSums: readonly number[];
  /** Examples of each task in the batch. */
  readonly taskCounts: readonly number[];
  /** Per task, the gradients of its trainable tensors (zeros for a task without examples in the batch). */
  readonly grads: readonly Float32Array[][];
}

/** The kind of head a mixed-task batch trains, and why a task cannot join one (undefined: it can). */
export function mixedTrainingRefusal(name: string, model: TaskModel, base: BaseModel): string | undefined {
  if (model.base !== base) return `task ${name} was built on another base object`;
  const h = model.head;
  if (h.kind !== 'classification') {
    return `task ${name} has a ${h.kind} head; mixed-task training takes single-label classification heads only (train ${isTokenKind(h.kind) ? 'token-level' : h.kind} tasks on their own)`;
  }
  const m = model.mode;
  if (m.kind !== 'adapters') return `task ${name} trains in mode ${m.kind}; mixed-task training takes adapter tasks (mode adapters) only`;
  if (m.adapter === undefined) return `task ${name} holds several adapters (${describeMode(m, base.encoder)}); mixed-task training takes one adapter per task`;
  const s = methodOf(m.adapter).structure(m.adapter);
  if ('unsupported' in s) return `task ${name} cannot share a mixed batch: ${s.unsupported}`;
  if (Object.keys(methodOf(m.adapter).positions?.(m.adapter) ?? {}).length) return `task ${name} adds prefix keys or prompt tokens (${describeMode(m, base.encoder)}); mixed-task training does not mask them per example yet (mixed-task serving does): train it on its own`;
  const big = model.trainable.find((t) => t.origin === 'base' && base.encoder.weightSpecs.find((x) => x.name === t.name)?.role !== 'norm');
  if (big) return `task ${name} trains base weights other than layer norms (${big.name}); only adapters, layer norms and heads train per task in a mixed batch`;
  return undefined;
}

function isTokenKind(k: string): boolean {
  return k === 'tagging' || k === 'qa';
}

/** The stack key of a task's adapter tensor: `g<group>.<site>.<param>`. */
function stackKey(group: number, tensorName: string): string {
  const p = parseAdapterTensorName(tensorName);
  if (!p) fail('GRAPH_ERROR', `not an adapter tensor name: ${tensorName}`);
  return `g${group}.${p.siteKey}.${p.param}`;
}

/** Copies `src` (shape `shape`, rank <= 2, or equal to the row) into the zero-filled `row` of shape `rowShape`, or back (`back`). */
function copyRow(src: Float32Array, shape: readonly number[], row: Float32Array, rowShape: readonly number[], back = false): void {
  if (src.length === row.length) {
    if (back) src.set(row);
    else row.set(src);
    return;
  }
  if (shape.length > 2) fail('BAD_CONFIG', `a tensor of shape [${shape.join(', ')}] cannot be padded into a row of [${rowShape.join(', ')}] (give tasks of the same method the same sizes)`);
  const [r, c] = shape.length === 1 ? [1, shape[0] as number] : [shape[0] as number, shape[1] as number];
  const cols = rowShape[rowShape.length - 1] as number;
  for (let i = 0; i < r; i++) {
    if (back) src.set(row.subarray(i * cols, i * cols + c), i * c);
    else row.set(src.subarray(i * c, (i + 1) * c), i * cols);
  }
}

/** Options of {@link MixedTaskTrainer}. */
export interface MixedTaskTrainerOptions {
  /** Hidden and attention dropout while training (default: the base's configuration); head dropout is each task head's own (they must agree). */
  readonly dropout?: number;
  /** Seed of the dropout masks. */
  readonly seed?: number;
  readonly threads?: number;
  /**
   * Precision of the frozen base's matmuls in the training graph (default fp32). With int8 the
   * outlier guard runs on the first mixed batch (see train/frozen-precision.ts); every task's
   * own model must have been created with the same precision (its dev scoring runs on it).
   */
  readonly frozen?: FrozenOptions;
}

/** Trains several adapter tasks in mixed batches on one base; see the module comment. */
export class MixedTaskTrainer {
  private session?: Session;
  private readonly stacks: Stack[] = [];
  private loss?: Value;
  private taskLoss?: Value;
  private gradValues: Value[] = [];
  private readonly outputs: number;
  private readonly pooling: HeadPooling;
  private readonly twoLayers: boolean;
  private readonly headDropout: number;
  private runs = 0;
  /** The step the session's dropout seeds start at (see {@link step}'s `o.step`). */
  private dropoutStep = 0;
  /** The int8 outlier guard's choices, once measured on the first batch. */
  private plan?: FrozenPlan;

  /**
   * @throws AdapterkitError BAD_CONFIG naming the task that cannot join (see {@link mixedTrainingRefusal}),
   *   tasks whose heads read different poolings or use different head dropout, or fewer than one task.
   */
  constructor(readonly base: BaseModel, readonly tasks: readonly { readonly name: string; readonly model: TaskModel }[], private readonly o: MixedTaskTrainerOptions = {}) {
    if (tasks.length === 0) fail('BAD_CONFIG', 'mixed-task training needs at least one task');
    const names = new Set<string>();
    for (const t of tasks) {
      if (names.has(t.name)) fail('BAD_CONFIG', `task ${t.name} is given twice`);
      names.add(t.name);
      const why = mixedTrainingRefusal(t.name, t.model, base);
      if (why) fail('BAD_CONFIG', why);
    }
    const first = (tasks[0] as { model: TaskModel }).model.head;
    this.pooling = headPooling(first);
    this.headDropout = first.dropout;
    for (const t of tasks) {
      if (headPooling(t.model.head) !== this.pooling) fail('BAD_CONFIG', `task ${t.name}'s head reads ${headPooling(t.model.head)} pooling, task ${tasks[0]?.name}'s ${this.pooling}: tasks of one mixed-task run share the head pooling`);
      if (t.model.head.dropout !== this.headDropout) fail('BAD_CONFIG', `task ${t.name}'s head dropout is ${t.model.head.dropout}, task ${tasks[0]?.name}'s ${this.headDropout}: tasks of one mixed-task run share the head dropout`);
    }
    const precision = o.frozen?.frozenPrecision ?? 'fp32';
    for (const t of tasks) {
      if (t.model.frozenPrecision !== precision) fail('BAD_CONFIG', `task ${t.name}'s model runs its frozen base in ${t.model.frozenPrecision}, the mixed-task trainer in ${precision}: create every task's model with the trainer's frozen precision`);
    }
    this.outputs = Math.max(...tasks.map((t) => t.model.head.labels.length));
    this.twoLayers = tasks.some((t) => t.model.head.layers === 2);
    this.layoutStacks();
  }

  private layoutStacks(): void {
    const T = this.tasks.length;
    const enc = this.base.encoder;
    // groups of the same method structure
    const groups = new Map<string, number[]>();
    this.tasks.forEach((t, i) => {
      const c = (t.model.mode as { adapter: MethodConfig }).adapter;
      const key = (methodOf(c).structure(c) as { key: string }).key;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const add = (name: string, row: readonly number[], neutral: number, sources: (string | undefined)[], fromBase?: string) => {
      const per = row.reduce((a, b) => a * b, 1);
      this.stacks.push({ name, row, neutral, sources, ...(fromBase ? { fromBase } : {}), tensor: f32([T, ...row], new Float32Array(T * per)) });
    };
    this.groupConfigs = [];
    [...groups.values()].forEach((members, gi) => {
      const configs = members.map((i) => (this.tasks[i]?.model.mode as { adapter: MethodConfig }).adapter);
      const c0 = configs[0] as MethodConfig;
      const config = { ...c0, leave_out: c0.leave_out.filter((l) => configs.every((c) => c.leave_out.includes(l))) } as MethodConfig;
      const largest = new Map<string, number[]>();
      for (const i of members) {
        for (const t of (this.tasks[i] as { model: TaskModel }).model.adapterTensors) {
          const k = stackKey(0, t.name);
          const cur = largest.get(k);
          largest.set(k, cur ? cur.map((d, j) => Math.max(d, t.shape[j] as number)) : [...t.shape]);
        }
      }
      const tensors: AdapterTensor[] = methodOf(config).tensors(config as never, enc, 'stack');
      for (const t of tensors) {
        const shape = largest.get(stackKey(0, t.name)) ?? t.shape;
        const p = parseAdapterTensorName(t.name) as NonNullable<ReturnType<typeof parseAdapterTensorName>>;
        const sources = this.tasks.map((task, i) => {
          if (!members.includes(i)) return undefined;
          const n = `adapters.${task.model.adapterName}.${p.siteKey}.${p.param}`;
          return task.model.owned.has(n) ? n : undefined;
        });
        add(stackKey(gi, t.name), shape.length === 1 ? [1, ...shape] : [...shape], t.neutral, sources);
      }
      this.groupConfigs.push(config);
    });
    const perTask = [...new Set(this.tasks.flatMap((t) => t.model.trainable.filter((x) => x.origin === 'base').map((x) => x.name)))].sort();
    for (const name of perTask) {
      const b = this.base.weights.get(name) as HostTensor<'float32'>;
      add(name, [1, ...b.shape], 0, this.tasks.map((t) => (t.model.owned.has(name) ? name : undefined)), name);
    }
    const D = (this.tasks[0] as { model: TaskModel }).model.owned.get('head.out.weight')?.shape[0] as number;
    const heads = (n: string) => this.tasks.map((t) => (t.model.owned.has(n) ? n : undefined));
    if (this.twoLayers) {
      add('head.dense.weight', [D, D], 0, heads('head.dense.weight'));
      add('head.dense.bias', [1, D], 0, heads('head.dense.bias'));
    }
    add('head.out.weight', [D, this.outputs], 0, heads('head.out.weight'));
    add('head.out.bias', [1, this.outputs], 0, heads('head.out.bias'));
  }

  private groupConfigs: MethodConfig[] = [];

  /** Copies every task's current tensors into the stacks (the optimizer updates the tasks' own arrays). */
  private fill(): void {
    for (const s of this.stacks) {
      const per = s.row.reduce((a, b) => a * b, 1);
      this.tasks.forEach((t, i) => {
        const row = s.tensor.data.subarray(i * per, (i + 1) * per);
        const src = s.sources[i];
        const own = src ? t.model.owned.get(src) : undefined;
        row.fill(own ? 0 : s.neutral);
        if (own) copyRow(own.data, own.shape, row, s.row);
        else if (s.fromBase) row.set((this.base.weights.get(s.fromBase) as HostTensor<'float32'>).data);
      });
    }
  }

  /** With an int8 frozen base: the kernel the outlier guard chose for each frozen matmul (after the first step). */
  get frozenPlan(): FrozenPlan | undefined {
    return this.plan;
  }

  /** `frozen`: the guard's probe or plan (absent: fp32); `grads: false` for the probe, which differentiates only what it measures. */
  private build(frozen?: FrozenBuild, o: { grads?: boolean } = {}): { graph: Graph; loss: Value; taskLoss: Value; grads: Value[]; params: Value[] } {
    const g = new Graph('multi-task-train');
    const params = new Map<string, Value>();
    for (const s of this.stacks) params.set(s.name, g.param(`stack.${s.name}`, s.tensor));
    const taskIds = g.input('task_ids', 'int64', ['batch']);
    const training = g.input('training', 'bool', []);
    const picked = new Map<string, Value>();
    const pick = (name: string) => {
      let v = picked.get(name);
      if (!v) {
        const p = params.get(name);
        if (!p) fail('GRAPH_ERROR', `no stacked tensor ${name}`);
        v = gather(p, taskIds, 0);
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
    const seed0 = (this.o.seed ?? 42) * 1000;
    let seed = seed0 + 500 + this.dropoutStep;
    const drop = (x: Value, p: number) => (p > 0 ? dropoutOp(x, { ratio: p, seed: seed++, training }) : x);
    const groupHooks = this.groupConfigs.map((config, gi) => {
      const w = (name: string) => pick(stackKey(gi, name));
      const ctx: MethodContext = { w, gathered: true, dropout: drop, layerNorm: contextLayerNorm(w, true, unit) };
      return methodOf(config).hooks(config as never, this.base.encoder, 'stack', ctx);
    });
    const perTask = new Set(this.stacks.filter((s) => s.fromBase).map((s) => s.name));
    const perTaskNorm = contextLayerNorm(pick, true, unit);
    const hooks = composeHooks(groupHooks, (x, prefix, eps, weight) => {
      const w = `${prefix}.weight`;
      return perTask.has(w) ? perTaskNorm(x, w, `${prefix}.bias`, eps) : contextLayerNorm(weight, false, unit)(x, w, `${prefix}.bias`, eps);
    });
    const eg = buildEncoderGraph(this.base.encoder, this.base.weights, {
      graph: g, hooks, trainingInput: training, seed: seed0 + 17 + this.dropoutStep, hiddenDropout: this.o.dropout, attentionDropout: this.o.dropout,
      ...(frozen ? { frozenWeight: frozenWeightHook(frozen) } : {}),
    });
    const logits = g.scope('head', () => {
      let x = unsqueeze(drop(pooledInput(this.pooling, eg.outputs, eg.attentionMask), this.headDropout), [1]); // [B, 1, D]
      if (this.twoLayers) {
        const gate = g.input('head_gate', 'float32', ['batch', 1, 1]); // 1: two-layer head, 0: one layer (the pooled input passes)
        const dense = drop(tanh(linear(x, pick('head.dense.weight'), pick('head.dense.bias'))), this.headDropout);
        x = add(mul(gate, dense), mul(sub(1, gate), x));
      }
      return squeeze(linear(x, pick('head.out.weight'), pick('head.out.bias')), [1]); // [B, C]
    });
    const mask = g.input('class_mask', 'float32', ['batch', this.outputs]); // 0: the task's class, MASKED: padding
    const targets = g.input('targets', 'float32', ['batch', this.outputs]); // one-hot label times 1/B
    const perExample = neg(reduceSum(mul(targets, logSoftmax(add(logits, mask), -1)), [1])); // [B]: ℓ_i / B
    const loss = reduceSum(perExample, [0]);
    const taskOneHot = g.input('task_one_hot', 'float32', ['batch', this.tasks.length]);
    const taskLoss = reduceSum(mul(unsqueeze(perExample, [1]), taskOneHot), [0]); // [T]: Σ_{i∈t} ℓ_i / B
    const stackParams = this.stacks.map((s) => params.get(s.name) as Value);
    return { graph: g, loss, taskLoss, grads: o.grads === false ? [] : gradients(loss, stackParams), params: stackParams };
  }

  /**
   * One mixed batch: row i of `batch` belongs to task `taskOf[i]` (an index into `tasks`) and has
   * class index `labels[i]` of that task's head. Reads the tasks' current tensors; changes nothing.
   *
   * `o.step` is the step's index in the run: as TaskModel.trainStep, a session whose run count
   * does not match (a resumed run) is rebuilt with its dropout seeds moved by the step, so that
   * step k draws the masks an uninterrupted run draws there.
   *
   * @throws AdapterkitError BAD_DATA for a bad task index or label.
   */
  async step(batch: EncodedBatch, taskOf: readonly number[], labels: readonly number[], o: { training?: boolean; step?: number } = {}): Promise<MixedStepResult> {
    if (o.step !== undefined && o.step !== this.dropoutStep + this.runs) {
      if (!(Number.isSafeInteger(o.step) && o.step >= 0)) fail('BAD_CONFIG', `step must be a non-negative integer, got ${o.step}`);
      void this.session?.dispose();
      this.session = undefined;
      this.runs = 0;
      this.dropoutStep = o.step;
    }
    const B = batch.batchSize;
    const T = this.tasks.length;
    const C = this.outputs;
    if (taskOf.length !== B || labels.length !== B) fail('BAD_DATA', `batch has ${B} rows but ${taskOf.length} task indices and ${labels.length} labels`);
    const mask = new Float32Array(B * C);
    const targets = new Float32Array(B * C);
    const oneHot = new Float32Array(B * T);
    const gate = new Float32Array(B);
    const counts = new Array<number>(T).fill(0);
    taskOf.forEach((t, i) => {
      const task = this.tasks[t];
      if (!task || !Number.isInteger(t)) fail('BAD_DATA', `row ${i}: task index ${t} is out of range for ${T} tasks`);
      const n = task.model.head.labels.length;
      const y = labels[i] as number;
      if (!(Number.isInteger(y) && y >= 0 && y < n)) fail('BAD_DATA', `row ${i} (task ${task.name}): label index ${y} is out of range for ${n} classes`);
      for (let c = n; c < C; c++) mask[i * C + c] = MASKED;
      targets[i * C + y] = 1 / B;
      oneHot[i * T + t] = 1;
      gate[i] = task.model.head.layers === 2 ? 1 : 0;
      counts[t] = (counts[t] as number) + 1;
    });
    this.fill();
    const feeds: Record<string, HostTensor> = {
      ...encoderFeeds(batch, this.base.encoder.usesTokenTypes),
      task_ids: i64([B], taskOf),
      training: bool([], [o.training ?? true]),
      class_mask: f32([B, C], mask), targets: f32([B, C], targets), task_one_hot: f32([B, T], oneHot),
      ...(this.twoLayers ? { head_gate: f32([B, 1, 1], gate) } : {}),
    };
    if (this.o.frozen?.frozenPrecision === 'int8' && !this.plan) {
      const perTask = new Set(this.stacks.filter((s) => s.fromBase).map((s) => s.name));
      this.plan = await runFrozenGuard({
        build: (f) => {
          const b = this.build(f, { grads: false });
          return { graph: b.graph, loss: b.loss, params: b.params }; // the input gradients are checked too, on this batch's dY
        },
        feeds: { ...feeds, training: bool([], [false]) }, session: { threads: this.o.threads },
        specs: frozenMatmulSpecs(this.base.encoder, (s) => perTask.has(s.name)), tolerance: this.o.frozen.int8Tolerance ?? DEFAULT_INT8_TOLERANCE,
      });
      this.o.frozen.onFrozenPlan?.(this.plan);
    }
    if (!this.session) {
      const b = this.build(this.plan);
      this.loss = b.loss;
      this.taskLoss = b.taskLoss;
      this.gradValues = b.grads;
      this.session = await Session.create(b.graph, { outputs: [b.loss, b.taskLoss, ...b.grads], threads: this.o.threads, memoryPattern: false });
    }
    const out = await this.session.run(feeds);
    this.runs++;
    const loss = (out[(this.loss as Value).name]?.data as Float32Array)[0] as number;
    const taskLoss = out[(this.taskLoss as Value).name]?.data as Float32Array;
    // Row t of each stack's gradient goes back to task t's tensor of that name.
    const byName = this.tasks.map(() => new Map<string, Float32Array>());
    this.stacks.forEach((s, k) => {
      const gdata = out[(this.gradValues[k] as Value).name]?.data as Float32Array;
      const per = s.row.reduce((a, b) => a * b, 1);
      this.tasks.forEach((t, i) => {
        const src = s.sources[i];
        const own = src ? t.model.owned.get(src) : undefined;
        if (!src || !own) return;
        const gout = new Float32Array(own.data.length);
        copyRow(gout, own.shape, gdata.subarray(i * per, (i + 1) * per), s.row, true);
        byName[i]?.set(src, gout);
      });
    });
    const grads = this.tasks.map((t, i) => t.model.trainable.map((x) => {
      const gr = byName[i]?.get(x.name);
      if (!gr) fail('GRAPH_ERROR', `task ${t.name}: no gradient for ${x.name}`);
      return gr;
    }));
    return { loss, taskLossSums: Array.from(taskLoss, (v) => v * B), taskCounts: counts, grads };
  }

  /** Releases the session. */
  async dispose(): Promise<void> {
    await this.session?.dispose();
    this.session = undefined;
  }
}
