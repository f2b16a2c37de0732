/** Loads a DeBERTa-v2 / v3 model directory: config.json and its weights (keys with or without `deberta.`). */
import type { HostTensor } from '../../engine/index.js';
import { checkWeightBytes, convertCheckpoint, findWeightFiles, readCheckpointTensors, type CheckpointKeys } from '../checkpoint.js';
import { parseDebertaV2Config, type DebertaV2Config } from './config.js';
import { DebertaV2Encoder } from './encoder.js';
import { DEBERTA_NAMES, DEBERTA_PREFIX, debertaWeightSpecs } from './names.js';

/** A loaded DeBERTa-v2 model. */
export interface LoadedDebertaV2 {
  readonly encoder: DebertaV2Encoder;
  readonly config: DebertaV2Config;
  readonly weights: Map<string, HostTensor<'float32'>>;
  readonly files: readonly string[];
  readonly keys: CheckpointKeys;
}

/**
 * Loads a DeBERTa-v2 checkpoint whose parsed config.json is `json`. The ContextPooler is used when
 * the checkpoint has one (DebertaV2ForSequenceClassification's `pooler.dense`; DebertaV2Model and
 * DebertaV2ForMaskedLM have none, and the first token's hidden state is the pooled output).
 */
export async function loadDebertaV2Model(dir: string, json: Record<string, unknown>, configPath: string): Promise<LoadedDebertaV2> {
  const config = parseDebertaV2Config(json, configPath);
  const files = await findWeightFiles(dir);
  const read = await readCheckpointTensors(files, DEBERTA_PREFIX, new Set(debertaWeightSpecs(config, true).map((s) => s.name)));
  await checkWeightBytes(debertaWeightSpecs(config, false), files, configPath);
  const encoder = new DebertaV2Encoder(config, read.found.has(`${DEBERTA_NAMES.pooler}.weight`), read.keys);
  const weights = convertCheckpoint(encoder.weightSpecs, read, configPath);
  return { encoder, config, weights, files, keys: read.keys };
}
