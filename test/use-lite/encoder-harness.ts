/**
 * Test helpers for the USE-lite encoder: loads the model once, builds its graph with a simple
 * {@link BuildContext} (weights as constants unless listed as trainable) and runs tokenised texts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Graph, Session, type HostTensor, type Value } from '../../src/engine/index.js';
import type { BuildContext, Encoder, EncoderHooks, EncoderOutputs, EncoderWeights } from '../../src/models/encoder.js';
import { l2Normalize, useLiteBatchTensors } from '../../src/models/use-lite/encoder.js';
import { loadUseLite } from '../../src/models/use-lite/package-files.js';
import type { SentencePieceTokenizer } from '../../src/models/use-lite/sentencepiece.js';

/** One reference sentence recorded from the TF.js graph. */
export interface RefSentence {
  text: string;
  ids: number[];
  truncated: boolean;
  embedding: number[];
  layer0Input?: number[][];
  layer0Output?: number[][];
}

/** The recorded TF.js reference outputs. */
export const reference = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'use-lite', 'reference.json'), 'utf8')) as {
  sentences: RefSentence[];
};

let model: Promise<{ encoder: Encoder; weights: EncoderWeights; tokenizer: SentencePieceTokenizer }> | undefined;
/** The encoder, weights and tokenizer, loaded once per test file. */
export function useLite(): Promise<{ encoder: Encoder; weights: EncoderWeights; tokenizer: SentencePieceTokenizer }> {
  model ??= loadUseLite();
  return model;
}

/** Options of {@link buildUseLiteGraph}. */
export interface BuildOptions {
  /** Weight names to declare as trainable parameters (copies of the loaded data). */
  trainable?: (name: string) => boolean;
  /** Declare a bool `training` input and pass it to the context. */
  training?: boolean;
  /** Adapter-method hooks (sub-layer, linear, attention, embeddings). */
  hooks?: Omit<EncoderHooks, 'layerNorm'>;
  layerNorm?: BuildContext['layerNorm'];
  numLayers?: number;
}

/** A built encoder graph with its inputs and outputs. */
export interface BuiltGraph {
  graph: Graph;
  out: EncoderOutputs;
  /** `l2Normalize(pooled)`: the original embedding. */
  embedding: Value;
  params: Value[];
}

/** Builds the encoder graph with int64 `input_ids`/`attention_mask` [batch, seq] inputs. */
export async function buildUseLiteGraph(o: BuildOptions = {}): Promise<BuiltGraph> {
  const { encoder, weights } = await useLite();
  const graph = new Graph('use_lite_test');
  const inputIds = graph.input('input_ids', 'int64', ['batch', 'seq']);
  const attentionMask = graph.input('attention_mask', 'int64', ['batch', 'seq']);
  const training = o.training ? graph.input('training', 'bool', []) : undefined;
  const params: Value[] = [];
  let seed = 1;
  const ctx: BuildContext = {
    graph,
    weight: (name) => {
      const t = weights.get(name);
      if (!t) throw new Error(`test context: no weight ${name}`);
      if (o.trainable?.(name)) {
        const p = graph.param(name, { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data) });
        params.push(p);
        return p;
      }
      return graph.constant(name, t);
    },
    nextSeed: () => seed++,
    ...(training ? { training } : {}),
    ...o.hooks,
    ...(o.layerNorm ? { layerNorm: o.layerNorm } : {}),
    ...(o.numLayers !== undefined ? { numLayers: o.numLayers } : {}),
  };
  const out = encoder.build(ctx, { inputIds, attentionMask });
  const embedding = l2Normalize(out.pooled);
  return { graph, out, embedding, params };
}

/** Tokenises `texts` into the graph's feeds. */
export async function feedsFor(texts: readonly string[]): Promise<Record<string, HostTensor>> {
  const { tokenizer } = await useLite();
  const t = useLiteBatchTensors(tokenizer.encodeBatch(texts));
  return { input_ids: t.inputIds, attention_mask: t.attentionMask };
}

/** Runs `session` on `texts` and returns the rows of `value` ([batch, ...] -> one array per text). */
export async function runRows(session: Session, value: Value, texts: readonly string[], extra: Record<string, HostTensor> = {}): Promise<Float32Array[]> {
  const out = (await session.run({ ...(await feedsFor(texts)), ...extra }, [value]))[value.name] as HostTensor;
  const data = out.data as Float32Array;
  const width = data.length / texts.length;
  return texts.map((_, i) => data.subarray(i * width, (i + 1) * width));
}

/** Cosine similarity. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb);
}

/** max |a - b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}
