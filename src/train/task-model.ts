/**
 * A task model: a shared base encoder + (optionally) adapters + a task head, in one of the
 * training modes. It owns two ONNX Runtime sessions built once: a training graph (forward with
 * dropout, loss, gradients of every trainable tensor) and an inference graph (logits only). Each
 * is built on first use in a {@link SessionSlot}, so that calls made at once share one build.
 *
 * Trainable tensors are owned by the task: trained base weights (layer norms, top layers...) are
 * copied from the base first, so training never changes the shared base.
 */
import { fail } from '../errors.js';
import { Graph, Session, SessionSlot, add, bool, dropout as dropoutOp, f32, gather, gradients, i64, type HostTensor, type Value } from '../engine/index.js';
import { checkCutGraph, frozenLayersOf, LAYER_INPUT_NAME, type FrozenLayers } from './frozen-layers.js';
import { checkAdapterDrop, checkSetup, composeAdapters, compositionNeeds, replicate, setupFusionLayers, type AdapterDrop } from '../adapters/compose.js';
import type { Composition } from '../adapters/composition.js';
import { activeFusions, fusionIdentityStarts, fusionOfTensor, fusionRegularization, setupFusionTensors } from '../adapters/fusion.js';
import { FusionCalls, temperatureInputName, type FusionCallCounts } from '../adapters/fusion-temperature.js';
import { composeHooks, contextLayerNorm, initTensors, tensorParamCount, type AdapterTensor, type MethodContext } from '../adapters/method.js';
import { methodOf, type MethodConfig } from '../adapters/methods/index.js';
import { sharedLayersIssue } from '../adapters/adapterhub.js';
import { checkAdapterName, isAdapterTensor, parseAdapterTensorName } from '../adapters/names.js';
import { AsyncOnce } from '../util/once.js';
import { Rng } from '../util/random.js';
import type { EncoderHooks, LayerInput } from '../models/encoder.js';
import { buildHead, headConfig, headInputWidth, headLoss, headPooling, headWeightShapes, initHeadWeights, isTokenHead, labelInput, type HeadConfig } from '../heads/head.js';
import { pooledInput } from '../heads/pooling.js';
import { baseParamCount, type BaseModel } from '../models/base-model.js';
import { buildEncoderGraph } from '../models/build.js';
import type { WeightSpec } from '../models/encoder.js';
import type { EncodedBatch } from '../models/tokenizers/index.js';
import {
  adapterWeightHook, checkFrozenPrecision, checkInt8Tolerance, DEFAULT_INT8_TOLERANCE, frozenMatmulSpecs, frozenWeightHook, guardSlice, runFrozenGuard, type FrozenBuild, type FrozenPlan, type FrozenPrecision,
} from './frozen-precision.js';
import { isAdapterSetup, isTrainable, positionsTaken, validateMode, type AdapterSetupMode, type TrainableOptions, type TrainingMode } from './modes.js';

/** Why a predict-only model refuses training. */
const PREDICT_ONLY = 'this task model only predicts (predictOnly, as a task loaded with inference: true is): load the task without it to train it further';

/** Options of {@link TaskModel.create}. */
export interface TaskModelOptions extends TrainableOptions {
  readonly mode: TrainingMode;
  readonly head: HeadConfig;
  /** Seed of adapter/head initialisation and of dropout masks. */
  readonly seed: number;
  /** Hidden and attention dropout while training (default: the base's configuration). */
  readonly dropout?: number;
  /** Weights of a saved task (adapters, head, trained base tensors) instead of fresh ones. */
  readonly weights?: ReadonlyMap<string, HostTensor<'float32'>>;
  /**
   * A new task that starts some of its adapters from trained tensors (every tensor of each adapter
   * named, e.g. a frozen language adapter of another task); the other tensors are initialised
   * fresh. Not with `weights`.
   */
  readonly adapterWeights?: ReadonlyMap<string, HostTensor<'float32'>>;
  /** Name of the adapter inside the model (it appears in tensor names; default `adapter`); a setup's adapters have their own names. */
  readonly adapterName?: string;
  /** ONNX Runtime threads. */
  readonly threads?: number;
  /** Let idle ONNX Runtime threads spin between runs (see SessionOptions.spinning). */
  readonly spinning?: boolean;
  /** Precision of the frozen base's matmuls in training and prediction (default fp32; see train/frozen-precision.ts). */
  readonly frozenPrecision?: FrozenPrecision;
  /** The int8 outlier guard's tolerance (default {@link DEFAULT_INT8_TOLERANCE}). */
  readonly int8Tolerance?: number;
  /** Called when the int8 outlier guard has chosen each frozen matmul's kernel (on the first batch). */
  readonly onFrozenPlan?: (plan: FrozenPlan) => void;
  /**
   * The model only predicts (what `loadSavedTask(…, { inference: true })` makes): training is
   * refused, and the prediction graph holds the task's tensors as constants rather than feeding
   * them at each call, so ONNX Runtime packs the adapters' weights once, as it does the base's.
   * With `frozenPrecision: 'int8'`, the adapters' matmuls then run in int8 too, under the same
   * outlier guard, forward only (see {@link FrozenPlan.adapters}). The tensors are read when the
   * prediction session is built (the first {@link TaskModel.predict}): {@link TaskModel.setWeights}
   * rebuilds it (and measures again with int8), an edit of {@link TaskModel.trainable}'s arrays in
   * place does not reach it. Default false.
   */
  readonly predictOnly?: boolean;
  /**
   * With `predictOnly` and `frozenPrecision: 'int8'`: whether the adapters' matmuls run in int8
   * under the guard (default true); false keeps them fp32 beside the int8 base, as a model that
   * trains runs them.
   */
  readonly int8Adapters?: boolean;
}

/** A trainable tensor. */
export interface TrainableTensor {
  readonly name: string;
  /** Updated in place by the optimizer. */
  readonly data: Float32Array;
  readonly shape: readonly number[];
  /** Where it comes from: an adapter, the head, or a base weight trained for this task. */
  readonly origin: 'adapter' | 'head' | 'base';
}

/** Sizes every run reports. */
export interface TaskModelStats {
  readonly trainableParams: number;
  readonly baseParams: number;
  /** trainableParams / baseParams. */
  readonly share: number;
  /** Bytes a task must store (float32 tensors it owns). */
  readonly bytesPerTask: number;
}

/**
 * Labels of a batch: class indices, scores, or multi-hot rows; for a tagging head one row of
 * class indices per example (-100 = ignored; shorter rows are padded with -100); for a QA head
 * one `[start, end]` pair of row positions per example.
 */
export type BatchLabels = Int32Array | Float32Array | readonly (number | readonly number[])[];

/** A batch's feeds for the encoder inputs. */
export function encoderFeeds(b: EncodedBatch, tokenTypes: boolean): Record<string, HostTensor> {
  const shape = [b.batchSize, b.seqLen];
  const feeds: Record<string, HostTensor> = {
    input_ids: i64(shape, BigInt64Array.from(b.inputIds, (x) => BigInt(x))),
    attention_mask: i64(shape, BigInt64Array.from(b.attentionMask, (x) => BigInt(x))),
  };
  if (tokenTypes) feeds.token_type_ids = i64(shape, BigInt64Array.from(b.tokenTypeIds ?? new Int32Array(b.inputIds.length), (x) => BigInt(x)));
  return feeds;
}

function tokenLabelFeed(head: HeadConfig, labels: BatchLabels, n: number, t: number): HostTensor {
  const rows = labels as readonly (readonly number[])[];
  if (head.kind === 'tagging') {
    const c = head.labels.length;
    const out = new BigInt64Array(n * t).fill(-100n);
    rows.forEach((row, i) => {
      if (!Array.isArray(row) && !ArrayBuffer.isView(row)) fail('BAD_DATA', `tagging labels of example ${i} must be an array of class indices`);
      if (row.length > t) fail('BAD_DATA', `tagging labels of example ${i} have ${row.length} positions but the batch has ${t}`);
      row.forEach((v, j) => {
        if (!(Number.isInteger(v) && v < c && (v >= 0 || v === -100))) fail('BAD_DATA', `tag index ${v} at example ${i}, position ${j} is out of range for ${c} tags (or -100)`);
        out[i * t + j] = BigInt(v);
      });
    });
    return i64([n, t], out);
  }
  const out = new Float32Array(n * t * 2);
  rows.forEach((row, i) => {
    const [s, e] = row as [number, number];
    if (row.length !== 2 || !Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e < 0 || s >= t || e >= t) {
      fail('BAD_DATA', `QA label of example ${i} must be [start, end] positions below ${t}, got ${JSON.stringify(row)}`);
    }
    out[(i * t + s) * 2] = 1;
    out[(i * t + e) * 2 + 1] = 1;
  });
  return f32([n, t, 2], out);
}

function labelFeed(head: HeadConfig, labels: BatchLabels, n: number, t = 0): HostTensor {
  if (labels.length !== n) fail('BAD_DATA', `batch has ${n} examples but ${labels.length} labels`);
  if (isTokenHead(head)) return tokenLabelFeed(head, labels, n, t);
  if (head.kind === 'classification') {
    const arr = BigInt64Array.from(labels as ArrayLike<number>, (v) => {
      if (!Number.isInteger(v) || v < 0 || v >= head.labels.length) fail('BAD_DATA', `label index ${v} is out of range for ${head.labels.length} classes`);
      return BigInt(v);
    });
    return i64([n], arr);
  }
  if (head.kind === 'regression') return f32([n], Float32Array.from(labels as ArrayLike<number>));
  const c = head.labels.length;
  const out = new Float32Array(n * c);
  (labels as readonly (readonly number[])[]).forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== c) fail('BAD_DATA', `multi-label row ${i} must have ${c} 0/1 values`);
    row.forEach((v, j) => (out[i * c + j] = v));
  });
  return f32([n, c], out);
}

/**
 * Copies `given` over the fresh tensors of the adapters it names: every tensor of each named
 * adapter, with the shapes the model declares (ADAPTER_MISMATCH naming the tensor otherwise).
 */
function startAdapters(owned: Map<string, HostTensor<'float32'>>, declared: readonly AdapterTensor[], given: ReadonlyMap<string, HostTensor<'float32'>>): void {
  const shapes = new Map(declared.map((t) => [t.name, t.shape] as const));
  const named = new Set<string>();
  const ownerOf = (k: string) => (parseAdapterTensorName(k)?.adapter ?? fusionOfTensor(k)) as string; // an adapter, or a fusion
  for (const [k, t] of given) {
    const shape = shapes.get(k);
    if (!shape) fail('ADAPTER_MISMATCH', `adapterWeights: ${k} is not an adapter tensor of this model`);
    if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) fail('ADAPTER_MISMATCH', `adapterWeights: ${k} has shape [${t.shape.join(', ')}], the model expects [${shape.join(', ')}]`);
    named.add(ownerOf(k));
  }
  for (const t of declared) {
    if (!named.has(ownerOf(t.name))) continue;
    const src = given.get(t.name);
    if (!src) fail('ADAPTER_MISMATCH', `adapterWeights: ${fusionOfTensor(t.name) ?? `adapter ${ownerOf(t.name)}`} lacks ${t.name}`);
    owned.set(t.name, f32(src.shape, Float32Array.from(src.data)));
  }
}

/** The base's attention dropout (its config's `attention_probs_dropout_prob`; 0.1, BERT's default, where the encoder does not say). */
function attentionDropoutOf(base: BaseModel): number {
  const p = (base.encoder as { config?: { attentionDropout?: unknown } }).config?.attentionDropout;
  return typeof p === 'number' ? p : 0.1;
}

/** Where a build cuts the encoder: at the input of `layer`, computed (`output`, the graph ends there) or fed (`input`, the graph starts there). */
type LayerCut = { readonly layer: number; readonly at: 'output' | 'input' };

/** A base + adapters + head, ready to train and predict. */
export class TaskModel {
  /** The training session, with the values it fetches. */
  private readonly trainSlot = new SessionSlot<{ session: Session; loss: Value; logits: Value; grads: Value[] }>();
  private readonly predictSlot = new SessionSlot<{ session: Session; logits: Value }>();
  /** The layer the train session starts at (0: the whole encoder; k: from cached inputs of layer k, see {@link trainStep}). */
  private trainFrom = 0;
  /** The session that computes the input of layer {@link bottomLayer} (see {@link layerInputs}). */
  private readonly bottomSlot = new SessionSlot<{ session: Session; output: Value }>();
  private bottomLayer = 0;
  /** The step the train session's dropout seeds start at (see {@link trainStep}), and its runs since. */
  private dropoutStep = 0;
  private trainRuns = 0;
  /** Base weights with the adapter folded in, while merged (see {@link merge}). */
  private merged?: ReadonlyMap<string, HostTensor<'float32'>>;
  /** Draws robust AdapterDrop's n per training batch. */
  private readonly dropRng: Rng;
  /** The int8 outlier guard's choices, once measured (see {@link frozenPlan}); one measurement when calls come at once. */
  private readonly guard = new AsyncOnce<FrozenPlan>();
  /** Forward calls of the fusions with an annealed temperature, per layer (see {@link fusionCallCounts}). */
  private readonly fusionCalls: FusionCalls;
  /** Where the active composition's fusions run (see {@link fusionLayers}), once worked out. */
  private fusionRuns?: ReadonlyMap<string, readonly number[]>;

  private constructor(
    private currentMode: TrainingMode,
    readonly base: BaseModel,
    readonly head: HeadConfig,
    /** The adapter's name inside the model (in its tensor names). */
    readonly adapterName: string,
    /** The adapter's tensors as its method declares them (empty outside adapter mode). */
    readonly adapterTensors: readonly AdapterTensor[],
    /** Tensors this task owns (adapters, head, trained base weights), by name. */
    readonly owned: Map<string, HostTensor<'float32'>>,
    readonly trainable: readonly TrainableTensor[],
    private readonly o: TaskModelOptions,
  ) {
    this.dropRng = new Rng(o.seed * 7919 + 13);
    this.fusionCalls = new FusionCalls(isAdapterSetup(currentMode) ? currentMode.fusions ?? [] : [], base.encoder.numLayers);
  }

  /** The training mode, with the active composition of a setup (see {@link activate}). */
  get mode(): TrainingMode {
    return this.currentMode;
  }

  /** Positions of the base's limit that the adapters take before the input's tokens (PEFT's prompt tuning), see {@link positionsTaken}. */
  get positionsTaken(): number {
    return positionsTaken(this.currentMode);
  }

  /** The most tokens an input may have: the base's limit less {@link positionsTaken}. */
  get maxTokens(): number {
    return this.base.encoder.maxLength - this.positionsTaken;
  }

  /** Outputs per input: the children of an active Parallel block, else 1 (predict gives `channels x batch` rows, channel after channel). */
  get channels(): number {
    const m = this.currentMode;
    return isAdapterSetup(m) ? compositionNeeds(m.active).channels : 1;
  }

  /**
   * Picks what runs in a model holding several adapters: the composition (Stack, Average,
   * BatchSplit, Parallel, Split of the adapters' names) and AdapterDrop (`null` removes it, absent
   * keeps the current one). The sessions are rebuilt on next use; the adapters' tensors and
   * which of them train do not change.
   *
   * @throws AdapterkitError BAD_CONFIG for a model with a single adapter, an unknown adapter, a
   *   nesting AdapterHub does not allow or adapters that cannot meet at a site.
   */
  activate(active: Composition, o: { adapterDrop?: AdapterDrop | null } = {}): void {
    const m = this.currentMode;
    if (!isAdapterSetup(m)) fail('BAD_CONFIG', `activate() needs a model created with several named adapters (mode { kind: 'adapters', adapters: [...], active }), this one is ${m.kind === 'adapters' ? 'a single adapter' : m.kind}`);
    const enc = this.base.encoder;
    const drop = o.adapterDrop === undefined ? m.adapterDrop : o.adapterDrop === null ? undefined : checkAdapterDrop(o.adapterDrop, enc);
    const checked = checkSetup(enc, m.adapters, active, { dropBelow: drop?.kind === 'static' ? drop.layers : 0, ...(m.fusions ? { fusions: m.fusions } : {}) });
    const next: AdapterSetupMode = { kind: 'adapters', adapters: m.adapters, active: checked, ...(drop ? { adapterDrop: drop } : {}), ...(m.fusions ? { fusions: m.fusions } : {}) };
    this.currentMode = next;
    this.fusionRuns = undefined;
    this.dropSessions();
  }

  /**
   * Forward calls of each fusion with `temperature: true`, per encoder layer, since the model was
   * created or loaded (empty without such fusions). AdapterHub's BertFusion lowers its T at every
   * forward call, training and inference alike: every {@link trainStep} and {@link predict} call
   * of this model counts one call in each layer where the fusion runs (dev evaluation and
   * prediction included; a layer that AdapterDrop skips in a step does not count), and the next
   * call uses T = `fusionTemperature(count)` (adapters/fusion-temperature.ts) there. A call
   * counts when it starts, so calls made at once each take their own T. A new or loaded model
   * starts at 0 (T = 50), as a model AdapterHub loads; the trainer's checkpoint keeps the counts,
   * so that a resumed run goes on where it stopped. The int8 guard's probe and the frozen-layer
   * cache's pre-pass are not forward calls of the model (they run at the current T, uncounted).
   */
  get fusionCallCounts(): Record<string, number[]> {
    return this.fusionCalls.snapshot();
  }

  /**
   * Sets {@link fusionCallCounts} (what a resumed run does with its checkpoint's): an entry for
   * every fusion with `temperature: true`, one count per encoder layer.
   *
   * @throws AdapterkitError BAD_CONFIG naming `where`, the fusion and what is wrong.
   */
  setFusionCallCounts(counts: FusionCallCounts, where = 'fusion call counts'): void {
    this.fusionCalls.restore(counts, where);
  }

  /** The layers where each fusion of the active composition runs, by name (empty outside setups with fusions). */
  private fusionLayers(): ReadonlyMap<string, readonly number[]> {
    const m = this.currentMode;
    if (!isAdapterSetup(m) || !m.fusions?.length) return new Map();
    this.fusionRuns ??= setupFusionLayers(this.base.encoder, m.adapters, m.active, { dropBelow: m.adapterDrop?.kind === 'static' ? m.adapterDrop.layers : 0, fusions: m.fusions });
    return this.fusionRuns;
  }

  /** The fusions of the active composition whose temperature is fed (annealed, and running in some layer). */
  private annealed(): string[] {
    if (!this.fusionCalls.any) return [];
    return [...this.fusionLayers()].filter(([f, layers]) => this.fusionCalls.has(f) && layers.length > 0).map(([f]) => f);
  }

  /** The temperature inputs' feeds for the next forward call. */
  private temperatureFeeds(): Record<string, HostTensor> {
    return Object.fromEntries(this.annealed().map((f) => [temperatureInputName(f), this.fusionCalls.feed(f)]));
  }

  /**
   * A forward call of the annealed fusions: the temperature feeds it runs with, and the call
   * counted in the layers from `from` up (robust AdapterDrop's n of a training step).
   */
  private fusionCall(from = 0): Record<string, HostTensor> {
    if (!this.fusionCalls.any) return {};
    const feeds = this.temperatureFeeds();
    this.fusionCalls.count(new Map([...this.fusionLayers()].map(([f, layers]) => [f, layers.filter((l) => l >= from)])));
    return feeds;
  }

  /** Whether the task trains the base's pooler (saved with it, so loading knows). */
  get trainPooler(): boolean {
    return !!this.o.trainPooler;
  }

  /** Builds a task model on `base` (fresh weights unless `o.weights` is given). */
  static create(base: BaseModel, o: TaskModelOptions): TaskModel {
    const enc = base.encoder;
    validateMode(o.mode, enc);
    if (o.frozenPrecision !== undefined) checkFrozenPrecision(o.frozenPrecision);
    if (o.int8Tolerance !== undefined) checkInt8Tolerance(o.int8Tolerance);
    const head = headConfig(o.head);
    const adapterName = checkAdapterName(o.adapterName ?? 'adapter');
    let adapterTensors: AdapterTensor[] = [];
    const owned = new Map<string, HostTensor<'float32'>>();
    const frozen = new Set<string>();
    if (isAdapterSetup(o.mode)) {
      for (const a of o.mode.adapters) {
        const ts = methodOf(a.config).tensors(a.config as never, enc, a.name);
        adapterTensors.push(...ts);
        if (a.trainable === false) for (const t of ts) frozen.add(t.name);
      }
      for (const f of o.mode.fusions ?? []) { // AdapterFusion layers: tensors like an adapter's, after them
        const ts = setupFusionTensors([f], new Map(o.mode.adapters.map((a) => [a.name, a.config])), enc);
        adapterTensors.push(...ts);
        if (f.trainable === false) for (const t of ts) frozen.add(t.name);
      }
    } else if (o.mode.kind === 'adapters') {
      const method = methodOf(o.mode.adapter);
      method.validateFor(o.mode.adapter, enc);
      adapterTensors = method.tensors(o.mode.adapter, enc, adapterName);
    }
    const trainedBase = enc.weightSpecs.filter((s) => isTrainable(o.mode, s, enc, o));
    if (o.weights && o.adapterWeights) fail('BAD_CONFIG', 'give either weights (a saved task) or adapterWeights (a new task starting some adapters from trained tensors), not both');
    if (o.weights) {
      // A saved task: check names and shapes, then copy (no fresh initialisation to throw away).
      const expected = new Map<string, readonly number[]>([...adapterTensors.map((t) => [t.name, t.shape] as const), ...headWeightShapes(head, headInputWidth(head, enc))]);
      for (const s of trainedBase) expected.set(s.name, [...(base.weights.get(s.name) as HostTensor<'float32'>).shape]);
      for (const [k, t] of o.weights) {
        const shape = expected.get(k);
        if (!shape) fail('ADAPTER_MISMATCH', `saved task weight ${k} has no place in this model (mode ${o.mode.kind})`);
        if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) {
          fail('ADAPTER_MISMATCH', `saved task weight ${k} has shape [${t.shape.join(', ')}], the model expects [${shape.join(', ')}]`);
        }
      }
      const missing = [...expected.keys()].filter((k) => !o.weights?.has(k));
      if (missing.length) fail('ADAPTER_MISMATCH', `saved task lacks ${missing.length} tensor(s): ${missing.slice(0, 6).join(', ')}`);
      for (const k of expected.keys()) {
        const t = o.weights.get(k) as HostTensor<'float32'>;
        owned.set(k, f32(t.shape, Float32Array.from(t.data)));
      }
    } else {
      for (const [k, v] of initTensors(adapterTensors, o.seed)) owned.set(k, v);
      if (isAdapterSetup(o.mode) && o.mode.fusions) for (const [k, v] of fusionIdentityStarts(o.mode.fusions, adapterTensors)) owned.set(k, v);
      if (o.adapterWeights) startAdapters(owned, adapterTensors, o.adapterWeights);
      for (const [k, v] of initHeadWeights(head, headInputWidth(head, enc), o.seed + 1)) owned.set(k, v);
      for (const s of trainedBase) {
        const t = base.weights.get(s.name) as HostTensor<'float32'>;
        owned.set(s.name, f32(t.shape, Float32Array.from(t.data))); // the task's own copy
      }
    }
    const trainable: TrainableTensor[] = [];
    const headNames = new Set(headWeightShapes(head, headInputWidth(head, enc)).keys());
    for (const [name, t] of owned) {
      if (frozen.has(name)) continue; // a frozen adapter of a setup: owned and saved, not trained
      const origin = isAdapterTensor(name) ? 'adapter' : headNames.has(name) ? 'head' : 'base';
      trainable.push({ name, data: t.data, shape: t.shape, origin });
    }
    const mode = isAdapterSetup(o.mode) ? { ...o.mode, active: checkSetup(enc, o.mode.adapters, o.mode.active, { dropBelow: o.mode.adapterDrop?.kind === 'static' ? o.mode.adapterDrop.layers : 0, ...(o.mode.fusions ? { fusions: o.mode.fusions } : {}) }) } : o.mode;
    return new TaskModel(mode, base, head, adapterName, adapterTensors, owned, trainable, { ...o, head, weights: undefined, adapterWeights: undefined }); // do not keep the loaded copies alive
  }

  /** Parameter counts and stored bytes. */
  stats(): TaskModelStats {
    const trainableParams = this.trainable.reduce((n, t) => n + t.data.length, 0);
    const baseParams = baseParamCount(this.base);
    const stored = [...this.owned.values()].reduce((n, t) => n + t.data.length, 0); // frozen adapters of a setup included
    return { trainableParams, baseParams, share: trainableParams / baseParams, bytesPerTask: stored * 4 };
  }

  /** Number of adapter parameters (0 outside adapter mode). */
  adapterParams(): number {
    return tensorParamCount(this.adapterTensors);
  }

  /**
   * Why {@link merge} cannot fold this task's adapter into the frozen weights, or undefined when
   * it can: a mode without one adapter, a method that does not merge (bottleneck adapters,
   * prefixes), or a base whose layers share weights across depths (ALBERT), where one merged
   * weight would have to hold every depth's adapter.
   */
  get mergeIssue(): string | undefined {
    const m = this.mode;
    if (m.kind !== 'adapters') return `a ${m.kind} task has no adapter to merge`;
    const c = m.adapter;
    if (c === undefined) return 'merge() folds one adapter into the frozen weights; a model with several adapters merges them with mergeTasks (adapterkit merge)';
    const method = methodOf(c);
    if (!method.merge) return `${method.describe(c, this.base.encoder)} cannot be merged into the frozen weights (only LoRA and IA³ can)`;
    const shared = sharedLayersIssue(this.base.encoder);
    if (shared !== undefined) return `${method.describe(c, this.base.encoder)} cannot be merged into the frozen weights: ${shared}, and a merged weight would hold every depth's adapter`;
    return undefined;
  }

  /** Whether the adapter is folded into (copies of) the frozen weights; see {@link merge}. */
  get isMerged(): boolean {
    return this.merged !== undefined;
  }

  /**
   * Folds the adapter into copies of the frozen weights it touches (LoRA, IA³), so that
   * prediction runs the bare base's graph at the base's cost; the shared base stays unchanged.
   * Training a merged task is refused; {@link unmerge} goes back.
   *
   * @throws AdapterkitError BAD_CONFIG when the adapter cannot merge ({@link mergeIssue}).
   */
  merge(): void {
    const issue = this.mergeIssue;
    if (issue !== undefined) fail('BAD_CONFIG', issue);
    const c = (this.mode as { adapter: MethodConfig }).adapter;
    const method = methodOf(c);
    if (!method.merge) fail('BAD_CONFIG', `${method.describe(c, this.base.encoder)} cannot be merged into the frozen weights (only LoRA and IA³ can)`);
    const weights = new Map(this.base.weights);
    for (const [k, v] of this.owned) if (weights.has(k)) weights.set(k, v);
    this.merged = method.merge(c, this.base.encoder, this.adapterName, this.owned, weights);
    this.guard.reset(); // merged weights: measured again
    this.dropSessions();
  }

  /** Undoes {@link merge}. */
  unmerge(): void {
    this.merged = undefined;
    this.guard.reset();
    this.dropSessions();
  }

  /** The adapters' 2-D tensors: the weights an int8 predict-only model's guard may quantise (where a `linear` reads them). */
  private get adapterMatrices(): AdapterTensor[] {
    return this.adapterTensors.filter((t) => t.shape.length === 2);
  }

  /** Whether prediction runs the adapters' matmuls under the int8 guard too (predict-only, int8, not turned off: {@link TaskModelOptions.int8Adapters}). */
  private get int8Adapters(): boolean {
    return this.o.predictOnly === true && this.frozenPrecision === 'int8' && this.o.int8Adapters !== false;
  }

  /** Precision of the frozen base's matmuls. */
  get frozenPrecision(): FrozenPrecision {
    return this.o.frozenPrecision ?? 'fp32';
  }

  /**
   * With an int8 frozen base: the kernel the outlier guard chose for each frozen matmul, with the
   * errors it measured (undefined before the first batch, and with fp32).
   */
  get frozenPlan(): FrozenPlan | undefined {
    return this.guard.current;
  }

  /**
   * Runs the int8 outlier guard on `batch` (once; a later call returns the plan it made): the
   * forward with every frozen matmul in fp32, each int8 kernel's product measured beside it.
   * With `labels` (what training passes), the training graph without dropout: the input gradients
   * training needs are measured too, on the batch's dY. Measured on the batch's first
   * {@link GUARD_ROWS} rows (all of them when a composition needs the exact batch size).
   * Training and prediction call this with their first batch; call it earlier to choose on a
   * batch of your own. Calls made while the guard runs wait for its plan (one measurement).
   * Undefined with an fp32 frozen base.
   */
  async guardFrozen(whole: EncodedBatch, allLabels?: BatchLabels): Promise<FrozenPlan | undefined> {
    if (this.frozenPrecision !== 'int8') return undefined;
    return this.guard.get(() => this.measureFrozen(whole, allLabels), this.o.onFrozenPlan);
  }

  /** One run of the int8 outlier guard (see {@link guardFrozen}). */
  private async measureFrozen(whole: EncodedBatch, allLabels?: BatchLabels): Promise<FrozenPlan> {
    const exact = isAdapterSetup(this.mode) && compositionNeeds(this.mode.active).batchSize !== undefined;
    const { batch, labels } = exact ? { batch: whole, labels: allLabels } : guardSlice(whole, allLabels);
    const owned = new Set(this.owned.keys());
    const feeds = { ...encoderFeeds(batch, this.base.encoder.usesTokenTypes), ...this.temperatureFeeds() }; // the probe is no forward call of the model: it does not count
    if (labels) {
      feeds.labels = labelFeed(this.head, labels, batch.batchSize, batch.seqLen);
      feeds.training = bool([], [false]);
      if (this.robustDrop !== undefined) feeds.adapter_drop = i64([], [0]);
    }
    const predictOnly = this.o.predictOnly === true;
    const adapters = this.int8Adapters && !labels;
    return runFrozenGuard({
      build: (frozen) => {
        if (!labels) return this.build(false, { frozen, constants: predictOnly }).graph;
        const b = this.build(true, { frozen });
        return { graph: b.graph, loss: b.loss as Value, params: b.params as Value[] };
      },
      feeds,
      session: { threads: this.o.threads, spinning: this.o.spinning },
      specs: frozenMatmulSpecs(this.base.encoder, (spec) => owned.has(spec.name)),
      tolerance: this.o.int8Tolerance ?? DEFAULT_INT8_TOLERANCE,
      ...(adapters ? { adapters: this.adapterMatrices } : {}),
    });
  }

  /** Empties every session slot; each session is released once the calls running on it are done. */
  private releaseSessions(): Promise<unknown> {
    return Promise.all([this.trainSlot.drop(), this.predictSlot.drop(), this.bottomSlot.drop()]);
  }

  private dropSessions(): void {
    void this.releaseSessions();
    this.trainRuns = 0;
    this.trainFrom = 0; // a cached step checks its layer against the (possibly new) setup again
  }

  /**
   * How many of the encoder's lowest layers nothing trains in: the largest k such that the input of
   * layer k depends on no trainable tensor (no adapter, trained base weight or prompt below it),
   * found on the graph itself, so every method, composition and mode is judged the same way. With
   * k >= 1 that input is the same in every epoch once dropout is off below k, and
   * {@link layerInputs} and `trainStep(…, { layerInput })` can train from layer k on cached inputs.
   */
  frozenLayers(): FrozenLayers {
    const seen: LayerInput[] = [];
    const b = this.build(false, { probe: (_, x) => seen.push(x) });
    return frozenLayersOf(b.graph, seen.map((x) => x.hidden), new Set(this.trainable.map((t) => t.name)), new Set(this.annealed().map(temperatureInputName)));
  }

  /**
   * The input of layer `layer` [batch, seq, width] for a batch, as the layers below compute it
   * without dropout (the frozen base, and any frozen adapters there; int8 kernels with an int8
   * frozen base): what a frozen-layer cache keeps per example (train/frozen-cache.ts).
   */
  async layerInputs(batch: EncodedBatch, layer: number): Promise<{ data: Float32Array; width: number }> {
    this.checkBatch(batch);
    await this.guardFrozen(batch);
    if (this.bottomLayer !== layer) {
      void this.bottomSlot.drop();
      this.bottomLayer = layer;
    }
    const build = async () => {
      const b = this.build(false, { ...this.frozenOption(), cut: { layer, at: 'output' } });
      const output = b.layerInput as Value;
      return { session: await Session.create(b.graph, { outputs: [output], threads: this.o.threads, spinning: this.o.spinning }), output };
    };
    return this.bottomSlot.use(build, async ({ session, output }) => {
      const out = await session.run({ ...encoderFeeds(batch, this.base.encoder.usesTokenTypes), ...this.temperatureFeeds() }); // not counted: see fusionCallCounts
      return { data: out[output.name]?.data as Float32Array, width: output.shape[2] as number };
    });
  }

  /** Releases the session of {@link layerInputs} (a cache calls this once its pre-pass is done). */
  async disposeLayerInputs(): Promise<void> {
    await this.bottomSlot.drop();
  }

  /** The encoder hooks of this task's adapter (none outside adapter mode, or while merged). */
  private hooks(graph: Graph, w: (name: string) => Value, training?: Value, dropInput?: Value): EncoderHooks | undefined {
    if (this.mode.kind !== 'adapters' || this.merged) return undefined;
    let seed = this.o.seed * 1000 + 500 + this.dropoutStep;
    const units = new Map<number, Value>();
    const unit = (d: number) => {
      let v = units.get(d);
      if (!v) units.set(d, (v = graph.constant(`unit_scale_${d}`, f32([d], new Float32Array(d).fill(1)))));
      return v;
    };
    const ctx: MethodContext = {
      w, gathered: false,
      dropout: (x, p) => (training && p > 0 ? dropoutOp(x, { ratio: p, seed: seed++, training }) : x),
      layerNorm: contextLayerNorm(w, false, unit),
    };
    const m = this.mode;
    if (isAdapterSetup(m)) {
      const drop = m.adapterDrop;
      // one float32 [layers] input per annealed fusion, made here so that every graph of the setup has it (fed or left dead)
      const inputs = new Map(this.annealed().map((f) => [f, graph.input(temperatureInputName(f), 'float32', [this.base.encoder.numLayers])] as const));
      const perLayer = new Map<string, Value>();
      const fusionTemperature = (f: string, layer: number): Value => {
        const key = `${f}/${layer}`;
        let v = perLayer.get(key);
        if (!v) {
          const all = inputs.get(f);
          if (!all) fail('GRAPH_ERROR', `fusion ${f} runs in layer ${layer}, where the model does not count its calls`);
          perLayer.set(key, (v = gather(all, graph.literal('int64', layer), 0)));
        }
        return v;
      };
      const c = composeAdapters(this.base.encoder, m.adapters, m.active, ctx, {
        ...(drop?.kind === 'static' ? { dropBelow: drop.layers } : {}), ...(dropInput ? { dropInput } : {}),
        ...(m.fusions ? { fusions: m.fusions, fusionDropout: this.o.dropout ?? attentionDropoutOf(this.base), fusionTemperature } : {}),
      });
      const hooks = composeHooks([c.hooks]);
      return { ...hooks, ...(c.layerInput ? { layerInput: c.layerInput } : {}), ...(c.linearPerExample && hooks.linear ? { linearPerExample: true } : {}) };
    }
    return composeHooks([methodOf(m.adapter as NonNullable<typeof m.adapter>).hooks(m.adapter as never, this.base.encoder, this.adapterName, ctx)]);
  }

  /** Robust AdapterDrop's maximum n while training, if the active setup has it. */
  private get robustDrop(): number | undefined {
    const m = this.mode;
    return isAdapterSetup(m) && m.adapterDrop?.kind === 'robust' ? m.adapterDrop.maxLayers : undefined;
  }

  /** BAD_DATA when a batch does not have the size or length the active composition needs (BatchSplit, Split). */
  private checkBatch(batch: EncodedBatch): void {
    const m = this.mode;
    if (!isAdapterSetup(m)) return;
    const n = compositionNeeds(m.active);
    if (n.batchSize !== undefined && batch.batchSize !== n.batchSize) fail('BAD_DATA', `the batch has ${batch.batchSize} rows, but the active composition's BatchSplit needs exactly ${n.batchSize}`);
    if (n.seqLen !== undefined && batch.seqLen !== n.seqLen) fail('BAD_DATA', `the batch has sequences of ${batch.seqLen} tokens, but the active composition's Split needs exactly ${n.seqLen} (pad to that length)`);
  }

  /**
   * The task's inference graph with every tensor folded in as a constant (the task's own tensors
   * and, while merged, the merged weights): a standalone graph whose only inputs are the encoder's
   * `input_ids`, `attention_mask` (and `token_type_ids` where the family has them), for export.
   * Logits are [batch, outputs], or [batch, seq, outputs] for token-level heads.
   */
  inferenceGraph(): { graph: Graph; logits: Value } {
    const annealed = this.annealed();
    if (annealed.length) {
      fail('BAD_CONFIG', `fusion ${annealed[0]} has temperature true: its softmax temperature falls with every forward call (50 down to 1, AdapterHub's BertFusion), which a standalone graph cannot hold; exporting such a task is not implemented (train its fusion with temperature false to export it)`);
    }
    const b = this.build(false, { constants: true });
    return { graph: b.graph, logits: b.logits };
  }

  /**
   * `o.frozen`: how the frozen matmuls run — the outlier guard's probe (fp32, int8 products
   * measured beside) or the guard's plan; absent: fp32.
   */
  private build(training: boolean, o: { constants?: boolean; frozen?: FrozenBuild; cut?: LayerCut; probe?: (layer: number, x: LayerInput) => void } = {}): { graph: Graph; logits: Value; loss?: Value; grads?: Value[]; params?: Value[]; layerInput?: Value } {
    if (training && this.merged) fail('BAD_CONFIG', 'this task is merged into the frozen weights; unmerge() it before training');
    if (training && this.o.predictOnly) fail('BAD_CONFIG', PREDICT_ONLY);
    // a predict-only model's adapter weights are constants: with int8, their products follow the guard too
    const adapterHook = o.constants && o.frozen && this.int8Adapters ? adapterWeightHook(o.frozen) : undefined;
    const adapterWeights = adapterHook ? new Set(this.adapterMatrices.map((t) => t.name)) : undefined;
    const enc = this.base.encoder;
    const weights = new Map(this.base.weights);
    for (const [k, v] of this.owned) if (weights.has(k)) weights.set(k, v);
    for (const [k, v] of this.merged ?? []) weights.set(k, v);
    const ownedNames = new Set(this.owned.keys());
    const graph = new Graph(training ? 'task-train' : 'task-predict');
    const task = new Map<string, Value>();
    const w = (name: string) => {
      let v = task.get(name);
      if (!v) {
        const t = this.owned.get(name);
        if (!t) fail('GRAPH_ERROR', `task weight ${name} is missing`);
        v = o.constants ? graph.constant(name, t) : graph.param(name, t);
        if (adapterWeights?.has(name)) adapterHook?.(name, v);
        task.set(name, v);
      }
      return v;
    };
    const dropout = this.o.dropout;
    const trainingInput = training ? graph.input('training', 'bool', []) : undefined;
    const dropInput = training && this.robustDrop !== undefined ? graph.input('adapter_drop', 'int64', []) : undefined;
    const hooks = this.hooks(graph, w, trainingInput, dropInput);
    const cut = o.cut;
    let first: Value | undefined; // the input of layer 0
    let below: LayerInput | undefined; // the original input of layer cut.layer
    const layerInput = (l: number, x: LayerInput): LayerInput => {
      o.probe?.(l, x);
      first ??= x.hidden;
      let y = x;
      if (cut && l === cut.layer) {
        below = x;
        if (cut.at === 'input') y = { ...x, hidden: graph.input(LAYER_INPUT_NAME, 'float32', x.hidden.shape) }; // the layers below are left dead
      }
      return hooks?.layerInput ? hooks.layerInput(l, y) : y;
    };
    const eg = buildEncoderGraph(enc, weights, {
      graph,
      trainable: (s: WeightSpec) => !o.constants && ownedNames.has(s.name),
      trainingInput,
      seed: this.o.seed * 1000 + 17 + (training ? this.dropoutStep : 0),
      hooks: cut || o.probe ? { ...hooks, layerInput } : hooks,
      hiddenDropout: dropout,
      attentionDropout: dropout,
      ...(o.frozen ? { frozenWeight: frozenWeightHook(o.frozen) } : {}),
    });
    if (cut && !below) fail('BAD_CONFIG', `the ${enc.family} encoder has no layer ${cut.layer} to start at (it has ${enc.numLayers})`);
    if (cut?.at === 'output') return { graph, logits: (below as LayerInput).hidden, layerInput: (below as LayerInput).hidden };
    const headInput = isTokenHead(this.head) ? eg.outputs.hidden : pooledInput(headPooling(this.head), eg.outputs, eg.attentionMask);
    const logits = graph.scope('head', () =>
      buildHead(this.head, headInput, w, training && eg.training ? { flag: eg.training, seed: this.o.seed * 1000 + 7 + this.dropoutStep } : undefined),
    );
    if (!training) return { graph, logits };
    const labels = labelInput(this.head, graph);
    // Parallel: every channel is scored against the batch's labels (the loss is the mean over channels)
    let loss = headLoss(this.head, logits, this.channels > 1 ? replicate(labels, this.channels) : labels);
    const m = this.mode;
    const reg = isAdapterSetup(m) && m.fusions ? fusionRegularization(this.adapterTensors, activeFusions(m.active, m.fusions), w) : undefined;
    if (reg) loss = add(loss, reg); // AdapterHub's fusion regularization (adapters/fusion.ts)
    const params = this.trainable.map((t) => (t.origin === 'base' ? (eg.values.get(t.name) as Value) : w(t.name)));
    const grads = gradients(loss, params);
    if (cut && below) checkCutGraph(graph, [loss, logits, ...grads], first as Value, below.hidden, cut.layer);
    return { graph, logits, loss, grads, params };
  }

  /** The build option for the frozen matmuls: the guard's plan with an int8 base. */
  private frozenOption(): { frozen?: FrozenPlan } {
    const plan = this.guard.current;
    return plan ? { frozen: plan } : {};
  }

  /** Builds the training session (for {@link trainSlot}). */
  private async trainSession(): Promise<{ session: Session; loss: Value; logits: Value; grads: Value[] }> {
    const b = this.build(true, { ...this.frozenOption(), ...(this.trainFrom > 0 ? { cut: { layer: this.trainFrom, at: 'input' } as const } : {}) });
    const [loss, grads] = [b.loss as Value, b.grads as Value[]];
    const session = await Session.create(b.graph, { outputs: [loss, b.logits, ...grads], threads: this.o.threads, spinning: this.o.spinning, memoryPattern: false });
    return { session, loss, logits: b.logits, grads };
  }

  /** Builds the prediction session (for {@link predictSlot}). */
  private async predictSession(): Promise<{ session: Session; logits: Value }> {
    const b = this.build(false, { ...this.frozenOption(), constants: this.o.predictOnly === true });
    return { session: await Session.create(b.graph, { outputs: [b.logits], threads: this.o.threads, spinning: this.o.spinning }), logits: b.logits };
  }

  /**
   * Forward with dropout, loss and gradients for one batch. Returns the loss and one gradient per
   * {@link trainable} tensor, in the same order.
   *
   * `o.step` is the step's index in the run: ONNX Runtime's Dropout seeds a session's run j with
   * its node's seed + j, so the masks of step k depend on how many runs came before. Given the
   * step, a session whose run count does not match (a run resumed from step k) is rebuilt with
   * every dropout seed moved by k, and step k draws the masks an uninterrupted run draws there.
   *
   * `o.layerInput`: the batch's input of layer `layer` [batch, seq, width] (from {@link layerInputs},
   * padded to the batch's length): the step runs layers `layer`.. and the head only. The layers
   * below must train nothing ({@link frozenLayers}); their dropout is off, since they do not run.
   * The dropout sites above keep their seeds, so a step draws the masks it draws without the cut.
   *
   * A forward call: it anneals the temperature of fusions with `temperature: true` ({@link fusionCallCounts}).
   */
  async trainStep(batch: EncodedBatch, labels: BatchLabels, o: { step?: number; layerInput?: { layer: number; data: Float32Array } } = {}): Promise<{ loss: number; grads: Float32Array[]; logits: Float32Array }> {
    if (this.o.predictOnly) fail('BAD_CONFIG', PREDICT_ONLY);
    this.checkBatch(batch);
    const from = o.layerInput?.layer ?? 0;
    if (o.step !== undefined && !(Number.isSafeInteger(o.step) && o.step >= 0)) fail('BAD_CONFIG', `trainStep: step must be a non-negative integer, got ${o.step}`);
    if ((o.step !== undefined && o.step !== this.dropoutStep + this.trainRuns) || from !== this.trainFrom) {
      if (from !== this.trainFrom && from > 0) {
        const f = this.frozenLayers();
        if (!(Number.isInteger(from) && from <= f.layers)) fail('BAD_CONFIG', `trainStep: cannot start at layer ${from}: ${f.why}`);
      }
      const next = o.step ?? this.dropoutStep + this.trainRuns;
      void this.trainSlot.drop();
      this.trainRuns = 0;
      this.dropoutStep = next;
      this.trainFrom = from;
    }
    await this.guardFrozen(batch, labels);
    return this.trainSlot.use(() => this.trainSession(), async (tg) => {
      const feeds: Record<string, HostTensor> = {
        ...encoderFeeds(batch, this.base.encoder.usesTokenTypes), labels: labelFeed(this.head, labels, batch.batchSize, batch.seqLen), training: bool([], [true]),
      };
      if (o.layerInput) {
        const n = batch.batchSize * batch.seqLen;
        if (o.layerInput.data.length % n !== 0) fail('BAD_DATA', `trainStep: layerInput has ${o.layerInput.data.length} values, not a multiple of batch x seq = ${n}`);
        feeds[LAYER_INPUT_NAME] = f32([batch.batchSize, batch.seqLen, o.layerInput.data.length / n], o.layerInput.data);
      }
      const maxDrop = this.robustDrop;
      const dropN = maxDrop === undefined ? 0 : Math.floor(this.dropRng.next() * (maxDrop + 1));
      if (maxDrop !== undefined) feeds.adapter_drop = i64([], [dropN]);
      Object.assign(feeds, this.fusionCall(dropN)); // the layers AdapterDrop skips do not call their fusions
      const out = await tg.session.run(feeds);
      this.trainRuns++;
      const loss = (out[tg.loss.name]?.data as Float32Array)[0] as number;
      return { loss, grads: tg.grads.map((g) => out[g.name]?.data as Float32Array), logits: out[tg.logits.name]?.data as Float32Array };
    });
  }

  /**
   * Logits [batch, outputs] for a batch, without dropout ([batch, seq, outputs] for token heads);
   * with an active Parallel composition [channels x batch, …], channel after channel. A forward
   * call: it anneals the temperature of fusions with `temperature: true` ({@link fusionCallCounts}).
   */
  async predict(batch: EncodedBatch): Promise<Float32Array> {
    this.checkBatch(batch);
    await this.guardFrozen(batch);
    return this.predictSlot.use(() => this.predictSession(), async ({ session, logits }) => {
      const out = await session.run({ ...encoderFeeds(batch, this.base.encoder.usesTokenTypes), ...this.fusionCall() });
      return out[logits.name]?.data as Float32Array;
    });
  }

  /** Copies saved values into this task's tensors in place (same names and shapes), e.g. to resume. */
  setWeights(w: ReadonlyMap<string, HostTensor<'float32'>>): void {
    for (const [name, t] of this.owned) {
      const src = w.get(name);
      if (!src) fail('ADAPTER_MISMATCH', `checkpoint lacks task tensor ${name}`);
      if (src.data.length !== t.data.length) fail('ADAPTER_MISMATCH', `checkpoint tensor ${name} has ${src.data.length} values, expected ${t.data.length}`);
      t.data.set(src.data);
    }
    if (this.o.predictOnly) {
      // the prediction graph holds the old values as constants (and the guard measured on them)
      this.guard.reset();
      this.dropSessions();
    }
  }

  /**
   * Moves this task's tensors into storage someone else holds: each named tensor's values are
   * copied into the given array (same length; `copy: false` when the caller has written them
   * already) and the task uses that array from then on, so that a
   * container stacking many tasks (MultiTaskModel) keeps the only copy. Sessions built before are
   * dropped (they feed the old arrays) and rebuilt on next use. Not for use during training: the
   * optimizer holds the old arrays.
   */
  rebind(storage: ReadonlyMap<string, Float32Array>, o: { copy?: boolean } = {}): void {
    if (storage.size === 0) return;
    const trainable = this.trainable as TrainableTensor[];
    for (const [name, data] of storage) {
      const t = this.owned.get(name);
      if (!t) fail('BAD_CONFIG', `rebind: ${name} is not a tensor of this task`);
      if (data.length !== t.data.length) fail('BAD_CONFIG', `rebind: ${name} has ${t.data.length} values, the new storage ${data.length}`);
      if ((o.copy ?? true) && data !== t.data) data.set(t.data);
      this.owned.set(name, f32(t.shape, data));
      const i = trainable.findIndex((x) => x.name === name);
      if (i >= 0) trainable[i] = { ...(trainable[i] as TrainableTensor), data };
    }
    this.dropSessions();
  }

  /**
   * Releases every session: at once when idle; a session being built, or running a call, is
   * released once that build or call is done (the promise resolves then). A later call builds anew.
   */
  async dispose(): Promise<void> {
    await this.releaseSessions();
  }
}
