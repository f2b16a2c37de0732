/**
 * Training modes on one trainer: adapters (the paper), full fine-tuning, the top k layers,
 * layer norms only, and the head only. A mode decides which encoder weights train.
 */
import { fail } from '../errors.js';
import type { AdapterConfig } from '../adapters/config.js';
import type { Encoder, WeightSpec } from '../models/encoder.js';

/** A training mode. */
export type TrainingMode =
  | { readonly kind: 'adapters'; readonly adapter: AdapterConfig }
  | { readonly kind: 'full' }
  | { readonly kind: 'top-k'; readonly k: number }
  | { readonly kind: 'layer-norm' }
  | { readonly kind: 'head-only' };

/** Mode names as the CLI spells them. */
export const MODE_NAMES = ['adapters', 'full', 'top-k', 'layer-norm', 'head-only'] as const;

/** Options that refine what trains besides the mode. */
export interface TrainableOptions {
  /** Train the encoder's pooler too (frozen by default, as the reference code). */
  trainPooler?: boolean;
}

/** Whether an encoder weight trains under `mode`. */
export function isTrainable(mode: TrainingMode, spec: WeightSpec, enc: Encoder, o: TrainableOptions = {}): boolean {
  if (spec.role === 'pooler') return mode.kind === 'full' || mode.kind === 'top-k' || !!o.trainPooler;
  switch (mode.kind) {
    case 'full':
      return true;
    case 'adapters':
      return mode.adapter.trainLayerNorms && spec.role === 'norm';
    case 'layer-norm':
      return spec.role === 'norm';
    case 'top-k':
      return spec.layer !== undefined && spec.layer >= enc.numLayers - mode.k;
    case 'head-only':
      return false;
  }
}

/** Validates a mode against an encoder. */
export function validateMode(mode: TrainingMode, enc: Encoder): void {
  if (mode.kind === 'top-k' && (!Number.isInteger(mode.k) || mode.k < 1 || mode.k > enc.numLayers)) {
    fail('BAD_CONFIG', `top-k: k must be an integer from 1 to ${enc.numLayers} (the encoder's layers), got ${mode.k}`);
  }
}

/** A short description such as `adapters (m=64)` or `top-2 layers`. */
export function describeMode(mode: TrainingMode): string {
  switch (mode.kind) {
    case 'adapters': {
      const a = mode.adapter;
      return `adapters (${a.size !== undefined ? `m=${a.size}` : `reduction ${a.reductionFactor}`}${a.trainLayerNorms ? ' + layer norms' : ''})`;
    }
    case 'top-k':
      return `top-${mode.k} layers`;
    default:
      return mode.kind;
  }
}
