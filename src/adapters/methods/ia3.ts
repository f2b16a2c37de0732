/**
 * IA³ (Liu et al. 2022): learned rescaling of activations, in the two placements the Python
 * libraries define (see docs/methods.md):
 *
 *     output scaling   y = (x W + b) ⊙ (alpha · l)        l [out]    AdapterHub: key, value, intermediate
 *     input scaling    y = (x ⊙ l) W + b                  l [in]     PEFT's feed-forward modules
 *
 * AdapterHub's `IA3Config` (adapters @ 88f18eb `methods/lora.py` `IA3`: `lora_B` [out, 1], scaled by
 * `alpha`) scales the outputs of key, value and `intermediate.dense` (before the activation).
 * PEFT (peft @ 5d602fd `tuners/ia3/layer.py`) scales key and value outputs and the *inputs* of its
 * feed-forward modules (`ia3_l` [1, in]); adapterkit's `feedforward` field lists the projections
 * scaled at their input. Vectors start at 1, so a fresh adapter is exactly the base; `merge`
 * scales the columns (and bias) or rows of a copy of W.
 *
 * Internal tensors per projection: `adapters.<name>.<layer>.<role>.scale` ([out] or [in]).
 */
import { fail } from '../../errors.js';
import { f32, mul, type HostTensor, type Value } from '../../engine/index.js';
import type { Encoder } from '../../models/encoder.js';
import { LINEAR_ROLES, type LinearRole, type LinearSite } from '../../models/sites.js';
import { pyFloat } from '../../util/python-json.js';
import { adapterTensorName } from '../names.js';
import type { AdapterMethod, AdapterTensor, FileTensorKey, LinearUnit, MethodConfigBase, MethodHooks } from '../method.js';
import { checkBool, checkKnownFields, checkLayerList, checkNumber, checkOneOf, type RawConfig } from './config-checks.js';
import { attentionRoles, fusedSitesIssue, isUnset, peftFeedforward, peftTargets, rolesByLayer, type AttnMatrix } from './linear-targets.js';

/** An IA³ configuration: AdapterHub's `IA3Config` fields plus adapterkit's `feedforward`. */
export interface Ia3Config extends MethodConfigBase {
  readonly method: 'ia3';
  readonly selfattn_lora: boolean;
  /** Attention projections whose outputs are scaled. */
  readonly attn_matrices: readonly AttnMatrix[];
  /** Scale the intermediate projection's output (before the activation). */
  readonly intermediate_lora: boolean;
  /** Scale the feed-forward output projection's output. */
  readonly output_lora: boolean;
  /** Factor on the learned vectors (AdapterHub's `alpha`). */
  readonly alpha: number;
  /** adapterkit: projections scaled at their input (PEFT's `feedforward_modules`). */
  readonly feedforward: readonly LinearRole[];
  readonly init_weights: 'ia3';
}

/** The IA³ presets: AdapterHub's placement, and PEFT's BERT defaults. */
export const IA3_PRESETS = {
  ia3: {
    method: 'ia3', preset: 'ia3', trainLayerNorms: false, leave_out: [], selfattn_lora: true, attn_matrices: ['k', 'v'], intermediate_lora: true,
    output_lora: false, alpha: 1, feedforward: [], init_weights: 'ia3',
  },
  'ia3-peft': {
    method: 'ia3', preset: 'ia3-peft', trainLayerNorms: false, leave_out: [], selfattn_lora: true, attn_matrices: ['k', 'v'], intermediate_lora: false,
    output_lora: false, alpha: 1, feedforward: ['attention_output', 'output'], init_weights: 'ia3',
  },
} as const satisfies Record<string, Ia3Config>;

const FIELDS = ['method', 'preset', 'trainLayerNorms', 'leave_out', 'selfattn_lora', 'attn_matrices', 'intermediate_lora', 'output_lora', 'alpha', 'feedforward', 'init_weights'] as const;

/** The output-scaled roles of a config. */
function outputRoles(c: Ia3Config): LinearRole[] {
  const roles: LinearRole[] = c.selfattn_lora ? attentionRoles(c.attn_matrices) : [];
  if (c.intermediate_lora) roles.push('intermediate');
  if (c.output_lora) roles.push('output');
  return roles;
}

/** Validates and freezes an IA³ config. */
export function checkIa3Config(raw: RawConfig, where = 'ia3 config'): Ia3Config {
  checkKnownFields(raw, FIELDS, where);
  for (const f of ['selfattn_lora', 'intermediate_lora', 'output_lora', 'trainLayerNorms'] as const) checkBool(raw, f, where);
  checkNumber(raw, 'alpha', where, { min: 0, exclusiveMin: true });
  const m = raw.attn_matrices;
  if (!Array.isArray(m) || m.some((x) => x !== 'q' && x !== 'k' && x !== 'v') || new Set(m).size !== m.length) {
    fail('BAD_CONFIG', `${where}: attn_matrices must list distinct "q", "k", "v", got ${JSON.stringify(m)}`);
  }
  const ff = raw.feedforward;
  if (!Array.isArray(ff) || ff.some((r) => !(LINEAR_ROLES as readonly unknown[]).includes(r))) {
    fail('BAD_CONFIG', `${where}: feedforward must list projection roles (${LINEAR_ROLES.join(', ')}), got ${JSON.stringify(ff)}`);
  }
  checkOneOf(raw, 'init_weights', ['ia3'], where);
  checkLayerList(raw, 'leave_out', where);
  const c = raw as unknown as Ia3Config;
  const both = outputRoles(c).filter((r) => c.feedforward.includes(r));
  if (both.length) fail('BAD_CONFIG', `${where}: ${both.join(', ')} would be scaled at both input and output`);
  if (outputRoles(c).length + c.feedforward.length === 0) fail('BAD_CONFIG', `${where}: no projection is selected`);
  return Object.freeze({ ...c, attn_matrices: Object.freeze([...c.attn_matrices]), feedforward: Object.freeze([...c.feedforward]), leave_out: Object.freeze([...c.leave_out]) });
}

/** An IA³ config from a preset and overrides. */
export function ia3Config(overrides: Partial<Ia3Config> = {}, preset: keyof typeof IA3_PRESETS = 'ia3'): Ia3Config {
  return checkIa3Config({ ...IA3_PRESETS[preset], ...overrides });
}

interface Target {
  readonly site: LinearSite;
  /** Scaled at the input (feed-forward) or the output. */
  readonly side: 'in' | 'out';
}

function targetsOf(c: Ia3Config, enc: Encoder): Target[] {
  const out = new Set(outputRoles(c));
  const ff = new Set(c.feedforward);
  return enc.sites.linears
    .filter((s) => !c.leave_out.includes(s.layer) && (out.has(s.role) || ff.has(s.role)))
    .map((site) => ({ site, side: ff.has(site.role) ? 'in' : 'out' }));
}

/** The IA³ method. */
export const ia3Method: AdapterMethod<Ia3Config> = {
  id: 'ia3',
  describe: (c) => `ia3 (${[...outputRoles(c), ...c.feedforward.map((r) => `${r} input`)].join('/')}${c.trainLayerNorms ? ' + layer norms' : ''})`,
  validateFor(c, enc) {
    for (const l of c.leave_out) if (l >= enc.numLayers) fail('BAD_CONFIG', `ia3 config: leave_out layer ${l} does not exist (the ${enc.family} encoder has ${enc.numLayers} layers)`);
    if (targetsOf(c, enc).length === 0) fail('BAD_CONFIG', 'ia3 config: every layer is left out; no adapter would be inserted');
  },
  tensors(c, enc, name) {
    return targetsOf(c, enc).map(({ site, side }): AdapterTensor => ({
      name: adapterTensorName(name, site.key, 'scale'), shape: [side === 'in' ? site.inWidth : site.outWidth], init: { kind: 'ones' },
      site: { kind: 'linear', key: site.key, layer: site.layer }, neutral: 1,
    }));
  },
  hooks(c, enc, name, ctx): MethodHooks {
    const linears = new Map<string, (x: Value, apply: (x: Value) => Value) => Value>();
    for (const { site, side } of targetsOf(c, enc)) {
      const l = adapterTensorName(name, site.key, 'scale');
      const scale = () => (c.alpha === 1 ? ctx.w(l) : mul(ctx.w(l), c.alpha));
      linears.set(site.key, side === 'in' ? (x, apply) => apply(mul(x, scale())) : (x, apply) => mul(apply(x), scale()));
    }
    return { linears };
  },
  units(c, enc, name, ctx) {
    return {
      linears: new Map(targetsOf(c, enc).map(({ site, side }): [string, LinearUnit] => {
        const l = adapterTensorName(name, site.key, 'scale');
        // AdapterHub's IA3.forward: the state times the vector, then times alpha
        return [site.key, {
          kind: side === 'in' ? 'scale-in' : 'scale-out', width: side === 'in' ? site.inWidth : site.outWidth, inWidth: site.inWidth,
          single: (_x, state) => {
            const v = state ? mul(state, ctx.w(l)) : ctx.w(l);
            return c.alpha === 1 ? v : mul(v, c.alpha);
          },
        }];
      })),
    };
  },
  structure: (c) => ({ key: JSON.stringify({ m: 'ia3', out: outputRoles(c), ff: c.feedforward, alpha: c.alpha }) }),
  adapterHub: {
    config(c) {
      if (c.feedforward.length) return { unsupported: `AdapterHub's IA³ scales outputs only; feedforward (input scaling of ${c.feedforward.join(', ')}) is PEFT's placement` };
      return {
        config: {
          alpha: c.alpha, architecture: 'lora', attn_matrices: [...c.attn_matrices], composition_mode: 'scale', dropout: pyFloat(0), dtype: null, init_weights: 'ia3',
          init_weights_seed: null, intermediate_lora: c.intermediate_lora, leave_out: [...c.leave_out], output_lora: c.output_lora, r: 1,
          selfattn_lora: c.selfattn_lora, use_dora: false, use_gating: false, vera_b: null, vera_d: null,
        },
      };
    },
    keys(c, enc, name, fileName) {
      // input-scaled vectors (PEFT's placement) have no AdapterHub counterpart: they keep the same key, [in, 1], in adapterkit's own copy
      return targetsOf(c, enc).map(({ site, side }): FileTensorKey => ({
        internal: adapterTensorName(name, site.key, 'scale'), key: `${enc.checkpointPrefix}${site.module}.loras.${fileName}.lora_B`,
        shape: [side === 'in' ? site.inWidth : site.outWidth, 1], transpose: false,
      }));
    },
  },
  peft: {
    config(c, enc) {
      if (c.alpha !== 1) return { unsupported: `PEFT's IA³ has no alpha (this adapter's is ${c.alpha})` };
      const targets = targetsOf(c, enc);
      const sites = targets.map((t) => t.site);
      const fused = fusedSitesIssue(enc, sites);
      if (fused !== undefined) return { unsupported: fused };
      const target = peftTargets(enc, sites, { layersField: false }).target_modules;
      // every field of PEFT's IA3Config (peft @ 5d602fd tuners/ia3/config.py)
      return {
        config: {
          exclude_modules: null, fan_in_fan_out: false, feedforward_modules: peftFeedforward(enc, sites, targets.filter((t) => t.side === 'in').map((t) => t.site), target),
          init_ia3_weights: true, peft_type: 'IA3', target_modules: target,
        },
      };
    },
    keys(c, enc, name) {
      return targetsOf(c, enc).map(({ site, side }): FileTensorKey => ({
        internal: adapterTensorName(name, site.key, 'scale'), key: `base_model.model.${enc.checkpointPrefix}${site.module}.ia3_l`,
        shape: side === 'in' ? [1, site.inWidth] : [site.outWidth, 1], transpose: false,
      }));
    },
  },
  merge(c, enc, name, tensors, base) {
    const out = new Map<string, HostTensor<'float32'>>();
    const copy = (n: string) => {
      let t = out.get(n);
      if (!t) {
        const b = base.get(n);
        if (!b) fail('BAD_WEIGHTS', `ia3 merge: no base weight ${n}`);
        t = f32(b.shape, Float32Array.from(b.data));
        out.set(n, t);
      }
      return t;
    };
    for (const { site, side } of targetsOf(c, enc)) {
      const l = tensors.get(adapterTensorName(name, site.key, 'scale'));
      if (!l) fail('ADAPTER_MISMATCH', `ia3 merge: the tensor of site ${site.key} is missing`);
      const W = copy(site.weight);
      const cols = W.shape[1] as number;
      const from = site.columns?.[0] ?? 0;
      if (side === 'in') {
        for (let i = 0; i < site.inWidth; i++) for (let j = 0; j < site.outWidth; j++) W.data[i * cols + from + j] = (W.data[i * cols + from + j] as number) * (l.data[i] as number);
      } else {
        const b = site.bias === undefined ? undefined : copy(site.bias);
        for (let j = 0; j < site.outWidth; j++) {
          const s = c.alpha * (l.data[j] as number);
          for (let i = 0; i < site.inWidth; i++) W.data[i * cols + from + j] = (W.data[i * cols + from + j] as number) * s;
          if (b) b.data[from + j] = (b.data[from + j] as number) * s;
        }
      }
    }
    return out;
  },
};

/** Reads AdapterHub's `config` of an IA³ adapter (architecture "lora", composition_mode "scale"). */
export function ia3FromAdapterHub(cfg: RawConfig, where: string): Ia3Config {
  const known = new Set([
    'architecture', 'selfattn_lora', 'intermediate_lora', 'output_lora', 'leave_out', 'r', 'alpha', 'dropout', 'attn_matrices', 'composition_mode',
    'init_weights', 'init_weights_seed', 'use_gating', 'use_dora', 'vera_d', 'vera_b', 'dtype',
  ]);
  for (const k of Object.keys(cfg)) if (!known.has(k)) fail('BAD_CONFIG', `${where}: config.${k} is not a field adapterkit knows for IA³ adapters`);
  if (cfg.r !== undefined && cfg.r !== 1) fail('BAD_CONFIG', `${where}: config.r ${JSON.stringify(cfg.r)}: AdapterHub's composition_mode "scale" needs r = 1`);
  if (cfg.use_gating === true) fail('BAD_CONFIG', `${where}: config.use_gating is true: gated IA³ is not implemented in adapterkit`);
  if (cfg.use_dora === true) fail('BAD_CONFIG', `${where}: config.use_dora is true: DoRA is not implemented in adapterkit`);
  if (typeof cfg.dropout === 'number' && cfg.dropout !== 0) fail('BAD_CONFIG', `${where}: config.dropout ${cfg.dropout}: AdapterHub's IA³ has no dropout`);
  if (cfg.dtype !== undefined && cfg.dtype !== null && cfg.dtype !== 'float32') fail('BAD_CONFIG', `${where}: config.dtype ${JSON.stringify(cfg.dtype)} is not implemented (float32 only)`);
  if (cfg.init_weights !== undefined && cfg.init_weights !== 'ia3') fail('BAD_CONFIG', `${where}: config.init_weights ${JSON.stringify(cfg.init_weights)} is not implemented for IA³ (ia3)`);
  const d = IA3_PRESETS.ia3;
  return checkIa3Config({
    method: 'ia3', preset: 'ia3', trainLayerNorms: false, leave_out: cfg.leave_out ?? [], selfattn_lora: cfg.selfattn_lora ?? true, attn_matrices: cfg.attn_matrices ?? d.attn_matrices,
    intermediate_lora: cfg.intermediate_lora ?? true, output_lora: cfg.output_lora ?? false, alpha: cfg.alpha ?? 1, feedforward: [], init_weights: 'ia3',
  }, where);
}

/** PEFT `IA3Config` fields that leave the function alone whatever their value. */
const PEFT_IA3_INERT = new Set([
  'peft_type', 'task_type', 'base_model_name_or_path', 'revision', 'inference_mode', 'auto_mapping', 'peft_version', 'modules_to_save', 'target_modules',
  'feedforward_modules', 'layers_to_transform', 'layers_pattern', 'fan_in_fan_out', 'init_ia3_weights', 'exclude_modules',
]);

/** Reads PEFT's IA³ `adapter_config.json` given the sites `target_modules` and `feedforward_modules` select. */
export function ia3FromPeft(json: RawConfig, sites: readonly LinearSite[], feedforward: readonly LinearSite[], numLayers: number, where: string): Ia3Config {
  for (const [k, v] of Object.entries(json)) {
    if (!PEFT_IA3_INERT.has(k) && !isUnset(v)) fail('BAD_CONFIG', `${where}: ${k} ${JSON.stringify(v)} is not implemented in adapterkit`);
  }
  if (json.fan_in_fan_out === true) fail('BAD_CONFIG', `${where}: fan_in_fan_out is true: BERT-family projections are Linear layers`);
  if (!isUnset(json.exclude_modules)) fail('BAD_CONFIG', `${where}: exclude_modules ${JSON.stringify(json.exclude_modules)} is not implemented in adapterkit`);
  const ffKeys = new Set(feedforward.map((s) => s.key));
  const notTarget = feedforward.filter((s) => !sites.some((t) => t.key === s.key));
  if (notTarget.length) fail('BAD_CONFIG', `${where}: feedforward_modules selects ${notTarget.map((s) => s.module).join(', ')}, which target_modules does not`);
  const { roles, leaveOut } = rolesByLayer(sites, numLayers, where);
  const ffRoles = [...new Set(sites.filter((s) => ffKeys.has(s.key)).map((s) => s.role))];
  const out = roles.filter((r) => !ffRoles.includes(r));
  if (out.includes('attention_output')) fail('BAD_CONFIG', `${where}: IA³ on the attention output's output is not implemented (adapterkit scales it at its input, as a feed-forward module)`);
  const m = (['q', 'k', 'v'] as const).filter((x) => out.includes(({ q: 'query', k: 'key', v: 'value' } as const)[x]));
  return checkIa3Config({
    method: 'ia3', preset: ffRoles.length ? 'ia3-peft' : 'ia3', trainLayerNorms: false, leave_out: leaveOut, selfattn_lora: m.length > 0, attn_matrices: m.length ? m : ['k', 'v'],
    intermediate_lora: out.includes('intermediate'), output_lora: out.includes('output'), alpha: 1, feedforward: ffRoles, init_weights: 'ia3',
  }, where);
}
