/**
 * Task heads. Sentence-level heads read the encoder's pooled representation: single-sentence and
 * sentence-pair classification, regression (STS-B style, MSE) and multi-label classification
 * (sigmoid BCE). Token-level heads read the last hidden state: tagging (one class per position,
 * masked cross-entropy) and extractive QA (start/end logits per position).
 *
 * Internal names: `head.dense.{weight,bias}` (two-layer heads only) and `head.out.{weight,bias}`;
 * linear weights [in, out].
 */
import { fail } from '../errors.js';
import {
  dropout, f32, linear, meanSquaredError, sigmoidBinaryCrossEntropy, softmaxCrossEntropy, squeeze, tanh, type HostTensor, type Value,
} from '../engine/index.js';
import { Rng } from '../util/random.js';
import type { Encoder } from '../models/encoder.js';
import { maskedTokenCrossEntropy, spanCrossEntropy } from './token-losses.js';
import { HEAD_POOLINGS, pooledWidth, type HeadPooling } from './pooling.js';

/** What a head predicts. */
export type HeadKind = 'classification' | 'regression' | 'multilabel' | 'tagging' | 'qa';

/** Every head kind. */
export const HEAD_KINDS: readonly HeadKind[] = ['classification', 'regression', 'multilabel', 'tagging', 'qa'];

/** Whether a head reads every position (`hidden`) rather than the pooled vector. */
export function isTokenHead(c: Pick<HeadConfig, 'kind'>): boolean {
  return c.kind === 'tagging' || c.kind === 'qa';
}

/** Extractive-QA settings saved with a QA head (windows and answer extraction). */
export interface QaHeadOptions {
  /** Overlap of consecutive context windows in tokens. */
  readonly stride: number;
  /** Question pieces kept. */
  readonly maxQuestionLength: number;
  /** Longest answer in tokens. */
  readonly maxAnswerLength: number;
  /** Start and end candidates per window. */
  readonly nBest: number;
  /** SQuAD v2: the empty answer is allowed. */
  readonly allowNoAnswer: boolean;
  /** Predict "" when nullScore - bestScore exceeds this (v2). */
  readonly nullThreshold: number;
}

/** Defaults of {@link QaHeadOptions} (run_squad's, with the stride as an overlap). */
export const DEFAULT_QA_OPTIONS: QaHeadOptions = Object.freeze({
  stride: 128, maxQuestionLength: 64, maxAnswerLength: 30, nBest: 20, allowNoAnswer: false, nullThreshold: 0,
});

/** A head configuration. */
export interface HeadConfig {
  readonly kind: HeadKind;
  /** Label names in index order ([] for regression). */
  readonly labels: readonly string[];
  /** Whether inputs are sentence pairs. */
  readonly pair: boolean;
  /** 1: one linear layer (the reference code, on BERT's pooler); 2: dense + tanh + linear. */
  readonly layers: 1 | 2;
  /** Dropout on the head's input while training. */
  readonly dropout: number;
  /** Threshold on sigmoid scores for multi-label predictions. */
  readonly threshold: number;
  /** Tagging: how tags encode spans ('BIO', 'BIOES' or 'plain'); decides the metrics. */
  readonly scheme?: 'BIO' | 'BIOES' | 'plain';
  /** QA: windowing and extraction settings. */
  readonly qa?: QaHeadOptions;
  /**
   * Sentence-level heads: what they read (heads/pooling.ts). Absent: `encoder`, the base's own
   * pooled vector (kept absent so older task files read the same).
   */
  readonly pooling?: Exclude<HeadPooling, 'encoder'>;
}

/** The pooling of a head (`encoder` when it names none). */
export function headPooling(c: Pick<HeadConfig, 'pooling'>): HeadPooling {
  return c.pooling ?? 'encoder';
}

/** Validates and freezes a head config. */
export function headConfig(c: Partial<Omit<HeadConfig, 'pooling'>> & Pick<HeadConfig, 'kind' | 'labels'> & { readonly pooling?: HeadPooling }): HeadConfig {
  const { pooling, ...rest } = c;
  let h: HeadConfig = { pair: false, layers: 1, dropout: 0.1, threshold: 0.5, ...rest };
  if (!HEAD_KINDS.includes(h.kind)) fail('BAD_CONFIG', `head: unknown kind ${JSON.stringify(h.kind)}; known: ${HEAD_KINDS.join(', ')}`);
  if (pooling !== undefined) {
    if (!HEAD_POOLINGS.includes(pooling)) fail('BAD_CONFIG', `head: unknown pooling ${JSON.stringify(pooling)}; known: ${HEAD_POOLINGS.join(', ')}`);
    if (pooling !== 'encoder') {
      if (isTokenHead(h)) fail('BAD_CONFIG', `head: a ${h.kind} head reads every position; pooling ${pooling} is for sentence-level heads (classification, regression, multilabel)`);
      h = { ...h, pooling };
    }
  }
  if (h.kind === 'regression' && h.labels.length > 1) fail('BAD_CONFIG', 'head: a regression head has no label names');
  if (h.kind === 'qa') {
    if (h.labels.length > 0) fail('BAD_CONFIG', `head: a qa head has no label names, got ${h.labels.join(', ')}`);
    const qa = { ...DEFAULT_QA_OPTIONS, ...h.qa };
    const ints: (keyof QaHeadOptions)[] = ['stride', 'maxQuestionLength', 'maxAnswerLength', 'nBest'];
    for (const k of ints) {
      const v = qa[k] as number;
      if (!(Number.isInteger(v) && v >= (k === 'stride' ? 0 : 1))) fail('BAD_CONFIG', `head: qa.${k} must be an integer >= ${k === 'stride' ? 0 : 1}, got ${v}`);
    }
    if (!Number.isFinite(qa.nullThreshold)) fail('BAD_CONFIG', `head: qa.nullThreshold must be a finite number, got ${qa.nullThreshold}`);
    h = { ...h, pair: true, qa: Object.freeze(qa) };
  } else if (h.kind !== 'regression' && h.labels.length < 2) {
    fail('BAD_CONFIG', `head: a ${h.kind} head needs at least 2 labels, got ${h.labels.length} (${h.labels.join(', ') || 'none'})`);
  }
  if (new Set(h.labels).size !== h.labels.length) fail('BAD_CONFIG', `head: duplicate label names in ${h.labels.join(', ')}`);
  if (h.layers !== 1 && h.layers !== 2) fail('BAD_CONFIG', `head: layers must be 1 or 2, got ${h.layers}`);
  if (!(h.dropout >= 0 && h.dropout < 1)) fail('BAD_CONFIG', `head: dropout must be in [0, 1), got ${h.dropout}`);
  if (typeof h.pair !== 'boolean') fail('BAD_CONFIG', `head: pair must be true or false, got ${JSON.stringify(h.pair)}`);
  if (!(typeof h.threshold === 'number' && h.threshold > 0 && h.threshold < 1)) fail('BAD_CONFIG', `head: threshold must be a number in (0, 1), got ${JSON.stringify(h.threshold)}`);
  if (h.kind === 'tagging') {
    const scheme = h.scheme ?? 'plain';
    if (!['BIO', 'BIOES', 'plain'].includes(scheme)) fail('BAD_CONFIG', `head: tagging scheme must be BIO, BIOES or plain, got ${JSON.stringify(scheme)}`);
    h = { ...h, scheme, pair: false };
  }
  return Object.freeze({ ...h, labels: Object.freeze([...h.labels]) });
}

/** Number of outputs of a head. */
export function headOutputs(c: HeadConfig): number {
  return c.kind === 'regression' ? 1 : c.kind === 'qa' ? 2 : c.labels.length;
}

/** Width of a head's input on `enc`: what its pooling gives, or the last hidden state's width for token heads. */
export function headInputWidth(c: Pick<HeadConfig, 'kind' | 'pooling'>, enc: Encoder): number {
  return isTokenHead(c) ? enc.outputWidth : pooledWidth(headPooling(c), enc);
}

/** Shapes of the head's weights for an input of width `d`. */
export function headWeightShapes(c: HeadConfig, d: number): Map<string, number[]> {
  const n = headOutputs(c);
  const m = new Map<string, number[]>();
  if (c.layers === 2) {
    m.set('head.dense.weight', [d, d]);
    m.set('head.dense.bias', [d]);
  }
  m.set('head.out.weight', [d, n]);
  m.set('head.out.bias', [n]);
  return m;
}

/** Fresh head weights: normal(0, 0.02) weights (BERT's initializer range), zero biases. */
export function initHeadWeights(c: HeadConfig, d: number, seed: number): Map<string, HostTensor<'float32'>> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor<'float32'>>();
  for (const [name, shape] of headWeightShapes(c, d)) {
    const n = shape.reduce((a, b) => a * b, 1);
    out.set(name, f32(shape, name.endsWith('bias') ? new Float32Array(n) : Float32Array.from({ length: n }, () => rng.truncatedNormal(0.02, 2))));
  }
  return out;
}

/** Builds the head: pooled [B, d] -> logits [B, n]; for token heads hidden [B, T, d] -> logits [B, T, n]. */
export function buildHead(c: HeadConfig, pooled: Value, w: (name: string) => Value, training?: { flag: Value; seed: number }): Value {
  let x = pooled;
  const drop = (v: Value, k: number) => (training && c.dropout > 0 ? dropout(v, { ratio: c.dropout, seed: training.seed + k, training: training.flag }) : v);
  x = drop(x, 0);
  if (c.layers === 2) x = drop(tanh(linear(x, w('head.dense.weight'), w('head.dense.bias'))), 1);
  return linear(x, w('head.out.weight'), w('head.out.bias')); // [B, n] or [B, T, n]
}

/** Declares the label input a head's loss needs. */
export function labelInput(c: HeadConfig, g: Value['graph']): Value {
  if (c.kind === 'classification') return g.input('labels', 'int64', ['batch']);
  if (c.kind === 'regression') return g.input('labels', 'float32', ['batch']);
  // Tagging: a class per position, -100 where ignored. QA: one-hot start (channel 0) and end (channel 1) positions.
  if (c.kind === 'tagging') return g.input('labels', 'int64', ['batch', 'seq']);
  if (c.kind === 'qa') return g.input('labels', 'float32', ['batch', 'seq', 2]);
  return g.input('labels', 'float32', ['batch', c.labels.length]);
}

/** The loss of a head's logits against its labels (mean over the batch). */
export function headLoss(c: HeadConfig, logits: Value, labels: Value): Value {
  if (c.kind === 'classification') return softmaxCrossEntropy(logits, labels);
  if (c.kind === 'regression') return meanSquaredError(squeeze(logits, [1]), labels);
  if (c.kind === 'tagging') return maskedTokenCrossEntropy(logits, labels);
  if (c.kind === 'qa') return spanCrossEntropy(logits, labels);
  return sigmoidBinaryCrossEntropy(logits, labels);
}
