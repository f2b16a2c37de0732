/** Loads an ALBERT model directory: config.json and its weights (keys with or without `albert.`). */
import type { HostTensor } from '../../engine/index.js';
import { checkWeightBytes, convertCheckpoint, findWeightFiles, readCheckpointTensors, type CheckpointKeys } from '../checkpoint.js';
import { parseAlbertConfig, type AlbertConfig } from './config.js';
import { AlbertEncoder } from './encoder.js';
import { ALBERT_NAMES, ALBERT_PREFIX, albertWeightSpecs } from './names.js';

/** A loaded ALBERT model. */
export interface LoadedAlbert {
  readonly encoder: AlbertEncoder;
  readonly config: AlbertConfig;
  readonly weights: Map<string, HostTensor<'float32'>>;
  readonly files: readonly string[];
  readonly keys: CheckpointKeys;
}

/**
 * Loads an ALBERT checkpoint whose parsed config.json is `json`. The pooler is used when the
 * checkpoint has one (AlbertModel, AlbertForPreTraining; AlbertForMaskedLM has none).
 */
export async function loadAlbertModel(dir: string, json: Record<string, unknown>, configPath: string): Promise<LoadedAlbert> {
  const config = parseAlbertConfig(json, configPath);
  const files = await findWeightFiles(dir);
  const read = await readCheckpointTensors(files, ALBERT_PREFIX, new Set(albertWeightSpecs(config, true).map((s) => s.name)));
  await checkWeightBytes(albertWeightSpecs(config, false), files, configPath);
  const encoder = new AlbertEncoder(config, read.found.has(`${ALBERT_NAMES.pooler}.weight`), read.keys);
  const weights = convertCheckpoint(encoder.weightSpecs, read, configPath);
  return { encoder, config, weights, files, keys: read.keys };
}
