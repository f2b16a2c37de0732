/**
 * The one name scheme of adapter tensors inside adapterkit:
 *
 *     adapters.<adapter>.<layer>.<site>.<param>      e.g. adapters.sst2.3.ffn.down.weight
 *                                                         adapters.sst2.0.query.lora_A
 *
 * `<adapter>` is the adapter's name (so one model can hold several), `<layer>.<site>` the key of
 * the hook site (models/sites.ts), `<param>` the method's own parameter name. A tensor that all of
 * an adapter's sites share (Compacter's shared PHM rule) is `adapters.<adapter>.shared.<param>`.
 * Head tensors are `head.*` and trained base weights keep their canonical names, so the prefix
 * tells the owner.
 */
import { fail } from '../errors.js';

/** The prefix every adapter tensor name starts with. */
export const ADAPTER_PREFIX = 'adapters.';

/** A valid adapter name: letters, digits, `_` and `-` (it appears in file keys). */
export const ADAPTER_NAME = /^[A-Za-z0-9_-]+$/;

/** Checks an adapter name; BAD_CONFIG when it cannot be used in tensor names and file keys. */
export function checkAdapterName(name: string): string {
  if (!ADAPTER_NAME.test(name)) fail('BAD_CONFIG', `adapter name ${JSON.stringify(name)} may only contain letters, digits, _ and -`);
  return name;
}

/** The internal name of one adapter tensor. */
export function adapterTensorName(adapter: string, siteKey: string, param: string): string {
  return `${ADAPTER_PREFIX}${adapter}.${siteKey}.${param}`;
}

/** The site key of tensors shared by every site of an adapter. */
export const SHARED_SITE_KEY = 'shared';

/** The internal name of a tensor shared by every site of an adapter. */
export function sharedTensorName(adapter: string, param: string): string {
  return adapterTensorName(adapter, SHARED_SITE_KEY, param);
}

/** The parts of an internal adapter tensor name. */
export interface AdapterTensorParts {
  readonly adapter: string;
  /** `<layer>.<site>`, or `shared` */
  readonly siteKey: string;
  /** The site's layer; -1 for a shared tensor. */
  readonly layer: number;
  readonly param: string;
}

/** Splits an internal adapter tensor name; undefined for other names. */
export function parseAdapterTensorName(name: string): AdapterTensorParts | undefined {
  const shared = /^adapters\.([A-Za-z0-9_-]+)\.shared\.(.+)$/.exec(name);
  if (shared) return { adapter: shared[1] as string, siteKey: SHARED_SITE_KEY, layer: -1, param: shared[2] as string };
  const m = /^adapters\.([A-Za-z0-9_-]+)\.(\d+)\.([a-z_]+)\.(.+)$/.exec(name);
  if (!m) return undefined;
  const [, adapter, layer, site, param] = m as unknown as [string, string, string, string, string];
  return { adapter, siteKey: `${layer}.${site}`, layer: Number(layer), param };
}

/** Whether a tensor name belongs to an adapter. */
export function isAdapterTensor(name: string): boolean {
  return name.startsWith(ADAPTER_PREFIX);
}

/** The same tensor under another adapter name. */
export function renameAdapterTensor(name: string, adapter: string): string {
  const p = parseAdapterTensorName(name);
  if (!p) fail('GRAPH_ERROR', `not an adapter tensor name: ${name}`);
  return adapterTensorName(adapter, p.siteKey, p.param);
}
