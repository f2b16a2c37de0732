/**
 * Shared option parsing for the CLI: number parsers with range checks (commander argument
 * parsers, so a bad value fails with the option named and exit code 2), and the mapping from the
 * model flags of `adapterkit train` to a {@link TrainingMode}.
 */
import { InvalidArgumentError } from 'commander';
import { fail } from '../errors.js';
import { adapterConfig, ADAPTER_ACTIVATIONS, type AdapterActivation } from '../adapters/config.js';
import { ATTACHMENT_POINTS, type AttachmentPoint } from '../models/encoder.js';
import type { TrainingMode } from '../train/modes.js';

/** A commander argument parser: raw string -> value (throws InvalidArgumentError). */
export type ArgParser<T> = (value: string, previous?: T) => T;

/** Parses an integer in [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): ArgParser<number> {
  return (value) => {
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}".`);
    if (n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}, got ${n}.` : `must be an integer from ${min} to ${max}, got ${n}.`);
    }
    return n;
  };
}

/** Parses a finite number in a range; `exclusiveMin` makes the lower bound strict. */
export function numberArg(min: number, max = Infinity, o: { exclusiveMin?: boolean; exclusiveMax?: boolean } = {}): ArgParser<number> {
  return (value) => {
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}".`);
    const lowOk = o.exclusiveMin ? n > min : n >= min;
    const highOk = o.exclusiveMax ? n < max : n <= max;
    if (!lowOk || !highOk) {
      const lo = `${o.exclusiveMin ? '>' : '>='} ${min}`;
      const hi = max === Infinity ? '' : ` and ${o.exclusiveMax ? '<' : '<='} ${max}`;
      throw new InvalidArgumentError(`must be ${lo}${hi}, got ${n}.`);
    }
    return n;
  };
}

/** Parses a comma-separated list of non-negative integers (`0,1`). */
export function intListArg(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of layer indices such as 0,1, got "${value}".`);
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${p}" is not a layer index (a non-negative integer).`);
    return n;
  });
}

/** Parses a comma-separated list of adapter attachment points. */
export function pointsArg(value: string): AttachmentPoint[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new InvalidArgumentError(`expected one or more of ${ATTACHMENT_POINTS.join(', ')}.`);
  for (const p of parts) {
    if (!(ATTACHMENT_POINTS as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown attachment point "${p}" (points: ${ATTACHMENT_POINTS.join(', ')}).`);
  }
  return [...new Set(parts)] as AttachmentPoint[];
}

/** The model flags of `adapterkit train`, as commander parses them. */
export interface ModeFlags {
  mode: string;
  adapterSize?: number;
  reductionFactor?: number;
  adapterActivation?: string;
  adapterInitStd?: number;
  leaveOut?: number[];
  adapterPoints?: AttachmentPoint[];
  /** From `--no-train-layer-norms` (true unless given). */
  trainLayerNorms: boolean;
  topK?: number;
}

/** Default adapter bottleneck size. */
export const DEFAULT_ADAPTER_SIZE = 64;

/**
 * Turns the model flags into a training mode; BAD_CONFIG when flags contradict each other or do
 * not belong to the chosen mode.
 */
export function modeFromFlags(f: ModeFlags): TrainingMode {
  const adapterOnly: [string, unknown][] = [
    ['--adapter-size', f.adapterSize], ['--reduction-factor', f.reductionFactor], ['--adapter-activation', f.adapterActivation],
    ['--adapter-init-std', f.adapterInitStd], ['--leave-out', f.leaveOut], ['--adapter-points', f.adapterPoints],
    ['--no-train-layer-norms', f.trainLayerNorms ? undefined : true],
  ];
  if (f.mode !== 'adapters') {
    const given = adapterOnly.filter(([, v]) => v !== undefined).map(([k]) => k);
    if (given.length) fail('BAD_CONFIG', `${given.join(', ')} only ${given.length > 1 ? 'apply' : 'applies'} to --mode adapters (the mode is ${f.mode})`);
  }
  if (f.mode !== 'top-k' && f.topK !== undefined) fail('BAD_CONFIG', `--top-k only applies to --mode top-k (the mode is ${f.mode})`);
  switch (f.mode) {
    case 'adapters': {
      if (f.adapterSize !== undefined && f.reductionFactor !== undefined) {
        fail('BAD_CONFIG', 'give either --adapter-size or --reduction-factor, not both');
      }
      const activation = (f.adapterActivation ?? 'gelu') as AdapterActivation;
      if (!ADAPTER_ACTIVATIONS.includes(activation)) fail('BAD_CONFIG', `--adapter-activation ${activation} is not one of ${ADAPTER_ACTIVATIONS.join(', ')}`);
      return {
        kind: 'adapters',
        adapter: adapterConfig({
          ...(f.reductionFactor !== undefined ? { reductionFactor: f.reductionFactor } : { size: f.adapterSize ?? DEFAULT_ADAPTER_SIZE }),
          activation,
          ...(f.adapterInitStd !== undefined ? { initStd: f.adapterInitStd } : {}),
          ...(f.leaveOut !== undefined ? { leaveOut: f.leaveOut } : {}),
          ...(f.adapterPoints !== undefined ? { points: f.adapterPoints } : {}),
          trainLayerNorms: f.trainLayerNorms,
        }),
      };
    }
    case 'top-k':
      if (f.topK === undefined) fail('BAD_CONFIG', '--mode top-k needs --top-k <k> (how many top layers train)');
      return { kind: 'top-k', k: f.topK };
    case 'full':
    case 'layer-norm':
    case 'head-only':
      return { kind: f.mode };
    default:
      return fail('BAD_CONFIG', `unknown mode ${JSON.stringify(f.mode)}`);
  }
}

/** Makes a task name out of a dataset or file name: letters, digits, _ and - only. */
export function sanitizeTaskName(raw: string): string {
  const s = raw.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'task';
}
