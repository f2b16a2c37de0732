/**
 * Several methods as one adapter: AdapterHub's `ConfigUnion` (adapters @ 88f18eb,
 * `configuration/adapter_config.py`), whose components act together under one adapter name, as
 * its MAM preset does (He et al. 2022: prefix tuning with bottleneck 800 and a parallel adapter).
 *
 * The union's tensors are its components' (their internal names never collide: at most one
 * component per method), its hooks theirs side by side (additive deltas at one sub-layer add up,
 * projection wrappers chain, attention changes chain), its files theirs under the one name, and
 * `{architecture: "union", configs: [to_dict() …]}` as AdapterHub's `ConfigUnion.to_dict()` writes.
 * A union is never a component of a union. `leave_out` given to a union goes to every component
 * (AdapterHub's `ConfigUnion.replace`).
 */
import { fail } from '../../errors.js';
import type { Value } from '../../engine/index.js';
import type { AttentionParts, SubLayerParts } from '../../models/encoder.js';
import { add } from '../../engine/index.js';
import type { AdapterMethod, AttentionUnit, LinearUnit, MethodConfigBase, MethodHooks, SubLayerUnit } from '../method.js';
import type { RawConfig } from './config-checks.js';

/** A union of method configs. */
export interface UnionConfig<C extends MethodConfigBase = MethodConfigBase> extends MethodConfigBase {
  readonly method: 'union';
  readonly configs: readonly C[];
}

/** Joins the hooks of a union's components into one: deltas at one site add up, wrappers chain in component order. */
export function mergeMethodHooks(all: readonly MethodHooks[]): MethodHooks {
  const deltas = new Map<string, (p: SubLayerParts) => Value>();
  const sublayers = new Map<string, (p: SubLayerParts) => Value>();
  const linears = new Map<string, (x: Value, apply: (x: Value) => Value) => Value>();
  const attentions = new Map<string, (p: AttentionParts) => AttentionParts>();
  let prompt: MethodHooks['prompt'];
  let inputPrompt: MethodHooks['inputPrompt'];
  for (const h of all) {
    for (const [k, f] of h.deltas ?? []) {
      const prev = deltas.get(k);
      deltas.set(k, prev ? (p) => add(prev(p), f(p)) : f);
    }
    for (const [k, f] of h.sublayers ?? []) {
      if (sublayers.has(k)) fail('BAD_CONFIG', `union: two components replace the residual connection of sub-layer ${k}`);
      sublayers.set(k, f);
    }
    for (const [k, f] of h.linears ?? []) {
      const prev = linears.get(k);
      linears.set(k, prev ? (x, apply) => f(x, (z) => prev(z, apply)) : f);
    }
    for (const [k, f] of h.attentions ?? []) {
      const prev = attentions.get(k);
      attentions.set(k, prev ? (p) => f(prev(p)) : f);
    }
    if (h.prompt) prompt = h.prompt;
    if (h.inputPrompt) inputPrompt = h.inputPrompt;
  }
  return { deltas, sublayers, linears, attentions, ...(prompt ? { prompt } : {}), ...(inputPrompt ? { inputPrompt } : {}) };
}

/** Which component's size knob is a union's (see {@link makeUnionMethod}). */
export interface UnionSizeKnob {
  /** The method of the sized component. */
  readonly method: string;
  /** The knob's name in sweep method ids (the component's). */
  readonly name: string;
  /** What it sizes, for help texts. */
  readonly what: string;
}

/**
 * The union method, given the registry's dispatch (`methodOf`) so that this module does not import
 * the registry that lists it. `sizedBy`: the component whose size knob is the union's (the other
 * components keep their sizes); without it a union has no size.
 */
export function makeUnionMethod<C extends MethodConfigBase>(methodOf: (c: C) => AdapterMethod<C>, sizedBy?: UnionSizeKnob): AdapterMethod<UnionConfig<C>> {
  const each = <R>(c: UnionConfig<C>, f: (m: AdapterMethod<C>, x: C) => R): R[] => c.configs.map((x) => f(methodOf(x), x));
  const sizedPart = (c: UnionConfig<C>, k: UnionSizeKnob) => {
    const i = c.configs.findIndex((x) => x.method === k.method);
    const x = c.configs[i];
    const knob = x ? methodOf(x).size : undefined;
    if (!x || !knob) fail('BAD_CONFIG', `union${c.preset !== undefined ? ` ${c.preset}` : ''}: no ${k.method} component (it has ${c.configs.map((y) => y.method).join(', ')}), so it has no size ${k.name} to set`);
    return { i, x, knob };
  };
  const size: AdapterMethod<UnionConfig<C>>['size'] = sizedBy && {
    name: sizedBy.name,
    what: sizedBy.what,
    get: (c, enc) => {
      const { x, knob } = sizedPart(c, sizedBy);
      return knob.get(x, enc);
    },
    with: (c, n) => {
      const { i, x, knob } = sizedPart(c, sizedBy);
      return Object.freeze({ ...c, configs: Object.freeze(c.configs.map((y, j) => (j === i ? knob.with(x, n) : y))) });
    },
  };
  return {
    ...(size ? { size } : {}),
    id: 'union',
    describe: (c, enc) => `union (${each(c, (m, x) => m.describe(x, enc)).join(' + ')})`,
    validateFor: (c, enc) => void each(c, (m, x) => m.validateFor(x, enc)),
    tensors: (c, enc, name) => each(c, (m, x) => m.tensors(x, enc, name)).flat(),
    hooks: (c, enc, name, ctx) => mergeMethodHooks(each(c, (m, x) => m.hooks(x, enc, name, ctx))),
    // in a composition the union is its components, each at its own sites (AdapterHub's layers compose their part of it)
    units(c, enc, name, ctx) {
      const sublayers = new Map<string, SubLayerUnit>();
      const linears = new Map<string, LinearUnit>();
      const attentions = new Map<string, AttentionUnit>();
      for (const x of c.configs) {
        const m = methodOf(x);
        if (!m.units) fail('BAD_CONFIG', `union${c.preset !== undefined ? ` ${c.preset}` : ''}: its ${m.id} component cannot be composed: ${m.notComposable ?? 'the method has no composition units'}`);
        const u = m.units(x, enc, name, ctx);
        const into = <U>(to: Map<string, U>, from: ReadonlyMap<string, U> | undefined, what: string) => {
          for (const [k, v] of from ?? []) {
            if (to.has(k)) fail('BAD_CONFIG', `union${c.preset !== undefined ? ` ${c.preset}` : ''}: two components act at ${what} ${k}, which a composition cannot tell apart`);
            to.set(k, v);
          }
        };
        into(sublayers, u.sublayers, 'sub-layer');
        into(linears, u.linears, 'projection');
        into(attentions, u.attentions, 'attention');
      }
      return { sublayers, linears, attentions };
    },
    // each component's inference form in turn (each touches its own tensors only)
    inferenceForm(c, enc, name, tensors) {
      let all = new Map(tensors);
      const configs = c.configs.map((x) => {
        const f = methodOf(x).inferenceForm?.(x, enc, name, all);
        if (!f) return x;
        all = f.tensors;
        return f.config;
      });
      return { config: Object.freeze({ ...c, configs: Object.freeze(configs) }), tensors: all };
    },
    averagesPositions: (c) => each(c, (m, x) => m.averagesPositions?.(x) ?? false).some(Boolean),
    inputPositions: (c) => each(c, (m, x) => m.inputPositions?.(x) ?? 0).reduce((a, b) => a + b, 0),
    positions: (c) => Object.assign({}, ...each(c, (m, x) => m.positions?.(x) ?? {})) as ReturnType<NonNullable<AdapterMethod<C>['positions']>>,
    structure(c) {
      const parts = each(c, (m, x) => m.structure(x));
      const no = parts.find((p): p is { unsupported: string } => 'unsupported' in p);
      return no ?? { key: JSON.stringify({ m: 'union', parts: parts.map((p) => (p as { key: string }).key) }) };
    },
    adapterHub: {
      config(c, enc) {
        const parts = each(c, (m, x) => m.adapterHub.config(x, enc));
        const no = parts.find((p): p is { unsupported: string } => 'unsupported' in p);
        // ConfigUnion.to_dict(): {architecture, configs}
        return no ?? { config: { architecture: 'union', configs: parts.map((p) => (p as { config: Record<string, unknown> }).config) } };
      },
      keys: (c, enc, name, fileName) => each(c, (m, x) => m.adapterHub.keys(x, enc, name, fileName)).flat(),
    },
    peft: {
      config: () => ({ unsupported: 'PEFT has no union of methods in one adapter' }),
      keys: () => [],
    },
  };
}

/**
 * Validates a union: components checked by `check`, no union inside, at most one component per
 * method (their tensors would share names; AdapterHub allows two bottlenecks only at different
 * places, which one bottleneck config with both places covers). `leave_out` and `trainLayerNorms`
 * given to the union go to every component.
 */
export function checkUnionConfig<C extends MethodConfigBase>(raw: RawConfig, check: (raw: RawConfig, where: string) => C, where = 'union config'): UnionConfig<C> {
  for (const k of Object.keys(raw)) {
    if (raw[k] !== undefined && !['method', 'preset', 'trainLayerNorms', 'leave_out', 'configs'].includes(k)) fail('BAD_CONFIG', `${where}: unknown field ${k} (fields: method, preset, trainLayerNorms, leave_out, configs)`);
  }
  const list = raw.configs;
  if (!Array.isArray(list) || list.length < 2) fail('BAD_CONFIG', `${where}: configs must list at least two method configs, got ${JSON.stringify(list)}`);
  const leave = Array.isArray(raw.leave_out) ? raw.leave_out : [];
  const configs = list.map((x, i) => {
    if (!x || typeof x !== 'object' || Array.isArray(x)) fail('BAD_CONFIG', `${where}: configs[${i}] must be a method config object`);
    const r = x as RawConfig;
    if (r.method === 'union') fail('BAD_CONFIG', `${where}: configs[${i}] is a union; a union is never a component of a union`);
    return check({ ...r, ...(leave.length ? { leave_out: leave } : {}), ...(typeof raw.trainLayerNorms === 'boolean' ? { trainLayerNorms: raw.trainLayerNorms } : {}) }, `${where}: configs[${i}]`);
  });
  const methods = configs.map((c) => c.method);
  const twice = methods.find((m, i) => methods.indexOf(m) !== i);
  if (twice) fail('BAD_CONFIG', `${where}: two ${twice} components; a union holds at most one component per method`);
  return Object.freeze({
    method: 'union', ...(typeof raw.preset === 'string' ? { preset: raw.preset } : {}), trainLayerNorms: configs.some((c) => c.trainLayerNorms), leave_out: Object.freeze([]),
    configs: Object.freeze(configs),
  }) as UnionConfig<C>;
}
