/**
 * A BERT-family encoder from checkpoint tensors already read (from files on disk: load.ts; from
 * fetched bytes in the browser build): which names to read, then the encoder and its weights in
 * its layout. No file access.
 */
import type { HostTensor } from '../../engine/index.js';
import { convertCheckpoint, type CheckpointKeys, type CheckpointTensors } from '../checkpoint-tensors.js';
import type { BertConfig } from './config.js';
import { BertEncoder } from './encoder.js';
import { EMBEDDINGS, bertWeightSpecs, familyRecord } from './names.js';

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

/** The checkpoint prefix of the config's family and the canonical names of every tensor it may hold. */
export function bertCheckpointNames(config: BertConfig): { prefix: string; wanted: Set<string> } {
  const rec = familyRecord(config.modelType);
  return { prefix: rec.prefix, wanted: new Set(bertWeightSpecs(config, rec.mayHavePooler).map((s) => s.name)) };
}

/** The encoder and its weights from what was read (BAD_WEIGHTS when a tensor is missing or misshapen). */
export function bertFromCheckpoint(config: BertConfig, read: CheckpointTensors, configPath: string): LoadedBert {
  const rec = familyRecord(config.modelType);
  const hasPooler = rec.mayHavePooler && read.found.has(`${EMBEDDINGS.pooler}.weight`);
  const encoder = new BertEncoder(config, hasPooler, read.keys);
  const weights = convertCheckpoint(encoder.weightSpecs, read, configPath);
  return { encoder, config, weights, files: read.keys.files, ignored: read.keys.ignored, keys: read.keys };
}
