/**
 * AdapterFusion's annealed temperature (`temperature: true`), as AdapterHub's `BertFusion`
 * (adapters @ 88f18eb `methods/modeling.py`) keeps it: every fusion layer (one per fusion and
 * sub-layer site) starts with `T = 50.0` and `reduction = T / 1000.0`; each call of its forward
 * computes `softmax(scores / T)` and then sets `T = max(T - reduction, 1.0)`. The forward has no
 * `self.training` check, so training steps and inference calls alike anneal it, and T is a plain
 * attribute, neither a parameter nor a buffer: no file holds it, and a model that loads a fusion
 * starts at 50 again (`AdapterFusionLoader.load` creates the module with `add_adapter_fusion`; only
 * a load into a model already holding a fusion of that name keeps that module's T, which a new
 * adapterkit model never does). Nothing else in AdapterHub reads or sets T.
 *
 * adapterkit feeds T to the fusion's softmax as a graph input (a float32 vector over the encoder's
 * layers, one per fusion), so the graphs are built once; a task model counts the forward calls of
 * each fusion per layer (`FusionCalls`) and feeds the temperature of the next call. Per layer,
 * because a layer whose adapters AdapterDrop skips does not call its fusion (AdapterHub's
 * `skip_layers`), and a fusion that is not active is not called at all. The k-th call's temperature
 * ({@link fusionTemperature}) is computed as AdapterHub computes it, by repeated float64
 * subtraction, not as `max(50 - 0.05 k, 1)`: the two differ in the last bits (the repeated
 * subtraction leaves T_980 = 1.0000000000007025, so T is 1 from call k = 981 on, where the closed
 * form gives 1 from k = 980).
 */
import { fail } from '../errors.js';
import { f32, type HostTensor } from '../engine/index.js';
import type { NamedFusion } from './fusion.js';

/** T of a fusion layer's first call (AdapterHub's `self.T = 50.0`). */
export const FUSION_TEMPERATURE_START = 50;
/** What each call takes off T (AdapterHub's `self.reduction = self.T / 1000.0`, with T at its start). */
export const FUSION_TEMPERATURE_STEP = FUSION_TEMPERATURE_START / 1000;
/** The floor T stays at (AdapterHub's `max(…, 1.0)`). */
export const FUSION_TEMPERATURE_FLOOR = 1;

/** T of calls 0, 1, … up to the first call at the floor (filled on demand). */
const temperatures: number[] = [FUSION_TEMPERATURE_START];

/**
 * The temperature of a fusion layer's k-th forward call (k = 0, 1, …): 50, 49.95, 49.9, … by
 * repeated float64 subtraction of 0.05, down to 1 (from call 981 on).
 *
 * @example
 * ```ts
 * fusionTemperature(0);    // 50
 * fusionTemperature(1);    // 49.95
 * fusionTemperature(980);  // 1.0000000000007025
 * fusionTemperature(5000); // 1
 * ```
 * @throws AdapterkitError BAD_CONFIG when k is not a non-negative integer.
 */
export function fusionTemperature(k: number): number {
  if (!(Number.isSafeInteger(k) && k >= 0)) fail('BAD_CONFIG', `a fusion's forward call count must be a non-negative integer, got ${k}`);
  while (temperatures.length <= k && (temperatures.at(-1) as number) > FUSION_TEMPERATURE_FLOOR) {
    temperatures.push(Math.max((temperatures.at(-1) as number) - FUSION_TEMPERATURE_STEP, FUSION_TEMPERATURE_FLOOR));
  }
  return temperatures[Math.min(k, temperatures.length - 1)] as number;
}

/** The graph input of a fusion's temperatures, float32 `[layers]` (the name's commas as colons, as its tensors'). */
export function temperatureInputName(fusion: string): string {
  return `fusion_temperature[${fusion.replaceAll(',', ':')}]`;
}

/** Forward calls of each fusion, per encoder layer: what a checkpoint keeps (`FusionCalls.snapshot` in this module). */
export type FusionCallCounts = Readonly<Record<string, readonly number[]>>;

/**
 * The forward calls of a model's fusions with `temperature: true`, per encoder layer, starting at 0
 * (a new or loaded model, as in AdapterHub); see the module comment.
 */
export class FusionCalls {
  private readonly calls = new Map<string, number[]>();

  /** `fusions`: the model's fusions (those with temperature are counted); `layers`: the encoder's layer count. */
  constructor(fusions: readonly NamedFusion[], readonly layers: number) {
    for (const f of fusions) if (f.config.temperature) this.calls.set(f.name, new Array<number>(layers).fill(0));
  }

  /** Whether any fusion anneals its temperature. */
  get any(): boolean {
    return this.calls.size > 0;
  }

  /** Whether `fusion` anneals its temperature. */
  has(fusion: string): boolean {
    return this.calls.has(fusion);
  }

  /** The temperature each layer of `fusion` uses in its next call, float32 `[layers]` (the graph input's feed). */
  feed(fusion: string): HostTensor<'float32'> {
    const c = this.calls.get(fusion);
    if (!c) fail('GRAPH_ERROR', `fusion ${fusion} has no annealed temperature (its config has temperature false)`);
    return f32([this.layers], c.map(fusionTemperature));
  }

  /** Counts one forward call: each fusion with temperature called at the layers `ran` gives it. */
  count(ran: ReadonlyMap<string, readonly number[]>): void {
    for (const [fusion, layers] of ran) {
      const c = this.calls.get(fusion);
      if (c) for (const l of layers) c[l] = (c[l] as number) + 1;
    }
  }

  /** The counts, per fusion with temperature (a copy; empty when none anneals). */
  snapshot(): Record<string, number[]> {
    return Object.fromEntries([...this.calls].map(([k, v]) => [k, [...v]]));
  }

  /**
   * Sets the counts (a resumed run continues where it stopped): one entry for every fusion with
   * temperature, each a non-negative integer per layer.
   *
   * @throws AdapterkitError BAD_CONFIG naming `where`, the fusion and what is wrong.
   */
  restore(raw: unknown, where = 'fusion calls'): void {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('BAD_CONFIG', `${where} must be an object of forward call counts per fusion, got ${Array.isArray(raw) ? 'an array' : JSON.stringify(raw)}`);
    const given = raw as Record<string, unknown>;
    const want = [...this.calls.keys()];
    const extra = Object.keys(given).filter((k) => !this.calls.has(k));
    if (extra.length) fail('BAD_CONFIG', `${where}: fusion ${extra[0]} has no annealed temperature in this model (${want.length ? `its fusions with temperature true: ${want.join('; ')}` : 'none of its fusions has temperature true'})`);
    const next = new Map<string, number[]>();
    for (const f of want) {
      const v = given[f];
      if (v === undefined) fail('BAD_CONFIG', `${where}: no entry for fusion ${f} (its forward calls per layer)`);
      if (!Array.isArray(v) || v.length !== this.layers || !v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
        fail('BAD_CONFIG', `${where}: fusion ${f} must list ${this.layers} non-negative integers (forward calls per layer), got ${JSON.stringify(v)}`);
      }
      next.set(f, [...(v as number[])]);
    }
    for (const [f, v] of next) this.calls.set(f, v);
  }
}
