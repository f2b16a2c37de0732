/**
 * Compacter's PHM weight H = Σ_k R_k ⊗ W_k as the graph builds it (methods/phm.ts, from Reshape,
 * MatMul and Transpose): equal to the Kronecker sum computed on the host, for full and factorized
 * rules and weights, per task and gathered per example ([B, …] factors, as in a mixed-task batch);
 * and its gradients against finite differences (no gradient rule of its own: the composite's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, Session, f32, type HostTensor } from '../../src/engine/index.js';
import { PHM_DEFAULTS, phmLinear, phmWeight, type PhmFields } from '../../src/adapters/methods/phm.js';
import { gradcheck, randn } from '../engine/gradcheck.js';

/** Row-major [rows, cols] matrix product on the host. */
function matmulHost(a: Float32Array, b: Float32Array, rows: number, inner: number, cols: number, ai = 0, bi = 0): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) for (let k = 0; k < inner; k++) out[i * cols + j]! += a[ai + i * inner + k]! * b[bi + k * cols + j]!;
  return out;
}

/** Σ_k kron(R_k, W_k) for R [n, n, n] and W [n, a, b] (both row-major): [n·a, n·b]. */
function kronSum(R: ArrayLike<number>, W: ArrayLike<number>, n: number, a: number, b: number): Float64Array {
  const H = new Float64Array(n * a * n * b);
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      for (let p = 0; p < a; p++) for (let q = 0; q < b; q++) H[(i * a + p) * (n * b) + j * b + q]! += R[k * n * n + i * n + j]! * W[k * a * b + p * b + q]!;
    }
  }
  return H;
}

interface Factors {
  rule: Record<string, HostTensor<'float32'>>;
  w: Record<string, HostTensor<'float32'>>;
}

/** Random factors in adapterkit's internal (matrix) layout, and the rule and W they make ([n, n, n], [n, a, b]). */
function factors(p: PhmFields, inF: number, outF: number, seed: number): Factors & { R: Float64Array; W: Float64Array } {
  const n = p.phm_dim;
  const a = inF / n;
  const b = outF / n;
  const r = p.phm_rank;
  const rule: Record<string, HostTensor<'float32'>> = p.factorized_phm_rule ? { left: randn([n * n, 1], seed), right: randn([n, n], seed + 1) } : { full: randn([n * n, n], seed) };
  const w: Record<string, HostTensor<'float32'>> = p.factorized_phm_W ? { left: randn([n * a, r], seed + 2), right: randn([n * r, b], seed + 3) } : { full: randn([n * a, b], seed + 2) };
  const R = new Float64Array(n * n * n);
  const W = new Float64Array(n * a * b);
  for (let k = 0; k < n; k++) {
    // R_k = left_k right_k ([n, 1] x [1, n]); W_k = left_k right_k ([a, r] x [r, b])
    if (rule.full) R.set(rule.full.data.subarray(k * n * n, (k + 1) * n * n), k * n * n);
    else R.set(matmulHost(rule.left!.data, rule.right!.data, n, 1, n, k * n, k * n), k * n * n);
    if (w.full) W.set(w.full.data.subarray(k * a * b, (k + 1) * a * b), k * a * b);
    else W.set(matmulHost(w.left!.data, w.right!.data, a, r, b, k * a * r, k * r * b), k * a * b);
  }
  return { rule, w, R, W };
}

const VARIANTS: [string, Partial<PhmFields>][] = [
  ['factorized W, full rule (the default)', {}],
  ['full W, factorized rule', { factorized_phm_W: false, factorized_phm_rule: true }],
  ['factorized both, rank 3', { factorized_phm_rule: true, phm_rank: 3 }],
  ['full both, n = 3', { factorized_phm_W: false, phm_dim: 3 }],
];

for (const [name, o] of VARIANTS) {
  test(`PHM weight equals Σ_k R_k ⊗ W_k: ${name}; gathered per example too`, async () => {
    const p: PhmFields = { ...PHM_DEFAULTS, phm_dim: 2, ...o };
    const n = p.phm_dim;
    const [inF, outF] = [4 * n, 2 * n];
    const rows = [factors(p, inF, outF, 11), factors(p, inF, outF, 31)];
    const g = new Graph('phm');
    const feeds: Record<string, HostTensor> = {};
    // one task's factors as they are; a mixed batch's as [B = 2, …] stacks of both rows
    const build = (gathered: boolean) => {
      const pick = (part: 'rule' | 'w') => Object.fromEntries(Object.entries(rows[0]![part]).map(([k, t]) => {
        const nm = `${gathered ? 'g' : 's'}_${part}_${k}`;
        const other = rows[1]![part][k] as HostTensor<'float32'>;
        feeds[nm] = gathered ? f32([2, ...t.shape], Float32Array.from([...t.data, ...other.data])) : t;
        return [k, g.input(nm, 'float32', gathered ? ['batch', ...t.shape] : [...t.shape])];
      }));
      return phmWeight(p, inF, outF, pick('rule'), pick('w'));
    };
    const single = build(false);
    const gathered = build(true);
    assert.deepEqual(single.shape, [inF, outF]);
    assert.deepEqual(gathered.shape, ['batch', inF, outF]);
    const s = await Session.create(g, { outputs: [single, gathered] });
    const out = await s.run(feeds);
    await s.dispose();
    const want = rows.map((f) => kronSum(f.R, f.W, n, inF / n, outF / n));
    const close = (got: ArrayLike<number>, w: Float64Array, what: string) => w.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) <= 1e-5 + 1e-5 * Math.abs(v), `${what}[${i}]: ${got[i]} vs ${v}`));
    close(out[single.name]!.data as Float32Array, want[0]!, 'H');
    const gd = out[gathered.name]!.data as Float32Array;
    close(gd.subarray(0, inF * outF), want[0]!, 'H of example 0');
    close(gd.subarray(inF * outF), want[1]!, 'H of example 1');
  });
}

test('PHM layer x H + b: every factor\'s gradient against finite differences', async () => {
  for (const [, o] of VARIANTS) {
    const p: PhmFields = { ...PHM_DEFAULTS, phm_dim: 2, ...o };
    const n = p.phm_dim;
    const [inF, outF] = [2 * n, 3 * n];
    const f = factors(p, inF, outF, 5);
    const params: Record<string, HostTensor<'float32'>> = { b: randn([outF], 9) };
    for (const [k, t] of Object.entries(f.rule)) params[`rule_${k}`] = t;
    for (const [k, t] of Object.entries(f.w)) params[`w_${k}`] = t;
    await gradcheck({
      params, feeds: { x: randn([2, 3, inF], 8) },
      build: (v, x) => {
        const part = (prefix: string) => Object.fromEntries(Object.keys(v).filter((k) => k.startsWith(prefix)).map((k) => [k.slice(prefix.length), v[k]!]));
        return phmLinear(x.x!, phmWeight(p, inF, outF, part('rule_'), part('w_')), v.b);
      },
    });
  }
});
