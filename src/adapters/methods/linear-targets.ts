/**
 * Which projections LoRA and IA³ adapt, in the two libraries' vocabularies: AdapterHub's
 * `attn_matrices` letters, and PEFT's `target_modules` (module-name suffixes or one full-match
 * regular expression, peft @ 5d602fd `tuners/tuners_utils.py` `check_target_module_exists`).
 */
import { AdapterkitError } from '../../errors.js';
import type { Encoder } from '../../models/encoder.js';
import type { LinearRole, LinearSite } from '../../models/sites.js';
import { pythonFullMatch } from '../../util/python-regex.js';

/** AdapterHub's names of the attention projections. */
export type AttnMatrix = 'q' | 'k' | 'v';

const ROLE_OF: Readonly<Record<AttnMatrix, LinearRole>> = { q: 'query', k: 'key', v: 'value' };

/** The roles of a list of attention matrices, in q, k, v order. */
export function attentionRoles(m: readonly AttnMatrix[]): LinearRole[] {
  return (['q', 'k', 'v'] as const).filter((x) => m.includes(x)).map((x) => ROLE_OF[x]);
}

/** The AdapterHub letter of an attention role (undefined for other roles). */
export function matrixOf(role: LinearRole): AttnMatrix | undefined {
  return (Object.entries(ROLE_OF) as [AttnMatrix, LinearRole][]).find(([, r]) => r === role)?.[0];
}

/** A projection's module name as PEFT sees it in a `<Family>ForSequenceClassification` model. */
export function peftModuleName(enc: Encoder, site: LinearSite): string {
  return `${enc.checkpointPrefix}${site.module}`;
}

/** Escapes a literal for a regular expression (the subset Python's `re` and JavaScript agree on). */
function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** How PEFT matches a list entry against a module name: `target_modules` needs a dot before the suffix, `feedforward_modules` does not. */
type SuffixRule = 'target' | 'feedforward';

function suffixMatch(rule: SuffixRule, name: string, t: string): boolean {
  return rule === 'target' ? name === t || name.endsWith(`.${t}`) : name.endsWith(t);
}

/**
 * The shortest module-name suffixes that select exactly `wanted` among `candidates` under PEFT's
 * list rule, sorted (PEFT saves these lists from sets); undefined when no suffix list does.
 */
function suffixList(rule: SuffixRule, candidates: readonly string[], wanted: ReadonlySet<string>): string[] | undefined {
  const picks = new Set<string>();
  for (const w of wanted) {
    const parts = w.split('.');
    let found: string | undefined;
    for (let k = 1; k <= parts.length && !found; k++) {
      const t = parts.slice(-k).join('.');
      if (candidates.filter((n) => suffixMatch(rule, n, t)).every((n) => wanted.has(n))) found = t;
    }
    if (!found) return undefined;
    picks.add(found);
  }
  const selected = candidates.filter((n) => [...picks].some((t) => suffixMatch(rule, n, t)));
  return selected.length === wanted.size ? [...picks].sort() : undefined;
}

/**
 * Why PEFT cannot hold adapters on `sites`, when one is a column block of a fused weight
 * (ModernBERT's `attn.Wqkv`): PEFT adapts whole modules, so its LoRA on `Wqkv` is one pair over all
 * three blocks, and the per-block modules adapterkit names do not exist in the model. Undefined otherwise.
 */
export function fusedSitesIssue(enc: Encoder, sites: readonly LinearSite[]): string | undefined {
  const s = sites.find((x) => x.columns !== undefined);
  if (!s) return undefined;
  const [from, to] = s.columns as readonly [number, number];
  return `the ${enc.family} encoder's ${s.role} projection is columns ${from}..${to} of the fused ${s.weight.replace(/\.weight$/, '')}; PEFT adapts whole modules, so it has no module for this adapter's per-projection tensors`;
}

/**
 * PEFT's `target_modules` selecting exactly `sites`: the suffix list PEFT users write
 * (`["query", "value"]`) with `layers_to_transform` for left-out layers when the config has that
 * field, else one full-match regular expression over the module names.
 */
export function peftTargets(enc: Encoder, sites: readonly LinearSite[], o: { layersField: boolean }): { target_modules: string[] | string; layers_to_transform?: number[] | null } {
  const everyLayer = enc.sites.linears.map((s) => peftModuleName(enc, s));
  const candidates = [...everyLayer, `${enc.checkpointPrefix}pooler.dense`];
  const wanted = new Set(sites.map((s) => peftModuleName(enc, s)));
  const layers = [...new Set(sites.map((s) => s.layer))].sort((a, b) => a - b);
  const allLayers = layers.length === enc.numLayers;
  const regex = () => ({ target_modules: [...wanted].map(escapeRe).join('|'), ...(o.layersField ? { layers_to_transform: null } : {}) });
  if (allLayers) {
    const list = suffixList('target', candidates, wanted);
    return list ? { target_modules: list, ...(o.layersField ? { layers_to_transform: null } : {}) } : regex();
  }
  if (!o.layersField) return regex();
  // a suffix list over all layers, then layers_to_transform picks the layers
  const inAll = new Set(enc.sites.linears.filter((s) => sites.some((x) => x.role === s.role)).map((s) => peftModuleName(enc, s)));
  const list = suffixList('target', candidates, inAll);
  return list ? { target_modules: list, layers_to_transform: layers } : regex();
}

/**
 * PEFT's `feedforward_modules` selecting exactly `ff` among the targeted `sites`. When
 * `target_modules` is a list, PEFT's IA3Config requires the feedforward list to be a subset of it
 * (`__post_init__`: "`feedforward_modules` should be a subset of `target_modules`"), so the
 * entries are taken from `target`; where no subset selects exactly `ff`, a regular expression.
 */
export function peftFeedforward(enc: Encoder, sites: readonly LinearSite[], ff: readonly LinearSite[], target: readonly string[] | string): string[] | string {
  if (ff.length === 0) return [];
  const candidates = sites.map((s) => peftModuleName(enc, s));
  const wanted = new Set(ff.map((s) => peftModuleName(enc, s)));
  const regex = () => [...wanted].map(escapeRe).join('|');
  if (typeof target === 'string') return suffixList('feedforward', candidates, wanted) ?? regex();
  const picks = target.filter((t) => candidates.some((n) => suffixMatch('target', n, t) && wanted.has(n)));
  const selected = candidates.filter((n) => picks.some((t) => suffixMatch('feedforward', n, t)));
  return selected.length === wanted.size && selected.every((n) => wanted.has(n)) ? [...picks].sort() : regex();
}

/**
 * The projection sites PEFT's `target_modules` (or, with `rule: 'feedforward'`, its
 * `feedforward_modules`) selects on `enc`, and the module names it selects that adapterkit has
 * no site for (those make loading fail).
 */
export function peftSelected(
  enc: Encoder, target: unknown, layersToTransform: unknown, extraModules: readonly string[], rule: SuffixRule = 'target', where = 'adapter_config.json',
): { sites: LinearSite[]; foreign: string[] } {
  // PEFT: re.fullmatch(target, key) for a string (check_target_module_exists)
  const re = typeof target === 'string' ? pythonFullMatch(target, `${where}: ${rule === 'target' ? 'target_modules' : 'feedforward_modules'}`) : undefined;
  const match = (name: string): boolean => {
    if (re) return re.test(name);
    if (Array.isArray(target)) return target.some((t) => typeof t === 'string' && suffixMatch(rule, name, t));
    return false;
  };
  const layers = Array.isArray(layersToTransform) ? layersToTransform : typeof layersToTransform === 'number' ? [layersToTransform] : undefined;
  const sites = enc.sites.linears.filter((s) => match(peftModuleName(enc, s)) && (typeof target === 'string' || !layers || layers.includes(s.layer)));
  const foreign = extraModules.filter(match);
  return { sites, foreign };
}

/** The roles selected in each layer, checked to be the same set in every selected layer. */
export function rolesByLayer(sites: readonly LinearSite[], numLayers: number, where: string): { roles: LinearRole[]; leaveOut: number[] } {
  const per = new Map<number, Set<LinearRole>>();
  for (const s of sites) per.set(s.layer, (per.get(s.layer) ?? new Set()).add(s.role));
  const sets = [...per.values()].map((r) => [...r].sort().join(','));
  if (new Set(sets).size > 1) {
    throw new AdapterkitError('BAD_CONFIG', `${where}: the selected projections differ between layers (${[...per].map(([l, r]) => `layer ${l}: ${[...r].join('/')}`).join('; ')}); adapterkit adapts the same projections in every layer it adapts`);
  }
  const roles = [...(per.values().next().value ?? [])] as LinearRole[];
  const leaveOut = Array.from({ length: numLayers }, (_, l) => l).filter((l) => !per.has(l));
  return { roles, leaveOut };
}

/** Values that are PEFT's "not in use" for a field (null, false, empty list or object). */
export function isUnset(v: unknown): boolean {
  return v === null || v === undefined || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);
}
