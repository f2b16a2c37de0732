/**
 * Merging adapters into one adapter (parameter averaging; AdapterHub `average_adapter`, PEFT
 * `add_weighted_adapter`):
 *
 * - `linear`: the weighted average Σ w_i θ_i of every tensor (weights normalised to sum 1, equal
 *   by default) for adapters of the same method and structure and the same shapes; bottleneck,
 *   LoRA (A and B averaged separately, as AdapterHub's "linear") and IA³.
 * - `ties` (Yadav et al. 2023, "TIES-Merging"), LoRA: per projection, the task vectors
 *   τ_i = (α_i / r_i) A_i B_i are trimmed to their `density` share of largest magnitudes
 *   (k = ⌊density · n⌋ entries), the sign of Σ_i τ̂_i is elected (+ where it is ≥ 0), and the
 *   entries agreeing with it are summed with weights w_i (default 1) and divided by their count
 *   (at least 1) — PEFT's `ties` in `utils/merge_utils.py`, applied to ΔW as its `ties_svd`.
 * - `dare` (Yu et al. 2024, "Language Models are Super Mario"), LoRA: each entry of each τ_i is
 *   dropped with probability 1 − `density` and the kept ones rescaled by 1 / density (seeded),
 *   then Σ_i w_i τ̃_i (weights default 1: task arithmetic with λ = 1).
 *
 * TIES and DARE give a full matrix ΔW per projection; it is saved as a LoRA of rank `rank`
 * (default: the largest input rank; at most min(in, out), which is exact) with alpha = rank, from
 * the best rank-k approximation (Eckart–Young: ΔW projected on the top eigenvectors of ΔW ΔWᵀ, in
 * float64), and the share of ΔW's Frobenius norm the truncation loses is reported.
 */
import { fail } from '../errors.js';
import { f32, type HostTensor } from '../engine/index.js';
import type { Encoder } from '../models/encoder.js';
import { Rng } from '../util/random.js';
import { checkMethodConfig, methodOf, type LoraConfig, type MethodConfig } from './methods/index.js';
import { adapterTensorName, parseAdapterTensorName, renameAdapterTensor } from './names.js';

/** Merge methods. */
export const MERGE_METHODS = ['linear', 'ties', 'dare'] as const;
/** One of {@link MERGE_METHODS}. */
export type MergeMethod = (typeof MERGE_METHODS)[number];

/** Options of {@link mergeAdapters}. */
export interface MergeOptions {
  readonly method: MergeMethod;
  /** One weight per adapter (linear: normalised; ties, dare: as given, default 1). */
  readonly weights?: readonly number[];
  /** TIES and DARE: the share of each task vector kept, in (0, 1]. */
  readonly density?: number;
  /** TIES and DARE: the rank of the merged LoRA (default the largest input rank). */
  readonly rank?: number;
  /** DARE: seed of the drop masks (default 0). */
  readonly seed?: number;
}

/** One adapter to merge: its config and its tensors under internal names with `name`. */
export interface MergeInput {
  readonly name: string;
  readonly config: MethodConfig;
  readonly tensors: ReadonlyMap<string, HostTensor<'float32'>>;
}

/** The merged adapter: config, tensors under `outName`, and notes (what was lost, what was assumed). */
export interface MergedAdapter {
  readonly config: MethodConfig;
  readonly tensors: Map<string, HostTensor<'float32'>>;
  readonly notes: string[];
}

/** The weights of a merge: checked, defaulted, normalised for linear. */
export function mergeWeights(n: number, o: Pick<MergeOptions, 'method' | 'weights'>): number[] {
  const w = o.weights ? [...o.weights] : Array.from({ length: n }, () => (o.method === 'linear' ? 1 / n : 1));
  if (w.length !== n) fail('BAD_CONFIG', `merge: ${w.length} weights for ${n} adapters`);
  if (w.some((x) => !Number.isFinite(x))) fail('BAD_CONFIG', `merge: weights must be finite numbers, got ${JSON.stringify(o.weights)}`);
  if (o.method !== 'linear') return w;
  const sum = w.reduce((a, b) => a + b, 0);
  if (sum === 0) fail('BAD_CONFIG', `merge: weights ${JSON.stringify(o.weights)} sum to 0 and cannot be normalised`);
  return w.map((x) => x / sum);
}

/**
 * Merges `inputs` into one adapter named `outName` (see the module comment).
 *
 * @throws AdapterkitError BAD_CONFIG when the adapters differ in method, structure, sites or
 *   shapes (naming the first difference), or the method does not support the merge.
 */
export function mergeAdapters(enc: Encoder, inputs: readonly MergeInput[], outName: string, o: MergeOptions): MergedAdapter {
  if (inputs.length < 2) fail('BAD_CONFIG', `merge: give at least two adapters, got ${inputs.length}`);
  if (!MERGE_METHODS.includes(o.method)) fail('BAD_CONFIG', `merge: method ${JSON.stringify(o.method)} is not one of ${MERGE_METHODS.join(', ')}`);
  const first = inputs[0] as MergeInput;
  for (const x of inputs) {
    if (x.config.method !== first.config.method) fail('BAD_CONFIG', `merge: ${first.name} is ${first.config.method}, ${x.name} is ${x.config.method}; only adapters of one method merge`);
  }
  const weights = mergeWeights(inputs.length, o);
  if (o.method === 'linear') return linear(enc, inputs, outName, weights);
  if (first.config.method !== 'lora') fail('BAD_CONFIG', `merge: ${o.method} merges LoRA adapters (task vectors A·B); ${first.name} is ${methodOf(first.config).describe(first.config as never, enc)} (use the option method: 'linear')`, { options: { method: 'the option method:' } });
  const density = o.density ?? fail('BAD_CONFIG', `merge: ${o.method} needs a density (the share of each task vector kept, in (0, 1])`);
  if (!(density > 0 && density <= 1)) fail('BAD_CONFIG', `merge: density must be in (0, 1], got ${density}`);
  return taskVectors(enc, inputs as readonly (MergeInput & { config: LoraConfig })[], outName, weights, { ...o, density });
}

function sameStructure(enc: Encoder, inputs: readonly MergeInput[]): void {
  const first = inputs[0] as MergeInput;
  const key = (x: MergeInput) => {
    const s = methodOf(x.config).structure(x.config as never);
    return 'key' in s ? s.key : JSON.stringify(x.config);
  };
  for (const x of inputs.slice(1)) {
    if (key(x) !== key(first)) {
      const scale = (c: MethodConfig) => (c.method === 'lora' ? c.alpha / c.r : undefined);
      const why = first.config.method === 'lora' && scale(first.config) !== scale(x.config) ? ` (alpha / r ${scale(first.config)} vs ${scale(x.config)}: averaging A and B of differently scaled LoRAs is not their average update; use ties or dare)` : '';
      fail('BAD_CONFIG', `merge: ${first.name} (${methodOf(first.config).describe(first.config as never, enc)}) and ${x.name} (${methodOf(x.config).describe(x.config as never, enc)}) differ in structure${why}`);
    }
  }
}

function linear(enc: Encoder, inputs: readonly MergeInput[], outName: string, w: readonly number[]): MergedAdapter {
  sameStructure(enc, inputs);
  const first = inputs[0] as MergeInput;
  const specs = methodOf(first.config).tensors(first.config as never, enc, outName);
  const tensors = new Map<string, HostTensor<'float32'>>();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const acc = new Float64Array(n);
    inputs.forEach((x, i) => {
      const t = x.tensors.get(renameAdapterTensor(s.name, x.name));
      if (!t) fail('BAD_CONFIG', `merge: ${x.name} has no tensor at ${parseAdapterTensorName(s.name)?.siteKey} (${parseAdapterTensorName(s.name)?.param}): its sites or leave_out differ from ${first.name}'s`);
      if (t.data.length !== n || t.shape.some((d, k) => d !== s.shape[k])) fail('BAD_CONFIG', `merge: ${x.name}'s ${renameAdapterTensor(s.name, x.name)} has shape [${t.shape.join(', ')}], ${first.name}'s [${s.shape.join(', ')}]; linear merging needs the same sizes`);
      for (let k = 0; k < n; k++) acc[k] = (acc[k] as number) + (w[i] as number) * (t.data[k] as number);
    });
    tensors.set(s.name, f32(s.shape, Float32Array.from(acc)));
  }
  for (const x of inputs) {
    const extra = [...x.tensors.keys()].filter((k) => parseAdapterTensorName(k)?.adapter === x.name && !tensors.has(renameAdapterTensor(k, outName)));
    if (extra.length) fail('BAD_CONFIG', `merge: ${x.name} has tensors ${first.name} lacks (${extra.slice(0, 3).join(', ')}): their sites differ`);
  }
  return { config: first.config, tensors, notes: [] };
}

/** Σ_k A[i, k] B[k, j] · s, as float64 [in, out]. */
function delta(A: HostTensor<'float32'>, B: HostTensor<'float32'>, s: number): Float64Array {
  const [m, r] = A.shape as [number, number];
  const n = B.shape[1] as number;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < r; k++) {
      const a = (A.data[i * r + k] as number) * s;
      if (a === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] = (out[i * n + j] as number) + a * (B.data[k * n + j] as number);
    }
  }
  return out;
}

/** TIES-Merging of task vectors (see the module comment). */
export function tiesMerge(taus: readonly Float64Array[], weights: readonly number[], density: number): Float64Array {
  const n = (taus[0] as Float64Array).length;
  const k = Math.floor(density * n);
  const trimmed = taus.map((t) => {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.abs(t[b] as number) - Math.abs(t[a] as number) || a - b);
    const out = new Float64Array(n);
    for (const i of order.slice(0, k)) out[i] = t[i] as number;
    return out;
  });
  const merged = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let total = 0;
    for (const t of trimmed) total += t[j] as number;
    const elected = total >= 0 ? 1 : -1;
    let sum = 0;
    let count = 0;
    trimmed.forEach((t, i) => {
      if (Math.sign(t[j] as number) === elected) {
        sum += (weights[i] as number) * (t[j] as number);
        count++;
      }
    });
    merged[j] = sum / Math.max(1, count);
  }
  return merged;
}

/** DARE: drop with probability 1 − density, rescale by 1 / density, weighted sum. */
export function dareMerge(taus: readonly Float64Array[], weights: readonly number[], density: number, rng: Rng): Float64Array {
  const n = (taus[0] as Float64Array).length;
  const merged = new Float64Array(n);
  taus.forEach((t, i) => {
    for (let j = 0; j < n; j++) if (rng.next() < density) merged[j] = (merged[j] as number) + ((weights[i] as number) * (t[j] as number)) / density;
  });
  return merged;
}

/**
 * The best rank-`r` factors of an [m, n] matrix M (row-major, float64): A [m, r] and B [r, n]
 * with A B the projection of M onto the top-r eigenvectors of the smaller Gram matrix (cyclic
 * Jacobi), and the Frobenius norm the truncation loses relative to ‖M‖.
 */
export function lowRankFactors(M: Float64Array, m: number, n: number, r: number): { A: Float64Array; B: Float64Array; lost: number } {
  const rows = m <= n; // eigenvectors of M Mᵀ (m x m) or of Mᵀ M (n x n)
  const d = rows ? m : n;
  const G = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let s = 0;
      if (rows) for (let k = 0; k < n; k++) s += (M[i * n + k] as number) * (M[j * n + k] as number);
      else for (let k = 0; k < m; k++) s += (M[k * n + i] as number) * (M[k * n + j] as number);
      G[i * d + j] = s;
      G[j * d + i] = s;
    }
  }
  const { values, vectors } = jacobiEigen(G, d);
  const order = Array.from({ length: d }, (_, i) => i).sort((a, b) => (values[b] as number) - (values[a] as number));
  const top = order.slice(0, r);
  const V = new Float64Array(d * r); // [d, r] the top eigenvectors as columns
  top.forEach((c, q) => {
    for (let i = 0; i < d; i++) V[i * r + q] = vectors[i * d + c] as number;
  });
  const A = new Float64Array(m * r);
  const B = new Float64Array(r * n);
  if (rows) {
    A.set(V); // A = U_r, B = U_rᵀ M
    for (let q = 0; q < r; q++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += (V[i * r + q] as number) * (M[i * n + j] as number);
      B[q * n + j] = s;
    }
  } else {
    for (let i = 0; i < m; i++) for (let q = 0; q < r; q++) { // A = M V_r, B = V_rᵀ
      let s = 0;
      for (let j = 0; j < n; j++) s += (M[i * n + j] as number) * (V[j * r + q] as number);
      A[i * r + q] = s;
    }
    for (let q = 0; q < r; q++) for (let j = 0; j < n; j++) B[q * n + j] = V[j * r + q] as number;
  }
  const total = values.reduce((a, b) => a + Math.max(0, b), 0);
  const kept = top.reduce((a, c) => a + Math.max(0, values[c] as number), 0);
  return { A, B, lost: total > 0 ? Math.sqrt(Math.max(0, total - kept) / total) : 0 };
}

/** Eigen-decomposition of a symmetric d x d matrix by cyclic Jacobi rotations (float64). */
function jacobiEigen(G: Float64Array, d: number): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(G);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  const scale = Math.max(1e-300, Math.sqrt(a.reduce((s, x) => s + x * x, 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += (a[p * d + q] as number) ** 2;
    if (Math.sqrt(off) <= 1e-15 * scale) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q] as number;
        if (Math.abs(apq) <= 1e-300) continue;
        const app = a[p * d + p] as number;
        const aqq = a[q * d + q] as number;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p] as number;
          const akq = a[k * d + q] as number;
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k] as number;
          const aqk = a[q * d + k] as number;
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p] as number;
          const vkq = v[k * d + q] as number;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Array.from({ length: d }, (_, i) => a[i * d + i] as number), vectors: v };
}

function taskVectors(enc: Encoder, inputs: readonly (MergeInput & { config: LoraConfig })[], outName: string, w: readonly number[], o: MergeOptions & { density: number }): MergedAdapter {
  const first = inputs[0] as MergeInput & { config: LoraConfig };
  const sites = (x: MergeInput & { config: LoraConfig }) => methodOf(x.config).tensors(x.config, enc, x.name).filter((t) => t.name.endsWith('.lora_A')).map((t) => t.site.key);
  const keys = sites(first);
  for (const x of inputs.slice(1)) {
    const ks = sites(x);
    if (ks.join() !== keys.join()) fail('BAD_CONFIG', `merge: ${first.name} adapts ${keys.join(', ')} but ${x.name} adapts ${ks.join(', ')}; ${o.method} merges LoRAs on the same projections`);
  }
  const maxRank = Math.max(...inputs.map((x) => x.config.r));
  const rank = o.rank ?? maxRank;
  if (!(Number.isInteger(rank) && rank >= 1)) fail('BAD_CONFIG', `merge: rank must be a positive integer, got ${rank}`);
  const out = checkMethodConfig({ ...first.config, r: rank, alpha: rank }, 'merged LoRA config');
  const tensors = new Map<string, HostTensor<'float32'>>();
  const rng = new Rng(o.seed ?? 0);
  let worst = 0;
  for (const key of keys) {
    const site = enc.sites.get(key);
    if (site?.kind !== 'linear') fail('GRAPH_ERROR', `merge: ${key} is not a projection site`);
    const taus = inputs.map((x) => {
      const A = x.tensors.get(adapterTensorName(x.name, key, 'lora_A'));
      const B = x.tensors.get(adapterTensorName(x.name, key, 'lora_B'));
      if (!A || !B) fail('BAD_CONFIG', `merge: ${x.name} lacks its LoRA tensors at ${key}`);
      return delta(A, B, x.config.alpha / x.config.r);
    });
    const merged = o.method === 'ties' ? tiesMerge(taus, w, o.density) : dareMerge(taus, w, o.density, rng);
    const r = Math.min(rank, site.inWidth, site.outWidth);
    const f = lowRankFactors(merged, site.inWidth, site.outWidth, r);
    worst = Math.max(worst, f.lost);
    // pad to the configured rank with zero columns/rows where the projection is narrower
    const A = new Float32Array(site.inWidth * rank);
    const B = new Float32Array(rank * site.outWidth);
    for (let i = 0; i < site.inWidth; i++) for (let q = 0; q < r; q++) A[i * rank + q] = f.A[i * r + q] as number;
    for (let q = 0; q < r; q++) for (let j = 0; j < site.outWidth; j++) B[q * site.outWidth + j] = f.B[q * site.outWidth + j] as number;
    tensors.set(adapterTensorName(outName, key, 'lora_A'), f32([site.inWidth, rank], A));
    tensors.set(adapterTensorName(outName, key, 'lora_B'), f32([rank, site.outWidth], B));
  }
  const notes = [`${o.method} merged the task vectors (alpha / r) A B of ${inputs.length} LoRAs per projection; saved as a LoRA of rank ${rank} (alpha ${rank}), which loses ${(worst * 100).toFixed(2)} % of the merged update's Frobenius norm at worst${worst > 0 ? ' (a larger --rank keeps more)' : ''}`];
  return { config: out, tensors, notes };
}
