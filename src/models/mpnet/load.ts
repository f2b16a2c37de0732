/** Loads an MPNet model directory: config.json and its weights (keys with or without `mpnet.`). */
import type { HostTensor } from '../../engine/index.js';
import { checkWeightBytes, convertCheckpoint, findWeightFiles, readCheckpointTensors, type CheckpointKeys } from '../checkpoint.js';
import { parseMpnetConfig, type MpnetConfig } from './config.js';
import { MpnetEncoder } from './encoder.js';
import { MPNET_NAMES, MPNET_PREFIX, mpnetWeightSpecs } from './names.js';

/** A loaded MPNet model. */
export interface LoadedMpnet {
  readonly encoder: MpnetEncoder;
  readonly config: MpnetConfig;
  readonly weights: Map<string, HostTensor<'float32'>>;
  readonly files: readonly string[];
  readonly keys: CheckpointKeys;
}

/**
 * Loads an MPNet checkpoint whose parsed config.json is `json`. The pooler is used when the
 * checkpoint has one (MPNetModel, as sentence-transformers save it; MPNetForMaskedLM has none).
 */
export async function loadMpnetModel(dir: string, json: Record<string, unknown>, configPath: string): Promise<LoadedMpnet> {
  const config = parseMpnetConfig(json, configPath);
  const files = await findWeightFiles(dir);
  const read = await readCheckpointTensors(files, MPNET_PREFIX, new Set(mpnetWeightSpecs(config, true).map((s) => s.name)));
  await checkWeightBytes(mpnetWeightSpecs(config, false), files, configPath);
  const encoder = new MpnetEncoder(config, read.found.has(`${MPNET_NAMES.pooler}.weight`), read.keys);
  const weights = convertCheckpoint(encoder.weightSpecs, read, configPath);
  return { encoder, config, weights, files, keys: read.keys };
}
