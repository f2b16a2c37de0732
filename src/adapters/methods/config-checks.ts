/**
 * Field checks shared by the method configs: each failure is a BAD_CONFIG error that names the
 * config and the field, and shows the value it got.
 */
import { fail } from '../../errors.js';

/** A config object as read from JSON or given by a caller, before it is checked. */
export type RawConfig = Readonly<Record<string, unknown>>;

/** Rejects fields the config type does not have. */
export function checkKnownFields(raw: RawConfig, fields: readonly string[], where: string): void {
  for (const k of Object.keys(raw)) {
    if (raw[k] !== undefined && !fields.includes(k)) fail('BAD_CONFIG', `${where}: unknown field ${k} (fields: ${fields.join(', ')})`);
  }
}

/** A boolean field. */
export function checkBool(raw: RawConfig, field: string, where: string): void {
  if (typeof raw[field] !== 'boolean') fail('BAD_CONFIG', `${where}: ${field} must be true or false, got ${JSON.stringify(raw[field])}`);
}

/** A finite number in a range. */
export function checkNumber(
  raw: RawConfig, field: string, where: string, r: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean; integer?: boolean } = {},
): void {
  const v = raw[field];
  const ok = typeof v === 'number' && Number.isFinite(v) && (!r.integer || Number.isInteger(v))
    && (r.min === undefined || (r.exclusiveMin ? v > r.min : v >= r.min)) && (r.max === undefined || (r.exclusiveMax ? v < r.max : v <= r.max));
  if (!ok) {
    const range = [r.min !== undefined ? `${r.exclusiveMin ? '>' : '>='} ${r.min}` : '', r.max !== undefined ? `${r.exclusiveMax ? '<' : '<='} ${r.max}` : ''].filter(Boolean).join(' and ');
    fail('BAD_CONFIG', `${where}: ${field} must be ${r.integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got ${JSON.stringify(v)}`);
  }
}

/** A value from a fixed list. */
export function checkOneOf(raw: RawConfig, field: string, values: readonly unknown[], where: string): void {
  if (!values.includes(raw[field])) fail('BAD_CONFIG', `${where}: ${field} ${JSON.stringify(raw[field])} is not one of ${values.map((v) => JSON.stringify(v)).join(', ')}`);
}

/** A list of distinct layer indices. */
export function checkLayerList(raw: RawConfig, field: string, where: string): void {
  const v = raw[field];
  if (!Array.isArray(v) || v.some((l) => !Number.isInteger(l) || l < 0)) fail('BAD_CONFIG', `${where}: ${field} must be a list of layer indices, got ${JSON.stringify(v)}`);
}
