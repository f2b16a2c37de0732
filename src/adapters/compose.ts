/**
 * Compositions computed: the encoder hooks of a model's named adapters under an active
 * {@link Composition}, with AdapterHub's semantics (adapters @ 88f18eb
 * `methods/adapter_layer_base.py` `compose_stack`, `compose_average`, `compose_batch_split`,
 * `compose_parallel`; `methods/bottleneck.py` `compose_split`, `pre_block`, `mean`;
 * `methods/lora.py` `LoRALinear`, `LoRA.forward`, `IA3.forward`).
 *
 * At a **sub-layer site** (bottleneck adapters) the state is the hidden state `s`, starting at the
 * block's output `h`; each adapter prepares its own input and residual from it (`pre_forward`:
 * `hs = LN(s + x)` with `original_ln_before`, residual `s`, `s + x` or `hs`; a parallel adapter
 * takes the block's input `x`) and computes its output (`forward`: `A(hs) + residual`, or `A(x)`):
 *
 *     Stack(a, b)            s -> a(s) -> b(a(s))
 *     Average(a, b; w)       Σ_i w_i · child_i(s)
 *     BatchSplit(a, b; n)    rows 0..n0-1 through a, the next n1 through b, concatenated
 *     Parallel(a, b)         channel i (a copy of the batch) through child i
 *     Split(a, b; k)         tokens 0..k0-1 through a, the next k1 through b, concatenated
 *
 * and the block's output is AdapterHub's `post_forward`: `LN(s + x)` (`original_ln_after`;
 * parallel adapters `LN(s + h + x)`), else `s` (`s + h`).
 *
 * At a **projection site** (LoRA, IA³) the state is the adaptation's hidden state, undefined
 * before the first adapter: LoRA maps it (or the projection's input `x`) to `(α/r) · z A B`, IA³
 * multiplies it (or 1) by `α · l`; Stack chains, Average, BatchSplit and Parallel combine the
 * states as above, and the projection's output is `W x + b + s` (LoRA), `(W x + b) ⊙ s` or
 * `W (x ⊙ s) + b` (IA³). So a Stack of two LoRAs feeds the first one's update into the second
 * (AdapterHub's definition), which needs a square projection.
 *
 * Where AdapterHub's code is undefined or inconsistent, adapterkit chooses and says so:
 * - Average is the weighted average Σ w_i out_i (the documented semantics; AdapterHub's `mean`
 *   methods compute `torch.mean(stack * weights)`, which divides it by the number of children once more);
 * - every adapter prepares its own input (AdapterHub runs the block's first adapter's
 *   `pre_forward` for all children, and again before a nested Stack);
 * - an adapter absent at a site (`leave_out`, or another method) acts as the same adapter with a
 *   zero output there (a LoRA update of 0, an IA³ vector of ones); a block none of whose adapters
 *   is at a site is skipped there, and a site where one adapter is left runs that adapter's own
 *   hook, so a composition of one adapter is exactly that adapter;
 * - refused with an error naming the site and the adapters: bottleneck adapters with different
 *   `is_parallel` / `original_ln_after` at one site (one `post_forward` ends the block), a parallel
 *   bottleneck stacked with another bottleneck (AdapterHub's `ParallelAdapter.pre_forward`
 *   discards the previous output), LoRA and IA³ at one projection, Split at a projection (as in
 *   AdapterHub).
 *
 * At an **attention site** (prefix tuning) the state is the attention's keys, values and mask:
 * each adapter joins its prefix in front (`compose_single`); Stack joins one after the other,
 * BatchSplit and Parallel give each child's rows its child's prefixes (shorter ones padded with keys
 * no row sees). AdapterHub composes prefix tuning in Stack, Parallel and BatchSplit only (its
 * Average is not implemented); the other blocks are refused naming the attention and the adapters.
 * Prompt tuning and unions are refused by name ({@link AdapterMethod.notComposable}).
 *
 * Fuse (AdapterFusion) runs at sub-layer sites: the Fuse's last adapter prepares the query and the
 * residual from the state, each child gives its adapter's up-projection (a Stack child: its
 * adapters in order, then its last one's), and the model's fusion of that name attends over them
 * (`fusion.ts` has the equations, the fields and what adapterkit chooses there). It takes the
 * place of an adapter in the state: a Stack may hold a Fuse, and the block's `post_forward` ends it.
 *
 * Parallel replicates the batch at the lowest layer where one of its adapters acts, through the
 * encoder's layer hook: the layers below run once, the outputs come channel after channel.
 * AdapterDrop (Rücklé et al. 2021) removes every adapter from the first n layers: statically, or
 * per training batch from an int64 input (robust AdapterDrop).
 */
import { fail } from '../errors.js';
import {
  add, attr, concat, expand, fill, fillShape, gather, greater, mul, reshape, shapeOf, slice, unsqueeze, where, type Dim, type Value,
} from '../engine/index.js';
import type { AttentionParts, Encoder, EncoderHooks, LayerInput, SubLayerParts } from '../models/encoder.js';
import type { HookSite } from '../models/sites.js';
import { checkComposition, compositionNames, formatComposition, type Block, type Composition } from './composition.js';
import { fuseAt, fuseName, fusedAdapters, fusionLabel, fusionSites, type NamedFusion } from './fusion.js';
import { SLOT_MASK_VALUE, type AttentionUnit, type LinearUnit, type MethodContext, type MethodHooks, type MethodUnits, type SubLayerUnit } from './method.js';
import { methodOf, type MethodConfig } from './methods/index.js';
import { checkAdapterName } from './names.js';

/** One adapter a model holds. */
export interface NamedAdapter {
  readonly name: string;
  readonly config: MethodConfig;
  /** Whether its tensors train (default true); frozen adapters are constants of the graphs. */
  readonly trainable?: boolean;
}

/** AdapterDrop: no adapters in the first `layers` layers, always; or robust: n drawn per training batch from 0..maxLayers. */
export type AdapterDrop = { readonly kind: 'static'; readonly layers: number } | { readonly kind: 'robust'; readonly maxLayers: number };

/** Checks an AdapterDrop setting against an encoder. */
export function checkAdapterDrop(d: AdapterDrop, enc: Encoder): AdapterDrop {
  const n = d.kind === 'static' ? d.layers : d.kind === 'robust' ? d.maxLayers : NaN;
  if (!(Number.isInteger(n) && n >= 0 && n <= enc.numLayers)) {
    fail('BAD_CONFIG', `AdapterDrop: ${d.kind === 'robust' ? 'maxLayers' : 'layers'} must be an integer from 0 to ${enc.numLayers} (the encoder's layers), got ${JSON.stringify(n)}${d.kind !== 'static' && d.kind !== 'robust' ? ` (kind ${JSON.stringify((d as { kind?: unknown }).kind)} is neither static nor robust)` : ''}`);
  }
  return Object.freeze({ ...d });
}

/** Options of {@link composeAdapters}. */
export interface ComposeOptions {
  /** The model's AdapterFusion layers, which its Fuse blocks run (by name). */
  readonly fusions?: readonly NamedFusion[];
  /** Dropout of a fusion's attention scores when its config gives none (the encoder's attention dropout; default 0.1, BERT's). */
  readonly fusionDropout?: number;
  /** Static AdapterDrop: no adapter acts in layers below this one. */
  readonly dropBelow?: number;
  /** Robust AdapterDrop: an int64 scalar n; the adapters of layer l act when l >= n. */
  readonly dropInput?: Value;
  /**
   * The temperature (a float32 scalar) of a fusion with `temperature: true` in an encoder layer:
   * required when the composition runs one (see fusion-temperature.ts).
   */
  readonly fusionTemperature?: (fusion: string, layer: number) => Value;
}

/** The hooks of a composition and what it needs of a batch. */
export interface ComposedAdapters {
  /** Per site: a replacement of the residual connection, a projection wrapper, or a single adapter's own hook. */
  readonly hooks: MethodHooks;
  /** The layer hook that replicates the batch for Parallel. */
  readonly layerInput?: EncoderHooks['layerInput'];
  /** Output channels (the Parallel block's children, else 1): outputs have channels x batch rows. */
  readonly channels: number;
  /** Layer where the batch is replicated (Parallel). */
  readonly replicateAt?: number;
  /** Batch size the composition requires (BatchSplit). */
  readonly batchSize?: number;
  /** Sequence length the composition requires (Split). */
  readonly seqLen?: number;
  /** Whether a projection site runs a block that cuts the batch (BatchSplit, Parallel): see {@link BuildContext.linearPerExample}. */
  readonly linearPerExample: boolean;
  /** The encoder layers where each fusion runs (a layer once, however many of its sites), by fusion name: {@link setupFusionLayers}. */
  readonly fusionLayers: ReadonlyMap<string, readonly number[]>;
}

/** A composition restricted to the adapters at one site: absent children are `null` (blocks other than Stack keep them). */
type Restricted = string | { readonly block: Block; readonly children: readonly (Restricted | null)[] };

function restrict(c: Composition, present: ReadonlySet<string>): Restricted | null {
  if (typeof c === 'string') return present.has(c) ? c : null;
  const kids = c.children.map((k) => restrict(k, present));
  if (kids.every((k) => k === null)) return null;
  if (c.type === 'Stack') {
    const left = kids.filter((k): k is Restricted => k !== null);
    return left.length === 1 ? (left[0] as Restricted) : { block: c, children: left };
  }
  return { block: c, children: kids };
}

function namesOf(r: Restricted | null): string[] {
  if (r === null) return [];
  if (typeof r === 'string') return [r];
  return [...new Set(r.children.flatMap(namesOf))];
}

/** Rows and sequence lengths the composition's BatchSplit and Split blocks require (checked against each other). */
function batchNeeds(c: Composition): { batchSize?: number; seqLen?: number } {
  const out: { batchSize?: number; seqLen?: number } = {};
  const walk = (n: Composition, rows: number | undefined, seq: number | undefined) => {
    if (typeof n === 'string') return;
    let childRows: (number | undefined)[] = n.children.map(() => rows);
    let childSeq: (number | undefined)[] = n.children.map(() => seq);
    if (n.type === 'BatchSplit') {
      const sum = n.batch_sizes.reduce((a, b) => a + b, 0);
      if (rows !== undefined && rows !== sum) fail('BAD_CONFIG', `${formatComposition(n)} splits ${sum} rows but receives ${rows}`);
      if (rows === undefined) {
        if (out.batchSize !== undefined && out.batchSize !== sum) fail('BAD_CONFIG', `the composition's BatchSplit blocks need batches of ${out.batchSize} and of ${sum} rows`);
        out.batchSize = sum;
      }
      childRows = [...n.batch_sizes];
    }
    if (n.type === 'Split') {
      const sum = n.splits.reduce((a, b) => a + b, 0);
      if (seq !== undefined && seq !== sum) fail('BAD_CONFIG', `${formatComposition(n)} splits ${sum} tokens but receives ${seq}`);
      if (seq === undefined) {
        if (out.seqLen !== undefined && out.seqLen !== sum) fail('BAD_CONFIG', `the composition's Split blocks need sequences of ${out.seqLen} and of ${sum} tokens`);
        out.seqLen = sum;
      }
      childSeq = [...n.splits];
    }
    n.children.forEach((k, i) => walk(k, childRows[i], childSeq[i]));
  };
  walk(c, undefined, undefined);
  return out;
}

/** What a composition needs of a batch and gives back: BatchSplit's batch size, Split's sequence length, Parallel's channels. */
export function compositionNeeds(c: Composition): { readonly batchSize?: number; readonly seqLen?: number; readonly channels: number } {
  const par = findBlock(c, 'Parallel');
  return { ...batchNeeds(c), channels: par ? par.children.length : 1 };
}

/**
 * Why a composition cannot give one output per example for any batch, or undefined: Parallel
 * gives one per channel, BatchSplit routes rows and Split tokens by their position (so a batch
 * must have exactly their sizes). Stack, Average and Fuse can.
 */
export function perInputIssue(c: Composition): string | undefined {
  const par = findBlock(c, 'Parallel');
  if (par) return `${formatComposition(par)} gives ${par.children.length} outputs per example (one per channel)`;
  const bs = findBlock(c, 'BatchSplit') as Extract<Block, { type: 'BatchSplit' }> | undefined;
  if (bs) return `${formatComposition(bs)} sends rows to adapters by their position in the batch (batches of exactly ${bs.batch_sizes.reduce((a, b) => a + b, 0)} rows)`;
  const sp = findBlock(c, 'Split') as Extract<Block, { type: 'Split' }> | undefined;
  if (sp) return `${formatComposition(sp)} sends tokens to adapters by position (sequences of exactly ${sp.splits.reduce((a, b) => a + b, 0)} tokens)`;
  return undefined;
}

/** Every block of a type in a composition, outer first. */
function findBlocks(c: Composition, type: Block['type']): Block[] {
  if (typeof c === 'string') return [];
  return [...(c.type === type ? [c] : []), ...c.children.flatMap((k) => findBlocks(k, type))];
}

function findBlock(c: Composition, type: Block['type']): Block | undefined {
  if (typeof c === 'string') return undefined;
  if (c.type === type) return c;
  for (const k of c.children) {
    const b = findBlock(k, type);
    if (b) return b;
  }
  return undefined;
}

/** Checks a model's adapters: names valid and distinct, configs valid for the encoder; and its fusions (see {@link fusionSites}). */
export function checkAdapters(adapters: readonly NamedAdapter[], enc: Encoder, fusions: readonly NamedFusion[] = []): void {
  if (adapters.length === 0) fail('BAD_CONFIG', 'an adapter setup needs at least one adapter');
  const seen = new Set<string>();
  for (const a of adapters) {
    checkAdapterName(a.name);
    if (seen.has(a.name)) fail('BAD_CONFIG', `adapter ${a.name} is listed twice`);
    seen.add(a.name);
    if (a.trainable !== undefined && typeof a.trainable !== 'boolean') fail('BAD_CONFIG', `adapter ${a.name}: trainable must be true or false`);
    methodOf(a.config).validateFor(a.config as never, enc);
  }
  const fused = new Set<string>();
  const configs = new Map(adapters.map((a) => [a.name, a.config]));
  for (const f of fusions) {
    fusionSites(f, configs, enc);
    if (fused.has(f.name)) fail('BAD_CONFIG', `fusion ${f.name} is listed twice`);
    fused.add(f.name);
  }
}

/**
 * Validates an active composition against a model's adapters without building anything: names
 * exist, nestings are AdapterHub's, and at every site the adapters that meet can be composed.
 *
 * @throws AdapterkitError BAD_CONFIG naming the block, the site and the adapters.
 */
export function checkSetup(enc: Encoder, adapters: readonly NamedAdapter[], active: Composition, o: { dropBelow?: number; fusions?: readonly NamedFusion[] } = {}): Block {
  const noValue = (): never => fail('GRAPH_ERROR', 'checkSetup builds no graph');
  const ctx: MethodContext = { w: noValue, gathered: false, dropout: noValue, layerNorm: noValue };
  return plan(enc, adapters, active, ctx, o).composition;
}

interface SitePlan {
  readonly site: HookSite;
  readonly restricted: Restricted;
}

function plan(enc: Encoder, adapters: readonly NamedAdapter[], active: Composition, ctx: MethodContext, o: { dropBelow?: number; fusions?: readonly NamedFusion[] }) {
  const composition = checkComposition(active);
  const byName = new Map(adapters.map((a) => [a.name, a]));
  for (const n of compositionNames(composition)) {
    if (!byName.has(n)) fail('BAD_CONFIG', `${formatComposition(composition)} uses adapter ${n}, which the model does not hold (it holds ${[...byName.keys()].join(', ')})`);
  }
  const fusions = new Map<Block, NamedFusion>();
  for (const b of findBlocks(composition, 'Fuse') as Extract<Block, { type: 'Fuse' }>[]) {
    const name = fuseName(b);
    const f = (o.fusions ?? []).find((x) => x.name === name);
    if (!f) fail('BAD_CONFIG', `${formatComposition(b)} runs the fusion ${name}, which the model does not hold (${o.fusions?.length ? `it holds ${o.fusions.map((x) => x.name).join('; ')}` : 'it holds none'}); add it as a fusion of the setup (fusions: [{ name: ${JSON.stringify(name)}, adapters, config }], or --fuse on the command line)`);
    const want = fusedAdapters(b);
    if (want.join(',') !== f.adapters.join(',')) fail('BAD_CONFIG', `${formatComposition(b)} fuses ${want.join(', ')}, but the model's fusion ${name} fuses ${f.adapters.join(', ')}`);
    for (const n of compositionNames(b)) {
      const m = methodOf((byName.get(n) as NamedAdapter).config);
      if (m.id !== 'bottleneck') fail('BAD_CONFIG', `${formatComposition(b)}: adapter ${n} is ${m.id}; AdapterFusion fuses bottleneck adapters only (as in AdapterHub), and a Stack inside a Fuse holds bottleneck adapters`);
    }
    fusions.set(b, f);
  }
  for (const f of new Set(fusions.values())) {
    const runs = [...fusions.values()].filter((x) => x === f).length;
    if (f.config.temperature && runs > 1) fail('BAD_CONFIG', `${formatComposition(composition)} runs the fusion ${f.name} ${runs} times; with temperature true each run would anneal its temperature again (AdapterHub's second call sees the T its first one lowered): run it once`);
  }
  const configs = new Map(adapters.map((a) => [a.name, a.config]));
  const fusionAt = new Map([...new Set(fusions.values())].map((f) => [f, new Set(fusionSites(f, configs, enc).map((x) => x.key))]));
  const needs = batchNeeds(composition);
  const units = new Map<string, MethodUnits>();
  for (const n of compositionNames(composition)) {
    const a = byName.get(n) as NamedAdapter;
    const m = methodOf(a.config);
    if (!m.units) fail('BAD_CONFIG', `${formatComposition(composition)}: adapter ${n} is ${m.describe(a.config as never, enc)}, which cannot be composed: ${m.notComposable ?? 'the method has no composition units'}`);
    units.set(n, m.units(a.config as never, enc, n, ctx));
  }
  const sites: SitePlan[] = [];
  const all: HookSite[] = [...enc.sites.attentions, ...enc.sites.sublayers, ...enc.sites.linears];
  const drop = o.dropBelow ?? 0;
  for (const site of all) {
    if (site.kind === 'embeddings' || site.layer < drop) continue;
    const present = new Set([...units].filter(([, u]) => (site.kind === 'sublayer' ? u.sublayers : site.kind === 'attention' ? u.attentions : u.linears)?.has(site.key)).map(([n]) => n));
    const restricted = restrict(composition, present);
    if (restricted === null) continue;
    if (site.kind === 'sublayer') checkSubLayerSite(site.key, restricted, units);
    else if (site.kind === 'attention') checkAttentionSite(site.key, restricted);
    else checkLinearSite(site.key, restricted, units);
    for (const b of fuseBlocksIn(restricted)) {
      const f = fusions.get(b) as NamedFusion;
      if (!fusionAt.get(f)?.has(site.key)) {
        fail('BAD_CONFIG', `sub-layer ${site.key}: ${formatComposition(b)} has adapters there (${namesOf(restricted).join(', ')}), but its fusion ${f.name} sits only at the blocks its fused adapters (${f.adapters.join(', ')}) share; a Stack inside a Fuse must sit where its last adapter does`);
      }
    }
    sites.push({ site, restricted });
  }
  const par = findBlock(composition, 'Parallel');
  let replicateAt: number | undefined;
  if (par) {
    const inPar = new Set(compositionNames(par));
    const layers = sites.filter((s) => namesOf(s.restricted).some((n) => inPar.has(n)) && s.site.kind !== 'embeddings').map((s) => (s.site as { layer: number }).layer);
    replicateAt = layers.length ? Math.min(...layers) : enc.numLayers - 1;
  }
  const fusionLayers = new Map<string, number[]>();
  for (const { site, restricted } of sites) {
    if (site.kind !== 'sublayer') continue;
    for (const b of fuseBlocksIn(restricted)) {
      const name = (fusions.get(b) as NamedFusion).name;
      const layers = fusionLayers.get(name) ?? [];
      if (!layers.includes(site.layer)) layers.push(site.layer);
      fusionLayers.set(name, layers);
    }
  }
  return { composition, units, sites, needs, channels: par ? par.children.length : 1, replicateAt, fusions, fusionLayers };
}

/**
 * The encoder layers where each fusion of an active composition runs, by fusion name (a fusion
 * whose adapters are all absent in a layer, or below static AdapterDrop's `dropBelow`, is not
 * called there), without building anything: what counts a fusion's forward calls (fusion-temperature.ts).
 */
export function setupFusionLayers(enc: Encoder, adapters: readonly NamedAdapter[], active: Composition, o: { dropBelow?: number; fusions?: readonly NamedFusion[] } = {}): ReadonlyMap<string, readonly number[]> {
  const noValue = (): never => fail('GRAPH_ERROR', 'setupFusionLayers builds no graph');
  const ctx: MethodContext = { w: noValue, gathered: false, dropout: noValue, layerNorm: noValue };
  return plan(enc, adapters, active, ctx, o).fusionLayers;
}

/** The Fuse blocks of a restricted composition. */
function fuseBlocksIn(r: Restricted | null): Block[] {
  if (r === null || typeof r === 'string') return [];
  return [...(r.block.type === 'Fuse' ? [r.block] : []), ...r.children.flatMap(fuseBlocksIn)];
}

const who = (r: Restricted | null): string => (r === null ? '(none)' : typeof r === 'string' ? r : formatComposition(r.block));

function checkSubLayerSite(key: string, r: Restricted, units: ReadonlyMap<string, MethodUnits>): void {
  const names = namesOf(r);
  const u = names.map((n) => units.get(n)?.sublayers?.get(key) as SubLayerUnit);
  const first = u[0] as SubLayerUnit;
  names.forEach((n, i) => {
    const p = (u[i] as SubLayerUnit).placement;
    for (const f of ['is_parallel', 'original_ln_after'] as const) {
      if (p[f] !== first.placement[f]) {
        fail('BAD_CONFIG', `sub-layer ${key}: adapters ${names[0]} and ${n} differ in ${f} (${String(first.placement[f])} vs ${String(p[f])}); one post_forward ends the block, so the bottleneck adapters composed at a site must agree on it`);
      }
    }
  });
  if (first.placement.is_parallel) {
    const stacked = (x: Restricted | null): boolean => x !== null && typeof x !== 'string' && ((x.block.type === 'Stack' && x.children.length > 1) || x.children.some(stacked));
    if (stacked(r)) fail('BAD_CONFIG', `sub-layer ${key}: ${who(r)} stacks parallel bottleneck adapters (${names.join(', ')}); a parallel adapter reads the block's input, not the previous adapter's output, so a Stack would drop all but the last (average them instead)`);
  }
}

/** Prefix tuning composes in Stack, Parallel and BatchSplit (AdapterHub's `PrefixTuningLayer.supported_compositions`). */
function checkAttentionSite(key: string, r: Restricted): void {
  const walk = (x: Restricted | null) => {
    if (x === null || typeof x === 'string') return;
    const b = x.block;
    if (b.type === 'Average') fail('BAD_CONFIG', `attention ${key}: ${formatComposition(b)} averages the prefix-tuning adapters ${namesOf(x).join(', ')}; AdapterHub's prefix tuning composes in Stack, Parallel and BatchSplit only (its PrefixTuningLayer.mean is not implemented)`);
    if (b.type === 'Split' || b.type === 'Fuse') fail('BAD_CONFIG', `attention ${key}: ${formatComposition(b)} holds the prefix-tuning adapters ${namesOf(x).join(', ')}; AdapterHub's prefix tuning composes in Stack, Parallel and BatchSplit only`);
    x.children.forEach(walk);
  };
  walk(r);
}

function checkLinearSite(key: string, r: Restricted, units: ReadonlyMap<string, MethodUnits>): void {
  const names = namesOf(r);
  const u = names.map((n) => units.get(n)?.linears?.get(key) as LinearUnit);
  const kinds = new Set(u.map((x) => x.kind));
  if (kinds.size > 1) {
    const desc = names.map((n, i) => `${n} ${(u[i] as LinearUnit).kind === 'add' ? 'LoRA' : `IA³ (${(u[i] as LinearUnit).kind === 'scale-in' ? 'input' : 'output'} scaling)`}`).join(', ');
    fail('BAD_CONFIG', `projection ${key}: ${who(r)} composes ${desc} there; AdapterHub folds them into one state that is neither method's, so adapterkit composes only adapters of one kind at a projection`);
  }
  // the state's width through the restricted tree: a LoRA that reads a previous state needs it as wide as its input
  const walk = (x: Restricted | null, width: number | undefined): number | undefined => {
    if (x === null) return width;
    if (typeof x === 'string') {
      const unit = units.get(x)?.linears?.get(key) as LinearUnit;
      if (unit.kind === 'add' && width !== undefined && width !== unit.inWidth) {
        fail('BAD_CONFIG', `projection ${key}: in ${who(r)}, LoRA ${x} follows a LoRA update ${width} wide but its input is ${unit.inWidth} wide (AdapterHub's LoRA Stack feeds one update into the next, which needs a square projection)`);
      }
      return unit.width;
    }
    if (x.block.type === 'Split') fail('BAD_CONFIG', `projection ${key}: ${formatComposition(x.block)} holds ${namesOf(x).join(', ')}; Split is implemented for bottleneck adapters only (as in AdapterHub)`);
    if (x.block.type === 'Stack') return x.children.reduce<number | undefined>((w, k) => walk(k, w), width);
    const ws = x.children.map((k) => walk(k, width)).filter((w): w is number => w !== undefined);
    return ws[0] ?? width;
  };
  walk(r, undefined);
}

/** Rows `from..to` of a value (axis 0). */
const rows = (v: Value, from: number, to: number) => slice(v, [from], [to], [0]);
/** Tokens `from..to` of a value (axis 1). */
const tokens = (v: Value, from: number, to: number) => slice(v, [from], [to], [1]);
/** Channel `i` of `n` of a replicated value: the rows `i·B..(i+1)·B`. */
function channel(v: Value, i: number, n: number): Value {
  return gather(reshape(v, [n, -1, ...v.shape.slice(1)]), v.graph.literal('int64', i), 0);
}
/** The batch copied `n` times along axis 0 (channel after channel). */
export function replicate(v: Value, n: number): Value {
  return reshape(expand(unsqueeze(v, [0]), [n, ...v.shape]), [-1, ...v.shape.slice(1)]);
}
/** A [R, 1, 1] tensor of ones with the rows of `x` [R, T, d]. */
function rowOnes(x: Value): Value {
  return fill(slice(x, [0, 0], [1, 1], [1, 2]), 1);
}
/** Zeros [R, T, width] with the rows and tokens of `x` [R, T, d]. */
function zerosLike(x: Value, width: number): Value {
  const g = x.graph;
  return fillShape(concat([slice(shapeOf(x), [0], [2], [0]), g.literal('int64', [width])], 0), [x.shape[0] as number, x.shape[1] as number, width], 0);
}

/** The children's parts put back together along `axis`, with the dimension of `whole` there (a symbolic batch stays one). */
function joinLike(parts: readonly Value[], axis: number, whole: Value): Value {
  const first = parts[0] as Value;
  if (parts.length === 1) return first;
  const shape = first.shape.map((d, i) => (i === axis ? (whole.shape[axis] as Dim) : d));
  return first.graph.addNode('Concat', parts, { axis: attr.int(axis) }, [{ dtype: first.dtype, shape }])[0] as Value;
}

/** How a child's part of the state is cut out and put back, for the blocks that divide it. */
interface Cut {
  readonly take: (v: Value, i: number) => Value;
  readonly axis: 0 | 1;
}

function cutOf(block: Block): Cut | undefined {
  const offsets = (sizes: readonly number[]) => sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  if (block.type === 'BatchSplit') {
    const at = offsets(block.batch_sizes);
    return { take: (v, i) => rows(v, at[i] as number, (at[i] as number) + (block.batch_sizes[i] as number)), axis: 0 };
  }
  if (block.type === 'Split') {
    const at = offsets(block.splits);
    return { take: (v, i) => tokens(v, at[i] as number, (at[i] as number) + (block.splits[i] as number)), axis: 1 };
  }
  if (block.type === 'Parallel') return { take: (v, i) => channel(v, i, block.children.length), axis: 0 };
  return undefined;
}

/** Runs a Fuse block's fusion at a site (see fusion.ts). */
type FuseRunner = (block: Block, x: { state: Value; hidden: Value; ups: readonly Value[]; residual: Value }) => Value;

function subLayerFunction(key: string, r: Restricted, units: ReadonlyMap<string, MethodUnits>, fuse?: FuseRunner): (p: SubLayerParts) => Value {
  const unit = (n: string) => units.get(n)?.sublayers?.get(key) as SubLayerUnit;
  /** A Fuse child's up-projection: its adapter's output without the residual (a Stack child: its adapters in order, then the last one's). */
  const upOf = (k: Restricted, s: Value, p: SubLayerParts): Value => {
    if (typeof k === 'string') {
      const u = unit(k);
      return u.forward(u.pre(s, p).hidden, fill(s, 0));
    }
    const kids = k.children as Restricted[]; // a Stack of names (nothing else may sit in a Fuse)
    const before = kids.slice(0, -1).reduce<Value>((acc, c) => evaluate(c, acc, p), s);
    return upOf(kids[kids.length - 1] as Restricted, before, p);
  };
  const placement = unit(namesOf(r)[0] as string).placement;
  // A child absent at this site: the same kind of adapter with a zero output.
  const absent = (ref: SubLayerUnit, s: Value, p: SubLayerParts) => (placement.is_parallel ? fill(p.residual, 0) : ref.pre(s, p).residual);
  const evaluate = (x: Restricted, s: Value, p: SubLayerParts): Value => {
    if (typeof x === 'string') {
      const u = unit(x);
      const { hidden, residual } = u.pre(s, p);
      return u.forward(hidden, residual);
    }
    const b = x.block;
    if (b.type === 'Stack') return x.children.reduce<Value>((acc, k) => evaluate(k as Restricted, acc, p), s);
    if (b.type === 'Fuse') {
      const present = x.children.filter((k): k is Restricted => k !== null);
      const last = unit(namesOf(present[present.length - 1] as Restricted).at(-1) as string); // the Fuse's last adapter here prepares query and residual
      const prepared = last.pre(s, p);
      return (fuse as FuseRunner)(b, { state: s, hidden: prepared.hidden, ups: present.map((k) => upOf(k, s, p)), residual: prepared.residual });
    }
    const ref = unit(namesOf(x)[0] as string);
    const child = (k: Restricted | null, sk: Value, pk: SubLayerParts) => (k === null ? absent(ref, sk, pk) : evaluate(k, sk, pk));
    if (b.type === 'Average') {
      return x.children.map((k, i) => mul(child(k, s, p), b.weights[i] as number)).reduce((acc, v) => add(acc, v));
    }
    const cut = cutOf(b) as Cut;
    const parts = x.children.map((k, i) => {
      const pk: SubLayerParts = { input: cut.take(p.input, i), output: cut.take(p.output, i), residual: cut.take(p.residual, i), norm: p.norm };
      return child(k, cut.take(s, i), pk);
    });
    return joinLike(parts, cut.axis, s);
  };
  return (p) => {
    const out = evaluate(r, p.output, p);
    // post_forward of the placement every adapter here shares
    if (placement.is_parallel) {
      const withH = add(out, p.output);
      return placement.original_ln_after ? p.norm(add(withH, p.residual)) : withH;
    }
    return placement.original_ln_after ? p.norm(add(out, p.residual)) : out;
  };
}

function linearFunction(key: string, r: Restricted, units: ReadonlyMap<string, MethodUnits>): (x: Value, apply: (x: Value) => Value) => Value {
  const unit = (n: string) => units.get(n)?.linears?.get(key) as LinearUnit;
  const first = unit(namesOf(r)[0] as string);
  const kind = first.kind;
  const neutral = (xr: Value): Value => (kind === 'add' ? zerosLike(xr, first.width) : mul(rowOnes(xr), xr.graph.literal('float32', new Array<number>(first.width).fill(1))));
  /** A state with one row per example (IA³ vectors have none until a row block needs them). */
  const perRow = (st: Value, xr: Value) => (st.rank === 1 ? mul(rowOnes(xr), st) : st);
  const evaluate = (node: Restricted, x: Value, st: Value | undefined): Value | undefined => {
    if (typeof node === 'string') return unit(node).single(x, st);
    const b = node.block;
    if (b.type === 'Stack') return node.children.reduce<Value | undefined>((acc, k) => evaluate(k as Restricted, x, acc), st);
    if (b.type === 'Average') {
      const terms: Value[] = [];
      let constant = 0;
      node.children.forEach((k, i) => {
        const w = b.weights[i] as number;
        const v = k === null ? st : evaluate(k, x, st);
        if (v) terms.push(mul(v, w));
        else if (kind !== 'add') constant += w; // an absent IA³ adapter is a vector of ones
      });
      let sum = terms.reduce((acc, v) => add(acc, v));
      if (constant !== 0) sum = add(sum, constant);
      return sum;
    }
    const cut = cutOf(b) as Cut;
    const parts = node.children.map((k, i) => {
      const xk = cut.take(x, i);
      const sk = st === undefined ? undefined : st.rank === 1 ? st : cut.take(st, i);
      const v = k === null ? sk : evaluate(k, xk, sk);
      return v === undefined ? neutral(xk) : perRow(v, xk);
    });
    return joinLike(parts, cut.axis, x);
  };
  return (x, apply) => {
    const st = evaluate(r, x, undefined) as Value;
    if (kind === 'add') return add(apply(x), st);
    if (kind === 'scale-out') return mul(apply(x), st);
    return apply(mul(x, st));
  };
}

/**
 * A self-attention under a composition of prefix-tuning adapters (AdapterHub's `compose_stack`,
 * `compose_batch_split`, `compose_parallel` of `PrefixTuningLayer`): a Stack joins its adapters'
 * prefixes one after the other (each in front), BatchSplit and Parallel give each child's rows its
 * child's. Rows whose prefixes are shorter than the others' are padded in front with zero keys and
 * values they never see (additive mask float32's lowest; adapterkit's choice: AdapterHub's
 * `pad_and_concat` pads the mask with 1.0, which is a visible position with its inverted masks).
 */
function attentionFunction(key: string, r: Restricted, units: ReadonlyMap<string, MethodUnits>): (p: AttentionParts) => AttentionParts {
  const unit = (n: string) => units.get(n)?.attentions?.get(key) as AttentionUnit;
  /** Key positions a subtree adds to each of its rows, at most. */
  const added = (x: Restricted | null): number => {
    if (x === null) return 0;
    if (typeof x === 'string') return unit(x).added;
    const each = x.children.map(added);
    return x.block.type === 'Stack' ? each.reduce((a, b) => a + b, 0) : Math.max(...each);
  };
  const pad = (q: AttentionParts, n: number): AttentionParts => {
    if (n === 0) return q;
    const k = q.keys;
    const g = k.graph;
    const rowsOf = (v: Value) => slice(shapeOf(v), [0], [1], [0]);
    const [H, Dh] = [k.shape[1] as number, k.shape[3] as number];
    const zeros = (v: Value) => fillShape(concat([rowsOf(v), g.literal('int64', [H, n, Dh])], 0), [v.shape[0] as Dim, H, n, Dh], 0);
    const unseen = fillShape(concat([rowsOf(q.maskBias), g.literal('int64', [1, 1, n])], 0), [q.maskBias.shape[0] as Dim, 1, 1, n], SLOT_MASK_VALUE);
    return { ...q, keys: concat([zeros(k), k], 2), values: concat([zeros(q.values), q.values], 2), maskBias: concat([unseen, q.maskBias], 3) };
  };
  const evaluate = (x: Restricted, q: AttentionParts): AttentionParts => {
    if (typeof x === 'string') return unit(x).join(q);
    if (x.block.type === 'Stack') return x.children.reduce<AttentionParts>((acc, k) => evaluate(k as Restricted, acc), q);
    const cut = cutOf(x.block) as Cut;
    const most = added(x);
    const parts = x.children.map((k, i) => {
      const qk: AttentionParts = { ...q, keys: cut.take(q.keys, i), values: cut.take(q.values, i), maskBias: cut.take(q.maskBias, i), ...(q.input ? { input: cut.take(q.input, i) } : {}) };
      return pad(k === null ? qk : evaluate(k, qk), most - added(k));
    });
    return { ...q, keys: joinLike(parts.map((p) => p.keys), 0, q.keys), values: joinLike(parts.map((p) => p.values), 0, q.values), maskBias: joinLike(parts.map((p) => p.maskBias), 0, q.maskBias) };
  };
  return (q) => evaluate(r, q);
}

/**
 * The hooks of `active` over the model's `adapters` (see the module comment), built with the
 * method context `ctx` (tensor values, dropout).
 */
export function composeAdapters(enc: Encoder, adapters: readonly NamedAdapter[], active: Composition, ctx: MethodContext, o: ComposeOptions = {}): ComposedAdapters {
  const p = plan(enc, adapters, active, ctx, o);
  const byName = new Map(adapters.map((a) => [a.name, a]));
  const own = new Map<string, MethodHooks>();
  const ownHooks = (n: string) => {
    let h = own.get(n);
    if (!h) {
      const a = byName.get(n) as NamedAdapter;
      own.set(n, (h = methodOf(a.config).hooks(a.config as never, enc, n, ctx)));
    }
    return h;
  };
  const deltas = new Map<string, (q: SubLayerParts) => Value>();
  const sublayers = new Map<string, (q: SubLayerParts) => Value>();
  const linears = new Map<string, (x: Value, apply: (x: Value) => Value) => Value>();
  const attentions = new Map<string, (q: AttentionParts) => AttentionParts>();
  const dropN = o.dropInput;
  // Robust AdapterDrop: the adapted value where layer >= n, the plain one below.
  const gate = (layer: number, adapted: Value, plain: Value) => (dropN ? where(greater(dropN.graph.literal('int64', layer + 1), dropN), adapted, plain) : adapted);
  for (const { site, restricted } of p.sites) {
    if (site.kind === 'attention') {
      if (dropN) fail('BAD_CONFIG', `robust AdapterDrop with the prefix-tuning adapters ${namesOf(restricted).join(', ')}: not implemented (their prefixes change the attention's key length per batch); use static AdapterDrop`);
      attentions.set(site.key, typeof restricted === 'string' ? (ownHooks(restricted).attentions?.get(site.key) as (q: AttentionParts) => AttentionParts) : attentionFunction(site.key, restricted, p.units));
      continue;
    }
    if (site.kind !== 'sublayer' && site.kind !== 'linear') continue;
    const layer = site.layer;
    if (site.kind === 'sublayer') {
      let f: (q: SubLayerParts) => Value;
      if (typeof restricted === 'string') {
        const h = ownHooks(restricted);
        const d = h.deltas?.get(site.key);
        const s = h.sublayers?.get(site.key) as (q: SubLayerParts) => Value;
        if (d && !dropN) {
          deltas.set(site.key, d);
          continue;
        }
        if (!dropN) {
          sublayers.set(site.key, s);
          continue;
        }
        f = d ? (q) => q.norm(add(q.residual, add(q.output, d(q)))) : s;
      } else {
        const key = site.key;
        const runFuse: FuseRunner = (block, x) => {
          const fu = p.fusions.get(block) as NamedFusion;
          const query = fu.config.query_before_ln ? x.state : x.hidden;
          let temperature: Value | undefined;
          if (fu.config.temperature) {
            if (!o.fusionTemperature) fail('GRAPH_ERROR', `fusion ${fu.name} has temperature true: composeAdapters needs ComposeOptions.fusionTemperature`);
            temperature = o.fusionTemperature(fu.name, layer);
          }
          return x.state.graph.scope('fusion', () => fuseAt(fu, key, ctx, fu.config.dropout_prob ?? o.fusionDropout ?? 0.1, { query, ups: x.ups, residual: x.residual, ...(temperature ? { temperature } : {}) }));
        };
        f = subLayerFunction(key, restricted, p.units, runFuse);
      }
      sublayers.set(site.key, dropN ? (q) => gate(layer, f(q), q.norm(add(q.residual, q.output))) : f);
    } else {
      const f = typeof restricted === 'string' ? (ownHooks(restricted).linears?.get(site.key) as (x: Value, apply: (x: Value) => Value) => Value) : linearFunction(site.key, restricted, p.units);
      linears.set(site.key, dropN ? (x, apply) => gate(layer, f(x, apply), apply(x)) : f);
    }
  }
  const at = p.replicateAt;
  const n = p.channels;
  const layerInput = at === undefined ? undefined : (l: number, x: LayerInput): LayerInput => {
    if (l !== at) return x;
    return x.hidden.graph.scope('parallel', () => ({ hidden: replicate(x.hidden, n), maskBias: replicate(x.maskBias, n), attentionMask: replicate(x.attentionMask, n) }));
  };
  const cutsBatch = (r: Restricted): boolean => typeof r !== 'string' && (r.block.type === 'BatchSplit' || r.block.type === 'Parallel' || r.children.some((k) => k !== null && cutsBatch(k)));
  return {
    hooks: { deltas, sublayers, linears, attentions }, channels: n,
    linearPerExample: p.sites.some(({ site, restricted }) => site.kind === 'linear' && cutsBatch(restricted)), fusionLayers: p.fusionLayers,
    ...(layerInput ? { layerInput, replicateAt: at } : {}),
    ...(p.needs.batchSize !== undefined ? { batchSize: p.needs.batchSize } : {}),
    ...(p.needs.seqLen !== undefined ? { seqLen: p.needs.seqLen } : {}),
  };
}

/** One line per setup for `info` and reports: `Stack(lang, task): lang = bottleneck (…) (frozen); task = lora (…)`. */
export function describeSetup(adapters: readonly NamedAdapter[], active: Composition, drop: AdapterDrop | undefined, enc?: Encoder, fusions: readonly NamedFusion[] = []): string {
  const used = new Set(compositionNames(active));
  const parts = adapters.map((a) => `${a.name} = ${methodOf(a.config).describe(a.config as never, enc)}${a.trainable === false ? ' (frozen)' : ''}${used.has(a.name) ? '' : ' (inactive)'}`);
  for (const f of fusions) parts.push(`fusion ${f.name} = AdapterFusion (${fusionLabel(f.config)})${f.trainable === false ? ' (frozen)' : ''}`);
  const d = drop ? (drop.kind === 'static' ? `, AdapterDrop first ${drop.layers} layer(s)` : `, robust AdapterDrop 0..${drop.maxLayers}`) : '';
  return `${formatComposition(active)}${d}: ${parts.join('; ')}`;
}
