/**
 * Shared pieces of the encoder-family tests: temporary copies of fixture files, the maximum
 * absolute error, int64 inputs, and the bare encoder run on a PyTorch reference's inputs.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session, i64, type HostTensor } from '../../src/engine/index.js';
import { buildEncoderGraph } from '../../src/models/build.js';
import { loadEncoderModel } from '../../src/models/registry.js';
import { tempDir } from '../temp-dir.js';

/** Where the tiny model fixtures live. */
export const FIX = 'test/fixtures/models';

/** A tensor as the reference scripts write it. */
export interface Rec { shape: number[]; data: number[] }

/** What a family's reference.json holds for the bare encoder (families add their own fields). */
export interface EncoderRef {
  inputs: { texts: string[][]; input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] };
  last_hidden_state: Rec;
  pooler_output: Rec;
}

/** A temp model directory (pushed to `temps` for removal) with `files` of `fixture`, e.g. config.json and pytorch_model.bin only. */
export function fixtureCopy(fixture: string, files: readonly string[], temps: string[]): string {
  const dir = tempDir('adapterkit-family-');
  temps.push(dir);
  for (const f of files) copyFileSync(join(FIX, fixture, f), join(dir, f));
  return dir;
}

/** Largest |a_i - b_i| (the lengths must agree). */
export function maxAbsDiff(a: ArrayLike<number>, b: readonly number[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** An int64 [rows, columns] tensor of token ids or mask values. */
export const ids = (rows: number[][]): HostTensor<'int64'> => i64([rows.length, rows[0]!.length], rows.flat());

/** Runs the bare encoder of `dir` on the reference inputs; max abs errors of hidden and pooled. */
export async function encoderParity(dir: string, ref: EncoderRef): Promise<{ hidden: number; pooled: number; describe: Record<string, unknown> }> {
  const m = await loadEncoderModel(dir);
  const eg = buildEncoderGraph(m.encoder, m.weights);
  eg.graph.output(eg.outputs.hidden, eg.outputs.pooled);
  const s = await Session.create(eg.graph);
  const feeds: Record<string, HostTensor> = { input_ids: ids(ref.inputs.input_ids), attention_mask: ids(ref.inputs.attention_mask) };
  if (eg.tokenTypeIds) feeds.token_type_ids = ids(ref.inputs.token_type_ids ?? ref.inputs.input_ids.map((r) => r.map(() => 0)));
  const out = await s.run(feeds);
  await s.dispose();
  assert.deepEqual(out[eg.outputs.hidden.name]!.shape, ref.last_hidden_state.shape);
  return {
    hidden: maxAbsDiff(out[eg.outputs.hidden.name]!.data as Float32Array, ref.last_hidden_state.data),
    pooled: maxAbsDiff(out[eg.outputs.pooled.name]!.data as Float32Array, ref.pooler_output.data),
    describe: m.encoder.describe(),
  };
}
