/** Shared helpers for the benchmarks: medians, timing, formatting, machine facts. */
import { cpus, totalmem } from 'node:os';
import { f32 } from '../src/engine/index.js';
import { parseAlbertConfig } from '../src/models/albert/config.js';
import { AlbertEncoder } from '../src/models/albert/encoder.js';
import type { BaseModel } from '../src/models/base.js';
import { parseBertConfig } from '../src/models/bert/config.js';
import { BertEncoder } from '../src/models/bert/encoder.js';
import { parseDebertaV2Config } from '../src/models/deberta-v2/config.js';
import { DebertaV2Encoder } from '../src/models/deberta-v2/encoder.js';
import type { Encoder } from '../src/models/encoder.js';
import { parseModernBertConfig } from '../src/models/modernbert/config.js';
import { ModernBertEncoder } from '../src/models/modernbert/encoder.js';
import { parseMpnetConfig } from '../src/models/mpnet/config.js';
import { MpnetEncoder } from '../src/models/mpnet/encoder.js';
import type { EncodedBatch } from '../src/models/tokenizers/index.js';
import { PRESET_NAMES } from '../src/adapters/methods/index.js';
import { AdamW, clipByGlobalNorm } from '../src/train/optim/index.js';
import type { BatchLabels, TaskModel } from '../src/train/task-model.js';

/** Median of numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Runs `fn` `warmup` times, then `runs` times; returns each timed run in ms. */
export async function timeRuns(fn: () => Promise<unknown>, runs: number, warmup = 2): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

/** A one-line description of this machine for benchmark reports. */
export function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

/** Peak resident set size so far, in MiB. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Resident set size now, in MiB. */
export function currentRssMiB(): number {
  return process.memoryUsage.rss() / 2 ** 20;
}

/** Deterministic pseudo-random float32 data in [-scale, scale). */
export function randomData(n: number, seed: number, scale = 0.05): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** BERT-base's configuration (bert-base-uncased). */
export const BERT_BASE_CONFIG = {
  model_type: 'bert', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12,
  intermediate_size: 3072, max_position_embeddings: 512, type_vocab_size: 2, hidden_act: 'gelu', layer_norm_eps: 1e-12,
};

/** XLM-RoBERTa-base's configuration (xlm-roberta-base): the RoBERTa graph with a 250k-piece vocabulary. */
export const XLMR_BASE_CONFIG = {
  model_type: 'xlm-roberta', vocab_size: 250002, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12,
  intermediate_size: 3072, max_position_embeddings: 514, type_vocab_size: 1, hidden_act: 'gelu', layer_norm_eps: 1e-5, pad_token_id: 1,
};

/** ALBERT-base's configuration (albert-base-v2): 128-wide embeddings, one layer group shared by 12 passes. */
export const ALBERT_BASE_CONFIG = {
  model_type: 'albert', vocab_size: 30000, embedding_size: 128, hidden_size: 768, num_hidden_layers: 12, num_hidden_groups: 1, inner_group_num: 1,
  num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512, type_vocab_size: 2, hidden_act: 'gelu_new', layer_norm_eps: 1e-12, pad_token_id: 0,
};

/** DeBERTa-v3-base's configuration (microsoft/deberta-v3-base): relative positions only, 256 log buckets, shared position projections. */
export const DEBERTA_V3_BASE_CONFIG = {
  model_type: 'deberta-v2', vocab_size: 128100, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
  max_position_embeddings: 512, max_relative_positions: -1, position_buckets: 256, relative_attention: true, position_biased_input: false,
  pos_att_type: ['p2c', 'c2p'], share_att_key: true, norm_rel_ebd: 'layer_norm', type_vocab_size: 0, hidden_act: 'gelu', layer_norm_eps: 1e-7, pad_token_id: 0,
};

/** MPNet-base's configuration (sentence-transformers/all-mpnet-base-v2): BERT-base's shape with a relative position bias, no token types. */
export const MPNET_BASE_CONFIG = {
  model_type: 'mpnet', vocab_size: 30527, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
  max_position_embeddings: 514, relative_attention_num_buckets: 32, hidden_act: 'gelu', layer_norm_eps: 1e-5, pad_token_id: 1,
};

/**
 * ModernBERT-base's configuration (answerdotai/ModernBERT-base): 22 pre-norm layers, GeGLU 1152, rotary positions,
 * global attention every 3rd layer and a ±64 window otherwise, no biases, up to 8192 tokens.
 */
export const MODERNBERT_BASE_CONFIG = {
  model_type: 'modernbert', vocab_size: 50368, hidden_size: 768, num_hidden_layers: 22, num_attention_heads: 12, intermediate_size: 1152,
  max_position_embeddings: 8192, global_attn_every_n_layers: 3, local_attention: 128, global_rope_theta: 160000, local_rope_theta: 10000,
  hidden_activation: 'gelu', norm_eps: 1e-5, norm_bias: false, attention_bias: false, mlp_bias: false, classifier_pooling: 'mean', pad_token_id: 50283,
};

/** The encoder of a config.json object: ALBERT's, DeBERTa's, MPNet's, ModernBERT's by model_type, else the BERT family's (BERT, RoBERTa, XLM-R, DistilBERT, ELECTRA). */
function encoderOf(config: Record<string, unknown>): Encoder {
  if (config.model_type === 'albert') return new AlbertEncoder(parseAlbertConfig(config), true);
  if (config.model_type === 'deberta-v2') return new DebertaV2Encoder(parseDebertaV2Config(config), false);
  if (config.model_type === 'mpnet') return new MpnetEncoder(parseMpnetConfig(config), true);
  if (config.model_type === 'modernbert') return new ModernBertEncoder(parseModernBertConfig(config), true);
  return new BertEncoder(parseBertConfig(config), true);
}

/** A BERT-base-sized base model with random weights (no tokenizer: feed token ids directly). */
export function randomBertBase(config: Record<string, unknown> = BERT_BASE_CONFIG): BaseModel {
  return randomBase(config, 'random-bert-base');
}

/** A base model of any family the benchmarks build, from its config.json object, with random weights and no tokenizer. */
export function randomBase(config: Record<string, unknown>, id = `random-${String(config.model_type)}`): BaseModel {
  const encoder = encoderOf(config);
  const weights = new Map();
  let seed = 100;
  for (const s of encoder.weightSpecs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = s.role === 'norm' && s.name.endsWith('weight') ? new Float32Array(n).fill(1) : randomData(n, seed++, 0.02);
    weights.set(s.name, f32(s.shape, data));
  }
  const tokenizer = {
    encode: () => {
      throw new Error('the random benchmark base has no tokenizer');
    },
    summary: () => ({}),
    padId: typeof config.pad_token_id === 'number' ? config.pad_token_id : 0,
  };
  return { id, encoder, weights, tokenizer, sources: [] };
}

/** A synthetic full batch of token ids (no padding). */
export function syntheticBatch(batch: number, seq: number, vocab: number, seed = 1): EncodedBatch {
  const ids = new Int32Array(batch * seq);
  let a = seed;
  for (let i = 0; i < ids.length; i++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    ids[i] = 1000 + (a % (vocab - 1000));
  }
  return {
    batchSize: batch, seqLen: seq, inputIds: ids, attentionMask: new Int32Array(batch * seq).fill(1),
    tokenTypeIds: new Int32Array(batch * seq), lengths: new Array(batch).fill(seq), truncated: new Array(batch).fill(false),
  };
}

/** Forward FLOPs of a BERT encoder over `tokens` tokens of length `seq` (matrix products only). */
export function bertForwardFlops(c: { hidden: number; ffn: number; layers: number; heads: number }, batch: number, seq: number): number {
  const tokens = batch * seq;
  const perLayer = 2 * tokens * (4 * c.hidden * c.hidden + 2 * c.hidden * c.ffn) + 2 * 2 * batch * seq * seq * c.hidden;
  return c.layers * perLayer;
}

/**
 * The method presets a benchmark times: BENCH_METHODS (comma-separated preset names) when set, else
 * every preset of the method registry except `skip`. Unknown names are refused with the list.
 */
export function benchPresets(skip: readonly string[] = []): string[] {
  const env = process.env.BENCH_METHODS?.trim();
  if (!env) return PRESET_NAMES.filter((p) => !skip.includes(p));
  const names = env.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = names.filter((n) => !PRESET_NAMES.includes(n));
  if (unknown.length) throw new Error(`BENCH_METHODS: unknown preset(s) ${unknown.join(', ')}; presets: ${PRESET_NAMES.join(', ')}`);
  return names;
}

/** A task model with its optimizer; `step` runs one training step (forward, loss, backward, clipping, AdamW) and returns its ms. */
export interface StepRunner {
  readonly model: TaskModel;
  step(): Promise<number>;
}

/** A {@link StepRunner} over one fixed batch. */
export function stepRunner(model: TaskModel, batch: EncodedBatch, labels: BatchLabels): StepRunner {
  const opt = new AdamW(model.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: 1e-5 });
  return {
    model,
    async step() {
      const t = performance.now();
      const out = await model.trainStep(batch, labels);
      clipByGlobalNorm(out.grads, 1);
      opt.step(out.grads);
      return performance.now() - t;
    },
  };
}

/**
 * Runs `a` and `b` (each returning its ms) `rounds` times as pairs, the order alternating from one
 * pair to the next (`first`: pairs already run, so the order keeps alternating across calls), so
 * that slow drift of the machine's load cancels in a ratio of the two. Returns each one's times.
 */
export async function alternating(a: () => Promise<number>, b: () => Promise<number>, rounds: number, first = 0): Promise<{ a: number[]; b: number[] }> {
  const out = { a: [] as number[], b: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    if ((first + r) % 2 === 0) {
      out.a.push(await a());
      out.b.push(await b());
    } else {
      out.b.push(await b());
      out.a.push(await a());
    }
  }
  return out;
}

/**
 * Times each of `variants` (each returns its own time, ms) once per round, the order rotating by
 * one each round so no variant always runs after the same one; the times per variant, in order.
 */
export async function rotating(variants: readonly (() => Promise<number>)[], rounds: number): Promise<number[][]> {
  const out = variants.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const k = (r + i) % variants.length;
      (out[k] as number[]).push(await (variants[k] as () => Promise<number>)());
    }
  }
  return out;
}
