/**
 * Parameterized hypercomplex multiplication (PHM) layers: Compacter's replacement of a bottleneck
 * adapter's down- and up-projections (Mahabadi et al. 2021), with AdapterHub's `BnConfig` PHM
 * fields and file layout (adapters @ 88f18eb, `methods/modeling.py` `PHMLayer`, `init_W`,
 * `init_shared_parameters`; `model_mixin.py` `_add_adapter_weights`).
 *
 * A PHM layer of `in` → `out` features with n = `phm_dim` computes `y = x H + b` with
 *
 *     H = Σ_k R_k ⊗ W_k        R: [n, n, n] (the "rule"), W: [n, in/n, out/n], H: [in, out]
 *     H[i·a + p, j·b + q] = Σ_k R[k, i, j] · W[k, p, q]        a = in/n, b = out/n
 *
 * `factorized_phm_W`: W_k = W_left_k W_right_k (W_left [n, a, r], W_right [n, r, b], r = `phm_rank`);
 * `factorized_phm_rule`: R_k = R_left_k R_right_k (R_left [n, n, 1], R_right [n, 1, n]);
 * `shared_phm_rule`: one R for every PHM layer of the adapter (both projections, every layer);
 * `shared_W_phm`: one W (per projection direction) for every layer. Shared tensors live in
 * AdapterHub's `<model>.shared_parameters.<adapter>.*` (`phm_rule`, `W_down_left`, …).
 *
 * The graph builds H from the factors with Reshape, MatMul and Transpose (no op of its own):
 *
 *     R [n, n·n] → Rᵀ [n·n, n];  W [n, a·b];  Rᵀ W [n·n, a·b] → [n, n, a, b] (i, j, p, q)
 *     → transpose to (i, p, j, q) [n, a, n, b] → H [n·a, n·b]
 *
 * with leading `[B]` axes in a mixed-task batch (each example's task has its own factors).
 * Internal tensors are stored as matrices (W_left [n·a, r], W_right [n·r, b], W [n·a, b], rule
 * [n·n, n], rule_left [n·n, 1], rule_right [n, n]): the same bytes as the files' rank-3 tensors,
 * and the row layout that mixed-task stacks handle.
 */
import { fail } from '../../errors.js';
import { add, matmul, reshape, transpose, type Dim, type Value } from '../../engine/index.js';
import type { TensorInit } from '../method.js';
import { checkBool, checkNumber, checkOneOf, type RawConfig } from './config-checks.js';

/** AdapterHub's W initialisations (`hypercomplex_nonlinearity`). */
export const PHM_W_INITS = ['glorot-uniform', 'glorot-normal', 'normal', 'phm'] as const;
/** AdapterHub's rule initialisations (`phm_c_init`). */
export const PHM_C_INITS = ['normal', 'uniform'] as const;

/** AdapterHub's PHM fields of a bottleneck config (used when `phm_layer` is true). */
export interface PhmFields {
  readonly phm_layer: boolean;
  /** n: the number of Kronecker terms and the size of the rule matrices. */
  readonly phm_dim: number;
  readonly factorized_phm_W: boolean;
  readonly shared_W_phm: boolean;
  readonly shared_phm_rule: boolean;
  readonly factorized_phm_rule: boolean;
  readonly phm_c_init: (typeof PHM_C_INITS)[number];
  /** std of the "normal" inits of W and of a shared rule. */
  readonly phm_init_range: number;
  /** Whether the rule trains (adapterkit trains every adapter tensor: only true is implemented). */
  readonly learn_phm: boolean;
  readonly hypercomplex_nonlinearity: (typeof PHM_W_INITS)[number];
  readonly phm_rank: number;
  readonly phm_bias: boolean;
}

/** AdapterHub's BnConfig defaults of the PHM fields, with the PHM layer on. */
export const PHM_DEFAULTS: PhmFields = {
  phm_layer: true, phm_dim: 4, factorized_phm_W: true, shared_W_phm: false, shared_phm_rule: true, factorized_phm_rule: false,
  phm_c_init: 'normal', phm_init_range: 0.0001, learn_phm: true, hypercomplex_nonlinearity: 'glorot-uniform', phm_rank: 1, phm_bias: true,
};

/** The PHM field names, in AdapterHub's order. */
export const PHM_FIELDS = Object.keys(PHM_DEFAULTS) as readonly (keyof PhmFields)[];

/** The PHM fields of a config when its PHM layer is on, else undefined. */
export function phmOf(c: Partial<PhmFields>): PhmFields | undefined {
  return c.phm_layer ? (c as PhmFields) : undefined;
}

/**
 * Checks the PHM fields of a raw bottleneck config and returns them with AdapterHub's defaults
 * filled in (undefined without `phm_layer`); BAD_CONFIG naming the field.
 */
export function checkPhmFields(raw: RawConfig, where: string): PhmFields | undefined {
  if (raw.phm_layer === undefined || raw.phm_layer === false) {
    const stray = PHM_FIELDS.find((f) => f !== 'phm_layer' && raw[f] !== undefined);
    if (stray) fail('BAD_CONFIG', `${where}: ${stray} applies only with phm_layer: true (Compacter's PHM layers)`);
    return undefined;
  }
  const p = { ...PHM_DEFAULTS, ...Object.fromEntries(PHM_FIELDS.filter((f) => raw[f] !== undefined).map((f) => [f, raw[f]])) } as RawConfig;
  for (const f of ['phm_layer', 'factorized_phm_W', 'shared_W_phm', 'shared_phm_rule', 'factorized_phm_rule', 'learn_phm', 'phm_bias'] as const) checkBool(p, f, where);
  checkNumber(p, 'phm_dim', where, { min: 1, integer: true });
  checkNumber(p, 'phm_rank', where, { min: 1, integer: true });
  checkNumber(p, 'phm_init_range', where, { min: 0, exclusiveMin: true });
  checkOneOf(p, 'phm_c_init', PHM_C_INITS, where);
  checkOneOf(p, 'hypercomplex_nonlinearity', PHM_W_INITS, where);
  if (p.learn_phm === false) fail('BAD_CONFIG', `${where}: learn_phm false (a frozen PHM rule) is not implemented: adapterkit trains every tensor of an adapter`);
  if (p.shared_W_phm === true && p.factorized_phm_W === false) {
    fail('BAD_CONFIG', `${where}: shared_W_phm with factorized_phm_W false is not implemented (AdapterHub's init_shared_parameters fails on it, so no file could load)`);
  }
  if (raw.init_weights !== undefined && raw.init_weights !== 'bert') {
    fail('BAD_CONFIG', `${where}: init_weights ${JSON.stringify(raw.init_weights)} is not defined for PHM layers (AdapterHub's fails on a PHMLayer's missing .weight); use "bert", which leaves the PHM init alone`);
  }
  return Object.freeze(p as unknown as PhmFields);
}

/** The two projections of a bottleneck. */
export type PhmPosition = 'down' | 'up';

/** One PHM tensor: internal parameter name, internal (matrix) shape, file shape, init, whether it is shared by the adapter's sites. */
export interface PhmTensor {
  /** `down.W_left` at a site, or `phm_rule` / `W_down_left` among the shared ones. */
  readonly param: string;
  readonly shape: readonly number[];
  readonly fileShape: readonly number[];
  /** The file's parameter name (`W_left`, `b`, `phm_rule`, `W_down_left`…). */
  readonly fileParam: string;
  readonly init: TensorInit;
}

/** Glorot (Xavier) init of each [rows, cols] slice, as AdapterHub's init_W draws it (or N(0, phm_init_range)). */
function wInit(p: PhmFields, rows: number, cols: number): TensorInit {
  switch (p.hypercomplex_nonlinearity) {
    case 'glorot-uniform':
      return { kind: 'uniform', bound: Math.sqrt(6 / (rows + cols)) };
    case 'normal':
      return { kind: 'normal', std: p.phm_init_range };
    default: // 'glorot-normal', and 'phm', which AdapterHub initialises as glorot-normal
      return { kind: 'normal', std: Math.sqrt(2 / (rows + cols)) };
  }
}

/** The W factors of one projection `in` → `out` (site tensors, or the shared `W_<pos>_*` ones). */
function wTensors(p: PhmFields, inF: number, outF: number, name: (file: string) => string, fileName: (file: string) => string): PhmTensor[] {
  const n = p.phm_dim;
  const a = inF / n;
  const b = outF / n;
  const r = p.phm_rank;
  if (!p.factorized_phm_W) return [{ param: name('W'), fileParam: fileName('W'), shape: [n * a, b], fileShape: [n, a, b], init: wInit(p, a, b) }];
  return [
    { param: name('W_left'), fileParam: fileName('W_left'), shape: [n * a, r], fileShape: [n, a, r], init: wInit(p, a, r) },
    { param: name('W_right'), fileParam: fileName('W_right'), shape: [n * r, b], fileShape: [n, r, b], init: wInit(p, r, b) },
  ];
}

/** The rule tensors (per layer when not shared: N(0, 0.01) or U(±0.01); shared: N(0, phm_init_range) or U(±1), as AdapterHub). */
function ruleTensors(p: PhmFields, shared: boolean, prefix: string): PhmTensor[] {
  const n = p.phm_dim;
  const init: TensorInit = p.phm_c_init === 'normal' ? { kind: 'normal', std: shared ? p.phm_init_range : 0.01 } : { kind: 'uniform', bound: shared ? 1 : 0.01 };
  if (!p.factorized_phm_rule) return [{ param: `${prefix}phm_rule`, fileParam: 'phm_rule', shape: [n * n, n], fileShape: [n, n, n], init }];
  return [
    { param: `${prefix}phm_rule_left`, fileParam: 'phm_rule_left', shape: [n * n, 1], fileShape: [n, n, 1], init },
    { param: `${prefix}phm_rule_right`, fileParam: 'phm_rule_right', shape: [n, n], fileShape: [n, 1, n], init },
  ];
}

/** The tensors of one PHM projection at a site (`in` → `out`), in AdapterHub's parameter order. */
export function phmSiteTensors(p: PhmFields, pos: PhmPosition, inF: number, outF: number): PhmTensor[] {
  const out: PhmTensor[] = [];
  if (!p.shared_phm_rule) out.push(...ruleTensors(p, false, `${pos}.`));
  if (!p.shared_W_phm) out.push(...wTensors(p, inF, outF, (f) => `${pos}.${f}`, (f) => f));
  if (p.phm_bias) out.push({ param: `${pos}.bias`, fileParam: 'b', shape: [outF], fileShape: [outF], init: { kind: 'zeros' } });
  return out;
}

/** The tensors an adapter's PHM layers share (hidden width `d`, bottleneck `m`), in init_shared_parameters' order. */
export function phmSharedTensors(p: PhmFields, d: number, m: number): PhmTensor[] {
  const out: PhmTensor[] = [];
  if (p.shared_W_phm) {
    out.push(...wTensors(p, d, m, (f) => f.replace('W', 'W_down'), (f) => f.replace('W', 'W_down')));
    out.push(...wTensors(p, m, d, (f) => f.replace('W', 'W_up'), (f) => f.replace('W', 'W_up')));
  }
  if (p.shared_phm_rule) out.push(...ruleTensors(p, true, ''));
  return out;
}

/**
 * Checks that a projection `in` → `out` fits PHM layers of `phm_dim` (AdapterHub asserts
 * divisibility); BAD_CONFIG naming the field.
 */
export function checkPhmWidths(p: PhmFields, inF: number, outF: number, where: string): void {
  for (const [what, w] of [['input', inF], ['output', outF]] as const) {
    if (w % p.phm_dim !== 0) fail('BAD_CONFIG', `${where}: phm_dim ${p.phm_dim} does not divide the PHM layer's ${what} width ${w} (pick a phm_dim or reduction_factor that does)`);
  }
}

/**
 * The PHM weight H [in, out] from its factors' values (`full`, or `left` and `right`), in the
 * internal matrix layouts; gathered factors ([B, …], a mixed-task batch) give [B, in, out].
 */
export function phmWeight(p: PhmFields, inF: number, outF: number, rule: { full?: Value; left?: Value; right?: Value }, w: { full?: Value; left?: Value; right?: Value }): Value {
  const n = p.phm_dim;
  const a = inF / n;
  const b = outF / n;
  const r = p.phm_rank;
  const any = (rule.full ?? rule.left) as Value;
  const lead: Dim[] = any.shape.slice(0, any.rank - 2) as Dim[];
  const L = lead.length;
  const R = rule.full
    ? reshape(rule.full, [...lead, n, n * n]) // [.., k, (i, j)]
    : reshape(matmul(reshape(rule.left as Value, [...lead, n, n, 1]), reshape(rule.right as Value, [...lead, n, 1, n])), [...lead, n, n * n]);
  const W = w.full
    ? reshape(w.full, [...lead, n, a * b]) // [.., k, (p, q)]
    : reshape(matmul(reshape(w.left as Value, [...lead, n, a, r]), reshape(w.right as Value, [...lead, n, r, b])), [...lead, n, a * b]);
  const leadAxes = Array.from({ length: L }, (_, i) => i);
  const Rt = transpose(R, [...leadAxes, L + 1, L]); // [.., (i, j), k]
  const terms = reshape(matmul(Rt, W), [...lead, n, n, a, b]); // Σ_k R[k, i, j] W[k, p, q]: [.., i, j, p, q]
  const H = transpose(terms, [...leadAxes, L, L + 2, L + 1, L + 3]); // [.., i, p, j, q]
  return reshape(H, [...lead, n * a, n * b]); // [.., in, out]
}

/** `x H + b` of a PHM layer, x [B, T, in]. */
export function phmLinear(x: Value, H: Value, bias: Value | undefined): Value {
  const y = matmul(x, H); // [B, T, out]
  return bias ? add(y, bias) : y;
}
