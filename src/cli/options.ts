/**
 * Shared option parsing for the CLI: number parsers with range checks (commander argument
 * parsers, so a bad value fails with the option named and exit code 2), and the mapping from the
 * model flags of `adapterkit train` (mode, adapter method and its options) to a {@link SingleTrainingMode}.
 */
import { InvalidArgumentError } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { AdapterkitError, fail } from '../errors.js';
import { perInputIssue, type AdapterDrop, type NamedAdapter } from '../adapters/compose.js';
import { checkComposition, compositionNames, formatComposition, parseComposition, type Block } from '../adapters/composition.js';
import { DEFAULT_FUSION_PRESET, fusionConfig, fusedAdapters, fuseName, type FusionConfig, type NamedFusion } from '../adapters/fusion.js';
import { ADAPTER_NAME } from '../adapters/names.js';
import { checkMethodConfig, fromAdapterHubConfig, methodConfig, promptFromText, type MethodConfig } from '../adapters/methods/index.js';
import type { HostTensor } from '../engine/index.js';
import type { BaseModel } from '../models/base.js';
import { LINEAR_ROLES, SUBLAYER_NAMES, type LinearRole, type SubLayerName } from '../models/sites.js';
import type { SingleTrainingMode, TrainingMode } from '../train/modes.js';

/** A commander argument parser: raw string -> value (throws InvalidArgumentError). */
export type ArgParser<T> = (value: string, previous?: T) => T;

/** Parses an integer in [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): ArgParser<number> {
  return (value) => {
    // decimal digits only: Number() would also take 0x10, 1e1 and 0b11
    const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}".`);
    if (n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}, got ${n}.` : `must be an integer from ${min} to ${max}, got ${n}.`);
    }
    return n;
  };
}

/** Parses a finite number in a range; `exclusiveMin` makes the lower bound strict. */
export function numberArg(min: number, max = Infinity, o: { exclusiveMin?: boolean; exclusiveMax?: boolean } = {}): ArgParser<number> {
  return (value) => {
    // decimal notation only (1e-3 is fine): Number() would also take 0x10 and 0b11
    const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}".`);
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

/** Sub-layer names `--adapter-points` takes (the old `attention_output`/`ffn_output` spellings too). */
const POINT_NAMES: Readonly<Record<string, SubLayerName>> = { attention: 'attention', ffn: 'ffn', attention_output: 'attention', ffn_output: 'ffn' };

/** Parses a comma-separated list of sub-layers for bottleneck adapters (`attention,ffn`). */
export function pointsArg(value: string): SubLayerName[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new InvalidArgumentError(`expected one or more of ${SUBLAYER_NAMES.join(', ')}.`);
  return [...new Set(parts.map((p) => {
    const n = POINT_NAMES[p];
    if (!n) throw new InvalidArgumentError(`unknown sub-layer "${p}" (sub-layers: ${SUBLAYER_NAMES.join(', ')}).`);
    return n;
  }))];
}

/** Parses a comma-separated list of projections (`query,value`; also `q,k,v`). */
export function rolesArg(value: string): LinearRole[] {
  const short: Record<string, LinearRole> = { q: 'query', k: 'key', v: 'value' };
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new InvalidArgumentError(`expected one or more of ${LINEAR_ROLES.join(', ')}.`);
  return [...new Set(parts.map((p) => {
    const r = short[p] ?? p;
    if (!(LINEAR_ROLES as readonly string[]).includes(r)) throw new InvalidArgumentError(`unknown projection "${p}" (projections: ${LINEAR_ROLES.join(', ')}).`);
    return r as LinearRole;
  }))];
}

/** The model flags of `adapterkit train`, as commander parses them. */
export interface ModeFlags {
  mode: string;
  /** An adapter method preset (`--method`). */
  method?: string;
  /** `--adapter-config`: a file, JSON text, or a preset name (adapterkit's or AdapterHub's). */
  adapterConfig?: string;
  adapterSize?: number;
  reductionFactor?: number;
  adapterActivation?: string;
  adapterInitStd?: number;
  leaveOut?: number[];
  adapterPoints?: SubLayerName[];
  loraR?: number;
  loraAlpha?: number;
  loraDropout?: number;
  targets?: LinearRole[];
  /** `--prefix-length`: prefix tuning's P. */
  prefixLength?: number;
  /** `--prompt-length`, `--prompt-init-text`, `--prompt-combine`: prompt tuning's P, initial text, place. */
  promptLength?: number;
  promptInitText?: string;
  promptCombine?: string;
  /** `--train-layer-norms` / `--no-train-layer-norms` (undefined: the method's default). */
  trainLayerNorms?: boolean;
  topK?: number;
}

/** Which method each adapter flag belongs to (`any`: every method). */
const METHOD_FLAGS: readonly [keyof ModeFlags, string, 'bottleneck' | 'lora' | 'lora/ia3' | 'prefix_tuning' | 'prompt_tuning' | 'any'][] = [
  ['adapterSize', '--adapter-size', 'bottleneck'], ['reductionFactor', '--reduction-factor', 'bottleneck'], ['adapterActivation', '--adapter-activation', 'bottleneck'],
  ['adapterInitStd', '--adapter-init-std', 'bottleneck'], ['adapterPoints', '--adapter-points', 'bottleneck'],
  ['loraR', '--lora-r', 'lora'], ['loraAlpha', '--lora-alpha', 'lora'], ['loraDropout', '--lora-dropout', 'lora'], ['targets', '--targets', 'lora/ia3'],
  ['prefixLength', '--prefix-length', 'prefix_tuning'],
  ['promptLength', '--prompt-length', 'prompt_tuning'], ['promptInitText', '--prompt-init-text', 'prompt_tuning'], ['promptCombine', '--prompt-combine', 'prompt_tuning'],
  ['leaveOut', '--leave-out', 'any'], ['trainLayerNorms', '--[no-]train-layer-norms', 'any'],
];

/**
 * Reads `--adapter-config`: JSON text, a JSON file (AdapterHub's adapter_config.json, its `config`
 * object, or adapterkit's config), or a preset name. `where` names the flag in messages.
 */
export function adapterConfigArg(text: string, where = '--adapter-config'): MethodConfig {
  const t = text.trim();
  let json: unknown;
  if (t.startsWith('{')) {
    try {
      json = JSON.parse(t);
    } catch (e) {
      fail('BAD_CONFIG', `${where}: not valid JSON (${(e as Error).message})`);
    }
  } else if (existsSync(t)) {
    try {
      json = JSON.parse(readFileSync(t, 'utf8'));
    } catch (e) {
      fail('BAD_FILE', `${where} ${t}: not a readable JSON file (${(e as Error).message})`);
    }
  } else return methodConfig(t);
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail('BAD_CONFIG', `${where}: expected a JSON object`);
  const o = json as Record<string, unknown>;
  if ('peft_type' in o) fail('BAD_CONFIG', `${where} takes AdapterHub or adapterkit configs; a PEFT adapter directory loads with eval/predict/serve`);
  if ('method' in o) return checkMethodConfig(o, where);
  return fromAdapterHubConfig('config' in o ? o.config : o, where);
}

/** A prompt-tuning adapter with `prompt_init: "from_string"` (`--prompt-init-text`) starts from its text's word embeddings: TaskModel's `adapterWeights`. */
export function promptStart(mode: TrainingMode, base: BaseModel): { adapterWeights?: Map<string, HostTensor<'float32'>> } {
  const c = mode.kind === 'adapters' ? mode.adapter : undefined;
  return c?.method === 'prompt_tuning' && c.prompt_init === 'from_string' ? { adapterWeights: promptFromText(c, base, 'adapter') } : {};
}

/**
 * Turns the model flags into a training mode; BAD_CONFIG when flags contradict each other or do
 * not belong to the chosen mode or method.
 */
export function modeFromFlags(f: ModeFlags): SingleTrainingMode {
  const given = METHOD_FLAGS.filter(([k]) => f[k] !== undefined);
  if (f.mode !== 'adapters') {
    const names = [...given.map(([, n]) => n), ...(f.method !== undefined ? ['--method'] : []), ...(f.adapterConfig !== undefined ? ['--adapter-config'] : [])];
    if (names.length) fail('BAD_CONFIG', `${names.join(', ')} only ${names.length > 1 ? 'apply' : 'applies'} to --mode adapters (the mode is ${f.mode})`);
  }
  if (f.mode !== 'top-k' && f.topK !== undefined) fail('BAD_CONFIG', `--top-k only applies to --mode top-k (the mode is ${f.mode})`);
  switch (f.mode) {
    case 'adapters':
      return { kind: 'adapters', adapter: adapterFromFlags(f, given) };
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

function adapterFromFlags(f: ModeFlags, given: typeof METHOD_FLAGS): MethodConfig {
  const common = { ...(f.leaveOut !== undefined ? { leave_out: f.leaveOut } : {}), ...(f.trainLayerNorms !== undefined ? { trainLayerNorms: f.trainLayerNorms } : {}) };
  if (f.adapterConfig !== undefined) {
    if (f.method !== undefined) fail('BAD_CONFIG', 'give either --method or --adapter-config, not both');
    const own = given.filter(([, , m]) => m !== 'any').map(([, n]) => n);
    if (own.length) fail('BAD_CONFIG', `${own.join(', ')} cannot change an --adapter-config; put ${own.length > 1 ? 'them' : 'it'} in the config`);
    const c = adapterConfigArg(f.adapterConfig);
    return Object.keys(common).length ? checkMethodConfig({ ...c, ...common }) : c;
  }
  const preset = f.method ?? 'paper';
  const method = methodConfig(preset).method;
  const wrong = given.filter(([, , m]) => m !== 'any' && !(m === method || (m === 'lora/ia3' && (method === 'lora' || method === 'ia3'))));
  if (wrong.length) fail('BAD_CONFIG', `${wrong.map(([, n]) => n).join(', ')} ${wrong.length > 1 ? 'do' : 'does'} not apply to --method ${preset} (a ${method} method)`);
  if (f.adapterSize !== undefined && f.reductionFactor !== undefined) fail('BAD_CONFIG', 'give either --adapter-size or --reduction-factor, not both');
  const o: Record<string, unknown> = { ...common };
  if (method === 'bottleneck') {
    if (f.adapterSize !== undefined) o.size = f.adapterSize;
    if (f.reductionFactor !== undefined) o.reduction_factor = f.reductionFactor;
    if (f.adapterActivation !== undefined) o.non_linearity = f.adapterActivation;
    if (f.adapterInitStd !== undefined) {
      o.initStd = f.adapterInitStd;
      if (preset !== 'paper') o.init_weights = 'houlsby';
    }
    if (f.adapterPoints !== undefined) {
      o.mh_adapter = f.adapterPoints.includes('attention');
      o.output_adapter = f.adapterPoints.includes('ffn');
    }
  } else if (method === 'lora') {
    if (f.loraR !== undefined) o.r = f.loraR;
    if (f.loraAlpha !== undefined) o.alpha = f.loraAlpha;
    if (f.loraDropout !== undefined) o.dropout = f.loraDropout;
    if (f.targets !== undefined) {
      const m = attnMatrices(f.targets);
      Object.assign(o, {
        selfattn_lora: m.length > 0, attn_matrices: m.length ? m : ['q', 'v'], attentionOutputLora: f.targets.includes('attention_output'),
        intermediate_lora: f.targets.includes('intermediate'), output_lora: f.targets.includes('output'),
      });
    }
  } else if (method === 'prefix_tuning') {
    if (f.prefixLength !== undefined) o.prefix_length = f.prefixLength;
  } else if (method === 'prompt_tuning') {
    if (f.promptLength !== undefined) o.prompt_length = f.promptLength;
    if (f.promptInitText !== undefined) Object.assign(o, { prompt_init: 'from_string', prompt_init_text: f.promptInitText });
    if (f.promptCombine !== undefined) o.combine = f.promptCombine;
  } else if (f.targets !== undefined) {
    if (f.targets.includes('attention_output')) fail('BAD_CONFIG', '--targets: IA³ scales the attention output only at its input (--method ia3-peft)');
    const m = attnMatrices(f.targets);
    Object.assign(o, { selfattn_lora: m.length > 0, attn_matrices: m.length ? m : ['k', 'v'], intermediate_lora: f.targets.includes('intermediate'), output_lora: f.targets.includes('output'), feedforward: [] });
  }
  return methodConfig(preset, o);
}

function attnMatrices(roles: readonly LinearRole[]): ('q' | 'k' | 'v')[] {
  return (['q', 'k', 'v'] as const).filter((x) => roles.includes(({ q: 'query', k: 'key', v: 'value' } as const)[x]));
}

/** Makes a task name out of a dataset or file name: letters, digits, _ and - only. */
export function sanitizeTaskName(raw: string): string {
  const s = raw.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'task';
}

/** One `--adapter name=spec` of `adapterkit train`: a new adapter of a setup. */
export interface AdapterArg {
  readonly name: string;
  /** A preset with options (`lora:r=4,alpha=8`), JSON text or an adapter_config.json path. */
  readonly spec: string;
}

/** One `--with name=dir`: an adapter of a saved task, loaded into the setup (frozen unless --train-adapter names it). */
export interface WithArg {
  readonly name: string;
  readonly dir: string;
}

function nameValue(value: string, what: string, example: string): { name: string; rest: string } {
  const i = value.indexOf('=');
  const name = i < 0 ? '' : value.slice(0, i).trim();
  const rest = i < 0 ? '' : value.slice(i + 1).trim();
  if (!name || !rest) throw new InvalidArgumentError(`expected <name>=<${what}> such as ${example}, got "${value}".`);
  if (!ADAPTER_NAME.test(name)) throw new InvalidArgumentError(`adapter name "${name}" may only contain letters, digits, _ and - (it appears in tensor names and file keys).`);
  return { name, rest };
}

/** Parses a repeatable `--adapter name=method[:options]`. */
export function adapterArg(value: string, previous: readonly AdapterArg[] = []): AdapterArg[] {
  const { name, rest } = nameValue(value, 'method[:options]', 'task=lora:r=4,alpha=8');
  return [...previous, { name, spec: rest }];
}

/** Parses a repeatable `--with name=dir`. */
export function withArg(value: string, previous: readonly WithArg[] = []): WithArg[] {
  const { name, rest } = nameValue(value, 'task-dir', 'lang=runs/lang-pfeiffer/best');
  return [...previous, { name, dir: rest }];
}

/**
 * Reads `--fusion-config`: a preset name (`dynamic`, `static`), JSON text of AdapterHub's
 * AdapterFusionConfig fields (over the dynamic preset), or a JSON file (AdapterHub's
 * `adapter_fusion_config.json` or its `config` object).
 */
export function fusionConfigArg(text: string, where = '--fusion-config'): FusionConfig {
  const t = text.trim();
  let json: unknown;
  if (t.startsWith('{')) {
    try {
      json = JSON.parse(t);
    } catch (e) {
      fail('BAD_CONFIG', `${where}: not valid JSON (${(e as Error).message})`);
    }
  } else if (existsSync(t)) {
    try {
      json = JSON.parse(readFileSync(t, 'utf8'));
    } catch (e) {
      fail('BAD_FILE', `${where} ${t}: not a readable JSON file (${(e as Error).message})`);
    }
  } else return fusionConfig(t, where);
  const o = json as Record<string, unknown> | null;
  return fusionConfig(o && typeof o === 'object' && !Array.isArray(o) && 'config' in o ? o.config : o, where);
}

/** Collects a repeatable flag's values. */
export function listArg(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

/** Parses a repeatable, comma-separated `--train-adapter a,b`. */
export function namesArg(value: string, previous: readonly string[] = []): string[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new InvalidArgumentError(`expected adapter names such as task or lang,task, got "${value}".`);
  for (const p of parts) if (!ADAPTER_NAME.test(p)) throw new InvalidArgumentError(`"${p}" is not an adapter name (letters, digits, _ and -).`);
  return [...new Set([...previous, ...parts])];
}

/** Parses `--adapter-drop n` (static: no adapters in the first n layers) or `robust:n` (n drawn from 0..n per training batch). */
export function adapterDropArg(value: string): AdapterDrop {
  const m = /^\s*(?:(static|robust):)?\s*(\d+)\s*$/.exec(value);
  if (!m) throw new InvalidArgumentError(`expected n (no adapters in the first n layers) or robust:n (n drawn from 0..n per training batch), got "${value}".`);
  const n = Number(m[2]);
  return m[1] === 'robust' ? { kind: 'robust', maxLayers: n } : { kind: 'static', layers: n };
}

/** Splits `a=1,b=[q,v],c=x` at the commas outside brackets. */
function splitOptions(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

/** An option value: a number, true/false, null, a bracketed list of such values or words, or a word. */
function optionValue(v: string): unknown {
  if (v.startsWith('[')) {
    if (!v.endsWith(']')) fail('BAD_CONFIG', `unclosed list ${JSON.stringify(v)}`);
    return splitOptions(v.slice(1, -1)).map(optionValue);
  }
  if (/^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  if (v === 'null') return null;
  if (v !== '' && Number.isFinite(Number(v))) return Number(v);
  return v;
}

/**
 * The config of one `--adapter name=spec`: `preset[:field=value,…]` with AdapterHub's field names
 * (`lora:r=4,alpha=8`, `pfeiffer:reduction_factor=8,leave_out=[0]`), JSON text, or an
 * adapter_config.json file. BAD_CONFIG naming the flag.
 */
export function adapterSpecConfig(a: AdapterArg): MethodConfig {
  const where = `--adapter ${a.name}=${a.spec}`;
  const t = a.spec;
  if (t.startsWith('{') || existsSync(t)) return adapterConfigArg(t, where);
  const colon = t.indexOf(':');
  const preset = (colon < 0 ? t : t.slice(0, colon)).trim();
  const overrides: Record<string, unknown> = {};
  for (const kv of colon < 0 ? [] : splitOptions(t.slice(colon + 1))) {
    const eq = kv.indexOf('=');
    if (eq <= 0) fail('BAD_CONFIG', `${where}: expected field=value, got ${JSON.stringify(kv)} (e.g. lora:r=4,alpha=8)`);
    const key = kv.slice(0, eq).trim();
    if (key in overrides) fail('BAD_CONFIG', `${where}: ${key} is given twice`);
    overrides[key] = optionValue(kv.slice(eq + 1).trim());
  }
  try {
    return methodConfig(preset, overrides);
  } catch (e) {
    if (e instanceof AdapterkitError) fail(e.code, `${where}: ${e.message}`);
    throw e;
  }
}

/** The setup flags of `adapterkit train`, as commander parses them. */
export interface SetupFlags {
  adapter?: AdapterArg[];
  with?: WithArg[];
  compose?: string;
  trainAdapter?: string[];
  adapterDrop?: AdapterDrop;
  /** `--fuse a,b,c`: the composition Fuse(a, b, c). */
  fuse?: string[];
  /** `--fusion-config`: the config of every fusion the composition's Fuse blocks run (default dynamic). */
  fusionConfig?: FusionConfig;
  /** `--fusion-from <dir>`: fusion folders to start fusions from (config and tensors). */
  fusionFrom?: string[];
}

/** The Fuse blocks of a composition, outer first. */
function fuseBlocks(c: Block | string): Extract<Block, { type: 'Fuse' }>[] {
  if (typeof c === 'string') return [];
  return [...(c.type === 'Fuse' ? [c] : []), ...c.children.flatMap(fuseBlocks)];
}

/** Whether any setup flag is given. */
export function hasSetupFlags(f: SetupFlags): boolean {
  return f.adapter !== undefined || f.with !== undefined || f.compose !== undefined || f.trainAdapter !== undefined || f.adapterDrop !== undefined || f.fuse !== undefined || f.fusionConfig !== undefined || f.fusionFrom !== undefined;
}

/** The single-adapter flags a setup cannot take (each adapter's options go in its --adapter spec). */
export function refuseSingleAdapterFlags(f: ModeFlags & SetupFlags): void {
  if (f.adapter === undefined && f.with === undefined) return;
  const given = [...METHOD_FLAGS.filter(([k]) => f[k] !== undefined).map(([, n]) => n), ...(f.method !== undefined ? ['--method'] : []), ...(f.adapterConfig !== undefined ? ['--adapter-config'] : [])];
  if (given.length) {
    fail('BAD_CONFIG', `${given.join(', ')} configure${given.length > 1 ? '' : 's'} the single adapter of --method; with --adapter/--with give each adapter's options in its spec, e.g. --adapter task=lora:r=16,leave_out=[0]`);
  }
}

/** What a setup needs from disk: the --with adapters, loaded by the caller once the base is loaded. */
export interface SetupPlan {
  /** New adapters, in command-line order. */
  readonly fresh: readonly NamedAdapter[];
  /** Adapters to load (in order), with whether they train. */
  readonly loaded: readonly (WithArg & { readonly trainable: boolean })[];
  readonly active: Block;
  readonly adapterDrop?: AdapterDrop;
  /** The AdapterFusion layers the composition's Fuse blocks run (new, trained). */
  readonly fusions: readonly NamedFusion[];
  /** Fusion folders to start fusions from (read once the base is loaded). */
  readonly fusionFrom?: readonly string[];
  /** Whether --fusion-config was given (a started fusion brings its own). */
  readonly fusionConfigGiven?: boolean;
}

/**
 * Checks the setup flags against each other before anything loads: names defined once, the
 * composition parses and uses only defined adapters, --train-adapter names defined ones, every
 * new adapter trains. A composition whose outputs depend on where an example sits in the batch
 * (BatchSplit, Split) or that gives several outputs per example (Parallel) is refused: a
 * single-task run has one head and one output per example. `single` is the --method adapter,
 * used for `--adapter-drop` alone (a setup of one adapter named `adapter`).
 */
export function setupFromFlags(f: SetupFlags, single: () => MethodConfig): SetupPlan {
  if (f.adapter === undefined && f.with === undefined) {
    const given = [...(f.compose !== undefined ? ['--compose'] : []), ...(f.trainAdapter !== undefined ? ['--train-adapter'] : []), ...(f.fuse !== undefined ? ['--fuse'] : [])];
    if (given.length) fail('BAD_CONFIG', `${given.join(' and ')} name${given.length > 1 ? '' : 's'} adapters: define them with --adapter <name>=<method> or --with <name>=<task-dir>`);
  }
  const fresh: NamedAdapter[] = [];
  const names: string[] = [];
  const define = (name: string, flag: string) => {
    if (names.includes(name)) fail('BAD_CONFIG', `adapter ${name} is defined twice (${flag}); give every --adapter and --with its own name`);
    names.push(name);
  };
  for (const w of f.with ?? []) define(w.name, `--with ${w.name}=${w.dir}`);
  const given = f.adapter ?? (f.with === undefined ? [{ name: 'adapter', spec: '' }] : []);
  for (const a of given) {
    define(a.name, `--adapter ${a.name}=${a.spec}`);
    fresh.push({ name: a.name, config: a.spec === '' ? single() : adapterSpecConfig(a) });
  }
  const train = f.trainAdapter;
  for (const t of train ?? []) if (!names.includes(t)) fail('BAD_CONFIG', `--train-adapter ${t}: no --adapter or --with defines adapter ${t} (defined: ${names.join(', ')})`);
  const trains = (name: string, isNew: boolean) => (train ? train.includes(name) : isNew);
  for (const a of fresh) {
    if (!trains(a.name, true)) fail('BAD_CONFIG', `adapter ${a.name} is new (--adapter) but --train-adapter leaves it out: it would stay at its initialisation; train it, or load a trained one with --with ${a.name}=<task-dir>`);
  }
  let active: Block;
  if (f.fuse !== undefined && f.compose !== undefined) fail('BAD_CONFIG', `--fuse ${f.fuse.join(',')} is short for --compose 'Fuse(${f.fuse.join(', ')})'; give one of them (a Fuse inside a Stack: --compose 'Stack(lang, Fuse(a, b))')`);
  if (f.fuse !== undefined) {
    if (f.fuse.length < 2) fail('BAD_CONFIG', `--fuse ${f.fuse.join(',')}: AdapterFusion fuses two or more adapters, e.g. --fuse a,b`);
    active = checkComposition({ type: 'Fuse', children: f.fuse });
  } else if (f.compose !== undefined) {
    try {
      active = parseComposition(f.compose);
    } catch (e) {
      if (e instanceof AdapterkitError) fail(e.code, `--compose: ${e.message}`);
      throw e;
    }
  } else active = checkComposition({ type: 'Stack', children: names });
  const used = compositionNames(active);
  for (const n of used) if (!names.includes(n)) fail('BAD_CONFIG', `--compose ${formatComposition(active)} uses adapter ${n}, which no --adapter or --with defines (defined: ${names.join(', ')})`);
  for (const n of names) {
    if (!used.includes(n) && trains(n, fresh.some((a) => a.name === n))) fail('BAD_CONFIG', `adapter ${n} trains but --compose ${formatComposition(active)} does not use it: add it to the composition or drop it`);
  }
  const issue = perInputIssue(active);
  if (issue) fail('BAD_CONFIG', `--compose ${formatComposition(active)}: ${issue}; a single-task run trains one head with one output per example (use Stack or Average)`);
  const fuses = fuseBlocks(active);
  for (const [flag, given] of [['--fusion-config', f.fusionConfig], ['--fusion-from', f.fusionFrom]] as const) {
    if (given !== undefined && fuses.length === 0) fail('BAD_CONFIG', `${flag} configures AdapterFusion, but ${formatComposition(active)} has no Fuse block (use --fuse a,b or --compose 'Fuse(a, b)')`);
  }
  const fusions = new Map<string, NamedFusion>();
  for (const b of fuses) {
    const name = fuseName(b);
    const adapters = fusedAdapters(b);
    const seen = fusions.get(name);
    if (seen && seen.adapters.join(',') !== adapters.join(',')) fail('BAD_CONFIG', `--compose ${formatComposition(active)}: two Fuse blocks named ${name} fuse different adapters`);
    fusions.set(name, { name, adapters, config: f.fusionConfig ?? fusionConfig(DEFAULT_FUSION_PRESET), trainable: true });
  }
  return {
    fusions: [...fusions.values()], ...(f.fusionFrom ? { fusionFrom: f.fusionFrom } : {}), ...(f.fusionConfig ? { fusionConfigGiven: true } : {}),
    fresh: fresh.map((a) => ({ ...a, trainable: true })),
    loaded: (f.with ?? []).map((w) => ({ ...w, trainable: trains(w.name, false) })),
    active,
    ...(f.adapterDrop ? { adapterDrop: f.adapterDrop } : {}),
  };
}
