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
import { exists } from '../../util/fs.js';
import { readJsonObjectFile } from '../../util/json.js';
import { checkWeightBytes, findWeightFiles, readCheckpointTensors } from '../checkpoint.js';
import { parseBertConfig, type BertConfig } from './config.js';
import { bertCheckpointNames, bertFromCheckpoint, type LoadedBert } from './from-checkpoint.js';
import { bertWeightSpecs } from './names.js';

export { bertCheckpointNames, bertFromCheckpoint, type LoadedBert } from './from-checkpoint.js';

export { canonicalName, findWeightFiles } from '../checkpoint.js';

/** Loads a parsed BERT-family config's weights from `dir` (see {@link loadBertModel}). */
export async function loadBertWeights(dir: string, config: BertConfig, configPath: string): Promise<LoadedBert> {
  const files = await findWeightFiles(dir);
  const { prefix, wanted } = bertCheckpointNames(config);
  const read = await readCheckpointTensors(files, prefix, wanted);
  // The readers have checked each file (a truncated one is named as such); now the sizes together.
  await checkWeightBytes(bertWeightSpecs(config, false), files, configPath);
  return bertFromCheckpoint(config, read, configPath);
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
