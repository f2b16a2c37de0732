/**
 * Parity of the BERT-family encoders with an independent PyTorch implementation
 * (scripts/fixtures/make_parity_fixtures.py): last hidden state and pooled output, max abs error <= 1e-4.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session, i64, type HostTensor } from '../../src/engine/index.js';
import { buildEncoderGraph } from '../../src/models/build.js';
import { loadBertModel } from '../../src/models/bert/load.js';

const FIX = 'test/fixtures/models';

interface Ref {
  inputs: { input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] };
  last_hidden_state: { shape: number[]; data: number[] };
  pooler_output?: { shape: number[]; data: number[] };
}

function flat(rows: number[][]): HostTensor<'int64'> {
  return i64([rows.length, rows[0]!.length], rows.flat());
}

function maxAbsDiff(a: ArrayLike<number>, b: readonly number[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

async function check(dir: string, weightsFile?: string): Promise<void> {
  const ref = JSON.parse(readFileSync(join(FIX, dir, 'reference.json'), 'utf8')) as Ref;
  const m = await loadBertModel(join(FIX, dir));
  if (weightsFile) assert.ok(m.files.some((f) => f.endsWith(weightsFile)), `read ${m.files.join(', ')}`);
  const eg = buildEncoderGraph(m.encoder, m.weights);
  eg.graph.output(eg.outputs.hidden, eg.outputs.pooled);
  const s = await Session.create(eg.graph);
  const feeds: Record<string, HostTensor> = { input_ids: flat(ref.inputs.input_ids), attention_mask: flat(ref.inputs.attention_mask) };
  if (eg.tokenTypeIds) feeds.token_type_ids = flat(ref.inputs.token_type_ids ?? ref.inputs.input_ids.map((r) => r.map(() => 0)));
  const out = await s.run(feeds);
  const hidden = out[eg.outputs.hidden.name]!;
  assert.deepEqual(hidden.shape, ref.last_hidden_state.shape);
  const e1 = maxAbsDiff(hidden.data as Float32Array, ref.last_hidden_state.data);
  assert.ok(e1 <= 1e-4, `${dir}: last hidden state max abs error ${e1}`);
  if (ref.pooler_output) {
    const e2 = maxAbsDiff(out[eg.outputs.pooled.name]!.data as Float32Array, ref.pooler_output.data);
    assert.ok(e2 <= 1e-4, `${dir}: pooled output max abs error ${e2}`);
  }
  await s.dispose();
}

describe('BERT-family parity with the PyTorch reference (max abs error <= 1e-4)', () => {
  test('BERT (no prefix, gelu, eps 1e-12), safetensors', () => check('tiny-bert', 'model.safetensors'));
  test('BERT with bert. prefix and pre-training heads (gelu_new, eps 1e-5)', () => check('tiny-bert-prefixed'));
  test('BERT with legacy gamma/beta names (relu)', () => check('tiny-bert-legacy'));
  test('RoBERTa (positions offset by padding_idx + 1, silu)', () => check('tiny-roberta'));
  test('DistilBERT (own names, no token types, no pooler)', () => check('tiny-distilbert'));
  test('ELECTRA discriminator (embedding projection 16 -> 32, swish)', () => check('tiny-electra'));
});
