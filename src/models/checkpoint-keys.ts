/**
 * Checkpoint key names, with no file access (the encoders use them, in Node and in the browser
 * build): the canonical name of a key and how a checkpoint spelled its keys. Reading checkpoint
 * files is checkpoint.ts.
 */

/** Canonical name of a checkpoint key: without the model prefix, legacy `gamma`/`beta` LayerNorm names as `weight`/`bias`. */
export function canonicalName(key: string, prefix: string): string {
  let k = key.startsWith(prefix) ? key.slice(prefix.length) : key;
  k = k.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  return k;
}

/** How a checkpoint spelled its keys, for `adapterkit info`. */
export interface CheckpointKeys {
  /** Weight files read. */
  readonly files: readonly string[];
  /** `prefixed` (every used key carried the model prefix), `unprefixed`, or `mixed`. */
  readonly form: 'prefixed' | 'unprefixed' | 'mixed';
  /** The model prefix looked for, e.g. `albert.`. */
  readonly prefix: string;
  /** Whether LayerNorms were stored under the legacy `gamma`/`beta` names. */
  readonly legacyNorms: boolean;
  /** Checkpoint keys the encoder does not use (pre-training heads, buffers). */
  readonly ignored: readonly string[];
}

/** One line for `adapterkit info`, e.g. `albert.-prefixed keys in model.safetensors (12 unused: predictions.*)`. */
export function describeCheckpointKeys(k: CheckpointKeys): string {
  const form = k.form === 'prefixed' ? `${k.prefix}-prefixed` : k.form === 'unprefixed' ? 'unprefixed' : `mixed (some ${k.prefix}-prefixed)`;
  const files = k.files.map((f) => f.slice(f.lastIndexOf('/') + 1)).join(', '); // the file names
  const unused = k.ignored.length ? `; ${k.ignored.length} unused: ${[...new Set(k.ignored.map((x) => x.split('.').slice(0, 2).join('.')))].slice(0, 4).join(', ')}` : '';
  return `${form} keys${k.legacyNorms ? ' (legacy gamma/beta norms)' : ''} in ${files}${unused}`;
}
