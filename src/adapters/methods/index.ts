/**
 * The registry of adapter methods and their presets: the one place that lists them. Everything
 * above (task model, files, CLI, sweeps) finds a method here by its config's `method` field.
 *
 * @example
 * ```ts
 * const c = methodConfig('pfeiffer', { reduction_factor: 8 });
 * methodOf(c).describe(c, base.encoder); // 'bottleneck (pfeiffer, m=64)' on USE-lite
 * ```
 */
import { fail } from '../../errors.js';
import type { AdapterMethod, MethodConfigBase, MethodId } from '../method.js';
import { ADAPTERHUB_BOTTLENECK_NAMES, BOTTLENECK_PRESETS, bottleneckFromAdapterHub, bottleneckMethod, checkBottleneckConfig, type BottleneckConfig } from './bottleneck.js';
import { IA3_PRESETS, checkIa3Config, ia3FromAdapterHub, ia3FromPeft, ia3Method, type Ia3Config } from './ia3.js';
import { LORA_PRESETS, checkLoraConfig, loraFromAdapterHub, loraFromPeft, loraMethod, type LoraConfig } from './lora.js';
import { ADAPTERHUB_PROMPT_NAMES, PROMPT_PRESETS, checkPromptConfig, promptFromAdapterHub, promptFromPeft, promptMethod, type PromptConfig } from './prompt.js';
import { checkUnionConfig, makeUnionMethod, type UnionConfig } from './union.js';
import { ADAPTERHUB_PREFIX_NAMES, PREFIX_PRESETS, checkPrefixConfig, prefixFromAdapterHub, prefixFromPeft, prefixMethod, type PrefixConfig } from './prefix.js';
import type { Encoder } from '../../models/encoder.js';
import type { LinearSite } from '../../models/sites.js';
import type { RawConfig } from './config-checks.js';

export type { BottleneckConfig } from './bottleneck.js';
export type { LoraConfig } from './lora.js';
export type { Ia3Config } from './ia3.js';
export type { PrefixConfig } from './prefix.js';
export type { PromptConfig } from './prompt.js';
export type { UnionConfig } from './union.js';

/** A config of one method (what a union holds). */
export type SingleMethodConfig = BottleneckConfig | LoraConfig | Ia3Config | PrefixConfig | PromptConfig;

/** Any method's config. */
export type MethodConfig = SingleMethodConfig | UnionConfig<SingleMethodConfig>;

const bottleneckSizeName = (bottleneckMethod.size as NonNullable<typeof bottleneckMethod.size>).name;

/** Every method, by id. */
export const METHODS: { readonly [K in MethodId]: AdapterMethod<Extract<MethodConfig, { method: K }>> } = {
  bottleneck: bottleneckMethod,
  lora: loraMethod,
  ia3: ia3Method,
  prefix_tuning: prefixMethod,
  prompt_tuning: promptMethod,
  // MAM and UniPELT are sized by their bottleneck adapter (MAM's parallel adapter, UniPELT's seq_bn)
  union: makeUnionMethod<SingleMethodConfig>((c) => methodOf(c), { method: 'bottleneck', name: bottleneckSizeName, what: 'the width m of its bottleneck adapter (MAM\'s parallel adapter, UniPELT\'s seq_bn; the other parts as in the preset)' }),
};

/**
 * The union presets: AdapterHub's `mam` (He et al. 2022: prefix tuning with bottleneck 800 + a
 * parallel adapter) and `unipelt` (Mao et al. 2022: prefix tuning P 10, seq_bn and LoRA r 8
 * alpha 2, each with its gate).
 */
export const UNION_PRESETS: Readonly<Record<string, UnionConfig<SingleMethodConfig>>> = {
  mam: checkUnionConfig({ method: 'union', preset: 'mam', trainLayerNorms: false, leave_out: [], configs: [{ ...PREFIX_PRESETS.prefix, bottleneck_size: 800 }, BOTTLENECK_PRESETS.parallel] }, (r, w) => checkMethodConfig(r, w) as SingleMethodConfig, 'mam preset'),
  unipelt: checkUnionConfig({
    method: 'union', preset: 'unipelt', trainLayerNorms: false, leave_out: [],
    configs: [{ ...PREFIX_PRESETS.prefix, prefix_length: 10, use_gating: true }, { ...BOTTLENECK_PRESETS.pfeiffer, use_gating: true }, { ...LORA_PRESETS.lora, alpha: 2, use_gating: true }],
  }, (r, w) => checkMethodConfig(r, w) as SingleMethodConfig, 'unipelt preset'),
};

/** Every named preset (the names `train --method` takes). */
export const METHOD_PRESETS: Readonly<Record<string, MethodConfig>> = { ...BOTTLENECK_PRESETS, ...LORA_PRESETS, ...IA3_PRESETS, ...PREFIX_PRESETS, ...PROMPT_PRESETS, ...UNION_PRESETS };

/** Preset names, in the order help texts list them. */
export const PRESET_NAMES = Object.keys(METHOD_PRESETS) as readonly string[];

/** The method of a config. */
export function methodOf<C extends MethodConfig>(c: C): AdapterMethod<C> {
  const m = (METHODS as Record<string, AdapterMethod<MethodConfigBase>>)[c.method];
  if (!m) fail('BAD_CONFIG', `unknown adapter method ${JSON.stringify(c.method)} (methods: ${Object.keys(METHODS).join(', ')})`);
  return m as unknown as AdapterMethod<C>;
}

/** Validates a config of any method (dispatching on `method`) and freezes it. */
export function checkMethodConfig(raw: RawConfig, where?: string): MethodConfig {
  switch (raw.method) {
    case 'bottleneck':
      return checkBottleneckConfig(raw, where);
    case 'lora':
      return checkLoraConfig(raw, where);
    case 'ia3':
      return checkIa3Config(raw, where);
    case 'prefix_tuning':
      return checkPrefixConfig(raw, where);
    case 'prompt_tuning':
      return checkPromptConfig(raw, where);
    case 'union':
      return checkUnionConfig(raw, (r, w) => checkMethodConfig(r, w) as SingleMethodConfig, where);
    default:
      return fail('BAD_CONFIG', `${where ?? 'adapter config'}: method ${JSON.stringify(raw.method)} is not one of ${Object.keys(METHODS).join(', ')}`);
  }
}

/**
 * A config from a preset (adapterkit's names, or AdapterHub's `double_seq_bn`, `seq_bn`, `par_bn`,
 * `prefix_tuning`, `prefix_tuning_flat`, `prompt_tuning`)
 * and overrides. A `size` override replaces a preset's `reduction_factor` and the other way round.
 */
export function methodConfig(preset: string, overrides: RawConfig = {}): MethodConfig {
  const name = ADAPTERHUB_BOTTLENECK_NAMES[preset] ?? ADAPTERHUB_PREFIX_NAMES[preset] ?? ADAPTERHUB_PROMPT_NAMES[preset] ?? preset;
  const base = METHOD_PRESETS[name];
  if (!base) fail('BAD_CONFIG', `unknown adapter method preset ${JSON.stringify(preset)} (presets: ${PRESET_NAMES.join(', ')}, or AdapterHub's ${[...Object.keys(ADAPTERHUB_BOTTLENECK_NAMES), ...Object.keys(ADAPTERHUB_PREFIX_NAMES), ...Object.keys(ADAPTERHUB_PROMPT_NAMES)].join(', ')})`);
  const merged: Record<string, unknown> = { ...base, ...overrides };
  if (base.method === 'bottleneck') {
    if (overrides.reduction_factor !== undefined && overrides.size === undefined) delete merged.size;
    if (overrides.size !== undefined && overrides.reduction_factor === undefined) delete merged.reduction_factor;
  }
  if (overrides.method !== undefined && overrides.method !== base.method) fail('BAD_CONFIG', `preset ${preset} is a ${base.method} config, not ${String(overrides.method)}`);
  return checkMethodConfig(merged, `${preset} config`);
}

/**
 * Reads AdapterHub's `config` object (of `adapter_config.json`) into a method config; BAD_CONFIG
 * naming the field for anything adapterkit does not implement, so that a loaded adapter never
 * computes a different function than in AdapterHub. `versioned`: whether the file has AdapterHub's
 * `version` field (see `bottleneckFromAdapterHub` in bottleneck.ts).
 */
export function fromAdapterHubConfig(cfg: unknown, where: string, versioned = true): MethodConfig {
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) fail('BAD_CONFIG', `${where}: config must be an object, got ${JSON.stringify(cfg)}`);
  const c = cfg as RawConfig;
  const arch = c.architecture ?? null;
  if (arch === null || arch === 'bottleneck') return bottleneckFromAdapterHub(c, where, versioned);
  if (arch === 'lora') {
    const mode = c.composition_mode ?? 'add';
    if (mode === 'add') return loraFromAdapterHub(c, where);
    if (mode === 'scale') return ia3FromAdapterHub(c, where);
    return fail('BAD_CONFIG', `${where}: config.composition_mode ${JSON.stringify(mode)} is not one of "add" (LoRA), "scale" (IA³)`);
  }
  if (arch === 'prefix_tuning') return prefixFromAdapterHub(c, where);
  if (arch === 'prompt_tuning') return promptFromAdapterHub(c, where);
  if (arch === 'union') return unionFromAdapterHub(c, where, versioned);
  const later: Record<string, string> = { mtl_lora: 'MTL-LoRA', reft: 'ReFT' };
  return fail('BAD_CONFIG', `${where}: config.architecture ${JSON.stringify(arch)}${later[String(arch)] ? ` (${later[String(arch)]})` : ''} is not implemented in adapterkit (it has bottleneck, lora, ia3, prefix_tuning, prompt_tuning, union)`);
}

/** Reads AdapterHub's `ConfigUnion` config (`{architecture: "union", configs}`): each component as AdapterHub's config of its method. */
function unionFromAdapterHub(c: RawConfig, where: string, versioned: boolean): MethodConfig {
  const list = c.configs;
  if (!Array.isArray(list)) fail('BAD_CONFIG', `${where}: config.configs must be a list of configs, got ${JSON.stringify(list)}`);
  for (const k of Object.keys(c)) if (k !== 'architecture' && k !== 'configs') fail('BAD_CONFIG', `${where}: config.${k} is not a field of AdapterHub's ConfigUnion`);
  const parts = list.map((x, i) => fromAdapterHubConfig(x, `${where}: config.configs[${i}]`, versioned));
  const strip = (x: MethodConfig) => JSON.stringify(Object.entries(x).filter(([k]) => k !== 'preset').sort(([a], [b]) => (a < b ? -1 : 1)));
  const preset = Object.entries(UNION_PRESETS).find(([, u]) => u.configs.length === parts.length && parts.every((p, i) => strip(p) === strip(u.configs[i] as MethodConfig)))?.[0];
  return checkMethodConfig({ method: 'union', preset: preset ?? 'union', trainLayerNorms: false, leave_out: [], configs: parts }, where);
}

/**
 * Reads PEFT's `adapter_config.json` (LoRA or IA³); `select` resolves a `target_modules` value
 * (and `layers_to_transform`) to the encoder's projection sites.
 */
export function fromPeftConfigFields(
  json: RawConfig, enc: Encoder, where: string, select: (target: unknown, layers: unknown, rule?: 'target' | 'feedforward') => LinearSite[],
): MethodConfig {
  const type = json.peft_type;
  if (type === 'LORA') return loraFromPeft(json, select(json.target_modules, json.layers_to_transform), enc.numLayers, where);
  if (type === 'IA3') {
    const sites = select(json.target_modules, json.layers_to_transform);
    // PEFT asks only of the modules target_modules selected whether they are feed-forward ones (ia3/model.py _create_and_replace)
    const ff = isEmptyTarget(json.feedforward_modules) ? [] : select(json.feedforward_modules, json.layers_to_transform, 'feedforward').filter((s) => sites.some((t) => t.key === s.key));
    return ia3FromPeft(json, sites, ff, enc.numLayers, where);
  }
  if (type === 'PREFIX_TUNING') return prefixFromPeft(json, enc, where);
  if (type === 'PROMPT_TUNING') return promptFromPeft(json, enc, where);
  return fail('BAD_CONFIG', `${where}: peft_type ${JSON.stringify(type)} is not implemented in adapterkit (it reads LORA, IA3, PREFIX_TUNING and PROMPT_TUNING)`);
}

function isEmptyTarget(v: unknown): boolean {
  return v === null || v === undefined || (Array.isArray(v) && v.length === 0);
}

/**
 * A config from adapterkit's version-1 task manifests (`{ size | reductionFactor, activation,
 * initStd, points, leaveOut, trainLayerNorms }`, bottleneck only).
 */
export function fromLegacyConfig(raw: RawConfig, where: string): MethodConfig {
  const points = Array.isArray(raw.points) ? raw.points : ['attention_output', 'ffn_output'];
  const act = raw.activation ?? 'gelu';
  return checkBottleneckConfig({
    ...BOTTLENECK_PRESETS.paper,
    size: raw.size, reduction_factor: raw.size === undefined ? raw.reductionFactor : undefined, non_linearity: act,
    initStd: raw.initStd ?? 1e-2, mh_adapter: points.includes('attention_output'), output_adapter: points.includes('ffn_output'),
    leave_out: raw.leaveOut ?? [], trainLayerNorms: raw.trainLayerNorms ?? true,
  }, where);
}

/** A short label of a config for tables and charts: the preset name, else the method. */
export function methodLabel(c: MethodConfig): string {
  return c.preset ?? c.method;
}

export { bottleneckConfig } from './bottleneck.js';
export { loraConfig } from './lora.js';
export { ia3Config } from './ia3.js';
export { ejectPrefix, prefixConfig } from './prefix.js';
export { promptConfig, promptFromText } from './prompt.js';

/** The paper's bottleneck adapter with overrides (kept for the README's examples): `adapterConfig({ size: 64 })`. */
export { bottleneckConfig as adapterConfig } from './bottleneck.js';
