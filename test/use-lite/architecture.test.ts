import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  USE_LITE_CONFIG,
  USE_LITE_GLOBAL_SPECS,
  useLiteLayerSpecs,
  useLiteWeightsFrom,
  type UseLiteWeights,
} from '../../src/models/use-lite/architecture.js';
import type { TfjsWeightMap } from '../../src/models/use-lite/tfjs-weights.js';
import { loadUseLiteWeights, readTfjsWeights, useLitePackageDir } from '../../src/models/use-lite/package-files.js';
import { embed, layer, layer0Input } from './reference-forward.js';

interface RefSentence {
  text: string;
  ids: number[];
  embedding: number[];
  layer0Input?: number[][];
  layer0Output?: number[][];
}
const reference = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'use-lite', 'reference.json'), 'utf8')) as {
  sentences: RefSentence[];
  batch: { sentenceIndices: number[]; embeddings: number[][] };
};

let cachedMap: TfjsWeightMap | undefined;
let cached: UseLiteWeights | undefined;
async function weights(): Promise<UseLiteWeights> {
  cached ??= await loadUseLiteWeights();
  return cached;
}
async function rawMap(): Promise<TfjsWeightMap> {
  cachedMap ??= await readTfjsWeights(join(useLitePackageDir(), 'model.json'));
  return cachedMap;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

test('loads every documented tensor with its shape', async () => {
  const w = await weights();
  assert.deepEqual(w.embeddings.shape, [8002, 256]);
  assert.deepEqual(w.inverseTimescales.shape, [128]);
  assert.deepEqual(w.finalKernel.shape, [512, 512]);
  assert.deepEqual(w.finalBias.shape, [512]);
  const expect = [
    { qkv: [256, 768], a: 256, out: [256, 512], scale: 0.125 },
    { qkv: [512, 1536], a: 512, out: [512, 512], scale: 1 / Math.sqrt(128) },
  ];
  for (const [l, e] of expect.entries()) {
    const lw = w.layers[l as 0 | 1];
    assert.deepEqual(lw.qkvKernel.shape, e.qkv);
    for (const k of [lw.queryKernel, lw.keyKernel, lw.valueKernel]) assert.deepEqual(k.shape, [e.qkv[0], e.a]);
    for (const b of [lw.queryBias, lw.keyBias, lw.valueBias]) assert.deepEqual(b.shape, [e.a]);
    assert.deepEqual(lw.outputKernel.shape, e.out);
    assert.deepEqual(lw.attentionNormScale.shape, [e.qkv[0]]);
    assert.deepEqual(lw.ffnNormScale.shape, [512]);
    assert.deepEqual(lw.ffnInKernel.shape, [512, 1536]);
    assert.deepEqual(lw.ffnOutKernel.shape, [1536, 512]);
    assert.ok(Math.abs(lw.queryScale - e.scale) < 1e-7);
  }
  assert.deepEqual(w.layers[0].residualKernel?.shape, [256, 512]);
  assert.equal(w.layers[1].residualKernel, undefined);
  assert.equal(w.sources['layers.1.qkvKernel'], 'module/Encoder_en/KonaTransformer/Encode/Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0');
  assert.equal(Object.keys(w.sources).length, 4 + 4 + 15 + 13);
});

test('Q, K and V are the column blocks of the fused kernel', async () => {
  const lw = (await weights()).layers[1];
  const cols = 1536;
  for (const [k, kernel] of [lw.queryKernel, lw.keyKernel, lw.valueKernel].entries()) {
    for (const [r, c] of [[0, 0], [17, 300], [511, 511]] as const) {
      assert.equal(kernel.data[r * 512 + c], lw.qkvKernel.data[r * cols + k * 512 + c]);
    }
    assert.equal([lw.queryBias, lw.keyBias, lw.valueBias][k]?.data[5], lw.qkvBias.data[k * 512 + 5]);
  }
});

test('a missing tensor, a wrong shape or a wrong constant is BAD_WEIGHTS naming it', async () => {
  const map = await rawMap();
  const ffn = (useLiteLayerSpecs(1).ffnInKernel as { name: string }).name;
  const without = new Map(map);
  without.delete(ffn);
  assert.throws(() => useLiteWeightsFrom(without), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'BAD_WEIGHTS');
    assert.match(e.message, new RegExp(`tensor "${ffn.replaceAll('/', '\\/')}" \\(layers\\.1\\.ffnInKernel\\) is missing`));
    return true;
  });
  const reshaped = new Map(map);
  const emb = map.get(USE_LITE_GLOBAL_SPECS.embeddings.name)!;
  reshaped.set(USE_LITE_GLOBAL_SPECS.embeddings.name, { ...emb, shape: [8000, 256] });
  assert.throws(() => useLiteWeightsFrom(reshaped), /"module\/Embeddings_en" \(embeddings\) has shape \[8000, 256\], expected \[8002, 256\]/);
  const eps = new Map(map);
  eps.set(USE_LITE_GLOBAL_SPECS.layerNormEpsilon.name, { shape: [], dtype: 'float32', data: new Float32Array([1e-5]) });
  assert.throws(() => useLiteWeightsFrom(eps), /\(layerNormEpsilon\) is 0\.0000099999997473\d*, expected 0\.000001/);
});

test('documented forward (float64, plain JS) reproduces the graph: layer 0 and final embeddings', async () => {
  const w = await weights();
  const debug = reference.sentences.filter((s) => s.layer0Input && s.layer0Output);
  assert.ok(debug.length >= 3);
  for (const s of debug) {
    const x0 = layer0Input(w, s.ids);
    x0.forEach((row, t) => assert.ok(maxAbsDiff(row, s.layer0Input![t]!) < 2e-6, `layer-0 input of ${s.text}, token ${t}`));
    const h0 = layer(w, 0, x0);
    h0.forEach((row, t) => assert.ok(maxAbsDiff(row, s.layer0Output![t]!) < 1e-4, `layer-0 output of ${s.text}, token ${t}`));
  }
  // Short texts, an empty text, unknowns, ":" pieces and one > 128-token text (truncated).
  const pick = (f: (s: RefSentence) => boolean, n: number): RefSentence[] => reference.sentences.filter(f).slice(0, n);
  const chosen = [
    ...pick((s) => s.ids.length > 0 && s.ids.length <= 12, 5),
    ...pick((s) => s.ids.includes(0), 1),
    ...pick((s) => /:/.test(s.text), 1),
    ...pick((s) => s.ids.length === 0, 1),
    ...pick((s) => s.ids.length > 128, 1),
  ];
  assert.equal(chosen.length, 9);
  for (const s of chosen) {
    assert.ok(maxAbsDiff(embed(w, s.ids), s.embedding) < 2e-6, `embedding of ${JSON.stringify(s.text)}`);
  }
});

test('the recorded embeddings are unit vectors and batching does not change them', () => {
  for (const s of reference.sentences) {
    assert.equal(s.embedding.length, USE_LITE_CONFIG.hiddenDim);
    assert.ok(Math.abs(Math.hypot(...s.embedding) - 1) < 1e-5);
  }
  reference.batch.sentenceIndices.forEach((i, row) => {
    assert.ok(maxAbsDiff(reference.batch.embeddings[row]!, reference.sentences[i]!.embedding) < 1e-5);
  });
});
