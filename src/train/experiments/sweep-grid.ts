/**
 * The grid of a sweep (Houlsby et al., 2019, section 3): learning rates x epochs x adapter sizes x
 * seeds for adapters — of one or several adapter methods — and the baselines (full fine-tuning,
 * the top k layers, layer norms only, the head only) with their own learning-rate grid. Expands a
 * grid into concrete runs, cheapest first.
 */
import { AdapterkitError, fail } from '../../errors.js';
import { METHOD_PRESETS, methodConfig, methodOf, type MethodConfig } from '../../adapters/methods/index.js';
import type { Encoder } from '../../models/encoder.js';
import { MODE_NAMES, type ModeKind, type SingleTrainingMode } from '../modes.js';

/** The method kinds a sweep can hold (the training modes). */
export const SWEEP_METHODS: readonly ModeKind[] = MODE_NAMES;
/** One of {@link SWEEP_METHODS}. */
export type SweepMethodKind = ModeKind;

/** One adapter method of a sweep: a preset, and its own sizes (default: the grid's `sizes`). */
export interface SweepAdapterMethod {
  readonly preset: string;
  readonly sizes?: readonly number[];
}

/** A sweep grid; every list must be non-empty. */
export interface SweepGrid {
  readonly methods: readonly SweepMethodKind[];
  /** Learning rates of the adapters. */
  readonly lrs: readonly number[];
  /** Learning rates of the baselines (default: {@link lrs}). */
  readonly baselineLrs?: readonly number[];
  readonly epochs: readonly number[];
  /** Adapter sizes (bottleneck m, LoRA r); each size is its own method (`adapters-m64`, `lora-r8`). */
  readonly sizes: readonly number[];
  /** Adapter methods (default: the paper's bottleneck); methods without a size (IA³) run once per lr/epochs/seed. */
  readonly adapterMethods?: readonly SweepAdapterMethod[];
  /** k of the top-k baseline; each k is its own method (`top-2`). */
  readonly topK: readonly number[];
  readonly seeds: readonly number[];
  /** Adapter init std values (default: the preset's); each is its own method when given. */
  readonly initStds?: readonly number[];
}

/** The paper's GLUE grid: lr {3e-5, 3e-4, 3e-3}, epochs {3, 20}, sizes {8, 64, 256}, 3 seeds, top-1/2. */
export const PAPER_GRID: SweepGrid = Object.freeze({
  methods: SWEEP_METHODS,
  lrs: [3e-5, 3e-4, 3e-3],
  epochs: [3, 20],
  sizes: [8, 64, 256],
  topK: [1, 2],
  seeds: [1, 2, 3],
});

/** One concrete run of a sweep. */
export interface SweepRunSpec {
  /** Method id: `adapters-m64` (the paper's bottleneck), `adapters-m64-std1e-3`, `lora-r8`, `ia3`, `full`, `top-2`, `layer-norm`, `head-only`. */
  readonly method: string;
  readonly kind: SweepMethodKind;
  /** Adapter method preset (absent: the paper's bottleneck). */
  readonly preset?: string;
  readonly size?: number;
  readonly k?: number;
  readonly initStd?: number;
  readonly lr: number;
  readonly epochs: number;
  readonly seed: number;
  /** Unique within the method: `lr3e-4_ep3_seed1`. */
  readonly id: string;
}

/** A number as it appears in ids and file names: `3e-4`, `1e+0`. */
export function shortNumber(x: number): string {
  return x.toExponential().replace('e+', 'e');
}

/** A preset's size knob as sweeps see it: its name in method ids and what it sets. */
export interface SweepSizeKnob {
  readonly name: string;
  readonly what: string;
}

/** The size knob of a preset (`m` of the bottleneck presets, `r` of LoRA, `P` of prefix and prompt tuning), or undefined when it has none (IA³). */
export function sizeKnob(preset = 'paper'): SweepSizeKnob | undefined {
  const c = METHOD_PRESETS[preset];
  if (!c) fail('BAD_CONFIG', `sweep grid: unknown adapter method ${JSON.stringify(preset)} (methods: ${Object.keys(METHOD_PRESETS).join(', ')})`);
  const k = methodOf(c).size as SweepSizeKnob | undefined;
  return k && { name: k.name, what: k.what };
}

/** The name of a preset's size knob (`m`, `r`, `P`), or undefined when it has none. */
export function sizeName(preset = 'paper'): string | undefined {
  return sizeKnob(preset)?.name;
}

/**
 * What a size means for each preset, from the registry, for help texts:
 * `paper, houlsby, …: m = the bottleneck width m; lora: r = the rank r; …; ia3, ia3-peft: no size`.
 */
export function presetSizesHelp(): string {
  const groups = new Map<string, string[]>();
  for (const p of Object.keys(METHOD_PRESETS)) {
    const k = sizeKnob(p);
    const key = k ? `${k.name} = ${k.what}` : 'no size';
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups].map(([what, ps]) => `${ps.join(', ')}: ${what}`).join('; ');
}

/**
 * Checks one adapter method of a sweep: a known preset; sizes only for a preset with a size knob,
 * each giving a valid config (and, given the encoder, one the encoder takes: e.g. a Compacter width
 * that its phm_dim divides). `sizes`: the grid's sizes, for a method without its own.
 */
export function checkAdapterMethod(m: SweepAdapterMethod, sizes?: readonly number[], enc?: Encoder): void {
  const knob = sizeKnob(m.preset);
  if (!knob) {
    if (m.sizes?.length) fail('BAD_CONFIG', `sweep grid: ${m.preset} has no size to sweep (presets with a size: ${Object.keys(METHOD_PRESETS).filter((p) => sizeKnob(p)).join(', ')})`);
    return;
  }
  const own = m.sizes ?? sizes;
  if (own === undefined) return; // the grid's sizes are not known yet (command-line parsing)
  checkList(`sizes of ${m.preset}`, own, (x) => Number.isInteger(x) && x >= 1, `a positive integer (${knob.name}: ${knob.what})`);
  for (const size of own) {
    const id = methodId('adapters', { preset: m.preset, size });
    let c: MethodConfig;
    try {
      c = runAdapterConfig({ ...(m.preset === 'paper' ? {} : { preset: m.preset }), size });
      if (enc) methodOf(c).validateFor(c, enc);
    } catch (e) {
      if (e instanceof AdapterkitError) fail(e.code, `sweep grid: ${id} (${m.preset} with ${knob.name} = ${size}): ${e.message}`);
      throw e;
    }
  }
}

/** The method id of a run (see {@link SweepRunSpec.method}). */
export function methodId(kind: SweepMethodKind, o: { size?: number; k?: number; initStd?: number; preset?: string } = {}): string {
  if (kind === 'adapters') {
    const std = o.initStd !== undefined ? `-std${shortNumber(o.initStd)}` : '';
    if (o.preset === undefined || o.preset === 'paper') return `adapters-m${o.size}${std}`;
    const n = sizeName(o.preset);
    return `${o.preset}${n && o.size !== undefined ? `-${n}${o.size}` : ''}${std}`;
  }
  if (kind === 'top-k') return `top-${o.k}`;
  return kind;
}

/** The adapter config of a run: the preset, at the run's size and init std. */
export function runAdapterConfig(r: Pick<SweepRunSpec, 'preset' | 'size' | 'initStd'>): MethodConfig {
  let c = methodConfig(r.preset ?? 'paper');
  const knob = methodOf(c).size as { with(c: MethodConfig, n: number): MethodConfig } | undefined;
  if (r.size !== undefined && knob) c = knob.with(c, r.size);
  if (r.initStd !== undefined) {
    if (c.method !== 'bottleneck') fail('BAD_CONFIG', `sweep grid: init stds apply to bottleneck adapters, not ${c.method}`);
    c = methodConfig(r.preset ?? 'paper', { ...c, initStd: r.initStd, init_weights: 'houlsby' });
  }
  return c;
}

/** The training mode of a run. */
export function runMode(r: Pick<SweepRunSpec, 'kind' | 'size' | 'k' | 'initStd' | 'preset'>): SingleTrainingMode {
  switch (r.kind) {
    case 'adapters':
      return { kind: 'adapters', adapter: runAdapterConfig(r) };
    case 'top-k':
      return { kind: 'top-k', k: r.k as number };
    default:
      return { kind: r.kind };
  }
}

/** Relative cost of one epoch of a method, for ordering runs cheapest first. */
function methodCost(r: Pick<SweepRunSpec, 'kind' | 'size' | 'k'>, enc?: Encoder): number {
  const layers = enc?.numLayers ?? 12;
  switch (r.kind) {
    case 'head-only':
      return 1; // no backward pass through the encoder
    case 'layer-norm':
      return 2;
    case 'adapters':
      return 2.1 + (r.size ?? 64) / 4096;
    case 'top-k':
      return 2 + (r.k ?? 1) / layers;
    case 'full':
      return 3.5;
  }
}

/** Relative cost of a whole run (epochs x the method's cost per epoch), for ordering and time estimates. */
export function runCost(r: Pick<SweepRunSpec, 'kind' | 'size' | 'k' | 'epochs'>, enc?: Encoder): number {
  return r.epochs * methodCost(r, enc);
}

function checkList(name: string, xs: readonly number[] | undefined, ok: (x: number) => boolean, what: string): void {
  if (!xs || xs.length === 0) fail('BAD_CONFIG', `sweep grid: ${name} is empty`);
  for (const x of xs) if (!ok(x)) fail('BAD_CONFIG', `sweep grid: ${name} holds ${x}; each must be ${what}`);
}

/** Throws BAD_CONFIG when a grid is empty somewhere or holds invalid values (k checked against `enc`). */
export function validateGrid(g: SweepGrid, enc?: Encoder): void {
  if (g.methods.length === 0) fail('BAD_CONFIG', 'sweep grid: no methods');
  for (const m of g.methods) {
    if (!SWEEP_METHODS.includes(m)) fail('BAD_CONFIG', `sweep grid: unknown method ${JSON.stringify(m)} (methods: ${SWEEP_METHODS.join(', ')})`);
  }
  const pos = (x: number) => Number.isFinite(x) && x > 0;
  const posInt = (x: number) => Number.isInteger(x) && x >= 1;
  checkList('lrs', g.lrs, pos, 'a positive number');
  if (g.baselineLrs) checkList('baseline lrs', g.baselineLrs, pos, 'a positive number');
  checkList('epochs', g.epochs, posInt, 'a positive integer');
  checkList('seeds', g.seeds, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
  if (g.methods.includes('adapters')) {
    const ms = g.adapterMethods ?? [{ preset: 'paper' }];
    if (ms.length === 0) fail('BAD_CONFIG', 'sweep grid: no adapter methods');
    for (const m of ms) {
      checkAdapterMethod(m, g.sizes, enc);
      if (g.initStds && METHOD_PRESETS[m.preset]?.method !== 'bottleneck') fail('BAD_CONFIG', `sweep grid: init stds apply to bottleneck adapters, not ${m.preset}`);
    }
    if (g.initStds) checkList('init stds', g.initStds, (x) => x > 0 && x < 1, 'in (0, 1)');
  }
  if (g.methods.includes('top-k')) {
    const max = enc?.numLayers ?? Number.MAX_SAFE_INTEGER;
    checkList('top-k', g.topK, (x) => posInt(x) && x <= max, enc ? `an integer from 1 to ${max} (the encoder's layers)` : 'a positive integer');
  }
}

/**
 * Every run of a grid, cheapest first (epochs x method cost, then learning rate, then seed), so
 * that a time budget finishes as many methods as possible.
 */
export function planRuns(g: SweepGrid, enc?: Encoder): SweepRunSpec[] {
  validateGrid(g, enc);
  const variants: Omit<SweepRunSpec, 'lr' | 'epochs' | 'seed' | 'id'>[] = [];
  for (const kind of new Set(g.methods)) {
    if (kind === 'adapters') {
      for (const m of g.adapterMethods ?? [{ preset: 'paper' }]) {
        const preset = m.preset === 'paper' ? undefined : m.preset;
        const sizes = sizeName(m.preset) ? [...new Set(m.sizes ?? g.sizes)] : [undefined];
        for (const size of sizes) {
          for (const initStd of g.initStds ? new Set(g.initStds) : [undefined]) {
            variants.push({
              kind, ...(preset ? { preset } : {}), ...(size !== undefined ? { size } : {}), ...(initStd !== undefined ? { initStd } : {}),
              method: methodId(kind, { size, initStd, preset }),
            });
          }
        }
      }
    } else if (kind === 'top-k') {
      for (const k of new Set(g.topK)) variants.push({ kind, k, method: methodId(kind, { k }) });
    } else variants.push({ kind, method: kind });
  }
  const runs: (SweepRunSpec & { cost: number })[] = [];
  for (const v of variants) {
    const lrs = v.kind === 'adapters' ? g.lrs : g.baselineLrs ?? g.lrs;
    for (const lr of new Set(lrs)) {
      for (const epochs of new Set(g.epochs)) {
        for (const seed of new Set(g.seeds)) {
          const id = `lr${shortNumber(lr)}_ep${epochs}_seed${seed}`;
          runs.push({ ...v, lr, epochs, seed, id, cost: runCost({ ...v, epochs }, enc) });
        }
      }
    }
  }
  runs.sort((a, b) => a.cost - b.cost || a.lr - b.lr || a.seed - b.seed);
  return runs.map(({ cost: _cost, ...r }) => r);
}
