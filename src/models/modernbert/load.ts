/** Loads a ModernBERT model directory: config.json and its weights (keys with or without `model.`). */
import type { HostTensor } from '../../engine/index.js';
import { checkWeightBytes, convertCheckpoint, findWeightFiles, readCheckpointTensors, type CheckpointKeys } from '../checkpoint.js';
import { parseModernBertConfig, type ModernBertConfig } from './config.js';
import { ModernBertEncoder } from './encoder.js';
import { MODERNBERT_NAMES, MODERNBERT_PREFIX, checkpointHeadName, modernBertWeightSpecs } from './names.js';

/** A loaded ModernBERT model. */
export interface LoadedModernBert {
  readonly encoder: ModernBertEncoder;
  readonly config: ModernBertConfig;
  readonly weights: Map<string, HostTensor<'float32'>>;
  readonly files: readonly string[];
  readonly keys: CheckpointKeys;
}

/**
 * Loads a ModernBERT checkpoint whose parsed config.json is `json`. The prediction head
 * (`head.dense`, `head.norm`: ModernBertForMaskedLM's and the task models') makes the pooled
 * output when the checkpoint has it; a bare ModernBertModel pools its first token.
 */
export async function loadModernBertModel(dir: string, json: Record<string, unknown>, configPath: string): Promise<LoadedModernBert> {
  const config = parseModernBertConfig(json, configPath);
  const files = await findWeightFiles(dir);
  const all = modernBertWeightSpecs(config, true);
  const read = await readCheckpointTensors(files, MODERNBERT_PREFIX, new Set(all.map((s) => checkpointHeadName(s.name))));
  for (const s of all) {
    const key = checkpointHeadName(s.name);
    const hit = read.found.get(key);
    if (key !== s.name && hit) {
      read.found.delete(key);
      read.found.set(s.name, hit);
    }
  }
  await checkWeightBytes(modernBertWeightSpecs(config, false), files, configPath);
  const encoder = new ModernBertEncoder(config, read.found.has(`${MODERNBERT_NAMES.headDense}.weight`), read.keys);
  const weights = convertCheckpoint(encoder.weightSpecs, read, configPath);
  return { encoder, config, weights, files, keys: read.keys };
}
