/**
 * Loads a BERT-family model directory (config.json + weights) into an encoder and its weights.
 *
 * Checkpoint keys are mapped to canonical names (see models/checkpoint.ts): the model prefix
 * (`bert.`, `roberta.`, ...) is optional, legacy `gamma`/`beta` LayerNorm names are accepted, and
 * keys the encoder does not use (pre-training heads, buffers) are ignored and reported. Every check
 * runs before anything is returned, so a bad checkpoint never yields a half-loaded model.
 */
import { join } from 'node:path';
import { fail } from '../../errors.js';
import type { HostTensor } from '../../engine/index.js';
import { exists } from '../../util/fs.js';
import { readJsonObjectFile } from '../../util/json.js';
import { checkWeightBytes, convertCheckpoint, findWeightFiles, readCheckpointTensors, type CheckpointKeys } from '../checkpoint.js';
import { parseBertConfig, type BertConfig } from './config.js';
import { BertEncoder } from './encoder.js';
import { EMBEDDINGS, bertWeightSpecs, familyRecord } from './names.js';

export { canonicalName, findWeightFiles } from '../checkpoint.js';

/** A loaded BERT-family model. */
export interface LoadedBert {
  readonly encoder: BertEncoder;
  readonly config: BertConfig;
  /** Canonical name -> float32 tensor (linear weights [in, out]). */
  readonly weights: Map<string, HostTensor<'float32'>>;
  /** Weight files read. */
  readonly files: readonly string[];
  /** Checkpoint keys that the encoder does not use. */
  readonly ignored: readonly string[];
  /** How the checkpoint spelled its keys. */
  readonly keys: CheckpointKeys;
}

/** Loads a parsed BERT-family config's weights from `dir` (see {@link loadBertModel}). */
export async function loadBertWeights(dir: string, config: BertConfig, configPath: string): Promise<LoadedBert> {
  const rec = familyRecord(config.modelType);
  const files = await findWeightFiles(dir);
  const wanted = new Set(bertWeightSpecs(config, rec.mayHavePooler).map((s) => s.name));
  const read = await readCheckpointTensors(files, rec.prefix, wanted);
  // The readers have checked each file (a truncated one is named as such); now the sizes together.
  await checkWeightBytes(bertWeightSpecs(config, false), files, configPath);
  const hasPooler = rec.mayHavePooler && read.found.has(`${EMBEDDINGS.pooler}.weight`);
  const encoder = new BertEncoder(config, hasPooler, read.keys);
  const weights = convertCheckpoint(encoder.weightSpecs, read, configPath);
  return { encoder, config, weights, files, ignored: read.keys.ignored, keys: read.keys };
}

/**
 * Loads `dir/config.json` and its weights.
 *
 * @example
 * ```ts
 * const m = await loadBertModel('test/fixtures/models/tiny-bert');
 * m.encoder.describe(); // { family: 'bert', layers: 2, hidden: 32, heads: 4, ... }
 * ```
 */
export async function loadBertModel(dir: string): Promise<LoadedBert> {
  const configPath = join(dir, 'config.json');
  if (!(await exists(configPath))) fail('BAD_FILE', `${dir}: no config.json`);
  const config = parseBertConfig(await readJsonObjectFile(configPath), configPath);
  return loadBertWeights(dir, config, configPath);
}
