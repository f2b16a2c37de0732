/**
 * The encoder families adapterkit loads, keyed by config.json `model_type`: one entry per type,
 * each naming its loader. `loadBase` reads config.json and dispatches here; an unsupported type is
 * refused with the list of supported ones, derived from this registry.
 */
import { join } from 'node:path';
import { fail } from '../errors.js';
import type { HostTensor } from '../engine/index.js';
import { describeValue } from '../util/describe.js';
import { exists } from '../util/fs.js';
import { readJsonObjectFile } from '../util/json.js';
import { loadAlbertModel } from './albert/load.js';
import { parseBertConfig, SUPPORTED_MODEL_TYPES as BERT_TYPES } from './bert/config.js';
import { loadBertWeights } from './bert/load.js';
import type { CheckpointKeys } from './checkpoint.js';
import { loadDebertaV2Model } from './deberta-v2/load.js';
import type { Encoder } from './encoder.js';
import { loadModernBertModel } from './modernbert/load.js';
import { loadMpnetModel } from './mpnet/load.js';

/** An encoder with its weights, as a family's loader returns it. */
export interface LoadedEncoder {
  readonly encoder: Encoder;
  /** Canonical name -> float32 tensor (linear weights [in, out]). */
  readonly weights: Map<string, HostTensor<'float32'>>;
  /** Weight files read. */
  readonly files: readonly string[];
  /** How the checkpoint spelled its keys. */
  readonly keys: CheckpointKeys;
}

/** One encoder family: the loader of model directories whose config.json has `modelType`. */
export interface EncoderFamily {
  readonly modelType: string;
  /** Which module implements it (for docs and messages). */
  readonly module: string;
  /** Loads `dir` given its parsed config.json. */
  load(dir: string, config: Record<string, unknown>, configPath: string): Promise<LoadedEncoder>;
}

/** Every family, in the order messages list them. */
export const ENCODER_FAMILIES: readonly EncoderFamily[] = [
  ...BERT_TYPES.map((t): EncoderFamily => ({ modelType: t, module: 'models/bert', load: (dir, c, p) => loadBertWeights(dir, parseBertConfig(c, p), p) })),
  { modelType: 'albert', module: 'models/albert', load: loadAlbertModel },
  { modelType: 'deberta-v2', module: 'models/deberta-v2', load: loadDebertaV2Model },
  { modelType: 'mpnet', module: 'models/mpnet', load: loadMpnetModel },
  { modelType: 'modernbert', module: 'models/modernbert', load: loadModernBertModel },
];

const BY_TYPE: ReadonlyMap<string, EncoderFamily> = new Map(ENCODER_FAMILIES.map((f) => [f.modelType, f]));

/** The model_type values adapterkit loads. */
export const SUPPORTED_MODEL_TYPES: readonly string[] = ENCODER_FAMILIES.map((f) => f.modelType);

/** The family of a model_type; UNSUPPORTED_MODEL listing the supported types otherwise. */
export function encoderFamily(modelType: unknown, where: string): EncoderFamily {
  const f = typeof modelType === 'string' ? BY_TYPE.get(modelType) : undefined;
  if (!f) fail('UNSUPPORTED_MODEL', `${where}: model_type ${describeValue(modelType)} is not supported; supported model types: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  return f;
}

/**
 * Loads a model directory (config.json + weights) with the loader its model_type names.
 *
 * @example
 * ```ts
 * const m = await loadEncoderModel('test/fixtures/models/tiny-albert');
 * m.encoder.describe().family; // 'albert'
 * ```
 */
export async function loadEncoderModel(dir: string): Promise<LoadedEncoder> {
  const configPath = join(dir, 'config.json');
  if (!(await exists(configPath))) fail('BAD_FILE', `${dir}: no config.json`);
  const config = await readJsonObjectFile(configPath);
  return encoderFamily(config.model_type, configPath).load(dir, config, configPath);
}
