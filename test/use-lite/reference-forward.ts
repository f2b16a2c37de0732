/**
 * Test helper: a plain-JavaScript (float64) USE-lite forward pass for ONE text, written straight
 * from docs/use-lite.md. The tests run it against the TF.js graph's recorded outputs, which checks
 * that the documented computation is the graph's computation. Slow (no BLAS); use short inputs.
 *
 * Legend: T = tokens (after truncation), E = 256, H = 512, F = 1536.
 */
import { USE_LITE_CONFIG, type UseLiteLayerWeights, type UseLiteTensor, type UseLiteWeights } from '../../src/models/use-lite/architecture.js';

type Rows = Float64Array[];

/** x[T, in] @ W[in, out] + b[out]. */
function dense(x: Rows, w: UseLiteTensor, b: UseLiteTensor): Rows {
  const inDim = w.shape[0] as number;
  const outDim = w.shape[1] as number;
  return x.map((row) => {
    const y = Float64Array.from(b.data);
    for (let i = 0; i < inDim; i++) {
      const xi = row[i] as number;
      if (xi === 0) continue;
      const base = i * outDim;
      for (let o = 0; o < outDim; o++) y[o] = (y[o] as number) + xi * (w.data[base + o] as number);
    }
    return y;
  });
}

/** Layer norm over the last axis: (x - mean) / sqrt(var + eps) * gain + bias, biased variance. */
function layerNorm(x: Rows, gain: UseLiteTensor, bias: UseLiteTensor): Rows {
  return x.map((row) => {
    const n = row.length;
    const mean = row.reduce((a, v) => a + v, 0) / n;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
    const r = 1 / Math.sqrt(variance + USE_LITE_CONFIG.layerNormEpsilon);
    return row.map((v, i) => (v - mean) * r * (gain.data[i] as number) + (bias.data[i] as number));
  });
}

/** Multi-head self-attention over T real tokens (no padding in a single-text run). */
function attention(n: Rows, lw: UseLiteLayerWeights, heads: number, headDim: number): Rows {
  const q = dense(n, lw.queryKernel, lw.queryBias);
  const k = dense(n, lw.keyKernel, lw.keyBias);
  const v = dense(n, lw.valueKernel, lw.valueBias);
  const T = n.length;
  const ctx: Rows = Array.from({ length: T }, () => new Float64Array(heads * headDim));
  for (let h = 0; h < heads; h++) {
    const off = h * headDim;
    for (let i = 0; i < T; i++) {
      const logits = new Float64Array(T);
      for (let j = 0; j < T; j++) {
        let s = 0;
        for (let d = 0; d < headDim; d++) s += (q[i] as Float64Array)[off + d]! * lw.queryScale * (k[j] as Float64Array)[off + d]!;
        logits[j] = s;
      }
      const max = Math.max(...logits);
      const p = logits.map((s) => Math.exp(s - max));
      const z = p.reduce((a, b) => a + b, 0);
      for (let j = 0; j < T; j++) {
        const w = (p[j] as number) / z;
        const out = ctx[i] as Float64Array;
        const vj = v[j] as Float64Array;
        for (let d = 0; d < headDim; d++) out[off + d] = (out[off + d] as number) + w * (vj[off + d] as number);
      }
    }
  }
  return dense(ctx, lw.outputKernel, lw.outputBias);
}

const add = (a: Rows, b: Rows): Rows => a.map((row, t) => row.map((v, i) => v + (b[t] as Float64Array)[i]!));

/** Layer 0 input: 2 * embedding + [sin(t * w_i) | cos(t * w_i)]. */
export function layer0Input(weights: UseLiteWeights, ids: readonly number[]): Rows {
  const E = USE_LITE_CONFIG.embeddingDim;
  const P = USE_LITE_CONFIG.timescales;
  return ids.slice(0, USE_LITE_CONFIG.maxTokens).map((id, t) => {
    const row = new Float64Array(E);
    for (let i = 0; i < E; i++) row[i] = 2 * (weights.embeddings.data[id * E + i] as number);
    for (let i = 0; i < P; i++) {
      const angle = t * (weights.inverseTimescales.data[i] as number);
      row[i] = (row[i] as number) + Math.sin(angle);
      row[P + i] = (row[P + i] as number) + Math.cos(angle);
    }
    return row;
  });
}

/** One pre-norm transformer layer. */
export function layer(weights: UseLiteWeights, index: 0 | 1, x: Rows): Rows {
  const lw = weights.layers[index];
  const { heads, headDim } = USE_LITE_CONFIG.layers[index];
  const a = attention(layerNorm(x, lw.attentionNormScale, lw.attentionNormBias), lw, heads, headDim);
  const residual = lw.residualKernel && lw.residualBias ? dense(x, lw.residualKernel, lw.residualBias) : x;
  const h = add(a, residual);
  const m = layerNorm(h, lw.ffnNormScale, lw.ffnNormBias);
  const f = dense(dense(m, lw.ffnInKernel, lw.ffnInBias).map((r) => r.map((v) => Math.max(0, v))), lw.ffnOutKernel, lw.ffnOutBias);
  return add(f, h);
}

/** Final sentence embedding [512] of one text's ids. */
export function embed(weights: UseLiteWeights, ids: readonly number[]): Float64Array {
  const out = layer(weights, 1, layer(weights, 0, layer0Input(weights, ids)));
  const H = USE_LITE_CONFIG.hiddenDim;
  const pooled = new Float64Array(H);
  for (const row of out) for (let i = 0; i < H; i++) pooled[i] = (pooled[i] as number) + (row[i] as number);
  const count = Math.max(out.length, 1);
  const y = dense([pooled.map((v) => v / count)], weights.finalKernel, weights.finalBias)[0] as Float64Array;
  const t = y.map(Math.tanh);
  const norm = Math.sqrt(Math.max(t.reduce((a, v) => a + v * v, 0), USE_LITE_CONFIG.l2Epsilon));
  return t.map((v) => v / norm);
}
