/**
 * LoRA (Hu et al. 2021): a low-rank update of frozen projections,
 *
 *     y = x W + b + (alpha / r) · (dropout(x) A) B          A [in, r], B [r, out] (internal layout)
 *
 * with AdapterHub's `LoRAConfig` fields (adapters @ 88f18eb `methods/lora.py`: `scaling = alpha / r`,
 * A from kaiming_uniform(a=√5), B = 0, so a fresh adapter is exactly the base) and PEFT's file
 * layout (peft @ 5d602fd `tuners/lora`). Targets: the self-attention's query/key/value
 * (`selfattn_lora`, `attn_matrices`), the FFN's intermediate (`intermediate_lora`) and output
 * (`output_lora`) projections, and — beyond AdapterHub, as PEFT can — the attention output
 * (`attentionOutputLora`). `merge` folds `(alpha / r) A B` into a copy of W, so a merged task
 * runs at the base's cost.
 *
 * Internal tensors per projection site: `adapters.<name>.<layer>.<role>.lora_A` [in, r] and `.lora_B` [r, out].
 */
import { fail } from '../../errors.js';
import { add, f32, matmul, mul, reduceMean, sigmoid, type HostTensor, type Value } from '../../engine/index.js';
import type { Encoder } from '../../models/encoder.js';
import type { LinearRole, LinearSite } from '../../models/sites.js';
import { pyFloat } from '../../util/python-json.js';
import { adapterTensorName } from '../names.js';
import type { AdapterMethod, AdapterTensor, FileTensorKey, LinearUnit, MethodConfigBase, MethodHooks } from '../method.js';
import { checkBool, checkKnownFields, checkLayerList, checkNumber, checkOneOf, type RawConfig } from './config-checks.js';
import { attentionRoles, fusedSitesIssue, isUnset, matrixOf, peftTargets, rolesByLayer, type AttnMatrix } from './linear-targets.js';

/** A LoRA configuration: AdapterHub's `LoRAConfig` fields plus adapterkit's camelCase ones. */
export interface LoraConfig extends MethodConfigBase {
  readonly method: 'lora';
  /** The rank of the update B·A (A: [r, in], B: [out, r]). */
  readonly r: number;
  /** The update is scaled by alpha / r. */
  readonly alpha: number;
  /** Dropout on the input of A while training. */
  readonly dropout: number;
  /** LoRA on the self-attention projections named in {@link attn_matrices}. */
  readonly selfattn_lora: boolean;
  /** Which self-attention projections: `q`, `k`, `v` (the preset: q and v). */
  readonly attn_matrices: readonly AttnMatrix[];
  /** LoRA on the feed-forward's first projection (hidden → intermediate). */
  readonly intermediate_lora: boolean;
  /** LoRA on the feed-forward's output projection (intermediate → hidden). */
  readonly output_lora: boolean;
  /** adapterkit (PEFT can, AdapterHub cannot): LoRA on the attention output projection too. */
  readonly attentionOutputLora: boolean;
  /** "lora": A kaiming-uniform, B zero (the identity); "bert": both normal(0, 0.02). */
  readonly init_weights: 'lora' | 'bert';
  /**
   * UniPELT's gate (AdapterHub's LoRA `gate`, absent: false): the update is multiplied by
   * `g = mean over positions of sigmoid(x W_g + b_g)` [B, 1, 1] instead of alpha / r.
   */
  readonly use_gating?: boolean;
}

/** The LoRA preset: AdapterHub's and PEFT's default (r 8, alpha 8, query and value). */
export const LORA_PRESETS = {
  lora: {
    method: 'lora', preset: 'lora', trainLayerNorms: false, leave_out: [], r: 8, alpha: 8, dropout: 0, selfattn_lora: true, attn_matrices: ['q', 'v'],
    intermediate_lora: false, output_lora: false, attentionOutputLora: false, init_weights: 'lora',
  },
} as const satisfies Record<string, LoraConfig>;

const FIELDS = [
  'method', 'preset', 'trainLayerNorms', 'leave_out', 'r', 'alpha', 'dropout', 'selfattn_lora', 'attn_matrices', 'intermediate_lora', 'output_lora',
  'attentionOutputLora', 'init_weights', 'use_gating',
] as const;

/** Validates and freezes a LoRA config. */
export function checkLoraConfig(raw: RawConfig, where = 'lora config'): LoraConfig {
  checkKnownFields(raw, FIELDS, where);
  checkNumber(raw, 'r', where, { min: 1, integer: true });
  checkNumber(raw, 'alpha', where, { min: 0, exclusiveMin: true });
  checkNumber(raw, 'dropout', where, { min: 0, max: 1, exclusiveMax: true });
  for (const f of ['selfattn_lora', 'intermediate_lora', 'output_lora', 'attentionOutputLora', 'trainLayerNorms'] as const) checkBool(raw, f, where);
  const m = raw.attn_matrices;
  if (!Array.isArray(m) || m.some((x) => x !== 'q' && x !== 'k' && x !== 'v') || new Set(m).size !== m.length) {
    fail('BAD_CONFIG', `${where}: attn_matrices must list distinct "q", "k", "v", got ${JSON.stringify(m)}`);
  }
  checkOneOf(raw, 'init_weights', ['lora', 'bert'], where);
  checkLayerList(raw, 'leave_out', where);
  if (raw.use_gating !== undefined) checkBool(raw, 'use_gating', where);
  const c = raw as unknown as LoraConfig;
  if (loraRoles(c).length === 0) fail('BAD_CONFIG', `${where}: no projection is selected (selfattn_lora with attn_matrices, intermediate_lora, output_lora or attentionOutputLora)`);
  return Object.freeze({ ...c, attn_matrices: Object.freeze([...c.attn_matrices]), leave_out: Object.freeze([...c.leave_out]) });
}

/** A LoRA config from the preset and overrides. */
export function loraConfig(overrides: Partial<LoraConfig> = {}): LoraConfig {
  return checkLoraConfig({ ...LORA_PRESETS.lora, ...overrides });
}

/** The projection roles a config adapts, in forward order. */
export function loraRoles(c: Pick<LoraConfig, 'selfattn_lora' | 'attn_matrices' | 'intermediate_lora' | 'output_lora' | 'attentionOutputLora'>): LinearRole[] {
  const roles: LinearRole[] = c.selfattn_lora ? attentionRoles(c.attn_matrices) : [];
  if (c.attentionOutputLora) roles.push('attention_output');
  if (c.intermediate_lora) roles.push('intermediate');
  if (c.output_lora) roles.push('output');
  return roles;
}

function sitesOf(c: LoraConfig, enc: Encoder): LinearSite[] {
  const roles = new Set(loraRoles(c));
  return enc.sites.linears.filter((s) => roles.has(s.role) && !c.leave_out.includes(s.layer));
}

const scaleOf = (c: LoraConfig) => c.alpha / c.r;

/** The LoRA method. */
export const loraMethod: AdapterMethod<LoraConfig> = {
  id: 'lora',
  describe: (c) => `lora (r=${c.r}, alpha=${c.alpha}, ${loraRoles(c).join('/')}${c.trainLayerNorms ? ' + layer norms' : ''})`,
  validateFor(c, enc) {
    for (const l of c.leave_out) if (l >= enc.numLayers) fail('BAD_CONFIG', `lora config: leave_out layer ${l} does not exist (the ${enc.family} encoder has ${enc.numLayers} layers)`);
    if (sitesOf(c, enc).length === 0) fail('BAD_CONFIG', 'lora config: every layer is left out; no adapter would be inserted');
  },
  tensors(c, enc, name) {
    const out: AdapterTensor[] = [];
    for (const s of sitesOf(c, enc)) {
      const site = { kind: 'linear' as const, key: s.key, layer: s.layer };
      out.push(
        { name: adapterTensorName(name, s.key, 'lora_A'), shape: [s.inWidth, c.r], init: c.init_weights === 'lora' ? { kind: 'uniform', bound: 1 / Math.sqrt(s.inWidth) } : { kind: 'normal', std: 0.02 }, site, neutral: 0 },
        { name: adapterTensorName(name, s.key, 'lora_B'), shape: [c.r, s.outWidth], init: c.init_weights === 'lora' ? { kind: 'zeros' } : { kind: 'normal', std: 0.02 }, site, neutral: 0 },
      );
      if (c.use_gating) {
        out.push(
          { name: adapterTensorName(name, s.key, 'gate.weight'), shape: [s.inWidth, 1], init: { kind: 'normal', std: 0.02 }, site, neutral: 0 },
          { name: adapterTensorName(name, s.key, 'gate.bias'), shape: [1], init: { kind: 'uniform', bound: 1 / Math.sqrt(s.inWidth) }, site, neutral: 0 },
        );
      }
    }
    return out;
  },
  hooks(c, enc, name, ctx): MethodHooks {
    const linears = new Map<string, (x: Value, apply: (x: Value) => Value) => Value>();
    const s = scaleOf(c);
    for (const site of sitesOf(c, enc)) {
      const a = adapterTensorName(name, site.key, 'lora_A');
      const b = adapterTensorName(name, site.key, 'lora_B');
      linears.set(site.key, (x, apply) => {
        const low = matmul(matmul(ctx.dropout(x, c.dropout), ctx.w(a)), ctx.w(b)); // [B, T, out]
        if (c.use_gating) {
          // AdapterHub's LoRA.forward with use_gating: the gate replaces the scaling; its mean runs over every position
          const gate = reduceMean(sigmoid(add(matmul(x, ctx.w(adapterTensorName(name, site.key, 'gate.weight'))), ctx.w(adapterTensorName(name, site.key, 'gate.bias')))), [1], true); // [B, 1, 1]
          return add(apply(x), mul(low, gate));
        }
        return add(apply(x), s === 1 ? low : mul(low, s));
      });
    }
    return { linears };
  },
  units(c, enc, name, ctx) {
    if (c.use_gating) fail('BAD_CONFIG', 'lora config: use_gating: a gated LoRA cannot be composed with other adapters in adapterkit yet');
    const s = scaleOf(c);
    return {
      linears: new Map(sitesOf(c, enc).map((site): [string, LinearUnit] => {
        const a = adapterTensorName(name, site.key, 'lora_A');
        const b = adapterTensorName(name, site.key, 'lora_B');
        // AdapterHub's LoRA.forward: the state (the layer input for the first LoRA) through A and B, times the scaling
        return [site.key, {
          kind: 'add', width: site.outWidth, inWidth: site.inWidth,
          single: (x, state) => {
            const low = matmul(matmul(ctx.dropout(state ?? x, c.dropout), ctx.w(a)), ctx.w(b)); // [B, T, out]
            return s === 1 ? low : mul(low, s);
          },
        }];
      })),
    };
  },
  structure: (c) => ({ key: JSON.stringify({ m: 'lora', roles: loraRoles(c), scale: scaleOf(c), gated: c.use_gating === true }) }),
  averagesPositions: (c) => c.use_gating === true,
  size: { name: 'r', what: 'the rank r', get: (c) => c.r, with: (c, n) => checkLoraConfig({ ...c, r: n, alpha: (c.alpha / c.r) * n }) },
  adapterHub: {
    config(c) {
      if (c.attentionOutputLora) return { unsupported: "AdapterHub's LoRA has no attention-output placement (attentionOutputLora)" };
      return {
        config: {
          alpha: Number.isInteger(c.alpha) ? c.alpha : pyFloat(c.alpha), architecture: 'lora', attn_matrices: [...c.attn_matrices], composition_mode: 'add',
          dropout: pyFloat(c.dropout), dtype: null, init_weights: c.init_weights, init_weights_seed: null, intermediate_lora: c.intermediate_lora,
          leave_out: [...c.leave_out], output_lora: c.output_lora, r: c.r, selfattn_lora: c.selfattn_lora, use_dora: false, use_gating: c.use_gating === true,
          vera_b: null, vera_d: null,
        },
      };
    },
    keys(c, enc, name, fileName) {
      return sitesOf(c, enc).flatMap((s): FileTensorKey[] => {
        const p = `${enc.checkpointPrefix}${s.module}.loras.${fileName}.`;
        return [
          { internal: adapterTensorName(name, s.key, 'lora_A'), key: `${p}lora_A`, shape: [c.r, s.inWidth], transpose: true },
          { internal: adapterTensorName(name, s.key, 'lora_B'), key: `${p}lora_B`, shape: [s.outWidth, c.r], transpose: true },
          ...(c.use_gating ? [
            { internal: adapterTensorName(name, s.key, 'gate.weight'), key: `${p}gate.weight`, shape: [1, s.inWidth], transpose: true },
            { internal: adapterTensorName(name, s.key, 'gate.bias'), key: `${p}gate.bias`, shape: [1], transpose: false },
          ] : []),
        ];
      });
    },
  },
  peft: {
    config(c, enc) {
      if (c.use_gating) return { unsupported: 'PEFT\'s LoRA has no gate (use_gating)' };
      const fused = fusedSitesIssue(enc, sitesOf(c, enc));
      if (fused !== undefined) return { unsupported: fused };
      // every field of PEFT's LoraConfig (peft @ 5d602fd tuners/lora/config.py), defaults where adapterkit has no counterpart
      return {
        config: {
          alora_invocation_tokens: null, alpha_pattern: {}, arrow_config: null, bias: 'none', corda_config: null, ensure_weight_tying: false, eva_config: null,
          exclude_modules: null, fan_in_fan_out: false, init_lora_weights: c.init_weights === 'lora' ? true : 'gaussian', kasa_config: null, layer_replication: null,
          layers_pattern: null, loftq_config: {}, lora_alpha: Number.isInteger(c.alpha) ? c.alpha : pyFloat(c.alpha), lora_bias: false, lora_dropout: pyFloat(c.dropout),
          lora_ga_config: null, megatron_config: null, megatron_core: 'megatron.core', monteclora_config: null, peft_type: 'LORA', qalora_group_size: 16, r: c.r,
          rank_pattern: {}, ...peftTargets(enc, sitesOf(c, enc), { layersField: true }), target_parameters: null, trainable_token_indices: null, use_bdlora: null,
          use_dora: false, use_qalora: false, use_rslora: false, velora_config: null,
        },
      };
    },
    keys(c, enc, name) {
      return sitesOf(c, enc).flatMap((s): FileTensorKey[] => {
        const p = `base_model.model.${enc.checkpointPrefix}${s.module}.`;
        return [
          { internal: adapterTensorName(name, s.key, 'lora_A'), key: `${p}lora_A.weight`, shape: [c.r, s.inWidth], transpose: true },
          { internal: adapterTensorName(name, s.key, 'lora_B'), key: `${p}lora_B.weight`, shape: [s.outWidth, c.r], transpose: true },
        ];
      });
    },
  },
  merge(c, enc, name, tensors, base) {
    if (c.use_gating) fail('BAD_CONFIG', 'lora merge: a gated LoRA (use_gating) depends on its input through the gate, so it cannot be folded into the weights');
    const out = new Map<string, HostTensor<'float32'>>();
    const s = scaleOf(c);
    for (const site of sitesOf(c, enc)) {
      const A = tensors.get(adapterTensorName(name, site.key, 'lora_A'));
      const B = tensors.get(adapterTensorName(name, site.key, 'lora_B'));
      if (!A || !B) fail('ADAPTER_MISMATCH', `lora merge: the tensors of site ${site.key} are missing`);
      let W = out.get(site.weight);
      if (!W) {
        const w0 = base.get(site.weight);
        if (!w0) fail('BAD_WEIGHTS', `lora merge: no base weight ${site.weight}`);
        W = f32(w0.shape, Float32Array.from(w0.data));
        out.set(site.weight, W);
      }
      const cols = W.shape[1] as number;
      const from = site.columns?.[0] ?? 0;
      // W[i, from + j] += s * sum_k A[i, k] B[k, j]   (in float64, rounded once)
      for (let i = 0; i < site.inWidth; i++) {
        for (let j = 0; j < site.outWidth; j++) {
          let acc = 0;
          for (let k = 0; k < c.r; k++) acc += (A.data[i * c.r + k] as number) * (B.data[k * site.outWidth + j] as number);
          W.data[i * cols + from + j] = (W.data[i * cols + from + j] as number) + s * acc;
        }
      }
    }
    return out;
  },
};

/** Reads AdapterHub's `config` of a LoRA adapter (architecture "lora", composition_mode "add"). */
export function loraFromAdapterHub(cfg: RawConfig, where: string): LoraConfig {
  const known = new Set([
    'architecture', 'selfattn_lora', 'intermediate_lora', 'output_lora', 'leave_out', 'r', 'alpha', 'dropout', 'attn_matrices', 'composition_mode',
    'init_weights', 'init_weights_seed', 'use_gating', 'use_dora', 'vera_d', 'vera_b', 'dtype',
  ]);
  for (const k of Object.keys(cfg)) if (!known.has(k)) fail('BAD_CONFIG', `${where}: config.${k} is not a field adapterkit knows for LoRA adapters`);
  if (cfg.use_dora === true) fail('BAD_CONFIG', `${where}: config.use_dora is true: DoRA is not implemented in adapterkit`);
  for (const k of ['vera_d', 'vera_b'] as const) if (cfg[k] !== undefined && cfg[k] !== null) fail('BAD_CONFIG', `${where}: config.${k} is set: VeRA is not implemented in adapterkit`);
  if (cfg.dtype !== undefined && cfg.dtype !== null && cfg.dtype !== 'float32') fail('BAD_CONFIG', `${where}: config.dtype ${JSON.stringify(cfg.dtype)} is not implemented (float32 only)`);
  if (cfg.init_weights !== undefined && cfg.init_weights !== 'lora' && cfg.init_weights !== 'bert') {
    fail('BAD_CONFIG', `${where}: config.init_weights ${JSON.stringify(cfg.init_weights)} is not implemented for LoRA (lora, bert)`);
  }
  const d = LORA_PRESETS.lora;
  return checkLoraConfig({
    method: 'lora', preset: 'lora', trainLayerNorms: false, leave_out: cfg.leave_out ?? [], r: cfg.r ?? d.r, alpha: cfg.alpha ?? d.alpha, dropout: cfg.dropout ?? 0,
    selfattn_lora: cfg.selfattn_lora ?? true, attn_matrices: cfg.attn_matrices ?? d.attn_matrices, intermediate_lora: cfg.intermediate_lora ?? false,
    output_lora: cfg.output_lora ?? false, attentionOutputLora: false, init_weights: cfg.init_weights ?? 'lora', ...(cfg.use_gating === true ? { use_gating: true } : {}),
  }, where);
}


/**
 * PEFT's `init_lora_weights` values that change the base weights as the adapter is made (PiSSA,
 * OLoRA, CorDA, LoRA-GA: W − scale·B₀A₀; LoftQ: a quantised W), so that a file saved with one
 * does not fit the original base (PEFT writes `true` into the file it converts).
 */
const BASE_CHANGING_INITS = ['pissa', 'olora', 'corda', 'lora_ga', 'loftq'];

/** PEFT `LoraConfig` fields that leave the function alone whatever their value. */
const PEFT_LORA_INERT = new Set([
  'peft_type', 'task_type', 'base_model_name_or_path', 'revision', 'inference_mode', 'auto_mapping', 'peft_version', 'modules_to_save', 'target_modules',
  'layers_to_transform', 'layers_pattern', 'r', 'lora_alpha', 'lora_dropout', 'init_lora_weights', 'bias', 'use_rslora', 'fan_in_fan_out', 'use_dora',
  'rank_pattern', 'alpha_pattern', 'exclude_modules', 'target_parameters', 'megatron_core', 'qalora_group_size',
]);

/** Reads PEFT's LoRA `adapter_config.json` given the projection sites its `target_modules` select. */
export function loraFromPeft(json: RawConfig, sites: readonly LinearSite[], numLayers: number, where: string): LoraConfig {
  for (const [k, v] of Object.entries(json)) {
    if (!PEFT_LORA_INERT.has(k) && !isUnset(v)) fail('BAD_CONFIG', `${where}: ${k} ${JSON.stringify(v)} is not implemented in adapterkit`);
  }
  if (json.bias !== undefined && json.bias !== 'none') fail('BAD_CONFIG', `${where}: bias ${JSON.stringify(json.bias)} is not implemented (only "none": adapterkit trains no base biases with LoRA)`);
  if (json.use_rslora === true) fail('BAD_CONFIG', `${where}: use_rslora is true: rank-stabilised scaling is not implemented in adapterkit`);
  if (json.use_dora === true) fail('BAD_CONFIG', `${where}: use_dora is true: DoRA is not implemented in adapterkit`);
  if (json.fan_in_fan_out === true) fail('BAD_CONFIG', `${where}: fan_in_fan_out is true: BERT-family projections are Linear layers`);
  const init = json.init_lora_weights;
  if (typeof init === 'string' && BASE_CHANGING_INITS.some((p) => init.toLowerCase().startsWith(p))) {
    fail('BAD_CONFIG', `${where}: init_lora_weights ${JSON.stringify(init)}: PEFT subtracted the adapter's initial B·A from the base weights when it made this adapter, so it only fits that changed base; `
      + `PEFT's save_pretrained(…, path_initial_model_for_weight_conversion=…) converts it into a plain LoRA (init_lora_weights true), which adapterkit loads${init.toLowerCase().startsWith('loftq') ? ' (LoftQ adapters, made for a quantised base, cannot be converted)' : ''}`);
  }
  for (const k of ['rank_pattern', 'alpha_pattern', 'exclude_modules', 'target_parameters'] as const) {
    if (!isUnset(json[k])) fail('BAD_CONFIG', `${where}: ${k} ${JSON.stringify(json[k])} is not implemented in adapterkit`);
  }
  const { roles, leaveOut } = rolesByLayer(sites, numLayers, where);
  const m: AttnMatrix[] = roles.map(matrixOf).filter((x): x is AttnMatrix => x !== undefined);
  return checkLoraConfig({
    method: 'lora', preset: 'lora', trainLayerNorms: false, leave_out: leaveOut, r: json.r ?? 8, alpha: json.lora_alpha ?? 8, dropout: json.lora_dropout ?? 0,
    selfattn_lora: m.length > 0, attn_matrices: m.length ? (['q', 'k', 'v'] as const).filter((x) => m.includes(x)) : ['q', 'v'],
    intermediate_lora: roles.includes('intermediate'), output_lora: roles.includes('output'), attentionOutputLora: roles.includes('attention_output'),
    init_weights: json.init_lora_weights === 'gaussian' ? 'bert' : 'lora',
  }, where);
}
