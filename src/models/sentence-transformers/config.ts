/**
 * sentence-transformers checkpoint directories (all-mpnet-base-v2, all-MiniLM-L6-v2, ...): besides
 * the Hugging Face files, `modules.json` lists the pipeline that turns token vectors into one
 * sentence vector, one module per entry (`{ idx, name, path, type }`): the Transformer (path "",
 * the directory itself), then usually a Pooling module (path `1_Pooling`, whose `config.json`
 * holds `pooling_mode_*` flags) and often a Normalize module (path `2_Normalize`, no files: on the
 * hub that folder does not even exist). This module parses that layout without file access (so it
 * runs in a browser too; reading a directory: read.ts); which pooling a head then uses is decided
 * in heads/pooling.ts ({@link sentencePooling} is what it asks).
 *
 * Pooling's config.json fields (sentence-transformers' Pooling module): `word_embedding_dimension`,
 * one boolean per mode (`pooling_mode_cls_token`, `pooling_mode_mean_tokens`,
 * `pooling_mode_max_tokens`, `pooling_mode_mean_sqrt_len_tokens`, `pooling_mode_weightedmean_tokens`,
 * `pooling_mode_lasttoken`; several true = their vectors concatenated; absent ones take Pooling's
 * defaults: mean true, the others false), `include_prompt`, and optionally `pooling_mode`, a mode
 * name that overrides the flags.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { jsonType } from '../../util/json-text.js';

/** The file that makes a directory a sentence-transformers checkpoint. */
export const ST_MODULES_FILE = 'modules.json';
/** Where sentence-transformers saves the Pooling module (what the hub client fetches besides modules.json). */
export const ST_POOLING_CONFIG = '1_Pooling/config.json';

/** The module types adapterkit reads (the `type` of a modules.json entry). */
export const POOLING_TYPE = 'sentence_transformers.models.Pooling';
export const NORMALIZE_TYPE = 'sentence_transformers.models.Normalize';
export const TRANSFORMER_TYPE = 'sentence_transformers.models.Transformer';

/** Every pooling mode of sentence-transformers' Pooling, with its config.json flag and its default; `head` where adapterkit has it. */
const POOLING_MODES = [
  { mode: 'cls', field: 'pooling_mode_cls_token', byDefault: false, head: 'cls' },
  { mode: 'mean', field: 'pooling_mode_mean_tokens', byDefault: true, head: 'mean' },
  { mode: 'max', field: 'pooling_mode_max_tokens', byDefault: false },
  { mode: 'mean_sqrt_len_tokens', field: 'pooling_mode_mean_sqrt_len_tokens', byDefault: false },
  { mode: 'weightedmean', field: 'pooling_mode_weightedmean_tokens', byDefault: false },
  { mode: 'lasttoken', field: 'pooling_mode_lasttoken', byDefault: false },
] as const satisfies readonly { mode: string; field: string; byDefault: boolean; head?: string }[];

/** A pooling mode of sentence-transformers ("cls", "mean", "max", ...). */
export type StPoolingMode = (typeof POOLING_MODES)[number]['mode'];
/** The modes adapterkit's heads can read (see heads/pooling.ts). */
export type StHeadPooling = Extract<(typeof POOLING_MODES)[number], { head: string }>['head'];

/** What the supported modes are, for error messages. */
const SUPPORTED = POOLING_MODES.filter((m) => 'head' in m).map((m) => `${m.field} (${m.mode})`).join(' or ');

/** One entry of modules.json. */
export interface StModule {
  readonly name: string;
  /** Subfolder of the module's files, relative to the checkpoint ("" for the Transformer). */
  readonly path: string;
  readonly type: string;
}

/** The Pooling module's config: the modes switched on and the flags that switched them. */
export interface StPoolingConfig {
  /** The config file, relative to the checkpoint directory (e.g. `1_Pooling/config.json`). */
  readonly file: string;
  /** Modes whose vectors sentence-transformers concatenates, in its order. */
  readonly modes: readonly StPoolingMode[];
  /** The field that switched each mode on (`pooling_mode_mean_tokens`, or `pooling_mode` when that names it). */
  readonly fields: readonly string[];
  /** `word_embedding_dimension`, when given. */
  readonly dimension?: number;
}

/** A sentence-transformers checkpoint's pipeline as adapterkit reads it. */
export interface SentenceTransformersConfig {
  readonly modules: readonly StModule[];
  /** The Pooling module's config; absent when modules.json has no Pooling module. */
  readonly pooling?: StPoolingConfig;
  /** Whether a Normalize module (L2 normalisation of the sentence vector) follows. */
  readonly normalize: boolean;
  /** Modules after the Transformer other than Pooling and Normalize (Dense, ...), which adapterkit does not run. */
  readonly ignored: readonly StModule[];
}

/** Parses modules.json's value (`where` names the file in errors). */
export function parseStModules(v: unknown, where: string): StModule[] {
  if (!Array.isArray(v)) return fail('BAD_FILE', `${where}: expected a JSON array of modules ({ "idx", "name", "path", "type" }), got ${jsonType(v)}`);
  return v.map((m: unknown, i) => {
    const o = m as Record<string, unknown>;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return fail('BAD_FILE', `${where}: entry ${i} must be an object with "path" and "type", got ${jsonType(m)}`);
    for (const k of ['path', 'type'] as const) {
      if (typeof o[k] !== 'string') fail('BAD_FILE', `${where}: entry ${i} "${k}" must be a string, got ${describeValue(o[k])}`);
    }
    const path = o.path as string;
    if (path.split(/[\\/]/).includes('..') || path.startsWith('/')) fail('BAD_FILE', `${where}: entry ${i} "path" ${describeValue(path)} must be a subfolder of the checkpoint`);
    return { name: typeof o.name === 'string' ? o.name : String(i), path, type: o.type as string };
  });
}

/** Parses the Pooling module's config.json object (`file`: its path relative to the checkpoint). */
export function parseStPooling(c: Record<string, unknown>, file: string): StPoolingConfig {
  const dim = c.word_embedding_dimension;
  if (dim !== undefined && (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1)) fail('BAD_FILE', `${file}: "word_embedding_dimension" must be a positive integer, got ${describeValue(dim)}`);
  const dimension = dim as number | undefined;
  if (c.pooling_mode !== undefined && c.pooling_mode !== null) {
    const named = typeof c.pooling_mode === 'string' ? POOLING_MODES.find((m) => m.mode === (c.pooling_mode as string).toLowerCase()) : undefined;
    if (!named) fail('BAD_FILE', `${file}: "pooling_mode" ${describeValue(c.pooling_mode)} is not a sentence-transformers pooling mode (${POOLING_MODES.map((m) => m.mode).join(', ')})`);
    return { file, modes: [named.mode], fields: ['pooling_mode'], ...(dimension !== undefined ? { dimension } : {}) };
  }
  const on = POOLING_MODES.filter((m) => {
    const v = c[m.field];
    if (v !== undefined && typeof v !== 'boolean') fail('BAD_FILE', `${file}: "${m.field}" must be true or false, got ${describeValue(v)}`);
    return v ?? m.byDefault;
  });
  return { file, modes: on.map((m) => m.mode), fields: on.map((m) => m.field), ...(dimension !== undefined ? { dimension } : {}) };
}

/** The pipeline of parsed `modules` and, when they have a Pooling module, its parsed config. */
export function sentenceTransformersConfig(modules: readonly StModule[], pooling: StPoolingConfig | undefined): SentenceTransformersConfig {
  const known = new Set([POOLING_TYPE, NORMALIZE_TYPE, TRANSFORMER_TYPE]);
  return {
    modules, normalize: modules.some((m) => m.type === NORMALIZE_TYPE), ignored: modules.filter((m) => !known.has(m.type)),
    ...(pooling ? { pooling } : {}),
  };
}

/** The pooling a head takes from a sentence-transformers checkpoint, with where it comes from (for plans and `info`). */
export interface DeclaredPooling {
  readonly pooling: StHeadPooling;
  /** E.g. `1_Pooling/config.json: pooling_mode_mean_tokens`. */
  readonly from: string;
}

/**
 * The head pooling `st` declares: undefined without a Pooling module; its one mode when adapterkit
 * has it (cls or mean); otherwise an UNSUPPORTED_MODEL error naming the field, what is supported,
 * and --pooling as the way out. `width` is the encoder's output width, checked against
 * `word_embedding_dimension`.
 */
export function sentencePooling(st: SentenceTransformersConfig | undefined, width: number): DeclaredPooling | undefined {
  const p = st?.pooling;
  if (!p) return undefined;
  const fix = 'choose a pooling with --pooling (encoder, cls, mean)';
  if (!p.modes.length) fail('UNSUPPORTED_MODEL', `${p.file}: no pooling mode is on (every pooling_mode_* field is false); adapterkit reads ${SUPPORTED}; ${fix}`);
  if (p.modes.length > 1) fail('UNSUPPORTED_MODEL', `${p.file}: ${p.fields.join(', ')} are all true (sentence-transformers concatenates ${p.modes.join(' + ')}); adapterkit reads one pooling, ${SUPPORTED}; ${fix}`);
  const mode = POOLING_MODES.find((m) => m.mode === p.modes[0]) as (typeof POOLING_MODES)[number];
  const field = p.fields[0] as string;
  if (!('head' in mode)) fail('UNSUPPORTED_MODEL', `${p.file}: ${field === 'pooling_mode' ? `"pooling_mode" is "${mode.mode}"` : `"${field}" is true`} (${mode.mode} pooling), which adapterkit does not support; it reads ${SUPPORTED}; ${fix}`);
  if (p.dimension !== undefined && p.dimension !== width) fail('BAD_FILE', `${p.file}: "word_embedding_dimension" is ${p.dimension}, but the encoder's hidden states are ${width} wide`);
  return { pooling: mode.head, from: `${p.file}: ${field}` };
}
