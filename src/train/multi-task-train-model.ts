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
 * Methods that add positions (prefix keys and values, prompt tokens; MAM's and UniPELT's prefix
 * parts) train in the graph form that serves them: a group gets its tasks' longest count, shorter
 * rows are zero-padded, and each example's constant mask (`MethodContext.positions`, gathered from
 * a `[tasks, 1, P]` table) hides the positions its task lacks, all of them for a task outside the
 * group. A masked key has softmax weight exactly 0, so it changes neither the example's forward
 * nor any gradient, and the padded rows get none. A prompt group's examples each join the prompt
 * where their task would alone (see prompt.ts `mixedPrompt`), and the last hidden state a token
 * head reads has the prompt positions taken out again per example, so a tagging task with a
 * prompt tags the input's tokens only. What cannot share one batch layout is refused as in
 * serving ({@link positionsMixIssue}): prompts joined in two ways, prompts beside gates that
 * average over every position, PEFT's prompt placement.
 *
 * The loss: `L = Σ_t (n_t/B) L_t`, the term of task t being n_t/B times its own single-task loss
 * L_t on its n_t examples of the batch. Task t's tensors appear only in its own term, so the
 * gradient of task t is `(n_t/B) ∇ L_t`, that of its own single-task model on its sub-batch times
 * n_t/B: exactly checkable (test/train/multi-task-train.test.ts). Whatever the head
 * (heads/head.ts `headLoss`), L_t is a mean over examples or elements, so the term is a weighted
 * sum of per-example (or per-output, per-token) losses:
 * classification, the mean cross-entropy (each example weighs 1/B); regression, the mean squared
 * error (1/B); multi-label, the mean sigmoid cross-entropy over its n_t·C_t outputs (each output
 * 1/(B C_t)); tagging, the mean token cross-entropy over the labelled tokens of its examples
 * (heads/token-losses.ts: `Σ nll / K_t` with K_t its sub-batch's labelled tokens, so each labelled
 * token weighs `n_t / (B K_t)`). For classification alone that is `(1/B) Σ_i ℓ_i`, the per-example
 * sum over the shared batch size that the trainer documents (multi-task-trainer.ts).
 *
 * Heads: classification, regression and multi-label heads over the pooled vector (any label
 * count, one or two layers, one pooling shared by every sentence-level task) and tagging heads
 * over every position of the last hidden state. Each level has its own head stacks (`head.*` for
 * sentence heads, `tokens.head.*` for token heads); every example runs both, and the loss reads
 * its task's (the other branch's weights are 0 for it, so it gets no gradient there). Outputs are
 * padded to the largest count of their level; for a single-label task the missing classes get a
 * large negative logit, so its softmax and cross-entropy are those over its own classes alone (the
 * padded classes' probabilities are exactly 0 in float32); a regression task reads output 0, a
 * multi-label task its own C_t outputs (the rest weigh 0). Extractive-QA heads are refused (see
 * {@link mixedTrainingRefusal}): their softmax runs over every position of a row, padding
 * included, so the batch's padding would change their loss.
 */
import { fail } from '../errors.js';
import {
  Graph, Session, SessionSlot, add, dropout as dropoutOp, f32, gather, gradients, i64, logSoftmax, mul, neg, oneHot, reduceSum, sigmoidBinaryCrossEntropyTerms, squeeze, sub, unsqueeze, bool,
  type HostTensor, type Value,
} from '../engine/index.js';
import { composeHooks, contextLayerNorm, type AdapterTensor, type MethodContext, type PositionKind } from '../adapters/method.js';
import { methodOf, type MethodConfig } from '../adapters/methods/index.js';
import { parseAdapterTensorName } from '../adapters/names.js';
import { headOutputs, headPooling, type HeadConfig } from '../heads/head.js';
import { BRANCH_PREFIX, HEAD_BRANCHES, MIXED_HEAD_KINDS, buildGatheredHead, headBranch, type HeadBranch } from '../heads/mixed.js';
import { pooledInput, type HeadPooling } from '../heads/pooling.js';
import type { BaseModel } from '../models/base.js';
import { buildEncoderGraph } from '../models/build.js';
import type { EncodedBatch } from '../models/tokenizers/index.js';
import { AsyncOnce } from '../util/once.js';
import { describeMode } from './modes.js';
import { encoderFeeds, type TaskModel } from './task-model.js';
import { positionsMixIssue, positionsOf } from './multi-task-model.js';
import { DEFAULT_INT8_TOLERANCE, frozenMatmulSpecs, frozenWeightHook, runFrozenGuard, type FrozenBuild, type FrozenOptions, type FrozenPlan } from './frozen-precision.js';

/** A logit far below any real one: exp(MASKED - max) is exactly 0 in float32. */
const MASKED = -1e9;

/** One branch's head layout: the largest output count, whether some task of it has a two-layer head, and the head kinds in it. */
interface BranchLayout {
  readonly outputs: number;
  readonly twoLayers: boolean;
  readonly kinds: ReadonlySet<HeadConfig['kind']>;
}

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
  /** `Σ_t (n_t/B) L_t`, see the module comment. */
  readonly loss: number;
  /** Per task, n_t times its loss on its examples of the batch (for per-task logging: divide by its count). */
  readonly taskLossSums: readonly number[];
  /** Examples of each task in the batch. */
  readonly taskCounts: readonly number[];
  /** Per task, the gradients of its trainable tensors (zeros for a task without examples in the batch). */
  readonly grads: readonly Float32Array[][];
}

/**
 * One example's label in a mixed batch, as TaskModel.trainStep takes it for the task's head: a
 * class index (classification), a score (regression), one 0/1 value per class (multi-label), or
 * one tag index per position (tagging; -100: ignored).
 */
export type MixedLabel = number | readonly number[];

/** The kind of head a mixed-task batch trains, and why a task cannot join one (undefined: it can). */
export function mixedTrainingRefusal(name: string, model: TaskModel, base: BaseModel): string | undefined {
  if (model.base !== base) return `task ${name} was built on another base object`;
  const h = model.head;
  if (!MIXED_HEAD_KINDS.includes(h.kind)) {
    return `task ${name} has a ${h.kind} head; mixed-task training takes ${MIXED_HEAD_KINDS.join(', ')} heads (train ${h.kind === 'qa' ? 'extractive-QA' : h.kind} tasks on their own)`;
  }
  const m = model.mode;
  if (m.kind !== 'adapters') return `task ${name} trains in mode ${m.kind}; mixed-task training takes adapter tasks (mode adapters) only`;
  if (m.adapter === undefined) return `task ${name} holds several adapters (${describeMode(m, base.encoder)}); mixed-task training takes one adapter per task`;
  const s = methodOf(m.adapter).structure(m.adapter);
  if ('unsupported' in s) return `task ${name} cannot share a mixed batch: ${s.unsupported}`;
  const big = model.trainable.find((t) => t.origin === 'base' && base.encoder.weightSpecs.find((x) => x.name === t.name)?.role !== 'norm');
  if (big) return `task ${name} trains base weights other than layer norms (${big.name}); only adapters, layer norms and heads train per task in a mixed batch`;
  return undefined;
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
  /** The training session, with the values it fetches; built once even when steps come at once. */
  private readonly slot = new SessionSlot<{ session: Session; loss: Value; taskLoss: Value; grads: Value[] }>();
  private readonly stacks: Stack[] = [];
  /** The head branches some task runs in. */
  private readonly branches = new Map<HeadBranch, BranchLayout>();
  /** The pooling every sentence-level head reads. */
  private readonly pooling: HeadPooling;
  private readonly headDropout: number;
  private runs = 0;
  /** The step the session's dropout seeds start at (see {@link step}'s `o.step`). */
  private dropoutStep = 0;
  /** The int8 outlier guard's choices, once measured on the first batch (one measurement when steps come at once). */
  private readonly guard = new AsyncOnce<FrozenPlan>();

  /**
   * @throws AdapterkitError BAD_CONFIG naming the task that cannot join (see {@link mixedTrainingRefusal}),
   *   sentence-level tasks whose heads read different poolings, tasks with different head
   *   dropout, or fewer than one task.
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
    const first = tasks[0] as { name: string; model: TaskModel };
    this.headDropout = first.model.head.dropout;
    const sentence = tasks.filter((t) => headBranch(t.model.head) === 'sentence');
    this.pooling = sentence[0] ? headPooling(sentence[0].model.head) : 'encoder';
    for (const t of tasks) {
      if (headBranch(t.model.head) === 'sentence' && headPooling(t.model.head) !== this.pooling) fail('BAD_CONFIG', `task ${t.name}'s head reads ${headPooling(t.model.head)} pooling, task ${sentence[0]?.name}'s ${this.pooling}: the sentence-level tasks of one mixed-task run share the head pooling`);
      if (t.model.head.dropout !== this.headDropout) fail('BAD_CONFIG', `task ${t.name}'s head dropout is ${t.model.head.dropout}, task ${first.name}'s ${this.headDropout}: tasks of one mixed-task run share the head dropout`);
    }
    const configOf = (t: { model: TaskModel }) => (t.model.mode as { adapter: MethodConfig }).adapter;
    tasks.forEach((t, i) => {
      const issue = positionsMixIssue(configOf(t), tasks.slice(0, i).map((x) => ({ ...x, config: configOf(x) })), base.encoder);
      if (issue) fail('BAD_CONFIG', `task ${t.name} cannot share a mixed batch: ${issue}; train it on its own`);
    });
    const precision = o.frozen?.frozenPrecision ?? 'fp32';
    for (const t of tasks) {
      if (t.model.frozenPrecision !== precision) fail('BAD_CONFIG', `task ${t.name}'s model runs its frozen base in ${t.model.frozenPrecision}, the mixed-task trainer in ${precision}: create every task's model with the trainer's frozen precision`);
    }
    for (const b of HEAD_BRANCHES) {
      const heads = tasks.filter((t) => headBranch(t.model.head) === b).map((t) => t.model.head);
      if (heads.length) this.branches.set(b, { outputs: Math.max(...heads.map(headOutputs)), twoLayers: heads.some((h) => h.layers === 2), kinds: new Set(heads.map((h) => h.kind)) });
    }
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
    this.groupPositions = [];
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
      // dropout is the group's hooks' (its first config's): the tasks of a group must agree on it
      const dropouts = [...new Set(configs.map((c) => (c as { dropout?: number }).dropout))];
      if (dropouts.length > 1) fail('BAD_CONFIG', `tasks ${members.map((i) => this.tasks[i]?.name).join(', ')} share a ${methodOf(config).id} group with different adapter dropout (${dropouts.join(' vs ')}): give tasks of one method the same dropout in a mixed-task run`);
      this.groupConfigs.push(config);
      // per position kind: row t holds 1 for each of task t's positions (none outside the group), 0 for the rest of the group's
      const masks = new Map<PositionKind, HostTensor<'float32'>>();
      for (const c of configs) {
        for (const [kind, n] of Object.entries(positionsOf(c)) as [PositionKind, number][]) if (n > (masks.get(kind)?.shape[2] ?? 0)) masks.set(kind, f32([T, 1, n], new Float32Array(T * n)));
      }
      for (const [kind, mask] of masks) {
        const P = mask.shape[2] as number;
        for (const i of members) mask.data.fill(1, i * P, i * P + (positionsOf(configs[members.indexOf(i)]!)[kind] ?? 0));
      }
      this.groupPositions.push(masks);
    });
    const perTask = [...new Set(this.tasks.flatMap((t) => t.model.trainable.filter((x) => x.origin === 'base').map((x) => x.name)))].sort();
    for (const name of perTask) {
      const b = this.base.weights.get(name) as HostTensor<'float32'>;
      add(name, [1, ...b.shape], 0, this.tasks.map((t) => (t.model.owned.has(name) ? name : undefined)), name);
    }
    // each branch's head stacks: row t holds task t's head when it runs in that branch
    for (const [b, h] of this.branches) {
      const inBranch = this.tasks.filter((t) => headBranch(t.model.head) === b);
      const D = (inBranch[0] as { model: TaskModel }).model.owned.get('head.out.weight')?.shape[0] as number;
      const heads = (n: string) => this.tasks.map((t) => (headBranch(t.model.head) === b && t.model.owned.has(n) ? n : undefined));
      const p = BRANCH_PREFIX[b];
      if (h.twoLayers) {
        add(`${p}head.dense.weight`, [D, D], 0, heads('head.dense.weight'));
        add(`${p}head.dense.bias`, [1, D], 0, heads('head.dense.bias'));
      }
      add(`${p}head.out.weight`, [D, h.outputs], 0, heads('head.out.weight'));
      add(`${p}head.out.bias`, [1, h.outputs], 0, heads('head.out.bias'));
    }
  }

  private groupConfigs: MethodConfig[] = [];
  /** Per group, the masks of the positions it adds, by kind: [tasks, 1, P] (see MethodContext.positions). */
  private groupPositions: Map<PositionKind, HostTensor<'float32'>>[] = [];

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
    return this.guard.current;
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
    const positions = new Map<string, Value>();
    const groupHooks = this.groupConfigs.map((config, gi) => {
      const w = (name: string) => pick(stackKey(gi, name));
      const position = (kind: PositionKind) => {
        const key = `g${gi}.positions.${kind}`;
        let v = positions.get(key);
        if (!v) {
          const mask = this.groupPositions[gi]?.get(kind);
          if (!mask) fail('GRAPH_ERROR', `group ${gi} adds no ${kind} positions`);
          positions.set(key, (v = gather(g.constant(`stack.${key}`, mask), taskIds, 0))); // [B, 1, P]
        }
        return v;
      };
      const ctx: MethodContext = { w, gathered: true, dropout: drop, layerNorm: contextLayerNorm(w, true, unit), positions: position };
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
    // One branch's gathered head on x [B, N, D] (N = 1 for the pooled vector, T for every position): logits [B, N, C].
    const head = (b: HeadBranch, x: Value, h: BranchLayout) => {
      const p = BRANCH_PREFIX[b];
      const gate = h.twoLayers ? g.input(`${p}head_gate`, 'float32', ['batch', 1, 1]) : undefined; // 1: two-layer head, 0: one layer (the input passes)
      return buildGatheredHead(x, (n) => pick(`${p}${n}`), gate, (v) => drop(v, this.headDropout));
    };
    const terms: Value[] = []; // [B] each: example i's share of the loss
    const sentence = this.branches.get('sentence');
    if (sentence) {
      const logits = g.scope('head', () => squeeze(head('sentence', unsqueeze(pooledInput(this.pooling, eg.outputs, eg.attentionMask), [1]), sentence), [1])); // [B, C]
      const C = sentence.outputs;
      if (sentence.kinds.has('classification')) {
        const mask = g.input('class_mask', 'float32', ['batch', C]); // 0: the task's class, MASKED: padding
        const targets = g.input('targets', 'float32', ['batch', C]); // one-hot label times 1/B (0 for other tasks' rows)
        terms.push(neg(reduceSum(mul(targets, logSoftmax(add(logits, mask), -1)), [1])));
      }
      if (sentence.kinds.has('regression')) {
        const y = g.input('regression.targets', 'float32', ['batch']);
        const w = g.input('regression.weights', 'float32', ['batch']); // 1/B for a regression task's rows, else 0
        const d = sub(squeeze(gather(logits, g.literal('int64', [0]), 1), [1]), y); // the score is output 0
        terms.push(mul(w, mul(d, d)));
      }
      if (sentence.kinds.has('multilabel')) {
        const y = g.input('multilabel.targets', 'float32', ['batch', C]); // 0/1 per class
        const w = g.input('multilabel.weights', 'float32', ['batch', C]); // 1/(B C_t) at task t's classes, else 0
        terms.push(reduceSum(mul(w, sigmoidBinaryCrossEntropyTerms(logits, y)), [1]));
      }
    }
    const token = this.branches.get('token');
    if (token) {
      const logits = g.scope('tokens_head', () => head('token', eg.outputs.hidden, token)); // [B, T, C]
      const mask = g.input('tokens.class_mask', 'float32', ['batch', 1, token.outputs]);
      const T = logits.shape[1] as string | number; // the input's positions (a prompt's are taken out again; its symbol says so)
      const labels = g.input('tokens.labels', 'int64', ['batch', T]); // class per position (0 where not labelled: its weight is 0)
      const weights = g.input('tokens.weights', 'float32', ['batch', T]); // n_t / (B K_t) at task t's labelled positions, else 0
      const nll = neg(reduceSum(mul(oneHot(labels, token.outputs, 'float32'), logSoftmax(add(logits, mask), -1)), [2])); // [B, T]
      terms.push(reduceSum(mul(nll, weights), [1]));
    }
    const perExample = terms.reduce((a, b) => add(a, b)); // [B]
    const loss = reduceSum(perExample, [0]);
    const taskOneHot = g.input('task_one_hot', 'float32', ['batch', this.tasks.length]);
    const taskLoss = reduceSum(mul(unsqueeze(perExample, [1]), taskOneHot), [0]); // [T]: (n_t/B) L_t
    const stackParams = this.stacks.map((s) => params.get(s.name) as Value);
    return { graph: g, loss, taskLoss, grads: o.grads === false ? [] : gradients(loss, stackParams), params: stackParams };
  }

  /** The feeds of the head branches and the loss for a batch; `counts` gets each task's examples. */
  private lossFeeds(batch: EncodedBatch, taskOf: readonly number[], labels: readonly MixedLabel[], counts: number[]): Record<string, HostTensor> {
    const B = batch.batchSize;
    const T = this.tasks.length;
    const S = batch.seqLen;
    const oneHotTasks = new Float32Array(B * T);
    const sentence = this.branches.get('sentence');
    const token = this.branches.get('token');
    const C = sentence?.outputs ?? 0;
    const K = token?.outputs ?? 0;
    const mask = new Float32Array(B * C);
    const targets = new Float32Array(B * C);
    const regTargets = new Float32Array(B);
    const regWeights = new Float32Array(B);
    const multiTargets = new Float32Array(B * C);
    const multiWeights = new Float32Array(B * C);
    const tokMask = new Float32Array(B * K);
    const tokLabels = new BigInt64Array(B * S);
    const tokWeights = new Float32Array(B * S);
    const gates = { sentence: new Float32Array(B), token: new Float32Array(B) };
    const labelled = new Array<number>(T).fill(0); // K_t: labelled positions of task t's rows
    taskOf.forEach((t, i) => {
      const task = this.tasks[t];
      if (!task || !Number.isInteger(t)) fail('BAD_DATA', `row ${i}: task index ${t} is out of range for ${T} tasks`);
      const h = task.model.head;
      const n = headOutputs(h);
      const y = labels[i];
      oneHotTasks[i * T + t] = 1;
      counts[t] = (counts[t] as number) + 1;
      gates[headBranch(h)][i] = h.layers === 2 ? 1 : 0;
      if (h.kind === 'classification') {
        if (!(typeof y === 'number' && Number.isInteger(y) && y >= 0 && y < n)) fail('BAD_DATA', `row ${i} (task ${task.name}): label index ${JSON.stringify(y)} is out of range for ${n} classes`);
        for (let c = n; c < C; c++) mask[i * C + c] = MASKED;
        targets[i * C + y] = 1 / B;
        return;
      }
      if (h.kind === 'regression') {
        if (!(typeof y === 'number' && Number.isFinite(y))) fail('BAD_DATA', `row ${i} (task ${task.name}): a regression label must be a finite number, got ${JSON.stringify(y)}`);
        regTargets[i] = y;
        regWeights[i] = 1 / B;
        return;
      }
      if (h.kind === 'multilabel') {
        if (!((Array.isArray(y) || ArrayBuffer.isView(y)) && (y as readonly number[]).length === n && (y as readonly number[]).every((v) => v === 0 || v === 1))) {
          fail('BAD_DATA', `row ${i} (task ${task.name}): a multi-label row must have ${n} 0/1 values, got ${JSON.stringify(y)}`);
        }
        (y as readonly number[]).forEach((v, c) => {
          multiTargets[i * C + c] = v;
          multiWeights[i * C + c] = 1 / (B * n);
        });
        return;
      }
      if (!Array.isArray(y) && !ArrayBuffer.isView(y)) fail('BAD_DATA', `row ${i} (task ${task.name}): tagging labels must be an array of tag indices, one per position (-100: ignored), got ${JSON.stringify(y)}`);
      const row = y as readonly number[];
      if (row.length > S) fail('BAD_DATA', `row ${i} (task ${task.name}): tagging labels have ${row.length} positions but the batch has ${S}`);
      for (let c = n; c < K; c++) tokMask[i * K + c] = MASKED;
      row.forEach((v, j) => {
        if (!(Number.isInteger(v) && v < n && (v >= 0 || v === -100))) fail('BAD_DATA', `row ${i} (task ${task.name}), position ${j}: tag index ${v} is out of range for ${n} tags (or -100)`);
        if (v < 0) return;
        tokLabels[i * S + j] = BigInt(v);
        tokWeights[i * S + j] = 1; // scaled below, once K_t is known
        labelled[t] = (labelled[t] as number) + 1;
      });
    });
    // a labelled token of task t weighs n_t / (B K_t): the task's term is n_t/B times its mean token cross-entropy
    taskOf.forEach((t, i) => {
      if (headBranch((this.tasks[t] as { model: TaskModel }).model.head) !== 'token') return;
      const wt = (counts[t] as number) / (B * Math.max(1, labelled[t] as number));
      for (let j = 0; j < S; j++) tokWeights[i * S + j] = (tokWeights[i * S + j] as number) * wt;
    });
    const feeds: Record<string, HostTensor> = { task_one_hot: f32([B, T], oneHotTasks) };
    if (sentence) {
      if (sentence.kinds.has('classification')) {
        feeds.class_mask = f32([B, C], mask);
        feeds.targets = f32([B, C], targets);
      }
      if (sentence.kinds.has('regression')) {
        feeds['regression.targets'] = f32([B], regTargets);
        feeds['regression.weights'] = f32([B], regWeights);
      }
      if (sentence.kinds.has('multilabel')) {
        feeds['multilabel.targets'] = f32([B, C], multiTargets);
        feeds['multilabel.weights'] = f32([B, C], multiWeights);
      }
      if (sentence.twoLayers) feeds.head_gate = f32([B, 1, 1], gates.sentence);
    }
    if (token) {
      feeds['tokens.class_mask'] = f32([B, 1, K], tokMask);
      feeds['tokens.labels'] = i64([B, S], tokLabels);
      feeds['tokens.weights'] = f32([B, S], tokWeights);
      if (token.twoLayers) feeds['tokens.head_gate'] = f32([B, 1, 1], gates.token);
    }
    return feeds;
  }

  /**
   * One mixed batch: row i of `batch` belongs to task `taskOf[i]` (an index into `tasks`) and has
   * label `labels[i]` for that task's head (a class index, or one tag index per position for a
   * tagging task; see {@link MixedLabel}). Reads the tasks' current tensors; changes nothing.
   *
   * `o.step` is the step's index in the run: as TaskModel.trainStep, a session whose run count
   * does not match (a resumed run) is rebuilt with its dropout seeds moved by the step, so that
   * step k draws the masks an uninterrupted run draws there.
   *
   * @throws AdapterkitError BAD_DATA for a bad task index or label.
   */
  async step(batch: EncodedBatch, taskOf: readonly number[], labels: readonly MixedLabel[], o: { training?: boolean; step?: number } = {}): Promise<MixedStepResult> {
    if (o.step !== undefined && o.step !== this.dropoutStep + this.runs) {
      if (!(Number.isSafeInteger(o.step) && o.step >= 0)) fail('BAD_CONFIG', `step must be a non-negative integer, got ${o.step}`);
      void this.slot.drop();
      this.runs = 0;
      this.dropoutStep = o.step;
    }
    const B = batch.batchSize;
    const T = this.tasks.length;
    if (taskOf.length !== B || labels.length !== B) fail('BAD_DATA', `batch has ${B} rows but ${taskOf.length} task indices and ${labels.length} labels`);
    const counts = new Array<number>(T).fill(0);
    const lossFeeds = this.lossFeeds(batch, taskOf, labels, counts);
    this.fill();
    const feeds: Record<string, HostTensor> = {
      ...encoderFeeds(batch, this.base.encoder.usesTokenTypes),
      task_ids: i64([B], taskOf),
      training: bool([], [o.training ?? true]),
      ...lossFeeds,
    };
    const frozen = this.o.frozen;
    if (frozen?.frozenPrecision === 'int8') {
      await this.guard.get(async () => {
        const perTask = new Set(this.stacks.filter((s) => s.fromBase).map((s) => s.name));
        return runFrozenGuard({
          build: (f) => {
            const b = this.build(f, { grads: false });
            return { graph: b.graph, loss: b.loss, params: b.params }; // the input gradients are checked too, on this batch's dY
          },
          feeds: { ...feeds, training: bool([], [false]) }, session: { threads: this.o.threads },
          specs: frozenMatmulSpecs(this.base.encoder, (s) => perTask.has(s.name)), tolerance: frozen.int8Tolerance ?? DEFAULT_INT8_TOLERANCE,
        });
      }, frozen.onFrozenPlan);
    }
    const build = async () => {
      const b = this.build(this.guard.current);
      return { session: await Session.create(b.graph, { outputs: [b.loss, b.taskLoss, ...b.grads], threads: this.o.threads, memoryPattern: false }), loss: b.loss, taskLoss: b.taskLoss, grads: b.grads };
    };
    const { out, values } = await this.slot.use(build, async (v) => {
      const r = await v.session.run(feeds);
      this.runs++;
      return { out: r, values: v };
    });
    const loss = (out[values.loss.name]?.data as Float32Array)[0] as number;
    const taskLoss = out[values.taskLoss.name]?.data as Float32Array;
    // Row t of each stack's gradient goes back to task t's tensor of that name.
    const byName = this.tasks.map(() => new Map<string, Float32Array>());
    this.stacks.forEach((s, k) => {
      const gdata = out[(values.grads[k] as Value).name]?.data as Float32Array;
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

  /** Releases the session (once a step running on it, or building it, is done). */
  async dispose(): Promise<void> {
    await this.slot.drop();
  }
}
