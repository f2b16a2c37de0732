/**
 * USE-lite's fixed hyper-parameters, checked against the graph's constants on load.
 *
 * Shape legend: V = 8002 embedding rows, E = 256 (embedding width), H = 512 (residual width after
 * layer 0), F = 1536 (feed-forward width), P = 128 (timescales, E / 2).
 */

/** Fixed hyper-parameters of USE-lite (checked against the graph's constants on load). */
export const USE_LITE_CONFIG = {
  /** Vocabulary pieces in vocab.json. */
  vocabSize: 8000,
  /** Rows of the embedding matrix (2 more than the vocabulary; never produced by the tokenizer). */
  embeddingRows: 8002,
  /** Token embedding width E. */
  embeddingDim: 256,
  /** Residual width H from layer 0's output on. */
  hiddenDim: 512,
  /** Feed-forward inner width F. */
  ffnDim: 1536,
  /** Tokens the graph reads per text (later ones are dropped). */
  maxTokens: 128,
  /** Number of sinusoid frequencies P = E / 2; sin and cos are concatenated to E. */
  timescales: 128,
  /** Position-signal frequencies: `exp(-ln(maxTimescale) * i / (P - 1))`, i = 0..P-1. */
  maxTimescale: 1e4,
  /** Layer-norm epsilon, added to the variance. */
  layerNormEpsilon: 1e-6,
  /** Added (as a large negative) to attention logits of padding keys. */
  attentionMaskValue: -1e9,
  /** L2 normalisation: `x * rsqrt(max(sum(x^2), l2Epsilon))`. */
  l2Epsilon: 1e-12,
  /** Per-layer attention geometry: input width, heads, head width. */
  layers: [
    { inputDim: 256, heads: 4, headDim: 64 },
    { inputDim: 512, heads: 4, headDim: 128 },
  ],
} as const;
