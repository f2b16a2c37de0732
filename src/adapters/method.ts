/**
 * The adapter-method interface. Every method (bottleneck, LoRA, IA³…) is one module under
 * `adapters/methods/` that implements {@link AdapterMethod}: its config with named presets, the
 * sites it uses, its tensors (names, shapes, init), how it acts on the encoder (hooks), how its
 * files look in AdapterHub's and PEFT's layouts, and optionally how it merges into the frozen
 * weights. The task model, the multi-task model, the task files, the CLI and the sweep grid
 * reach methods only through this interface and the registry in `methods/index.ts`.
 *
 * How a method acts: {@link AdapterMethod.hooks} returns, per site key,
 * - `deltas`: additive contributions at a sub-layer, `final = norm(residual + (h + Σ δ))`
 *   (Houlsby, Pfeiffer and parallel bottlenecks all have this form); several methods and, in a
 *   mixed-task batch, several groups of tasks simply add up;
 * - `sublayers`: a replacement of the block's residual connection, for configs that are not
 *   additive (at most one per site);
 * - `linears`: wrappers of a projection, `y = f(x, apply)` where `apply` is the frozen projection
 *   (LoRA adds to `apply(x)`, IA³ scales its output or its input); wrappers chain;
 * - `attentions`: changes of a self-attention's keys, values and additive mask (prefix tuning
 *   joins its prefixes in front); they chain in list order;
 * - `prompt`: vectors joined to the sequence that enters layer 0 (with its masks), and how to
 *   take them out of the last hidden state again (prompt tuning); at most one per model.
 * The same hook code serves one task (tensors of their own shape) and mixed-task batches (each
 * example's tensors gathered to `[B, …]`, rank-1 tensors as `[B, 1, n]`), because it is written
 * with broadcasting ops only; {@link MethodContext.layerNorm} covers the one op that is not.
 */
import { fail } from '../errors.js';
import { add, f32, layerNorm as lnOp, mul, sub, unsqueeze, type HostTensor, type Value } from '../engine/index.js';
import type { AttentionParts, Encoder, EncoderHooks, LayerInput, SubLayerParts } from '../models/encoder.js';
import type { HookSite } from '../models/sites.js';
import { Rng } from '../util/random.js';

/** Method identifiers. */
export type MethodId = 'bottleneck' | 'lora' | 'ia3' | 'prefix_tuning' | 'prompt_tuning' | 'union';

/** Fields every method config has (adapterkit's own fields are camelCase; AdapterHub's keep its snake_case names). */
export interface MethodConfigBase {
  readonly method: MethodId;
  /** Train the base's layer norms with the adapter (the paper does; AdapterHub's presets do not). */
  readonly trainLayerNorms: boolean;
  /** The preset a config was made from, for labels in results (`paper`, `houlsby`, `lora`…). */
  readonly preset?: string;
  /** Layers without this adapter (AdapterHub's `leave_out`). */
  readonly leave_out: readonly number[];
}

/** How a tensor starts. */
export type TensorInit =
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' }
  | { readonly kind: 'constant'; readonly value: number }
  /** Normal(0, std) truncated at `cut` standard deviations. */
  | { readonly kind: 'truncated-normal'; readonly std: number; readonly cut: number }
  | { readonly kind: 'normal'; readonly std: number }
  /** Uniform(-bound, bound) (PyTorch's kaiming_uniform_ with a = sqrt(5) gives bound = 1/sqrt(fan_in)). */
  | { readonly kind: 'uniform'; readonly bound: number };

/** One tensor an adapter owns. */
export interface AdapterTensor {
  /** Internal name (see names.ts). */
  readonly name: string;
  /** Internal shape; projections are [in, out]. */
  readonly shape: readonly number[];
  readonly init: TensorInit;
  /** The site it belongs to. */
  readonly site: { readonly kind: HookSite['kind']; readonly key: string; readonly layer: number };
  /**
   * The value that switches this tensor's contribution off: 0 for additive parts, 1 for scales.
   * Tasks without the tensor get it in a mixed batch, and ablations set it.
   */
  readonly neutral: 0 | 1;
}

/** One tensor as another library stores it. */
export interface FileTensorKey {
  readonly internal: string;
  readonly key: string;
  /** Shape in the file. */
  readonly shape: readonly number[];
  /** The file holds the transpose of the internal matrix (PyTorch Linear [out, in]). */
  readonly transpose: boolean;
}

/** What a method's hooks can ask of the model that builds them. */
export interface MethodContext {
  /** The graph value of one of the adapter's tensors ([…], or [B, …] in a mixed batch). */
  w(name: string): Value;
  /** Whether the values are per-example stacks (a mixed-task batch). */
  readonly gathered: boolean;
  /** Dropout with probability p while training; the input itself otherwise. */
  dropout(x: Value, p: number): Value;
  /** Layer normalisation with the gain and (unless `bias` is undefined: ModernBERT's gain-only norms) bias tensors named (works for gathered ones too). */
  layerNorm(x: Value, weight: string, bias: string | undefined, eps: number): Value;
  /**
   * In a mixed-task batch, for a method that adds positions ({@link AdapterMethod.positions}):
   * per example, 1 for each of the `kind` positions its task has and 0 for the rest of the
   * group's (the largest task's count), `[B, 1, P]` float32. The hooks mask the positions an
   * example does not have (exactly neutral: see {@link slotMaskBias}). Absent outside mixed batches.
   */
  positions?(kind: PositionKind): Value;
}

/** Positions a method adds: prefix keys and values in every attention, or prompt tokens in the sequence. */
export type PositionKind = 'prefix' | 'prompt';

/**
 * A value below any attention score (float32's lowest, as the BERT family masks padding): added to
 * a score, its softmax weight is exactly 0.
 */
export const SLOT_MASK_VALUE = -3.4028234663852886e38;

/** The additive attention mask of added positions from their validity `[B, 1, P]` (1 seen, 0 masked): `[B, 1, 1, P]`. */
export function slotMaskBias(valid: Value): Value {
  return unsqueeze(mul(sub(1, valid), SLOT_MASK_VALUE), [1]);
}

/** What a method does at the encoder's sites, by site key. */
export interface MethodHooks {
  readonly deltas?: ReadonlyMap<string, (parts: SubLayerParts) => Value>;
  readonly sublayers?: ReadonlyMap<string, (parts: SubLayerParts) => Value>;
  readonly linears?: ReadonlyMap<string, (x: Value, apply: (x: Value) => Value) => Value>;
  /** By attention site key: the attention's keys, values and mask bias, changed. */
  readonly attentions?: ReadonlyMap<string, (parts: AttentionParts) => AttentionParts>;
  /** Prompt vectors: `insert` changes what enters layer 0 (hidden state [B, T', w], mask bias, mask); `strip` takes the last hidden state back to the input's T positions. */
  readonly prompt?: { insert(x: LayerInput): LayerInput; strip(h: Value): Value };
  /** Prompt vectors [P, E] the encoder joins before the word embeddings (PEFT's prompt tuning; see `BuildContext.inputPrompt`); comes with `prompt` for the masks. */
  readonly inputPrompt?: () => Value;
}

/**
 * AdapterHub's placement fields of a bottleneck adapter, the ones its `pre_forward` and
 * `post_forward` read (see compose.ts for what must agree between adapters at one site).
 */
export interface BottleneckPlacement {
  readonly is_parallel: boolean;
  readonly original_ln_before: boolean;
  readonly original_ln_after: boolean;
  readonly residual_before_ln: boolean | 'post_add';
}

/**
 * One bottleneck adapter at one sub-layer site, as compositions use it (AdapterHub's `Adapter` /
 * `ParallelAdapter` with `pre_forward` and `forward`; `post_forward` follows from the placement).
 */
export interface SubLayerUnit {
  readonly placement: BottleneckPlacement;
  /** pre_forward: the adapter's input and the residual around it, from the incoming hidden state [B, T, d]. */
  pre(hidden: Value, p: SubLayerParts): { readonly hidden: Value; readonly residual: Value };
  /** forward: the adapter's output, its residual included (a parallel adapter's output has none). */
  forward(hidden: Value, residual: Value): Value;
}

/**
 * One LoRA or IA³ adapter at one projection site, as compositions use it (AdapterHub's
 * `LoRALinear` state: the adaptation's hidden state, undefined before the first adapter).
 */
export interface LinearUnit {
  /** How the composed state acts on the projection: added to its output (LoRA), scaling its output or its input (IA³). */
  readonly kind: 'add' | 'scale-out' | 'scale-in';
  /** Width of the state (the projection's output, or its input for input scaling). */
  readonly width: number;
  /** The projection's input width (a LoRA that follows another one at a site reads the previous state). */
  readonly inWidth: number;
  /** compose_single: the new state from the projection's input `x` and the incoming state. */
  single(x: Value, state: Value | undefined): Value;
}

/**
 * One prefix-tuning adapter at one self-attention, as compositions use it (AdapterHub's
 * `PrefixTuningLayer.compose_single`): the state is the attention's keys, values and mask.
 */
export interface AttentionUnit {
  /** Key positions the adapter adds (its prefix length). */
  readonly added: number;
  /** The adapter's prefix joined in front of the state's keys and values, seen by every row. */
  join(parts: AttentionParts): AttentionParts;
}

/** A method's units, by site key (see {@link AdapterMethod.units}). */
export interface MethodUnits {
  readonly sublayers?: ReadonlyMap<string, SubLayerUnit>;
  readonly linears?: ReadonlyMap<string, LinearUnit>;
  readonly attentions?: ReadonlyMap<string, AttentionUnit>;
}

/** AdapterHub's view of a config: its `config` object (exactly what AdapterHub's `to_dict()` gives), or why it has none. */
export type AdapterHubConfig = { readonly config: Record<string, unknown> } | { readonly unsupported: string };

/** PEFT's view of a config: the fields of its `adapter_config.json` that depend on the method, or why it has none. */
export type PeftConfig = { readonly config: Record<string, unknown> } | { readonly unsupported: string };

/** An adapter method. */
export interface AdapterMethod<C extends MethodConfigBase = MethodConfigBase> {
  readonly id: C['method'];
  /** One line for `info` and reports, e.g. `bottleneck (houlsby, m=48)`. */
  describe(c: C, enc?: Encoder): string;
  /** Checks a config against an encoder (BAD_CONFIG naming the field). */
  validateFor(c: C, enc: Encoder): void;
  /** Every tensor of an adapter `name` with config `c` on `enc`, in a fixed order (init draws in this order). */
  tensors(c: C, enc: Encoder, name: string): AdapterTensor[];
  /** The hooks that apply the adapter. */
  hooks(c: C, enc: Encoder, name: string, ctx: MethodContext): MethodHooks;
  /** The adapter as compositions use it (Stack, Average, BatchSplit, Parallel, Split), by site; see compose.ts. */
  units?(c: C, enc: Encoder, name: string, ctx: MethodContext): MethodUnits;
  /** Without `units`: why the method cannot be composed, for the error that names the composition (what AdapterHub does with it). */
  readonly notComposable?: string;
  /**
   * What must agree for tasks to share stacks in a mixed batch (sizes and `leave_out` may differ:
   * stacks are zero-padded and absent tensors get their neutral value), or why the config cannot
   * be mixed at all.
   */
  structure(c: C): { readonly key: string } | { readonly unsupported: string };
  /**
   * How many positions of each kind the adapter adds (prefix tuning: P keys and values per
   * attention; prompt tuning: P tokens). In a mixed batch a group of such tasks gets the largest
   * count of its tasks, and each example masks the positions its task does not have
   * ({@link MethodContext.positions}). Absent: none.
   */
  positions?(c: C): Readonly<Partial<Record<PositionKind, number>>>;
  /**
   * Positions of the base's position embeddings that the adapter's tokens take before the
   * input's (PEFT's prompt tuning: its P virtual tokens), so that an input may have that many
   * fewer tokens than the base's limit. Absent: 0.
   */
  inputPositions?(c: C): number;
  /**
   * Whether the hooks average over every position of a row (UniPELT's gates, as AdapterHub's:
   * padding included), so that positions other tasks add to the rows of a mixed batch (prompt
   * tokens) would change what this adapter computes. Absent: false.
   */
  averagesPositions?(c: C): boolean;
  /**
   * The method's size knob for sweeps: bottleneck m, LoRA r, prefix or prompt length P (undefined:
   * none). `name` goes into sweep method ids (`lora-r8`), `what` into help texts.
   */
  readonly size?: { readonly name: string; readonly what: string; get(c: C, enc: Encoder): number; with(c: C, n: number): C };
  readonly adapterHub: {
    config(c: C, enc: Encoder): AdapterHubConfig;
    /** File keys of the tensors, with `fileName` as the adapter's name in the keys. */
    keys(c: C, enc: Encoder, name: string, fileName: string): FileTensorKey[];
  };
  readonly peft?: {
    config(c: C, enc: Encoder): PeftConfig;
    keys(c: C, enc: Encoder, name: string): FileTensorKey[];
    /**
     * The tensors PEFT's file holds, from the adapter's own, when they differ (prefix tuning's
     * file holds the evaluated prefix, not its MLP); `keys` then name these. Absent: the same.
     */
    fileTensors?(c: C, enc: Encoder, name: string, tensors: ReadonlyMap<string, HostTensor<'float32'>>): ReadonlyMap<string, HostTensor<'float32'>>;
  };
  /**
   * Folds the adapter into copies of the frozen weights it touches (LoRA, IA³): returns the new
   * values of those base weights; the merged model needs no adapter at inference.
   */
  merge?(c: C, enc: Encoder, name: string, tensors: ReadonlyMap<string, HostTensor<'float32'>>, base: ReadonlyMap<string, HostTensor<'float32'>>): Map<string, HostTensor<'float32'>>;
  /**
   * A config and tensors that compute the same function at inference with less work, when the
   * method has one (prefix tuning: the reparameterising MLP evaluated once into the flat prefix,
   * AdapterHub's `eject_prefix_tuning`). `tensors` may hold other tensors besides the adapter's:
   * they come back unchanged. Absent: the adapter is already in its inference form.
   */
  inferenceForm?(c: C, enc: Encoder, name: string, tensors: ReadonlyMap<string, HostTensor<'float32'>>): { config: C; tensors: Map<string, HostTensor<'float32'>> };
}

/** Fresh values of a tensor (draws from `rng` in element order). */
export function initTensor(t: AdapterTensor, rng: Rng): HostTensor<'float32'> {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const init = t.init;
  switch (init.kind) {
    case 'zeros':
      break;
    case 'ones':
      data.fill(1);
      break;
    case 'constant':
      data.fill(init.value);
      break;
    case 'truncated-normal':
      for (let i = 0; i < n; i++) data[i] = rng.truncatedNormal(init.std, init.cut);
      break;
    case 'normal':
      for (let i = 0; i < n; i++) data[i] = rng.normal() * init.std;
      break;
    case 'uniform':
      for (let i = 0; i < n; i++) data[i] = (rng.next() * 2 - 1) * init.bound;
      break;
  }
  return f32([...t.shape], data);
}

/** Fresh values of every tensor, from one seeded generator in declaration order. */
export function initTensors(tensors: readonly AdapterTensor[], seed: number): Map<string, HostTensor<'float32'>> {
  const rng = new Rng(seed);
  return new Map(tensors.map((t) => [t.name, initTensor(t, rng)]));
}

/** Number of values of a set of tensors. */
export function tensorParamCount(tensors: readonly AdapterTensor[]): number {
  return tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

/** A {@link MethodContext.layerNorm} for tensors of their own shape, or gathered `[B, 1, d]` ones. */
export function contextLayerNorm(w: (name: string) => Value, gathered: boolean, unit: (d: number) => Value): MethodContext['layerNorm'] {
  return (x, weight, bias, eps) => {
    if (!gathered) return lnOp(x, w(weight), bias === undefined ? undefined : w(bias), eps);
    const d = x.shape[x.rank - 1] as number;
    const scaled = mul(lnOp(x, unit(d), undefined, eps), w(weight)); // per-example gain
    return bias === undefined ? scaled : add(scaled, w(bias)); // and shift, where the norm has one
  };
}

/**
 * Joins the hooks of several adapters (or, in a mixed batch, several groups of tasks) into the
 * encoder's hooks: additive deltas at a sub-layer add up, linear wrappers and attention changes
 * chain in list order.
 *
 * @throws AdapterkitError BAD_CONFIG when a site gets a replacement of its residual connection
 *   together with anything else at that site.
 */
export function composeHooks(all: readonly MethodHooks[], layerNorm?: EncoderHooks['layerNorm']): EncoderHooks {
  const deltas = new Map<string, ((p: SubLayerParts) => Value)[]>();
  const subs = new Map<string, (p: SubLayerParts) => Value>();
  const linears = new Map<string, ((x: Value, apply: (x: Value) => Value) => Value)[]>();
  const attentions = new Map<string, ((p: AttentionParts) => AttentionParts)[]>();
  const prompts = all.flatMap((h) => (h.prompt ? [h.prompt] : []));
  if (prompts.length > 1) fail('BAD_CONFIG', `${prompts.length} adapters join prompts to the input; one prompt-tuning adapter fits a model`);
  for (const h of all) {
    for (const [k, f] of h.deltas ?? []) deltas.set(k, [...(deltas.get(k) ?? []), f]);
    for (const [k, f] of h.sublayers ?? []) {
      if (subs.has(k)) fail('BAD_CONFIG', `two adapters replace the residual connection of sub-layer ${k}; only one non-additive bottleneck fits a site`);
      subs.set(k, f);
    }
    for (const [k, f] of h.linears ?? []) linears.set(k, [...(linears.get(k) ?? []), f]);
    for (const [k, f] of h.attentions ?? []) attentions.set(k, [...(attentions.get(k) ?? []), f]);
  }
  for (const k of subs.keys()) {
    if (deltas.has(k)) fail('BAD_CONFIG', `sub-layer ${k} has a non-additive bottleneck and another adapter; combine only additive configs at one site`);
  }
  const hooks: { -readonly [K in keyof EncoderHooks]: EncoderHooks[K] } = {};
  if (deltas.size || subs.size) {
    hooks.sublayer = (site, parts) => {
      const replace = subs.get(site.key);
      if (replace) return parts.output.graph.scope(`adapter_${site.key}`, () => replace(parts));
      const fs = deltas.get(site.key);
      if (!fs) return parts.norm(add(parts.residual, parts.output));
      const delta = parts.output.graph.scope(`adapter_${site.key}`, () => fs.map((f) => f(parts)).reduce((a, b) => add(a, b)));
      return parts.norm(add(parts.residual, add(parts.output, delta)));
    };
  }
  if (linears.size) {
    hooks.linear = (site, x, apply) => {
      const fs = linears.get(site.key);
      if (!fs) return apply(x);
      const chained = fs.reduce<(z: Value) => Value>((inner, f) => (z) => f(z, inner), apply);
      return x.graph.scope(`adapter_${site.key}`, () => chained(x));
    };
  }
  if (attentions.size) {
    hooks.attention = (site, parts) => {
      const fs = attentions.get(site.key);
      if (!fs) return parts;
      return parts.keys.graph.scope(`adapter_${site.key}`, () => fs.reduce((p, f) => f(p), parts));
    };
  }
  const prompt = prompts[0];
  if (prompt) {
    hooks.layerInput = (layer, x) => (layer === 0 ? x.hidden.graph.scope('adapter_prompt', () => prompt.insert(x)) : x);
    hooks.hiddenOutput = (h) => h.graph.scope('adapter_prompt_strip', () => prompt.strip(h));
  }
  const inputPrompt = all.find((h) => h.inputPrompt)?.inputPrompt;
  if (inputPrompt) hooks.inputPrompt = inputPrompt;
  if (layerNorm) hooks.layerNorm = layerNorm;
  return hooks;
}
