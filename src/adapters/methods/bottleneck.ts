/**
 * Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2020; the parallel adapter of He et
 * al. 2022), with AdapterHub's `BnConfig` fields and semantics (adapters @ 88f18eb,
 * `methods/modeling.py` `Adapter` / `ParallelAdapter`, `configuration/adapter_config.py`).
 *
 * At a sub-layer with output `h`, residual `x` and original layer norm `LN` (the identity in a
 * pre-norm encoder), a sequential adapter computes
 *
 *     hs       = LN(h + x)            if original_ln_before   else h
 *     residual = h                    if residual_before_ln is true
 *                h + x                if residual_before_ln = "post_add" (needs original_ln_before)
 *                hs                   if residual_before_ln is false
 *     a        = s · (W_up f(W_down LN_before?(hs) + b_down) + b_up) · gate?,  gate = mean_T σ(W_g hs + b_g)  [B, 1, 1]
 *     out      = LN_after?(a + residual)  if adapter_residual_before_ln   else LN_after?(a) + residual
 *     final    = LN(out + x)          if original_ln_after    else out
 *
 * and a parallel one (`is_parallel`) `a` from `x` instead of `hs`, `out = LN_after?(a)`,
 * `final = LN(out + h + x)` (or `out + h`). With `original_ln_after`, `residual_before_ln: true`
 * and no `ln_after` inside the residual, `final = LN(x + h + δ)`: an additive delta, which is how
 * the Houlsby, Pfeiffer and parallel presets run (and how they mix in one batch); other configs
 * replace the block's residual connection with the formula above. The width at a site is
 * `size`, or AdapterHub's `int(hidden // reduction_factor)`.
 *
 * Internal tensors per site (`adapters.<name>.<layer>.<attention|ffn>.<param>`): `down.weight`
 * [d, m], `down.bias` [m], `up.weight` [m, d], `up.bias` [d], then `norm_before.*`,
 * `norm_after.*` [d], `gate.weight` [d, 1], `gate.bias` [1], `scaling` [1] or [d] where used.
 *
 * Compacter (`phm_layer`, presets `compacter` and `compacter++`) replaces both projections with
 * PHM layers (phm.ts): `down.W_left`, `down.W_right` (or `down.W`), `down.phm_rule*` unless the
 * rule is shared, `down.bias`, the same for `up.`, and the adapter's shared tensors
 * (`adapters.<name>.shared.phm_rule`, `W_down_left`…).
 */
import { fail } from '../../errors.js';
import { add, linear, mul, reduceMean, sigmoid, type Value } from '../../engine/index.js';
import { activate, type GraphActivation } from '../../models/activations.js';
import type { Encoder, SubLayerParts } from '../../models/encoder.js';
import type { SubLayerSite } from '../../models/sites.js';
import { pyFloat } from '../../util/python-json.js';
import { SHARED_SITE_KEY, adapterTensorName, sharedTensorName } from '../names.js';
import type { AdapterMethod, AdapterTensor, FileTensorKey, MethodConfigBase, MethodContext, MethodHooks, SubLayerUnit, TensorInit } from '../method.js';
import { checkBool, checkKnownFields, checkLayerList, checkNumber, checkOneOf, type RawConfig } from './config-checks.js';
import {
  PHM_DEFAULTS, PHM_FIELDS, checkPhmFields, checkPhmWidths, phmLinear, phmOf, phmSharedTensors, phmSiteTensors, phmWeight, type PhmFields, type PhmTensor,
} from './phm.js';

/** Nonlinearities of the bottleneck (AdapterHub's `non_linearity` names). */
export const BOTTLENECK_ACTIVATIONS = ['gelu', 'gelu_new', 'relu', 'swish', 'silu', 'tanh'] as const;
/** One of {@link BOTTLENECK_ACTIVATIONS}. */
export type BottleneckActivation = (typeof BOTTLENECK_ACTIVATIONS)[number];

/** AdapterHub's initialisations (`init_weights`). */
export const BOTTLENECK_INITS = ['bert', 'houlsby', 'mam_adapter'] as const;

/**
 * A bottleneck adapter configuration: AdapterHub's `BnConfig` fields, plus adapterkit's camelCase
 * ones. The PHM fields (phm.ts) are present, all of them, exactly when `phm_layer` is true.
 */
export interface BottleneckConfig extends MethodConfigBase, Partial<PhmFields> {
  readonly method: 'bottleneck';
  /** An adapter after the attention block. */
  readonly mh_adapter: boolean;
  /** An adapter after the feed-forward block. */
  readonly output_adapter: boolean;
  /** Hidden width / m: a number, or per layer `{ "<layer>": rf, "default": rf }` (exclusive with `size`). */
  readonly reduction_factor?: number | Readonly<Record<string, number>>;
  /** adapterkit: the bottleneck width m at every site (exclusive with `reduction_factor`). */
  readonly size?: number;
  /** The activation f between the down- and the up-projection. */
  readonly non_linearity: BottleneckActivation;
  /** Whether the adapter reads the sub-layer's output after its original residual add and layer norm, LN(h + x), rather than h (AdapterHub's Pfeiffer preset: true). */
  readonly original_ln_before: boolean;
  /** Whether the original residual add and layer norm run after the adapter, LN(· + x) (true in every preset). */
  readonly original_ln_after: boolean;
  /** The residual around the adapter: the sub-layer output h (true), h + x (`"post_add"`), or the adapter's own input (false: LN(h + x) with `original_ln_before`). */
  readonly residual_before_ln: boolean | 'post_add';
  /** With `ln_after` (sequential adapters only): add the residual before the adapter's own layer norm rather than after it. */
  readonly adapter_residual_before_ln: boolean;
  /** A new layer norm before the down-projection. */
  readonly ln_before: boolean;
  /** A new layer norm after the up-projection. */
  readonly ln_after: boolean;
  /** How the projections start: `bert` (both normal, std 0.02), `houlsby` (both truncated normal of std {@link initStd}, so the adapter starts near the identity), `mam_adapter` (uniform down-projection of bound 1/√in, zero up-projection: LoRA's). */
  readonly init_weights: (typeof BOTTLENECK_INITS)[number];
  /** adapterkit: std of the truncated normal (cut at 2 std) of `init_weights: "houlsby"` (AdapterHub: 1e-2). */
  readonly initStd: number;
  /** Parallel adapter (He et al.): it reads the sub-layer's input x and its output is added beside the sub-layer's, rather than after it. */
  readonly is_parallel: boolean;
  /** A fixed factor, or a learned scalar ("learned") or vector ("channel"). */
  readonly scaling: number | 'learned' | 'channel';
  /** A learned gate (UniPELT): the output is scaled by mean_T sigmoid(W_g hs + b_g). */
  readonly use_gating: boolean;
  /** Dropout on the adapter's output while training. */
  readonly dropout: number;
}

/** Defaults of {@link BottleneckConfig} (AdapterHub's BnConfig defaults, the paper's width). */
const BN_DEFAULTS: Omit<BottleneckConfig, 'mh_adapter' | 'output_adapter' | 'non_linearity'> = {
  method: 'bottleneck', trainLayerNorms: false, leave_out: [], original_ln_before: false, original_ln_after: true,
  residual_before_ln: true, adapter_residual_before_ln: false, ln_before: false, ln_after: false, init_weights: 'bert',
  initStd: 1e-2, is_parallel: false, scaling: 1.0, use_gating: false, dropout: 0,
};

/** The bottleneck presets: the paper's, and AdapterHub's under its names. */
export const BOTTLENECK_PRESETS = {
  /** Houlsby et al. as the paper and its code: two adapters per layer, m = 64, GELU, truncated normal std 1e-2, layer norms trained. */
  paper: { ...BN_DEFAULTS, preset: 'paper', mh_adapter: true, output_adapter: true, size: 64, non_linearity: 'gelu', init_weights: 'houlsby', trainLayerNorms: true },
  /** AdapterHub `double_seq_bn` ("houlsby"): two adapters per layer, swish, reduction factor 16, layer norms frozen. */
  houlsby: { ...BN_DEFAULTS, preset: 'houlsby', mh_adapter: true, output_adapter: true, reduction_factor: 16, non_linearity: 'swish' },
  /** AdapterHub `seq_bn` ("pfeiffer"): one adapter after the feed-forward block on the normalised output, ReLU, factor 16. */
  pfeiffer: { ...BN_DEFAULTS, preset: 'pfeiffer', mh_adapter: false, output_adapter: true, reduction_factor: 16, non_linearity: 'relu', original_ln_before: true },
  /** AdapterHub `par_bn` ("parallel", He et al. 2022): beside the feed-forward block, ReLU, factor 2, scaling 4. */
  parallel: {
    ...BN_DEFAULTS, preset: 'parallel', mh_adapter: false, output_adapter: true, reduction_factor: 2, non_linearity: 'relu', is_parallel: true, scaling: 4.0,
    init_weights: 'mam_adapter',
  },
  /** AdapterHub `compacter` (Mahabadi et al. 2021): double_seq_bn with PHM layers (n = 4, rank 1, shared rule), GELU, factor 32. */
  compacter: { ...BN_DEFAULTS, ...PHM_DEFAULTS, preset: 'compacter', mh_adapter: true, output_adapter: true, reduction_factor: 32, non_linearity: 'gelu' },
  /** AdapterHub `compacter++`: seq_bn with PHM layers, GELU, factor 32 (one adapter after the feed-forward block). */
  'compacter++': {
    ...BN_DEFAULTS, ...PHM_DEFAULTS, preset: 'compacter++', mh_adapter: false, output_adapter: true, reduction_factor: 32, non_linearity: 'gelu', original_ln_before: true,
  },
} as const satisfies Record<string, BottleneckConfig>;

/** AdapterHub's preset names for the same configs. */
export const ADAPTERHUB_BOTTLENECK_NAMES: Readonly<Record<string, keyof typeof BOTTLENECK_PRESETS>> = {
  double_seq_bn: 'houlsby', seq_bn: 'pfeiffer', par_bn: 'parallel',
};

const FIELDS = [
  'method', 'trainLayerNorms', 'preset', 'leave_out', 'mh_adapter', 'output_adapter', 'reduction_factor', 'size', 'non_linearity',
  'original_ln_before', 'original_ln_after', 'residual_before_ln', 'adapter_residual_before_ln', 'ln_before', 'ln_after', 'init_weights',
  'initStd', 'is_parallel', 'scaling', 'use_gating', 'dropout', ...PHM_FIELDS,
] as const;

/** Validates and freezes a bottleneck config (BAD_CONFIG naming the field). */
export function checkBottleneckConfig(raw: RawConfig, where = 'bottleneck config'): BottleneckConfig {
  checkKnownFields(raw, FIELDS, where);
  const c = raw as unknown as BottleneckConfig;
  for (const f of ['mh_adapter', 'output_adapter', 'original_ln_before', 'original_ln_after', 'adapter_residual_before_ln', 'ln_before', 'ln_after', 'is_parallel', 'use_gating', 'trainLayerNorms'] as const) {
    checkBool(raw, f, where);
  }
  if (!c.mh_adapter && !c.output_adapter) fail('BAD_CONFIG', `${where}: neither mh_adapter nor output_adapter is set; no adapter would be inserted`);
  if ((c.size === undefined) === (c.reduction_factor === undefined)) fail('BAD_CONFIG', `${where}: give exactly one of size (the bottleneck width m) or reduction_factor`);
  if (c.size !== undefined && !(Number.isInteger(c.size) && c.size >= 1)) fail('BAD_CONFIG', `${where}: size must be a positive integer, got ${JSON.stringify(c.size)}`);
  const rf = c.reduction_factor;
  if (rf !== undefined) {
    if (typeof rf === 'number') checkNumber(raw, 'reduction_factor', where, { min: 0, exclusiveMin: true });
    else if (rf && typeof rf === 'object' && !Array.isArray(rf)) {
      for (const [k, v] of Object.entries(rf)) {
        if (k !== 'default' && !/^\d+$/.test(k)) fail('BAD_CONFIG', `${where}: reduction_factor key ${JSON.stringify(k)} is neither a layer index nor "default"`);
        if (!(typeof v === 'number' && v > 0)) fail('BAD_CONFIG', `${where}: reduction_factor[${JSON.stringify(k)}] must be a positive number, got ${JSON.stringify(v)}`);
      }
    } else fail('BAD_CONFIG', `${where}: reduction_factor must be a number or a map of layer to number, got ${JSON.stringify(rf)}`);
  }
  checkOneOf(raw, 'non_linearity', BOTTLENECK_ACTIVATIONS, where);
  checkOneOf(raw, 'init_weights', BOTTLENECK_INITS, where);
  if (!(c.residual_before_ln === true || c.residual_before_ln === false || c.residual_before_ln === 'post_add')) {
    fail('BAD_CONFIG', `${where}: residual_before_ln must be true, false or "post_add", got ${JSON.stringify(c.residual_before_ln)}`);
  }
  if (c.residual_before_ln === 'post_add' && !c.original_ln_before) fail('BAD_CONFIG', `${where}: residual_before_ln "post_add" needs original_ln_before (AdapterHub has no residual to take otherwise)`);
  if (c.adapter_residual_before_ln && !c.ln_after) fail('BAD_CONFIG', `${where}: adapter_residual_before_ln only applies with ln_after`);
  if (!(typeof c.scaling === 'number' ? Number.isFinite(c.scaling) : c.scaling === 'learned' || c.scaling === 'channel')) {
    fail('BAD_CONFIG', `${where}: scaling must be a number, "learned" or "channel", got ${JSON.stringify(c.scaling)}`);
  }
  checkNumber(raw, 'initStd', where, { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true });
  checkNumber(raw, 'dropout', where, { min: 0, max: 1, exclusiveMax: true });
  checkLayerList(raw, 'leave_out', where);
  const phm = checkPhmFields(raw, where);
  const out: Record<string, unknown> = { ...c, ...phm, leave_out: Object.freeze([...c.leave_out]), ...(rf && typeof rf === 'object' ? { reduction_factor: Object.freeze({ ...rf }) } : {}) };
  if (!phm) delete out.phm_layer; // phm_layer: false is the same config as none
  return Object.freeze(out) as unknown as BottleneckConfig;
}

/** Builds a bottleneck config from a preset and overrides (`size` replaces a preset's `reduction_factor` and the other way round). */
export function bottleneckConfig(overrides: Partial<BottleneckConfig> = {}, preset: keyof typeof BOTTLENECK_PRESETS = 'paper'): BottleneckConfig {
  const base = BOTTLENECK_PRESETS[preset] as BottleneckConfig | undefined;
  if (!base) fail('BAD_CONFIG', `unknown bottleneck preset ${JSON.stringify(preset)} (presets: ${Object.keys(BOTTLENECK_PRESETS).join(', ')})`);
  const merged: Record<string, unknown> = { ...base, ...overrides };
  if (overrides.reduction_factor !== undefined && overrides.size === undefined) delete merged.size;
  if (overrides.size !== undefined && overrides.reduction_factor === undefined) delete merged.reduction_factor;
  return checkBottleneckConfig(merged);
}

/** The sub-layer sites a config puts adapters at. */
function sitesOf(c: BottleneckConfig, enc: Encoder): SubLayerSite[] {
  return enc.sites.sublayers.filter((s) => !c.leave_out.includes(s.layer) && (s.sublayer === 'attention' ? c.mh_adapter : c.output_adapter));
}

/** The bottleneck width at a site: `size`, or `int(width // reduction_factor)` as AdapterHub computes it. */
export function bottleneckWidth(c: BottleneckConfig, site: SubLayerSite): number {
  if (c.size !== undefined) return c.size;
  let rf = c.reduction_factor as number | Readonly<Record<string, number>>;
  if (typeof rf === 'object') {
    const r = rf[String(site.layer)] ?? rf.default;
    if (r === undefined) fail('BAD_CONFIG', `bottleneck config: reduction_factor has no entry for layer ${site.layer} and no "default"`);
    rf = r;
  }
  return Math.max(1, pythonFloorDiv(site.width, rf));
}

/** Python's `a // b` for positive floats: the floor of the exact quotient of the two doubles. */
export function pythonFloorDiv(a: number, b: number): number {
  const q = Math.floor(a / b);
  // a / b rounds; correct by comparing q * b and (q + 1) * b with a exactly.
  if (exactProductCompare(b, q, a) > 0) return q - 1;
  if (exactProductCompare(b, q + 1, a) <= 0) return q + 1;
  return q;
}

/** sign(x * n - a) computed exactly, for a double x > 0 and integers n, a >= 0. */
function exactProductCompare(x: number, n: number, a: number): number {
  const bits = new DataView(new ArrayBuffer(8));
  bits.setFloat64(0, x);
  const hi = bits.getUint32(0);
  const lo = bits.getUint32(4);
  const expBits = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp = expBits - 1075;
  if (expBits !== 0) mant |= 1n << 52n;
  else exp = -1074;
  // x = mant * 2^exp; compare mant * n * 2^exp with a
  const lhs = mant * BigInt(n);
  const rhs = BigInt(a);
  const l = exp >= 0 ? lhs << BigInt(exp) : lhs;
  const r = exp >= 0 ? rhs : rhs << BigInt(-exp);
  return l > r ? 1 : l < r ? -1 : 0;
}

/**
 * A reduction factor that AdapterHub turns back into width m on hidden size h: an integer when h
 * is a multiple of m, else the largest double rf <= h/m (so `int(h // rf)` is exactly m).
 */
export function reductionFactorFor(h: number, m: number): number {
  if (h % m === 0) return h / m;
  let rf = h / m;
  for (let i = 0; i < 4 && pythonFloorDiv(h, rf) !== m; i++) rf = nextDown(rf);
  if (pythonFloorDiv(h, rf) !== m) fail('BAD_CONFIG', `no reduction factor gives bottleneck width ${m} on hidden size ${h}`);
  return rf;
}

function nextDown(x: number): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  v.setBigUint64(0, v.getBigUint64(0) - 1n);
  return v.getFloat64(0);
}

/** The graph op of each of AdapterHub's nonlinearity names. */
export const GRAPH_ACTIVATION: Readonly<Record<BottleneckActivation, GraphActivation>> = {
  gelu: 'gelu', gelu_new: 'gelu_tanh', relu: 'relu', swish: 'silu', silu: 'silu', tanh: 'tanh',
};

/** Whether the config's output is `LN(x + h + δ)` (see the module comment). */
function isAdditive(c: BottleneckConfig): boolean {
  if (!c.original_ln_after) return false;
  if (c.is_parallel) return true;
  return c.residual_before_ln === true && !(c.ln_after && c.adapter_residual_before_ln);
}

function inits(c: BottleneckConfig, d: number): Record<string, TensorInit> {
  const zeros: TensorInit = { kind: 'zeros' };
  const houlsby: TensorInit = { kind: 'truncated-normal', std: c.initStd, cut: 2 };
  const bert: TensorInit = { kind: 'normal', std: 0.02 };
  const kaiming = (fanIn: number): TensorInit => ({ kind: 'uniform', bound: 1 / Math.sqrt(fanIn) });
  const w = c.init_weights;
  return {
    'down.weight': w === 'houlsby' ? houlsby : w === 'bert' ? bert : kaiming(d),
    'down.bias': zeros,
    'up.weight': w === 'houlsby' ? houlsby : w === 'bert' ? bert : zeros,
    'up.bias': zeros,
    // nn.Linear's own init where AdapterHub leaves the gate alone ("houlsby"), BERT's otherwise
    'gate.weight': w === 'houlsby' ? kaiming(d) : bert,
    'gate.bias': w === 'houlsby' ? kaiming(d) : zeros,
    'norm_before.weight': { kind: 'ones' }, 'norm_before.bias': zeros, 'norm_after.weight': { kind: 'ones' }, 'norm_after.bias': zeros,
    scaling: { kind: 'ones' },
  };
}

/** The PHM tensors of both projections at a site (none without phm_layer). */
function sitePhm(c: BottleneckConfig, d: number, m: number): PhmTensor[] {
  const p = phmOf(c);
  return p ? [...phmSiteTensors(p, 'down', d, m), ...phmSiteTensors(p, 'up', m, d)] : [];
}

/** Parameter names and internal shapes at a site of width d with bottleneck m. */
function siteParams(c: BottleneckConfig, d: number, m: number): [string, number[]][] {
  const p: [string, number[]][] = phmOf(c)
    ? sitePhm(c, d, m).map((t) => [t.param, [...t.shape]])
    : [['down.weight', [d, m]], ['down.bias', [m]], ['up.weight', [m, d]], ['up.bias', [d]]];
  if (c.ln_before) p.push(['norm_before.weight', [d]], ['norm_before.bias', [d]]);
  if (c.ln_after) p.push(['norm_after.weight', [d]], ['norm_after.bias', [d]]);
  if (c.use_gating) p.push(['gate.weight', [d, 1]], ['gate.bias', [1]]);
  if (c.scaling === 'learned') p.push(['scaling', [1]]);
  if (c.scaling === 'channel') p.push(['scaling', [d]]);
  return p;
}

/** AdapterHub's layer norms inside adapters use nn.LayerNorm's default eps. */
const ADAPTER_LN_EPS = 1e-5;

/** The adapter's own computations at a site: the bottleneck branch `a` and its layer norm after. */
function siteParts(c: BottleneckConfig, site: SubLayerSite, name: string, ctx: MethodContext) {
  const t = (param: string) => ctx.w(adapterTensorName(name, site.key, param));
  const project = siteProjections(c, site, name, ctx);
  const bottleneck = (input: Value): Value => {
    const z = c.ln_before ? ctx.layerNorm(input, adapterTensorName(name, site.key, 'norm_before.weight'), adapterTensorName(name, site.key, 'norm_before.bias'), ADAPTER_LN_EPS) : input;
    const down = activate(project('down', z), GRAPH_ACTIVATION[c.non_linearity]); // [B, T, m]
    let a = project('up', down); // [B, T, d]
    if (typeof c.scaling === 'number') {
      if (c.scaling !== 1) a = mul(a, c.scaling);
    } else a = mul(a, t('scaling'));
    a = ctx.dropout(a, c.dropout);
    if (c.use_gating) a = mul(a, reduceMean(sigmoid(linear(input, t('gate.weight'), t('gate.bias'))), [1], true)); // gate [B, 1, 1]
    return a;
  };
  const lnAfter = (v: Value) => ctx.layerNorm(v, adapterTensorName(name, site.key, 'norm_after.weight'), adapterTensorName(name, site.key, 'norm_after.bias'), ADAPTER_LN_EPS);
  const after = (a: Value) => (c.ln_after ? lnAfter(a) : a);
  return { bottleneck, lnAfter, after };
}

/**
 * The down- and up-projections at a site: linear layers, or PHM layers whose weights H are built
 * once per site from their factors (site or shared tensors).
 */
function siteProjections(c: BottleneckConfig, site: SubLayerSite, name: string, ctx: MethodContext): (pos: 'down' | 'up', x: Value) => Value {
  const t = (param: string) => ctx.w(adapterTensorName(name, site.key, param));
  const p = phmOf(c);
  if (!p) return (pos, x) => linear(x, t(`${pos}.weight`), t(`${pos}.bias`));
  const d = site.width;
  const m = bottleneckWidth(c, site);
  const shared = (param: string) => ctx.w(sharedTensorName(name, param));
  const weights = new Map<string, Value>();
  return (pos, x) => {
    let H = weights.get(pos);
    if (!H) {
      const rule = p.shared_phm_rule ? shared : (f: string) => t(`${pos}.${f}`);
      const w = p.shared_W_phm ? (f: string) => shared(f.replace('W', `W_${pos}`)) : (f: string) => t(`${pos}.${f}`);
      H = phmWeight(p, pos === 'down' ? d : m, pos === 'down' ? m : d,
        p.factorized_phm_rule ? { left: rule('phm_rule_left'), right: rule('phm_rule_right') } : { full: rule('phm_rule') },
        p.factorized_phm_W ? { left: w('W_left'), right: w('W_right') } : { full: w('W') }); // [in, out]
      weights.set(pos, H);
    }
    return phmLinear(x, H, p.phm_bias ? t(`${pos}.bias`) : undefined);
  };
}

function siteHook(c: BottleneckConfig, site: SubLayerSite, name: string, ctx: MethodContext): { delta?: (p: SubLayerParts) => Value; replace?: (p: SubLayerParts) => Value } {
  const { bottleneck, lnAfter, after } = siteParts(c, site, name, ctx);
  if (isAdditive(c)) {
    return {
      delta: (p) => (c.is_parallel ? after(bottleneck(p.residual)) : after(bottleneck(c.original_ln_before ? p.norm(add(p.residual, p.output)) : p.output))),
    };
  }
  return {
    replace: (p) => {
      if (c.is_parallel) {
        const out = add(after(bottleneck(p.residual)), p.output);
        return c.original_ln_after ? p.norm(add(p.residual, out)) : out;
      }
      const hs = c.original_ln_before ? p.norm(add(p.residual, p.output)) : p.output;
      const residual = c.residual_before_ln === true ? p.output : c.residual_before_ln === 'post_add' ? add(p.residual, p.output) : hs;
      const a = bottleneck(hs);
      const out = c.adapter_residual_before_ln ? lnAfter(add(a, residual)) : add(after(a), residual);
      return c.original_ln_after ? p.norm(add(p.residual, out)) : out;
    },
  };
}

/**
 * The adapter at a site as compositions use it: AdapterHub's `pre_forward` (the adapter's input
 * and residual from the incoming hidden state) and `forward` (`Adapter` / `ParallelAdapter`).
 */
function siteUnit(c: BottleneckConfig, site: SubLayerSite, name: string, ctx: MethodContext): SubLayerUnit {
  const { bottleneck, lnAfter, after } = siteParts(c, site, name, ctx);
  const placement = { is_parallel: c.is_parallel, original_ln_before: c.original_ln_before, original_ln_after: c.original_ln_after, residual_before_ln: c.residual_before_ln };
  if (c.is_parallel) return { placement, pre: (_h, p) => ({ hidden: p.residual, residual: p.residual }), forward: (x) => after(bottleneck(x)) };
  return {
    placement,
    pre(hidden, p) {
      let residual = hidden;
      let hs = hidden;
      if (c.original_ln_before) {
        hs = add(hidden, p.residual);
        if (c.residual_before_ln === 'post_add') residual = hs;
        hs = p.norm(hs);
      }
      if (c.residual_before_ln === false) residual = hs;
      return { hidden: hs, residual };
    },
    forward: (hidden, residual) => {
      const a = bottleneck(hidden);
      return c.adapter_residual_before_ln ? lnAfter(add(a, residual)) : add(after(a), residual);
    },
  };
}

/** The bottleneck method. */
export const bottleneckMethod: AdapterMethod<BottleneckConfig> = {
  id: 'bottleneck',
  describe(c, enc) {
    const sites = enc ? sitesOf(c, enc) : [];
    const widths = [...new Set(sites.map((s) => bottleneckWidth(c, s)))];
    const size = widths.length ? `m=${widths.join('/')}` : c.size !== undefined ? `m=${c.size}` : `reduction ${JSON.stringify(c.reduction_factor)}`;
    const phm = phmOf(c);
    return `bottleneck (${c.preset ?? (c.is_parallel ? 'parallel' : 'custom')}, ${size}${phm ? `, PHM n=${phm.phm_dim}` : ''}${c.trainLayerNorms ? ' + layer norms' : ''})`;
  },
  validateFor(c, enc) {
    for (const l of c.leave_out) {
      if (l >= enc.numLayers) fail('BAD_CONFIG', `bottleneck config: leave_out layer ${l} does not exist (the ${enc.family} encoder has ${enc.numLayers} layers)`);
    }
    const sites = sitesOf(c, enc);
    if (sites.length === 0) fail('BAD_CONFIG', 'bottleneck config: every layer is left out; no adapter would be inserted');
    const p = phmOf(c);
    if (p) {
      for (const site of sites) {
        const m = bottleneckWidth(c, site);
        checkPhmWidths(p, site.width, m, `bottleneck config at ${site.key} (width ${site.width}, bottleneck ${m})`);
      }
      const shapes = new Set(sites.map((s) => `${s.width}->${bottleneckWidth(c, s)}`));
      if (p.shared_W_phm && shapes.size > 1) fail('BAD_CONFIG', `bottleneck config: shared_W_phm needs one shape at every site; the ${enc.family} encoder's sites have ${[...shapes].join(', ')}`);
    }
  },
  tensors(c, enc, name) {
    const out: AdapterTensor[] = [];
    const sites = sitesOf(c, enc);
    const p = phmOf(c);
    const first = sites[0];
    if (p && first) {
      for (const t of phmSharedTensors(p, first.width, bottleneckWidth(c, first))) {
        out.push({ name: sharedTensorName(name, t.param), shape: [...t.shape], init: t.init, site: { kind: 'sublayer', key: SHARED_SITE_KEY, layer: -1 }, neutral: 0 });
      }
    }
    for (const site of sites) {
      const m = bottleneckWidth(c, site);
      const init: Record<string, TensorInit> = { ...inits(c, site.width), ...Object.fromEntries(sitePhm(c, site.width, m).map((t) => [t.param, t.init])) };
      for (const [param, shape] of siteParams(c, site.width, m)) {
        out.push({ name: adapterTensorName(name, site.key, param), shape, init: init[param] as TensorInit, site: { kind: 'sublayer', key: site.key, layer: site.layer }, neutral: 0 });
      }
    }
    return out;
  },
  hooks(c, enc, name, ctx): MethodHooks {
    const deltas = new Map<string, (p: SubLayerParts) => Value>();
    const sublayers = new Map<string, (p: SubLayerParts) => Value>();
    for (const site of sitesOf(c, enc)) {
      const h = siteHook(c, site, name, ctx);
      if (h.delta) deltas.set(site.key, h.delta);
      if (h.replace) sublayers.set(site.key, h.replace);
    }
    return { deltas, sublayers };
  },
  units(c, enc, name, ctx) {
    return { sublayers: new Map(sitesOf(c, enc).map((site) => [site.key, siteUnit(c, site, name, ctx)])) };
  },
  structure(c) {
    if (!isAdditive(c)) return { unsupported: 'its output is not LN(x + h + delta) (original_ln_after off, residual_before_ln not true, or ln_after inside the residual)' };
    const { is_parallel, mh_adapter, output_adapter, non_linearity, original_ln_before, ln_before, ln_after, scaling, use_gating } = c;
    // PHM factors interleave into H, so zero-padding them is no padding of H: same sizes only
    const p = phmOf(c);
    const phm = p ? { ...Object.fromEntries(PHM_FIELDS.map((f) => [f, p[f]])), reduction_factor: c.reduction_factor, size: c.size } : undefined;
    return { key: JSON.stringify({ m: 'bottleneck', is_parallel, mh_adapter, output_adapter, non_linearity, original_ln_before, ln_before, ln_after, scaling, use_gating, phm }) };
  },
  averagesPositions: (c) => c.use_gating,
  size: {
    name: 'm',
    what: 'the bottleneck width m',
    get: (c, enc) => bottleneckWidth(c, sitesOf(c, enc)[0] as SubLayerSite),
    with: (c, n) => checkBottleneckConfig({ ...c, size: n, reduction_factor: undefined } as unknown as RawConfig),
  },
  adapterHub: {
    config(c, enc) {
      const widths = new Set(enc.sites.sublayers.map((s) => s.width));
      if (widths.size !== 1) return { unsupported: `the ${enc.family} encoder's sub-layers have several widths` };
      const h = [...widths][0] as number;
      const sites = sitesOf(c, enc);
      let rf: unknown = c.reduction_factor;
      if (c.size !== undefined) rf = reductionFactorFor(h, c.size);
      if (typeof rf === 'number' && !Number.isInteger(rf)) rf = pyFloat(rf);
      if (sites.some((s) => bottleneckWidth(c, s) < 1)) return { unsupported: 'a bottleneck width below 1' };
      // AdapterHub sizes shared PHM weights as hidden // reduction_factor, which only an integer factor makes an int
      if (c.shared_W_phm && !(typeof rf === 'number' && Number.isInteger(rf))) return { unsupported: 'shared_W_phm with a reduction factor that is not an integer (AdapterHub sizes the shared weights as hidden // reduction_factor)' };
      const p = phmOf(c) ?? { ...PHM_DEFAULTS, phm_layer: false };
      return {
        config: {
          adapter_residual_before_ln: c.adapter_residual_before_ln, cross_adapter: false, dropout: pyFloat(c.dropout), factorized_phm_W: p.factorized_phm_W,
          factorized_phm_rule: p.factorized_phm_rule, hypercomplex_nonlinearity: p.hypercomplex_nonlinearity, init_weights: c.init_weights, init_weights_seed: null,
          inv_adapter: null, inv_adapter_reduction_factor: null, is_parallel: c.is_parallel, learn_phm: p.learn_phm, leave_out: [...c.leave_out],
          ln_after: c.ln_after, ln_before: c.ln_before, mh_adapter: c.mh_adapter, non_linearity: c.non_linearity,
          original_ln_after: c.original_ln_after, original_ln_before: c.original_ln_before, output_adapter: c.output_adapter,
          phm_bias: p.phm_bias, phm_c_init: p.phm_c_init, phm_dim: p.phm_dim, phm_init_range: pyFloat(p.phm_init_range), phm_layer: p.phm_layer, phm_rank: p.phm_rank,
          reduction_factor: rf, residual_before_ln: c.residual_before_ln,
          scaling: typeof c.scaling === 'number' ? pyFloat(c.scaling) : c.scaling, shared_W_phm: p.shared_W_phm, shared_phm_rule: p.shared_phm_rule,
          stochastic_depth: pyFloat(0), use_gating: c.use_gating,
        },
      };
    },
    keys(c, enc, name, fileName) {
      const out: FileTensorKey[] = [];
      const downIndex = c.ln_before ? 1 : 0;
      const p = phmOf(c);
      const sites = sitesOf(c, enc);
      const first = sites[0];
      if (p && first) {
        // AdapterHub's model-level ParameterDict, `<base model>.shared_parameters.<adapter>.<param>`
        for (const t of phmSharedTensors(p, first.width, bottleneckWidth(c, first))) {
          out.push({ internal: sharedTensorName(name, t.param), key: `${enc.checkpointPrefix}shared_parameters.${fileName}.${t.fileParam}`, shape: [...t.fileShape], transpose: false });
        }
      }
      for (const site of sites) {
        const m = bottleneckWidth(c, site);
        const d = site.width;
        const prefix = `${enc.checkpointPrefix}${site.module}.adapters.${fileName}.`;
        const file: Record<string, [string, number[], boolean]> = {
          'down.weight': [`adapter_down.${downIndex}.weight`, [m, d], true], 'down.bias': [`adapter_down.${downIndex}.bias`, [m], false],
          'up.weight': ['adapter_up.weight', [d, m], true], 'up.bias': ['adapter_up.bias', [d], false],
          'norm_before.weight': ['adapter_down.0.weight', [d], false], 'norm_before.bias': ['adapter_down.0.bias', [d], false],
          'norm_after.weight': ['adapter_norm_after.weight', [d], false], 'norm_after.bias': ['adapter_norm_after.bias', [d], false],
          'gate.weight': ['gate.weight', [1, d], true], 'gate.bias': ['gate.bias', [1], false],
          scaling: ['scaling', c.scaling === 'channel' ? [d] : [1], false],
        };
        for (const t of sitePhm(c, d, m)) {
          const module = t.param.startsWith('down.') ? `adapter_down.${downIndex}` : 'adapter_up';
          file[t.param] = [`${module}.${t.fileParam}`, [...t.fileShape], false]; // same bytes as the internal matrix
        }
        for (const [param] of siteParams(c, d, m)) {
          const [key, shape, transpose] = file[param] as [string, number[], boolean];
          out.push({ internal: adapterTensorName(name, site.key, param), key: prefix + key, shape, transpose });
          // AdapterHub's Adapter registers its input layer norm twice: as adapter_norm_before and as adapter_down.0
          if (param.startsWith('norm_before.')) out.push({ internal: adapterTensorName(name, site.key, param), key: `${prefix}adapter_norm_before.${param.slice(12)}`, shape, transpose });
        }
      }
      return out;
    },
  },
};

/**
 * Reads AdapterHub's `config` object of a bottleneck adapter (architecture null); BAD_CONFIG
 * naming each field adapterkit does not implement. `versioned`: the file had a `version` (files
 * without one are from adapter-transformers, whose "gelu" AdapterHub reads as "gelu_new").
 */
export function bottleneckFromAdapterHub(cfg: RawConfig, where: string, versioned = true): BottleneckConfig {
  const known = new Set([
    'architecture', 'mh_adapter', 'output_adapter', 'reduction_factor', 'non_linearity', 'original_ln_before', 'original_ln_after', 'ln_before', 'ln_after',
    'init_weights', 'init_weights_seed', 'is_parallel', 'scaling', 'use_gating', 'residual_before_ln', 'adapter_residual_before_ln', 'inv_adapter',
    'inv_adapter_reduction_factor', 'cross_adapter', 'leave_out', 'dropout', 'phm_layer', 'phm_dim', 'factorized_phm_W', 'shared_W_phm',
    'shared_phm_rule', 'factorized_phm_rule', 'phm_c_init', 'phm_init_range', 'learn_phm', 'hypercomplex_nonlinearity', 'phm_rank', 'phm_bias',
    'stochastic_depth',
  ]);
  for (const k of Object.keys(cfg)) if (!known.has(k)) fail('BAD_CONFIG', `${where}: config.${k} is not a field adapterkit knows for bottleneck adapters`);
  if (cfg.inv_adapter !== undefined && cfg.inv_adapter !== null) fail('BAD_CONFIG', `${where}: config.inv_adapter ${JSON.stringify(cfg.inv_adapter)}: invertible adapters are not implemented in adapterkit`);
  if (typeof cfg.stochastic_depth === 'number' && cfg.stochastic_depth !== 0) fail('BAD_CONFIG', `${where}: config.stochastic_depth ${cfg.stochastic_depth} is not implemented (only 0)`);
  if (cfg.mh_adapter === undefined || cfg.output_adapter === undefined || cfg.reduction_factor === undefined || cfg.non_linearity === undefined) {
    fail('BAD_CONFIG', `${where}: a bottleneck config needs mh_adapter, output_adapter, reduction_factor and non_linearity`);
  }
  // AdapterHub renames old activation names in configs without a version (loading.py `load_weights_config`)
  const raw = String(cfg.non_linearity).toLowerCase();
  const act = versioned ? raw : ({ gelu: 'gelu_new', gelu_orig: 'gelu' } as Record<string, string>)[raw] ?? raw;
  if (!(BOTTLENECK_ACTIVATIONS as readonly string[]).includes(act)) {
    fail('BAD_CONFIG', `${where}: config.non_linearity ${JSON.stringify(cfg.non_linearity)} is not implemented (adapterkit has ${BOTTLENECK_ACTIVATIONS.join(', ')})`);
  }
  const pick = <K extends keyof BottleneckConfig>(k: K, d: BottleneckConfig[K]) => (cfg[k] === undefined ? d : (cfg[k] as BottleneckConfig[K]));
  const c = checkBottleneckConfig({
    method: 'bottleneck', trainLayerNorms: false, leave_out: pick('leave_out', []), mh_adapter: cfg.mh_adapter, output_adapter: cfg.output_adapter,
    reduction_factor: cfg.reduction_factor, non_linearity: act, original_ln_before: pick('original_ln_before', false),
    original_ln_after: pick('original_ln_after', true), residual_before_ln: pick('residual_before_ln', true),
    adapter_residual_before_ln: pick('adapter_residual_before_ln', false), ln_before: pick('ln_before', false), ln_after: pick('ln_after', false),
    init_weights: pick('init_weights', 'bert'), initStd: 1e-2, is_parallel: pick('is_parallel', false), scaling: pick('scaling', 1.0),
    use_gating: pick('use_gating', false), dropout: pick('dropout', 0),
    // AdapterHub ignores the PHM fields without phm_layer; with it, each one as the file says (AdapterHub's defaults where absent)
    ...(cfg.phm_layer === true ? Object.fromEntries(PHM_FIELDS.map((f) => [f, cfg[f] ?? PHM_DEFAULTS[f]])) : {}),
  }, where);
  // label it with the preset whose architecture it has (sizes, leave_out and init may differ)
  const same = (p: BottleneckConfig) => STRUCTURE_FIELDS.every((f) => JSON.stringify(p[f]) === JSON.stringify(c[f]));
  const preset = Object.entries(BOTTLENECK_PRESETS).find(([, p]) => same(p) && !p.trainLayerNorms)?.[0];
  return preset ? Object.freeze({ ...c, preset }) : c;
}

/** The fields that make a bottleneck config's architecture (as opposed to its sizes and init). */
const STRUCTURE_FIELDS = [
  'phm_layer', 'mh_adapter', 'output_adapter', 'non_linearity', 'original_ln_before', 'original_ln_after', 'residual_before_ln', 'adapter_residual_before_ln',
  'ln_before', 'ln_after', 'is_parallel', 'scaling', 'use_gating',
] as const satisfies readonly (keyof BottleneckConfig)[];
