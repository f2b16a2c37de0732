/**
 * Training modes on one trainer: adapters (any method; the paper's bottleneck by default), full
 * fine-tuning, the top k layers, layer norms only, and the head only. A mode decides which
 * encoder weights train. Every mode is one row of {@link MODES}; the CLI's choices, the default
 * learning rates, the sweep's methods, report labels and orderings all derive from it.
 */
import { fail } from '../errors.js';
import { checkAdapterDrop, checkAdapters, checkSetup, describeSetup, type AdapterDrop, type NamedAdapter } from '../adapters/compose.js';
import type { Composition } from '../adapters/composition.js';
import type { NamedFusion } from '../adapters/fusion.js';
import { methodOf, type MethodConfig } from '../adapters/methods/index.js';
import type { Encoder, WeightSpec } from '../models/encoder.js';

/**
 * Several named adapters (any methods) in one model, `active` picking what runs and how they
 * combine (see adapters/composition.ts and compose.ts); adapters marked `trainable: false` are
 * frozen. The single-adapter mode `{ kind: 'adapters', adapter }` is the plain case.
 */
export interface AdapterSetupMode {
  readonly kind: 'adapters';
  /** Absent in a setup (it is the single-adapter mode's field). */
  readonly adapter?: undefined;
  readonly adapters: readonly NamedAdapter[];
  readonly active: Composition;
  readonly adapterDrop?: AdapterDrop;
  /** AdapterFusion layers the setup's Fuse blocks run (see adapters/fusion.ts); trainable unless marked `trainable: false`. */
  readonly fusions?: readonly NamedFusion[];
}

/** A training mode with at most one adapter (what the CLI's flags make). */
export type SingleTrainingMode =
  | { readonly kind: 'adapters'; readonly adapter: MethodConfig }
  | { readonly kind: 'full' }
  | { readonly kind: 'top-k'; readonly k: number }
  | { readonly kind: 'layer-norm' }
  | { readonly kind: 'head-only' };

/** A training mode. */
export type TrainingMode = SingleTrainingMode | AdapterSetupMode;

/** Whether a mode holds named adapters under a composition. */
export function isAdapterSetup(m: TrainingMode): m is AdapterSetupMode {
  return m.kind === 'adapters' && m.adapter === undefined;
}

/** A mode's kind. */
export type ModeKind = TrainingMode['kind'];

/** Options that refine what trains besides the mode. */
export interface TrainableOptions {
  /** Train the encoder's pooler too (frozen by default, as the reference code). */
  trainPooler?: boolean;
}

/** What the trainer, CLI and reports need to know of a mode. */
export interface ModeSpec<K extends ModeKind> {
  /** Default peak learning rate (the paper sweeps {3e-5, 3e-4, 3e-3}). */
  readonly lr: number;
  /** Legend name in reports. */
  readonly family: string;
  /** Whether an encoder weight (other than the pooler) trains. */
  trains(mode: Extract<TrainingMode, { kind: K }>, spec: WeightSpec, enc: Encoder): boolean;
  /** A short description. */
  describe(mode: Extract<TrainingMode, { kind: K }>, enc?: Encoder): string;
}

/** The modes, in the order tables list them (cheapest to train first, full fine-tuning last). */
export const MODES: { readonly [K in ModeKind]: ModeSpec<K> } = {
  adapters: {
    lr: 1e-3, family: 'adapters',
    trains: (m, s) => (m.adapter === undefined ? m.adapters.some((a) => a.trainable !== false && a.config.trainLayerNorms) : m.adapter.trainLayerNorms) && s.role === 'norm',
    describe: (m, enc) => (m.adapter === undefined ? describeSetup(m.adapters, m.active, m.adapterDrop, enc, m.fusions) : methodOf(m.adapter).describe(m.adapter, enc)),
  },
  'top-k': { lr: 1e-4, family: 'fine-tune top k', trains: (m, s, enc) => s.layer !== undefined && s.layer >= enc.numLayers - m.k, describe: (m) => `top-${m.k} layers` },
  'layer-norm': { lr: 3e-3, family: 'layer norm only', trains: (_m, s) => s.role === 'norm', describe: () => 'layer-norm' },
  'head-only': { lr: 3e-3, family: 'head only', trains: () => false, describe: () => 'head-only' },
  // 1e-4 as the README and the demo: at 3e-5 two epochs left a real imbalanced task at F1 0.07
  full: { lr: 1e-4, family: 'full fine-tuning', trains: () => true, describe: () => 'full' },
};

/** Mode names as the CLI spells them. */
export const MODE_NAMES = Object.keys(MODES) as ModeKind[];

/** Default peak learning rates per mode. */
export const DEFAULT_LR: Readonly<Record<ModeKind, number>> = Object.fromEntries(MODE_NAMES.map((k) => [k, MODES[k].lr])) as Record<ModeKind, number>;

function spec<K extends ModeKind>(mode: Extract<TrainingMode, { kind: K }>): ModeSpec<K> {
  const s = MODES[mode.kind as K] as ModeSpec<K> | undefined;
  if (!s) fail('BAD_CONFIG', `unknown training mode ${JSON.stringify(mode.kind)} (modes: ${MODE_NAMES.join(', ')})`);
  return s;
}

/** Whether an encoder weight trains under `mode`. The pooler trains in full and top-k modes, or when asked. */
export function isTrainable(mode: TrainingMode, s: WeightSpec, enc: Encoder, o: TrainableOptions = {}): boolean {
  if (s.role === 'pooler') return mode.kind === 'full' || mode.kind === 'top-k' || !!o.trainPooler;
  return spec(mode).trains(mode as never, s, enc);
}

/** Validates a mode against an encoder. */
export function validateMode(mode: TrainingMode, enc: Encoder): void {
  spec(mode);
  if (isAdapterSetup(mode)) {
    checkAdapters(mode.adapters, enc, mode.fusions);
    const drop = mode.adapterDrop ? checkAdapterDrop(mode.adapterDrop, enc) : undefined;
    checkSetup(enc, mode.adapters, mode.active, { dropBelow: drop?.kind === 'static' ? drop.layers : 0, ...(mode.fusions ? { fusions: mode.fusions } : {}) });
  }
  if (mode.kind === 'top-k' && (!Number.isInteger(mode.k) || mode.k < 1 || mode.k > enc.numLayers)) {
    fail('BAD_CONFIG', `top-k: k must be an integer from 1 to ${enc.numLayers} (the encoder's layers), got ${mode.k}`);
  }
}

/**
 * Positions of the base's position embeddings that a mode's adapters take before the input's
 * tokens (PEFT's prompt tuning), which an input then cannot have: see
 * the method's `inputPositions`. 0 for every other mode and method.
 */
export function positionsTaken(mode: TrainingMode): number {
  if (mode.kind !== 'adapters') return 0;
  const configs = isAdapterSetup(mode) ? mode.adapters.map((a) => a.config) : [mode.adapter];
  return Math.max(0, ...configs.map((c) => methodOf(c).inputPositions?.(c) ?? 0));
}

/** A short description such as `bottleneck (paper, m=64 + layer norms)` or `top-2 layers`. */
export function describeMode(mode: TrainingMode, enc?: Encoder): string {
  return spec(mode).describe(mode as never, enc);
}

/** The legend name of a mode kind in reports. */
export function modeFamily(kind: string): string {
  return (MODES as Record<string, ModeSpec<ModeKind> | undefined>)[kind]?.family ?? kind;
}

/** Position of a mode kind in tables (unknown kinds last). */
export function modeOrder(kind: string): number {
  const i = (MODE_NAMES as string[]).indexOf(kind);
  return i < 0 ? MODE_NAMES.length : i;
}
