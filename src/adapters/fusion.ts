/**
 * AdapterFusion (Pfeiffer et al. 2021, "AdapterFusion: Non-Destructive Task Composition for
 * Transfer Learning"): at every sub-layer site where its adapters sit, an attention over the
 * outputs of N frozen bottleneck adapters, learnt on a target task. The fields, presets, shapes,
 * inits and placement are AdapterHub's (adapters @ 88f18eb `configuration/adapter_fusion_config.py`,
 * `methods/modeling.py` `BertFusion`, `methods/bottleneck.py` `compose_fuse`, `model_mixin.py`
 * `get_fusion_regularization_loss`, `loading.py` `AdapterFusionLoader`). At one site, with `s` the
 * incoming hidden state, the Fuse's last adapter's `pre_forward` gives the adapter input `hs` and
 * the residual `r`; each child i gives `u_i`, its adapter's up-projection times its scaling
 * (AdapterHub's `bottleneck_up`: before the adapter's residual):
 *
 *     q        = s if query_before_ln else hs                                  [B, T, d]
 *     U        = [u_1 … u_N] (+ r on every u_i if residual_before)             [B, T, N, d]
 *     Q        = q Wq + bq          (query; else q)                            [B, T, d]
 *     K        = U Wk + bk          (key; else U)                              [B, T, N, d]
 *     V        = U Wv               (value and value_before_softmax; else U)   [B, T, N, d]
 *     p        = softmax(dropout(Q·K) / τ)  over the N adapters                [B, T, N]
 *     c        = Σ_i p_i V_i, then c Wv (value, not value_before_softmax)      [B, T, d]
 *     out      = c + r              (not residual_before; else c)
 *
 * and the block ends with the adapters' `post_forward` (`LN(out + x)` with `original_ln_after`).
 * adapterkit computes it as `Q·K_i = (Q Wkᵀ)·u_i + Q·bk` and `Σ_i p_i u_i Wv = (Σ_i p_i u_i) Wv`:
 * three d x d products per token instead of 1 + 2N, the same function (Wv has no bias, so
 * `value_before_softmax` changes only the rounding).
 * Wq, Wk, Wv are `[d, d]` (internal `[in, out]`), the biases `[d]`; Wq, Wk start N(0, 0.02) with zero
 * biases (`init_bert_weights`), Wv too, or (value_initialized) the identity with 1e-6 elsewhere.
 * Dropout on the scores uses `dropout_prob`, else the encoder's attention dropout. With
 * `regularization` the training loss gains `0.01 Σ_sites ‖I − Wv‖²` for every fusion that trains.
 * The temperature τ is 1, or with `temperature: true` AdapterHub's annealed one: 50 at a fusion
 * layer's first forward call, 0.05 less at each call after (training steps, evaluation and
 * prediction alike), down to 1; fed to the graph as an input, counted by the task model
 * (fusion-temperature.ts has the details).
 * A child that is a Stack runs its adapters in order (each preparing its own input, as in
 * compose.ts) and gives its last adapter's `u`.
 *
 * Where adapterkit chooses:
 * - `residual_before` adds `r` to U before both the keys and the values: AdapterHub's `value +=`
 *   is in place on the tensor it also passes as the keys, so that is what its code computes;
 * - the regularization term is part of each step's loss (AdapterHub's trainer backpropagates it
 *   after the step, into the next step's gradients, so its first step has none);
 * - a site where only some of the fused adapters are (`leave_out`) attends over those; the last
 *   one present there gives `hs`, `r` and the query (AdapterHub fails when the Fuse's last
 *   adapter is absent at a site);
 * - a composition that runs a fusion with `temperature: true` twice (AdapterHub's second call
 *   would see the T its first one lowered) is refused;
 * - refused with an error naming the field: fused adapters with `ln_after`, `use_gating` or
 *   `dropout` > 0 (their `u` is not the part of their output adapterkit's composition units give),
 *   parallel bottlenecks (AdapterHub's result adds the block input twice), and adapters of other
 *   methods (AdapterHub fuses bottleneck adapters only);
 * - query, key and value all off: AdapterHub creates a `dense` Linear(d, 1) that its forward never
 *   uses; adapterkit creates nothing there.
 *
 * Tensor names: `adapters.fusion[<fusion name>].<layer>.<site>.<param>` with the name's commas as
 * colons, e.g. `adapters.fusion[a:b:c].3.ffn.query.weight` (names.ts's prefix, so the task saves
 * them as its own; graph value names hold no commas).
 */
import { fail } from '../errors.js';
import { add, concat, div, f32, linear, matmul, mul, reduceSum, softmax, sub, transpose, unsqueeze, type HostTensor, type Value } from '../engine/index.js';
import type { Encoder } from '../models/encoder.js';
import type { SubLayerSite } from '../models/sites.js';
import { lastAdapter, type Block, type Composition } from './composition.js';
import type { AdapterTensor, FileTensorKey, MethodContext } from './method.js';
import { checkBool, checkKnownFields, type RawConfig } from './methods/config-checks.js';
import type { BottleneckConfig } from './methods/bottleneck.js';
import type { MethodConfig } from './methods/index.js';
import { ADAPTER_PREFIX } from './names.js';

/** AdapterHub's `AdapterFusionConfig` fields. */
export interface FusionConfig {
  /** A key projection Wk of the adapters' outputs (else the outputs are the keys). */
  readonly key: boolean;
  /** A query projection Wq (else the query is the hidden state itself). */
  readonly query: boolean;
  /** A value projection Wv (else the outputs are the values). */
  readonly value: boolean;
  /** The query is the sub-layer's state before the adapters' input preparation (`s`) rather than the adapter input (`hs`). */
  readonly query_before_ln: boolean;
  /** Adds 0.01 Σ ‖I − Wv‖² over the sites to the training loss (the dynamic preset). */
  readonly regularization: boolean;
  /** Adds the residual to every adapter output before the attention (else to the fused result). */
  readonly residual_before: boolean;
  /** AdapterHub's annealed softmax temperature: 50 at the first call, 0.05 less per call, down to 1 (else 1). */
  readonly temperature: boolean;
  /** Applies Wv to each output before the weighted sum (else to the sum; the same function, other rounding). */
  readonly value_before_softmax: boolean;
  /** Start Wv at the identity (AdapterHub types it `str` and uses it as a truth value; here a boolean). */
  readonly value_initialized: boolean;
  /** Dropout on the attention scores; null: the encoder's attention dropout. */
  readonly dropout_prob: number | null;
}

/** AdapterHub's presets (`ADAPTERFUSION_CONFIG_MAP`). */
export const FUSION_PRESETS: Readonly<Record<'static' | 'dynamic', FusionConfig>> = {
  /** Without a value matrix. */
  static: Object.freeze({ key: true, query: true, value: false, query_before_ln: false, regularization: false, residual_before: false, temperature: false, value_before_softmax: true, value_initialized: false, dropout_prob: null }),
  /** With a value matrix started at the identity and pulled towards it. */
  dynamic: Object.freeze({ key: true, query: true, value: true, query_before_ln: false, regularization: true, residual_before: false, temperature: false, value_before_softmax: true, value_initialized: true, dropout_prob: null }),
};

/** AdapterHub's `DEFAULT_ADAPTERFUSION_CONFIG`. */
export const DEFAULT_FUSION_PRESET = 'dynamic';

const BOOL_FIELDS = ['key', 'query', 'value', 'query_before_ln', 'regularization', 'residual_before', 'temperature', 'value_before_softmax', 'value_initialized'] as const;
const FIELDS = [...BOOL_FIELDS, 'dropout_prob'];

/**
 * A fusion config from a preset name (`static`, `dynamic`), or an object of AdapterHub's fields
 * (what `adapter_fusion_config.json`'s `config` holds) over the default preset, as AdapterHub's
 * `AdapterFusionConfig.load(config, **kwargs)` overrides a preset.
 *
 * @throws AdapterkitError BAD_CONFIG naming the field.
 */
export function fusionConfig(raw: unknown, where = 'fusion config'): FusionConfig {
  if (typeof raw === 'string') {
    const p = (FUSION_PRESETS as Record<string, FusionConfig>)[raw];
    if (!p) fail('BAD_CONFIG', `${where}: unknown fusion preset ${JSON.stringify(raw)} (presets: ${Object.keys(FUSION_PRESETS).join(', ')})`);
    return p;
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('BAD_CONFIG', `${where} must be a preset name (${Object.keys(FUSION_PRESETS).join(', ')}) or an object of AdapterHub's AdapterFusionConfig fields`);
  const given = raw as RawConfig;
  checkKnownFields(given, FIELDS, where);
  const c: RawConfig = { ...FUSION_PRESETS[DEFAULT_FUSION_PRESET], ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
  for (const f of BOOL_FIELDS) checkBool(c, f, where);
  const p = c.dropout_prob;
  if (!(p === null || (typeof p === 'number' && Number.isFinite(p) && p >= 0 && p < 1))) fail('BAD_CONFIG', `${where}: dropout_prob must be null (the encoder's attention dropout) or a number >= 0 and < 1, got ${JSON.stringify(p)}`);
  return Object.freeze(Object.fromEntries(FIELDS.map((f) => [f, c[f]])) as unknown as FusionConfig);
}

/** The name of the preset a config equals, if any. */
export function fusionPresetOf(c: FusionConfig): string | undefined {
  return Object.entries(FUSION_PRESETS).find(([, p]) => FIELDS.every((f) => p[f as keyof FusionConfig] === c[f as keyof FusionConfig]))?.[0];
}

/** A config's label for descriptions: its preset (or `custom`), `+ temperature` when it anneals T (e.g. `dynamic + temperature`). */
export function fusionLabel(c: FusionConfig): string {
  if (!c.temperature) return fusionPresetOf(c) ?? 'custom';
  return `${fusionPresetOf({ ...c, temperature: false }) ?? 'custom'} + temperature`;
}

/** An AdapterFusion layer a model holds (AdapterHub's `add_adapter_fusion`). */
export interface NamedFusion {
  /** AdapterHub's fusion name: the Fuse block's `name`, by default its adapters joined by commas (`a,b,c`). */
  readonly name: string;
  /** The fused adapters (for a Stack child, its last adapter), in order. */
  readonly adapters: readonly string[];
  readonly config: FusionConfig;
  /** Whether its tensors train (default true). */
  readonly trainable?: boolean;
}

/** A valid fusion name: adapter names joined by commas (AdapterHub's default), or any name of the same letters. */
const FUSION_NAME = /^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$/;

/** The adapters a Fuse block fuses: each child, or a Stack child's last adapter (AdapterHub's `Fuse.name` parts). */
export function fusedAdapters(b: Extract<Block, { type: 'Fuse' }>): string[] {
  return b.children.map((c: Composition) => lastAdapter(c));
}

/** The fusion a Fuse block runs: its `name`, else its adapters joined by commas (AdapterHub's `Fuse.name`). */
export function fuseName(b: Extract<Block, { type: 'Fuse' }>): string {
  return b.name ?? fusedAdapters(b).join(',');
}

/** What the internal names of a fusion's tensors start with. */
function fusionPrefix(fusion: string): string {
  return `${ADAPTER_PREFIX}fusion[${fusion.replaceAll(',', ':')}].`; // graph value names have no commas
}

/** The fusions an active composition runs (its Fuse blocks' names), in the model's order. */
export function activeFusions(active: Composition, fusions: readonly NamedFusion[]): NamedFusion[] {
  const names = new Set<string>();
  const walk = (c: Composition) => {
    if (typeof c === 'string') return;
    if (c.type === 'Fuse') names.add(fuseName(c));
    c.children.forEach(walk);
  };
  walk(active);
  return fusions.filter((f) => names.has(f.name));
}

/** The internal name of a fusion tensor. */
export function fusionTensorName(fusion: string, siteKey: string, param: string): string {
  return `${fusionPrefix(fusion)}${siteKey}.${param}`;
}

/** The fusion a tensor belongs to (`fusion[a:b]`, as its name spells it), or undefined for other names. */
export function fusionOfTensor(name: string): string | undefined {
  return /^adapters\.(fusion\[[^\]]+\])\./.exec(name)?.[1];
}

/** The per-site parameters of a config: [param, internal shape, file transpose]. */
function siteParams(c: FusionConfig, d: number): [string, number[], boolean][] {
  const p: [string, number[], boolean][] = [];
  if (c.query) p.push(['query.weight', [d, d], true], ['query.bias', [d], false]);
  if (c.key) p.push(['key.weight', [d, d], true], ['key.bias', [d], false]);
  if (c.value) p.push(['value.weight', [d, d], true]);
  return p;
}

/**
 * Checks a fusion against the model's adapters and returns the sub-layer sites it has tensors at:
 * AdapterHub's `add_fusion_layer` puts one at every block of the kinds all fused adapters share
 * (`mh_adapter`: attention, `output_adapter`: feed-forward), in every layer.
 *
 * @throws AdapterkitError BAD_CONFIG naming the fusion, the adapter and the field.
 */
export function fusionSites(f: NamedFusion, configs: ReadonlyMap<string, MethodConfig>, enc: Encoder): SubLayerSite[] {
  if (typeof f.name !== 'string' || !FUSION_NAME.test(f.name)) fail('BAD_CONFIG', `fusion name ${JSON.stringify(f.name)} must be adapter names joined by commas, or one name (letters, digits, _ and -)`);
  if (!Array.isArray(f.adapters) || f.adapters.length === 0) fail('BAD_CONFIG', `fusion ${f.name}: adapters must list the fused adapters`);
  if (f.trainable !== undefined && typeof f.trainable !== 'boolean') fail('BAD_CONFIG', `fusion ${f.name}: trainable must be true or false`);
  const bns = f.adapters.map((n) => {
    const c = configs.get(n);
    if (!c) fail('BAD_CONFIG', `fusion ${f.name} fuses adapter ${n}, which the model does not hold (it holds ${[...configs.keys()].join(', ')})`);
    if (c.method !== 'bottleneck') fail('BAD_CONFIG', `fusion ${f.name}: adapter ${n} is ${c.method}; AdapterFusion fuses bottleneck adapters only (as in AdapterHub)`);
    const b = c as BottleneckConfig;
    const why = b.is_parallel ? 'is_parallel is true (AdapterHub\'s fused parallel adapters add the block input twice)'
      : b.ln_after ? 'ln_after is true' : b.use_gating ? 'use_gating is true' : b.dropout > 0 ? `dropout is ${b.dropout}` : undefined;
    if (why) fail('BAD_CONFIG', `fusion ${f.name}: adapter ${n} cannot be fused: its ${why}; adapterkit fuses bottleneck adapters whose output is up-projection + residual (no ln_after, gating or adapter dropout)`);
    return [n, b] as const;
  });
  const [n0, b0] = bns[0] as readonly [string, BottleneckConfig];
  for (const field of ['mh_adapter', 'output_adapter'] as const) {
    for (const [n, b] of bns) {
      if (b[field] !== b0[field]) fail('BAD_CONFIG', `fusion ${f.name}: adapters ${n0} and ${n} differ in ${field} (${String(b0[field])} vs ${String(b[field])}); AdapterHub fuses adapters that sit at the same blocks`);
    }
  }
  return enc.sites.sublayers.filter((s) => (s.sublayer === 'attention' ? b0.mh_adapter : b0.output_adapter));
}

/** Every tensor of a fusion, site by site (internal layout; `init` as declared, the identity start set by {@link initFusionTensors}). */
export function fusionTensors(f: NamedFusion, sites: readonly SubLayerSite[]): AdapterTensor[] {
  return sites.flatMap((site) => siteParams(f.config, site.width).map(([param, shape]): AdapterTensor => ({
    name: fusionTensorName(f.name, site.key, param), shape,
    init: param.endsWith('.bias') ? { kind: 'zeros' } : { kind: 'normal', std: 0.02 },
    site: { kind: 'sublayer', key: site.key, layer: site.layer }, neutral: 0,
  })));
}

/**
 * Every fusion tensor of a setup, fusion after fusion (internal layout; weights declared N(0, 0.02),
 * biases zeros: AdapterHub's `init_bert_weights`; {@link fusionIdentityStarts} gives Wv's identity start).
 */
export function setupFusionTensors(fusions: readonly NamedFusion[], configs: ReadonlyMap<string, MethodConfig>, enc: Encoder): AdapterTensor[] {
  return fusions.flatMap((f) => fusionTensors(f, fusionSites(f, configs, enc)));
}

/** Wv's start for the fusions with `value_initialized`: the identity, 1e-6 elsewhere (AdapterHub's `BertFusion`). */
export function fusionIdentityStarts(fusions: readonly NamedFusion[], tensors: readonly AdapterTensor[]): Map<string, HostTensor<'float32'>> {
  const out = new Map<string, HostTensor<'float32'>>();
  for (const f of fusions) {
    if (!f.config.value || !f.config.value_initialized) continue;
    for (const t of tensors) {
      if (!t.name.startsWith(fusionPrefix(f.name)) || !t.name.endsWith('.value.weight')) continue;
      const d = t.shape[0] as number;
      const data = new Float32Array(d * d).fill(1e-6);
      for (let i = 0; i < d; i++) data[i * d + i] = 1;
      out.set(t.name, f32([d, d], data));
    }
  }
  return out;
}

/**
 * AdapterHub's file keys of a fusion: `<prefix><block module>.adapter_fusion_layer.<name>.<param>`,
 * Linear weights `[out, in]`.
 */
export function fusionFileKeys(f: NamedFusion, sites: readonly SubLayerSite[], enc: Encoder): FileTensorKey[] {
  return sites.flatMap((site) => siteParams(f.config, site.width).map(([param, shape, transpose]): FileTensorKey => ({
    internal: fusionTensorName(f.name, site.key, param), key: `${enc.checkpointPrefix}${site.module}.adapter_fusion_layer.${f.name}.${param}`, shape, transpose,
  })));
}

/** What a fusion reads at one site: the query, the adapters' up-projections and the residual, all [B, T, d]. */
export interface FusionInputs {
  readonly query: Value;
  readonly ups: readonly Value[];
  readonly residual: Value;
  /** The softmax's temperature, a float32 scalar: required with `temperature: true` (fusion-temperature.ts), unused otherwise (τ = 1). */
  readonly temperature?: Value;
}

/**
 * The fusion's output at a site (see the module comment), before the block's `post_forward`.
 * `dropout` is the scores' dropout probability (the config's, else the encoder's attention dropout).
 */
export function fuseAt(f: NamedFusion, siteKey: string, ctx: MethodContext, dropout: number, x: FusionInputs): Value {
  const c = f.config;
  const w = (param: string) => ctx.w(fusionTensorName(f.name, siteKey, param));
  let U = x.ups.length === 1 ? unsqueeze(x.ups[0] as Value, [2]) : concat(x.ups.map((u) => unsqueeze(u, [2])), 2); // [B, T, N, d]
  if (c.residual_before) U = add(U, unsqueeze(x.residual, [2]));
  const Q = c.query ? linear(x.query, w('query.weight'), w('query.bias')) : x.query; // [B, T, d]
  // Q · (u_i Wk + bk) = (Q Wkᵀ) · u_i + Q · bk: one d x d product per token instead of N
  let scores: Value; // [B, T, N]
  if (c.key) {
    const Qk = matmul(Q, transpose(w('key.weight'), [1, 0])); // [B, T, d]
    scores = add(reduceSum(mul(unsqueeze(Qk, [2]), U), [3]), reduceSum(mul(Q, w('key.bias')), [2], true));
  } else scores = reduceSum(mul(unsqueeze(Q, [2]), U), [3]);
  const dropped = ctx.dropout(scores, dropout);
  if (c.temperature && !x.temperature) fail('GRAPH_ERROR', `fusion ${f.name} at ${siteKey} has temperature true: fuseAt needs its temperature (FusionInputs.temperature)`);
  const probs = softmax(c.temperature ? div(dropped, x.temperature as Value) : dropped, -1); // AdapterHub: softmax(dropout(scores) / T)
  // Σ p_i (u_i Wv) = (Σ p_i u_i) Wv (Wv has no bias): value_before_softmax changes only the rounding
  const mixed = reduceSum(mul(unsqueeze(probs, [3]), U), [2]); // [B, T, d]
  const out = c.value ? linear(mixed, w('value.weight')) : mixed;
  return c.residual_before ? out : add(out, x.residual);
}

/**
 * AdapterHub's fusion regularization, `0.01 Σ ‖I − Wv‖²` over the value matrices of the fusions
 * that train with `regularization` and a value matrix (give the active ones: AdapterHub's
 * `train_adapter_fusion` unfreezes those only); undefined when there are none.
 */
export function fusionRegularization(tensors: readonly AdapterTensor[], fusions: readonly NamedFusion[], w: (name: string) => Value): Value | undefined {
  const on = new Set(fusions.filter((f) => f.trainable !== false && f.config.regularization && f.config.value).map((f) => f.name));
  const values = tensors.filter((t) => t.name.endsWith('.value.weight') && [...on].some((n) => t.name.startsWith(fusionPrefix(n))));
  let total: Value | undefined;
  const eyes = new Map<number, Value>();
  for (const t of values) {
    const v = w(t.name);
    const d = t.shape[0] as number;
    let eye = eyes.get(d);
    if (!eye) {
      const data = new Float32Array(d * d);
      for (let i = 0; i < d; i++) data[i * d + i] = 1;
      eyes.set(d, (eye = v.graph.constant(`fusion_identity_${d}`, f32([d, d], data))));
    }
    const diff = sub(eye, v);
    const term = mul(reduceSum(mul(diff, diff)), 0.01);
    total = total ? add(total, term) : term;
  }
  return total;
}
