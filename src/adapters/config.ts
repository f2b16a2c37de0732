/**
 * Bottleneck adapter configuration (Houlsby et al., 2019): immutable objects with named presets,
 * validated once against the encoder they are used with.
 */
import { fail } from '../errors.js';
import { ATTACHMENT_POINTS, type AttachmentPoint, type Encoder } from '../models/encoder.js';

/** Nonlinearities an adapter can use. */
export const ADAPTER_ACTIVATIONS = ['gelu', 'relu', 'swish', 'tanh'] as const;
/** One of {@link ADAPTER_ACTIVATIONS}. */
export type AdapterActivation = (typeof ADAPTER_ACTIVATIONS)[number];

/** A bottleneck adapter configuration. */
export interface AdapterConfig {
  /** Bottleneck size m (exclusive with reductionFactor). */
  readonly size?: number;
  /** Hidden width / m (exclusive with size). */
  readonly reductionFactor?: number;
  /** Nonlinearity between the projections (default GELU, as the reference code). */
  readonly activation: AdapterActivation;
  /** Std of the truncated normal (cut at 2 std) used for both projections; biases start at zero. */
  readonly initStd: number;
  /** Sub-layer outputs that carry an adapter (Houlsby: both). */
  readonly points: readonly AttachmentPoint[];
  /** Layers without adapters (indices). */
  readonly leaveOut: readonly number[];
  /** Whether layer norms train together with the adapters (the paper: yes). */
  readonly trainLayerNorms: boolean;
}

/** Named presets. */
export const ADAPTER_PRESETS = {
  /** The paper: two adapters per layer, m = 64, GELU, std 1e-2, layer norms trained. */
  houlsby: { size: 64, activation: 'gelu', initStd: 1e-2, points: ATTACHMENT_POINTS, leaveOut: [], trainLayerNorms: true },
  /** One adapter per layer after the feed-forward block only (cheaper; "Pfeiffer"-like placement without its extra LN). */
  'ffn-only': { size: 64, activation: 'gelu', initStd: 1e-2, points: ['ffn_output'], leaveOut: [], trainLayerNorms: true },
} as const satisfies Record<string, AdapterConfig>;

/** A preset name. */
export type AdapterPreset = keyof typeof ADAPTER_PRESETS;

/** Builds an adapter config from a preset and overrides; validates it. */
export function adapterConfig(overrides: Partial<AdapterConfig> = {}, preset: AdapterPreset = 'houlsby'): AdapterConfig {
  const base = ADAPTER_PRESETS[preset];
  if (!base) fail('BAD_CONFIG', `unknown adapter preset ${JSON.stringify(preset)} (presets: ${Object.keys(ADAPTER_PRESETS).join(', ')})`);
  const merged: AdapterConfig = { ...base, ...overrides };
  const c: AdapterConfig =
    overrides.reductionFactor !== undefined && overrides.size === undefined
      ? { ...merged, size: undefined }
      : merged;
  validateAdapterConfig(c);
  return Object.freeze({ ...c, points: Object.freeze([...c.points]), leaveOut: Object.freeze([...c.leaveOut]) });
}

/** Throws BAD_CONFIG with a precise message when a config is invalid on its own. */
export function validateAdapterConfig(c: AdapterConfig): void {
  if ((c.size === undefined) === (c.reductionFactor === undefined)) {
    fail('BAD_CONFIG', 'adapter config: give exactly one of size (bottleneck m) or reductionFactor');
  }
  if (c.size !== undefined && (!Number.isInteger(c.size) || c.size < 1)) fail('BAD_CONFIG', `adapter config: size must be a positive integer, got ${c.size}`);
  if (c.reductionFactor !== undefined && !(c.reductionFactor > 0)) fail('BAD_CONFIG', `adapter config: reductionFactor must be positive, got ${c.reductionFactor}`);
  if (!ADAPTER_ACTIVATIONS.includes(c.activation)) {
    fail('BAD_CONFIG', `adapter config: activation ${JSON.stringify(c.activation)} is not one of ${ADAPTER_ACTIVATIONS.join(', ')}`);
  }
  if (!(c.initStd > 0 && c.initStd < 1)) fail('BAD_CONFIG', `adapter config: initStd must be in (0, 1), got ${c.initStd}`);
  if (c.points.length === 0) fail('BAD_CONFIG', 'adapter config: no attachment points selected');
  for (const p of c.points) {
    if (!ATTACHMENT_POINTS.includes(p)) fail('BAD_CONFIG', `adapter config: unknown attachment point ${JSON.stringify(p)} (points: ${ATTACHMENT_POINTS.join(', ')})`);
  }
  for (const l of c.leaveOut) if (!Number.isInteger(l) || l < 0) fail('BAD_CONFIG', `adapter config: leaveOut holds an invalid layer index ${l}`);
}

/** Checks a config against an encoder: layer indices exist, points are supported. */
export function validateForEncoder(c: AdapterConfig, enc: Encoder): void {
  for (const l of c.leaveOut) {
    if (l >= enc.numLayers) fail('BAD_CONFIG', `adapter config: leaveOut layer ${l} does not exist (the ${enc.family} encoder has ${enc.numLayers} layers)`);
  }
  for (const p of c.points) {
    if (!enc.attachmentPoints.includes(p)) fail('BAD_CONFIG', `adapter config: the ${enc.family} encoder has no attachment point ${p}`);
  }
  if (c.leaveOut.length >= enc.numLayers) fail('BAD_CONFIG', 'adapter config: every layer is left out; no adapter would be inserted');
}

/** Bottleneck size for a layer of width `d`. */
export function bottleneckSize(c: AdapterConfig, d: number): number {
  if (c.size !== undefined) return c.size;
  return Math.max(1, Math.round(d / (c.reductionFactor as number)));
}
