/**
 * Prefix tuning (Li & Liang 2021): `P` trained key and value vectors joined in front of the keys
 * and values of every self-attention, with AdapterHub's `PrefixTuningConfig` fields, defaults and
 * file layout (adapters @ 88f18eb, `methods/prefix_tuning.py` `PrefixTuning`, `FlatPrefixTuning`,
 * `PrefixTuningLayer.compose_single`; `configuration/adapter_config.py`).
 *
 * All of an adapter's prefixes come from one matrix `kv` [P, Σ_l 2·D_l] (D_l = heads·headDim of
 * attention l; left-out layers have none), whose columns hold, layer after layer, the keys then
 * the values, heads then head positions: AdapterHub's `[P, n_layers·2, heads, headDim]` flattened.
 *
 *     flat            kv = control_trans                                        (trained directly)
 *     reparameterised kv = f(wte W₁ + b₁) W₂ + b₂    wte [P, d], W₁ [d, m], W₂ [m, Σ 2·D_l]
 *
 * (m = `bottleneck_size`, f = `non_linearity`, d = the encoder's hidden width), then dropout.
 * At attention l with keys and values [B, H, T, Dh] and additive mask [B, 1, 1, T]:
 *
 *     K' = [K_l^prefix ; K]   V' = [V_l^prefix ; V]   (along T: [B, H, P + T, Dh])
 *     mask' = [0 … 0 ; mask]                            (prefix keys are always visible)
 *
 * Queries and hidden states keep their length T: positions, pooling, token-level and QA heads are
 * untouched. {@link ejectPrefix} evaluates the reparameterised form into the flat one (AdapterHub's
 * `eject_prefix_tuning`); PEFT's files hold that flat prefix (`prompt_embeddings`).
 *
 * In a mixed-task batch the group's prefixes are gathered per example ([B, P, Σ 2·D_l], P the
 * group's longest, shorter ones zero-padded) and each example's mask hides the prefix positions its
 * task does not have (all of them for a task outside the group): a masked key has softmax weight
 * exactly 0, so every example computes what it computes alone.
 *
 * Internal tensors: `adapters.<name>.shared.control_trans` [P, Σ 2·D_l] (flat), or
 * `adapters.<name>.shared.{wte, control_trans.0.weight, control_trans.0.bias, control_trans.2.weight,
 * control_trans.2.bias}` (matrices [in, out]).
 */
import { fail } from '../../errors.js';
import { add, concat, expand, f32, matmul, mul, reduceMean, reshape, sigmoid, slice, transpose, unsqueeze, type HostTensor, type Value } from '../../engine/index.js';
import { activate } from '../../models/activations.js';
import type { AttentionParts, Encoder } from '../../models/encoder.js';
import type { AttentionSite } from '../../models/sites.js';
import { pyFloat } from '../../util/python-json.js';
import { SHARED_SITE_KEY, adapterTensorName, sharedTensorName } from '../names.js';
import { slotMaskBias, type AdapterMethod, type AdapterTensor, type FileTensorKey, type MethodConfigBase, type MethodHooks, type TensorInit } from '../method.js';
import { BOTTLENECK_ACTIVATIONS, GRAPH_ACTIVATION, type BottleneckActivation } from './bottleneck.js';
import { checkBool, checkKnownFields, checkLayerList, checkNumber, checkOneOf, type RawConfig } from './config-checks.js';
import { isUnset } from './linear-targets.js';

/** A prefix-tuning configuration: AdapterHub's `PrefixTuningConfig` fields. */
export interface PrefixConfig extends MethodConfigBase {
  readonly method: 'prefix_tuning';
  /** Prefixes in the encoder (the only place adapterkit's encoder-only models have). */
  readonly encoder_prefix: true;
  /** Prefixes in cross-attentions: adapterkit's encoders have none, so the value changes nothing. */
  readonly cross_prefix: boolean;
  /** Train the prefixes directly (true) or through the reparameterising MLP (false). */
  readonly flat: boolean;
  /** P: prefix vectors per attention. */
  readonly prefix_length: number;
  /** m: hidden width of the MLP (flat = false). */
  readonly bottleneck_size: number;
  /** f: the MLP's nonlinearity. */
  readonly non_linearity: BottleneckActivation;
  /** Dropout on the prefixes while training. */
  readonly dropout: number;
  /**
   * Gates beside the prefixes (UniPELT; AdapterHub's `prefix_gates`): per attention
   * `g = mean over tokens of sigmoid(x W_g + b_g)` [B, 1 or 2] from the attention's input x, the
   * prefix keys scaled by `g[:, 0]`, the values by `g[:, -1]`.
   */
  readonly use_gating: boolean;
  /** One gate for keys and values (true) or one each (only with use_gating). */
  readonly shared_gating: boolean;
}

const DEFAULTS = {
  method: 'prefix_tuning', trainLayerNorms: false, leave_out: [], encoder_prefix: true, cross_prefix: true, flat: false, prefix_length: 30,
  bottleneck_size: 512, non_linearity: 'tanh', dropout: 0, use_gating: false, shared_gating: true,
} as const satisfies Omit<PrefixConfig, 'preset'>;

/** The prefix-tuning presets: AdapterHub's `prefix_tuning` and `prefix_tuning_flat`. */
export const PREFIX_PRESETS = {
  prefix: { ...DEFAULTS, preset: 'prefix' },
  'prefix-flat': { ...DEFAULTS, preset: 'prefix-flat', flat: true },
} as const satisfies Record<string, PrefixConfig>;

/** AdapterHub's preset names for the prefix-tuning presets. */
export const ADAPTERHUB_PREFIX_NAMES: Readonly<Record<string, keyof typeof PREFIX_PRESETS>> = { prefix_tuning: 'prefix', prefix_tuning_flat: 'prefix-flat' };

const FIELDS = [
  'method', 'preset', 'trainLayerNorms', 'leave_out', 'encoder_prefix', 'cross_prefix', 'flat', 'prefix_length', 'bottleneck_size', 'non_linearity', 'dropout',
  'use_gating', 'shared_gating',
] as const;

/** Validates and freezes a prefix-tuning config. */
export function checkPrefixConfig(raw: RawConfig, where = 'prefix_tuning config'): PrefixConfig {
  checkKnownFields(raw, FIELDS, where);
  for (const f of ['trainLayerNorms', 'encoder_prefix', 'cross_prefix', 'flat', 'use_gating', 'shared_gating'] as const) checkBool(raw, f, where);
  if (raw.encoder_prefix === false) fail('BAD_CONFIG', `${where}: encoder_prefix is false: adapterkit's encoders are encoder-only, so there would be no prefix anywhere`);
  checkNumber(raw, 'prefix_length', where, { min: 1, integer: true });
  checkNumber(raw, 'bottleneck_size', where, { min: 1, integer: true });
  checkOneOf(raw, 'non_linearity', BOTTLENECK_ACTIVATIONS, where);
  checkNumber(raw, 'dropout', where, { min: 0, max: 1, exclusiveMax: true });
  checkLayerList(raw, 'leave_out', where);
  const c = raw as unknown as PrefixConfig;
  return Object.freeze({ ...c, leave_out: Object.freeze([...c.leave_out]) });
}

/** A prefix-tuning config from a preset and overrides. */
export function prefixConfig(overrides: Partial<Omit<PrefixConfig, 'method'>> = {}, preset: keyof typeof PREFIX_PRESETS = 'prefix'): PrefixConfig {
  return checkPrefixConfig({ ...PREFIX_PRESETS[preset], ...overrides });
}

/** One attention with a prefix and where its keys and values sit in `kv`'s columns. */
interface PrefixSlot {
  readonly site: AttentionSite;
  /** First column of the keys; the values follow at `offset + width`. */
  readonly offset: number;
  /** heads · headDim */
  readonly width: number;
}

/** The attentions that get a prefix, with their columns of `kv`, and the width of `kv`. */
function slotsOf(c: PrefixConfig, enc: Encoder): { slots: PrefixSlot[]; total: number } {
  const slots: PrefixSlot[] = [];
  let total = 0;
  for (const site of enc.sites.attentions) {
    if (c.leave_out.includes(site.layer)) continue;
    const width = site.heads * site.headDim;
    slots.push({ site, offset: total, width });
    total += 2 * width;
  }
  return { slots, total };
}

/** The internal tensor params of a config, with their shapes and inits (nn.Embedding: N(0, 1); nn.Linear: kaiming-uniform, bound 1/sqrt(fan_in)). */
function params(c: PrefixConfig, enc: Encoder): { param: string; shape: number[]; init: TensorInit; file: string; transpose: boolean }[] {
  const { total } = slotsOf(c, enc);
  const P = c.prefix_length;
  if (c.flat) return [{ param: 'control_trans', shape: [P, total], init: { kind: 'normal', std: 1 }, file: 'control_trans', transpose: false }];
  const d = enc.hiddenSize;
  const m = c.bottleneck_size;
  return [
    { param: 'wte', shape: [P, d], init: { kind: 'normal', std: 1 }, file: 'wte.weight', transpose: false },
    { param: 'control_trans.0.weight', shape: [d, m], init: { kind: 'uniform', bound: 1 / Math.sqrt(d) }, file: 'control_trans.0.weight', transpose: true },
    { param: 'control_trans.0.bias', shape: [m], init: { kind: 'uniform', bound: 1 / Math.sqrt(d) }, file: 'control_trans.0.bias', transpose: false },
    { param: 'control_trans.2.weight', shape: [m, total], init: { kind: 'uniform', bound: 1 / Math.sqrt(m) }, file: 'control_trans.2.weight', transpose: true },
    { param: 'control_trans.2.bias', shape: [total], init: { kind: 'uniform', bound: 1 / Math.sqrt(m) }, file: 'control_trans.2.bias', transpose: false },
  ];
}

/** AdapterHub's location key of the encoder's prefixes (one for every attention of an encoder). */
function locationOf(enc: Encoder): string {
  return enc.sites.attentions[0]?.prefixLocation ?? 'self_prefix';
}

/** The prefix method. */
export const prefixMethod: AdapterMethod<PrefixConfig> = {
  id: 'prefix_tuning',
  describe: (c) => `prefix tuning (P=${c.prefix_length}, ${c.flat ? 'flat' : `MLP m=${c.bottleneck_size} ${c.non_linearity}`}${c.trainLayerNorms ? ' + layer norms' : ''})`,
  validateFor(c, enc) {
    const limit = enc.positionLimits?.prefixKeys;
    if (limit) fail('BAD_CONFIG', `prefix_tuning config: prefix tuning does not work on the ${enc.family} encoder: ${limit}`);
    for (const l of c.leave_out) if (l >= enc.numLayers) fail('BAD_CONFIG', `prefix_tuning config: leave_out layer ${l} does not exist (the ${enc.family} encoder has ${enc.numLayers} layers)`);
    if (slotsOf(c, enc).slots.length === 0) fail('BAD_CONFIG', 'prefix_tuning config: every layer is left out; no prefix would be inserted');
  },
  tensors(c, enc, name) {
    const shared = params(c, enc).map((p): AdapterTensor => ({
      name: sharedTensorName(name, p.param), shape: p.shape, init: p.init, site: { kind: 'attention', key: SHARED_SITE_KEY, layer: -1 }, neutral: 0,
    }));
    return [...shared, ...gateTensors(c, enc, name)];
  },
  hooks(c, enc, name, ctx): MethodHooks {
    const w = (p: string) => ctx.w(sharedTensorName(name, p));
    let kv: Value | undefined;
    // [P, Σ 2·D_l], computed once per graph and shared by every attention
    const prefixes = (): Value => {
      if (!kv) {
        const raw = c.flat
          ? w('control_trans')
          : add(matmul(activate(add(matmul(w('wte'), w('control_trans.0.weight')), w('control_trans.0.bias')), GRAPH_ACTIVATION[c.non_linearity]), w('control_trans.2.weight')), w('control_trans.2.bias'));
        kv = ctx.dropout(raw, c.dropout);
      }
      return kv;
    };
    // in a mixed batch: which of the group's prefix positions each example's task has, [B, 1, P]
    let valid: Value | undefined;
    if (ctx.gathered) {
      if (!ctx.positions) fail('BAD_CONFIG', 'prefix tuning in a mixed-task batch needs per-example prefix masks, which this model does not give (mixed-task serving does; train prefix-tuning tasks on their own)');
      valid = ctx.positions('prefix');
    }
    const attentions = new Map<string, (p: AttentionParts) => AttentionParts>();
    for (const s of slotsOf(c, enc).slots) {
      const gate = c.use_gating
        ? (parts: AttentionParts): Value => {
          if (!parts.input) fail('GRAPH_ERROR', `prefix_tuning: attention ${s.site.key} does not hand its input to the hook, which the gate reads`);
          const [wg, bg] = ['weight', 'bias'].map((p) => ctx.w(adapterTensorName(name, s.site.key, `gate.${p}`))) as [Value, Value];
          return reduceMean(sigmoid(add(matmul(parts.input, wg), bg)), [1]); // [B, 1 or 2]: over every position, padding included, as AdapterHub's torch.mean(dim=1)
        }
        : undefined;
      attentions.set(s.site.key, (parts) => joinPrefix(parts, prefixes(), s, gate?.(parts), valid));
    }
    return { attentions };
  },
  units(c, enc, name, ctx) {
    const joins = prefixMethod.hooks(c, enc, name, ctx).attentions ?? new Map<string, (p: AttentionParts) => AttentionParts>();
    return { attentions: new Map([...joins].map(([k, join]) => [k, { added: c.prefix_length, join }])) };
  },
  positions: (c) => ({ prefix: c.prefix_length }),
  averagesPositions: (c) => c.use_gating,
  inferenceForm: (c, enc, name, tensors) => ejectPrefix(c, enc, name, tensors),
  size: { name: 'P', what: 'prefix_length', get: (c) => c.prefix_length, with: (c, n) => checkPrefixConfig({ ...c, prefix_length: n }) },
  // prefix lengths and MLP widths may differ (rows are padded, and each example masks the prefix positions its task lacks); the layers with a prefix decide kv's columns
  structure: (c) => ({ key: JSON.stringify({ m: 'prefix_tuning', flat: c.flat, non_linearity: c.non_linearity, use_gating: c.use_gating, shared_gating: c.shared_gating, leave_out: [...c.leave_out].sort((a, b) => a - b) }) }),
  adapterHub: {
    config(c) {
      // PrefixTuningConfig.to_dict() (a dataclass asdict); written with sort_keys
      return {
        config: {
          architecture: 'prefix_tuning', bottleneck_size: c.bottleneck_size, cross_prefix: c.cross_prefix, dropout: pyFloat(c.dropout), encoder_prefix: c.encoder_prefix,
          flat: c.flat, init_weights_seed: null, leave_out: [...c.leave_out], non_linearity: c.non_linearity, prefix_length: c.prefix_length, shared_gating: c.shared_gating,
          use_gating: c.use_gating,
        },
      };
    },
    keys(c, enc, name, fileName) {
      // PrefixTuningPool on the base model: <prefix>prefix_tuning.prefix_tunings.<name>.<location>.<module param>
      const at = `${enc.checkpointPrefix}prefix_tuning.prefix_tunings.${fileName}.${locationOf(enc)}`;
      const pool = params(c, enc).map((p): FileTensorKey => ({
        internal: sharedTensorName(name, p.param), key: `${at}.${p.file}`, shape: p.file === 'control_trans' ? [p.shape.reduce((a, b) => a * b, 1)] : p.transpose ? [...p.shape].reverse() : p.shape,
        transpose: p.transpose,
      }));
      // the gates live on each attention's PrefixTuningLayer: <attention module>.prefix_tuning.prefix_gates.<name>.{weight, bias}
      const gates = gateTensors(c, enc, name).map((t): FileTensorKey => {
        const site = enc.sites.linear(t.site.layer, 'query');
        // the attention module: the query projection's parent (keeping the `.depth.<d>` that tells a shared layer's depths apart)
        const [, own = site.module, depth = ''] = /^(.*?)(\.depth\.\d+)?$/.exec(site.module) ?? [];
        const module = `${own.slice(0, own.lastIndexOf('.'))}${depth}`;
        const param = t.name.endsWith('.weight') ? 'weight' : 'bias';
        return { internal: t.name, key: `${enc.checkpointPrefix}${module}.prefix_tuning.prefix_gates.${fileName}.${param}`, shape: param === 'weight' ? [...t.shape].reverse() : t.shape, transpose: param === 'weight' };
      });
      return [...pool, ...gates];
    },
  },
  peft: {
    config(c, enc) {
      const { slots } = slotsOf(c, enc);
      if (c.use_gating) return { unsupported: 'PEFT\'s prefix tuning has no gates (use_gating)' };
      // PEFT hands the prefixes to the model as past_key_values, which Hugging Face's DistilBERT does not take
      if (enc.family === 'distilbert') return { unsupported: 'PEFT passes prefixes as past_key_values, which Hugging Face\'s DistilBertModel does not take' };
      if (slots.length !== enc.numLayers) return { unsupported: `PEFT's prefix tuning has a prefix in every layer (this adapter leaves out ${c.leave_out.join(', ')})` };
      const first = slots[0]?.site as AttentionSite;
      if (slots.some((s) => s.site.heads !== first.heads || s.site.headDim !== first.headDim) || first.heads * first.headDim !== enc.hiddenSize) {
        return { unsupported: `PEFT's prefix tuning needs heads x head width = the hidden width in every layer (the ${enc.family} encoder's attentions differ)` };
      }
      // PrefixTuningConfig (peft tuners/prefix_tuning/config.py); the file holds the evaluated (flat) prefix, which PEFT loads as prefix_projection false
      return {
        config: {
          encoder_hidden_size: enc.hiddenSize, init_weights: null, num_attention_heads: first.heads, num_layers: enc.numLayers, num_transformer_submodules: 1,
          num_virtual_tokens: c.prefix_length, peft_type: 'PREFIX_TUNING', prefix_projection: false, token_dim: enc.hiddenSize,
        },
      };
    },
    keys(c, enc, name) {
      const { total } = slotsOf(c, enc);
      return [{ internal: sharedTensorName(name, 'control_trans'), key: 'prompt_embeddings', shape: [c.prefix_length, total], transpose: false }];
    },
    fileTensors(c, enc, name, tensors) {
      return c.flat ? tensors : ejectPrefix(c, enc, name, tensors).tensors;
    },
  },
};

/** The gate tensors of a config: per attention with a prefix, `gate.weight` [in, 1 or 2] (N(0, 0.02), as AdapterHub) and `gate.bias` (nn.Linear's). */
function gateTensors(c: PrefixConfig, enc: Encoder, name: string): AdapterTensor[] {
  if (!c.use_gating) return [];
  const g = c.shared_gating ? 1 : 2;
  return slotsOf(c, enc).slots.flatMap(({ site }): AdapterTensor[] => [
    { name: adapterTensorName(name, site.key, 'gate.weight'), shape: [site.inputWidth, g], init: { kind: 'normal', std: 0.02 }, site: { kind: 'attention', key: site.key, layer: site.layer }, neutral: 0 },
    { name: adapterTensorName(name, site.key, 'gate.bias'), shape: [g], init: { kind: 'uniform', bound: 1 / Math.sqrt(site.inputWidth) }, site: { kind: 'attention', key: site.key, layer: site.layer }, neutral: 0 },
  ]);
}

/**
 * Joins one attention's prefix (columns of `kv` [P, Σ 2·D], or per example [B, P, Σ 2·D] in a
 * mixed batch) in front of its keys and values, and zeros in front of its mask (in a mixed batch
 * the mask of `valid` [B, 1, P], so an example sees only its task's prefix positions); with a gate
 * [B, 1 or 2] the prefix keys are scaled by its first column and the values by its last.
 */
function joinPrefix(parts: AttentionParts, kv: Value, s: PrefixSlot, gate?: Value, valid?: Value): AttentionParts {
  const { heads: H, headDim: Dh } = s.site;
  const B = parts.keys.shape[0] as string | number;
  const perExample = kv.rank === 3;
  const P = kv.shape[perExample ? 1 : 0] as number;
  // [P, D] -> [P, H, Dh] -> [H, P, Dh] -> [1, H, P, Dh] -> [B, H, P, Dh]; per example [B, P, D] -> [B, P, H, Dh] -> [B, H, P, Dh]
  const take = (from: number) => (perExample
    ? transpose(reshape(slice(kv, [from], [from + s.width], [2]), [kv.shape[0] as string | number, P, H, Dh]), [0, 2, 1, 3])
    : expand(unsqueeze(transpose(reshape(slice(kv, [from], [from + s.width], [1]), [P, H, Dh]), [1, 0, 2]), [0]), [B, H, P, Dh]));
  const g = parts.keys.graph;
  const mb = parts.maskBias; // [B, 1, 1, T]
  if (perExample && !valid) fail('GRAPH_ERROR', 'prefix_tuning: per-example prefixes need their masks');
  const zeros = valid ? slotMaskBias(valid) : expand(reshape(g.literal('float32', new Array<number>(P).fill(0)), [1, 1, 1, P]), [mb.shape[0] as string | number, 1, 1, P]); // [B, 1, 1, P]
  const scaled = (v: Value, col: number) => (gate ? mul(v, unsqueeze(slice(gate, [col], [col + 1], [1]), [2, 3])) : v); // gate column [B, 1, 1, 1]
  const last = gate ? (gate.shape[1] as number) - 1 : 0;
  return {
    ...parts,
    keys: concat([scaled(take(s.offset), 0), parts.keys], 2), // [B, H, P + T, Dh]
    values: concat([scaled(take(s.offset + s.width), last), parts.values], 2),
    maskBias: concat([zeros, mb], 3), // [B, 1, 1, P + T]
  };
}

/**
 * The flat form of a reparameterised prefix (AdapterHub's `eject_prefix_tuning`): the MLP
 * evaluated once, `kv = f(wte W₁ + b₁) W₂ + b₂`, as the `control_trans` of a `flat` config that
 * computes the same function at inference without the MLP. A flat config comes back unchanged.
 */
export function ejectPrefix(c: PrefixConfig, enc: Encoder, name: string, tensors: ReadonlyMap<string, HostTensor<'float32'>>): { config: PrefixConfig; tensors: Map<string, HostTensor<'float32'>> } {
  if (c.flat) return { config: c, tensors: new Map(tensors) };
  const get = (p: string) => {
    const t = tensors.get(sharedTensorName(name, p));
    if (!t) fail('ADAPTER_MISMATCH', `prefix eject: the tensor ${sharedTensorName(name, p)} is missing`);
    return t.data;
  };
  const { total } = slotsOf(c, enc);
  const [P, d, m] = [c.prefix_length, enc.hiddenSize, c.bottleneck_size];
  const [wte, w1, b1, w2, b2] = [get('wte'), get('control_trans.0.weight'), get('control_trans.0.bias'), get('control_trans.2.weight'), get('control_trans.2.bias')];
  const act = hostActivation(c.non_linearity);
  const hidden = new Float64Array(m);
  const out = new Float32Array(P * total);
  for (let p = 0; p < P; p++) {
    for (let j = 0; j < m; j++) {
      let s = b1[j] as number;
      for (let i = 0; i < d; i++) s += (wte[p * d + i] as number) * (w1[i * m + j] as number);
      hidden[j] = act(s);
    }
    for (let k = 0; k < total; k++) {
      let s = b2[k] as number;
      for (let j = 0; j < m; j++) s += (hidden[j] as number) * (w2[j * total + k] as number);
      out[p * total + k] = s;
    }
  }
  const rest = new Map([...tensors].filter(([k]) => !params(c, enc).some((p) => k === sharedTensorName(name, p.param))));
  rest.set(sharedTensorName(name, 'control_trans'), f32([P, total], out));
  return { config: checkPrefixConfig({ ...c, flat: true }), tensors: rest };
}

/** The nonlinearities on the host, as the graph computes them (GELU exact or tanh-approximated, SiLU). */
function hostActivation(a: BottleneckActivation): (x: number) => number {
  switch (GRAPH_ACTIVATION[a]) {
    case 'tanh':
      return Math.tanh;
    case 'relu':
      return (x) => Math.max(0, x);
    case 'silu':
      return (x) => x / (1 + Math.exp(-x));
    case 'gelu_tanh':
      return (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'gelu':
      return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
  }
}

/** erf by Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution of the results). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

/** AdapterHub `PrefixTuningConfig` fields that adapterkit reads. */
const ADAPTERHUB_FIELDS = new Set([
  'architecture', 'encoder_prefix', 'cross_prefix', 'leave_out', 'flat', 'prefix_length', 'bottleneck_size', 'non_linearity', 'dropout', 'use_gating', 'shared_gating',
  'init_weights_seed',
]);

/** Reads AdapterHub's `config` of a prefix-tuning adapter (architecture "prefix_tuning"). */
export function prefixFromAdapterHub(cfg: RawConfig, where: string): PrefixConfig {
  for (const k of Object.keys(cfg)) if (!ADAPTERHUB_FIELDS.has(k)) fail('BAD_CONFIG', `${where}: config.${k} is not a field adapterkit knows for prefix-tuning adapters`);
  // init_weights_seed only decides the initial values, which the file's tensors replace
  const v = (k: keyof typeof DEFAULTS) => (cfg[k] === undefined ? DEFAULTS[k] : cfg[k]);
  return checkPrefixConfig({
    method: 'prefix_tuning', preset: v('flat') === true ? 'prefix-flat' : 'prefix', trainLayerNorms: false, leave_out: v('leave_out'), encoder_prefix: v('encoder_prefix'),
    cross_prefix: v('cross_prefix'), flat: v('flat'), prefix_length: v('prefix_length'), bottleneck_size: v('bottleneck_size'),
    non_linearity: typeof cfg.non_linearity === 'string' ? cfg.non_linearity.toLowerCase() : v('non_linearity'), dropout: v('dropout'), use_gating: v('use_gating'),
    shared_gating: v('shared_gating'),
  }, `${where}: config`);
}

/** PEFT `PrefixTuningConfig` fields that leave the function alone whatever their value. */
const PEFT_PREFIX_INERT = new Set([
  'peft_type', 'task_type', 'base_model_name_or_path', 'revision', 'inference_mode', 'auto_mapping', 'peft_version', 'modules_to_save', 'num_virtual_tokens', 'token_dim',
  'num_transformer_submodules', 'num_attention_heads', 'num_layers', 'encoder_hidden_size', 'prefix_projection', 'init_weights',
]);

/**
 * Reads PEFT's prefix-tuning `adapter_config.json`: PEFT's file holds the evaluated prefix
 * (`prompt_embeddings` [P, layers·2·hidden]) whatever `prefix_projection` says, so it reads as a
 * flat prefix.
 */
export function prefixFromPeft(json: RawConfig, enc: Encoder, where: string): PrefixConfig {
  for (const [k, val] of Object.entries(json)) if (!PEFT_PREFIX_INERT.has(k) && !isUnset(val)) fail('BAD_CONFIG', `${where}: ${k} ${JSON.stringify(val)} is not implemented in adapterkit`);
  const expect = (k: string, want: number) => {
    if (!isUnset(json[k]) && json[k] !== want) fail('BAD_CONFIG', `${where}: ${k} ${JSON.stringify(json[k])} does not fit the ${enc.family} encoder (${want})`);
  };
  expect('num_layers', enc.numLayers);
  expect('token_dim', enc.hiddenSize);
  expect('num_attention_heads', enc.sites.attentions[0]?.heads ?? 0);
  expect('num_transformer_submodules', 1);
  checkNumber(json, 'num_virtual_tokens', where, { min: 1, integer: true });
  return checkPrefixConfig({ ...PREFIX_PRESETS['prefix-flat'], prefix_length: json.num_virtual_tokens }, where);
}
