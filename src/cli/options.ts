/**
 * Shared option parsing for the CLI: number parsers with range checks (commander argument
 * parsers, so a bad value fails with the option named and exit code 2), and the mapping from the
 * model flags of `adapterkit train` (mode, adapter method and its options) to a {@link SingleTrainingMode}.
 */
import { InvalidArgumentError } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { fail } from '../errors.js';
import { checkMethodConfig, fromAdapterHubConfig, methodConfig, type MethodConfig } from '../adapters/methods/index.js';
import { LINEAR_ROLES, SUBLAYER_NAMES, type LinearRole, type SubLayerName } from '../models/sites.js';
import type { SingleTrainingMode } from '../train/modes.js';

/** A commander argument parser: raw string -> value (throws InvalidArgumentError). */
export type ArgParser<T> = (value: string, previous?: T) => T;

/** Parses an integer in [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): ArgParser<number> {
  return (value) => {
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}".`);
    if (n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}, got ${n}.` : `must be an integer from ${min} to ${max}, got ${n}.`);
    }
    return n;
  };
}

/** Parses a finite number in a range; `exclusiveMin` makes the lower bound strict. */
export function numberArg(min: number, max = Infinity, o: { exclusiveMin?: boolean; exclusiveMax?: boolean } = {}): ArgParser<number> {
  return (value) => {
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}".`);
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
  /** `--train-layer-norms` / `--no-train-layer-norms` (undefined: the method's default). */
  trainLayerNorms?: boolean;
  topK?: number;
}

/** Which method each adapter flag belongs to (`any`: every method). */
const METHOD_FLAGS: readonly [keyof ModeFlags, string, 'bottleneck' | 'lora' | 'lora/ia3' | 'any'][] = [
  ['adapterSize', '--adapter-size', 'bottleneck'], ['reductionFactor', '--reduction-factor', 'bottleneck'], ['adapterActivation', '--adapter-activation', 'bottleneck'],
  ['adapterInitStd', '--adapter-init-std', 'bottleneck'], ['adapterPoints', '--adapter-points', 'bottleneck'],
  ['loraR', '--lora-r', 'lora'], ['loraAlpha', '--lora-alpha', 'lora'], ['loraDropout', '--lora-dropout', 'lora'], ['targets', '--targets', 'lora/ia3'],
  ['leaveOut', '--leave-out', 'any'], ['trainLayerNorms', '--[no-]train-layer-norms', 'any'],
];

/** Reads `--adapter-config`: JSON text, a JSON file (AdapterHub's adapter_config.json, its `config` object, or adapterkit's config), or a preset name. */
export function adapterConfigArg(text: string): MethodConfig {
  const t = text.trim();
  let json: unknown;
  if (t.startsWith('{')) {
    try {
      json = JSON.parse(t);
    } catch (e) {
      fail('BAD_CONFIG', `--adapter-config: not valid JSON (${(e as Error).message})`);
    }
  } else if (existsSync(t)) {
    try {
      json = JSON.parse(readFileSync(t, 'utf8'));
    } catch (e) {
      fail('BAD_FILE', `--adapter-config ${t}: not a readable JSON file (${(e as Error).message})`);
    }
  } else return methodConfig(t);
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail('BAD_CONFIG', '--adapter-config: expected a JSON object');
  const o = json as Record<string, unknown>;
  if ('peft_type' in o) fail('BAD_CONFIG', '--adapter-config takes AdapterHub or adapterkit configs; a PEFT adapter directory loads with eval/predict/serve');
  if ('method' in o) return checkMethodConfig(o, '--adapter-config');
  return fromAdapterHubConfig('config' in o ? o.config : o, '--adapter-config');
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
