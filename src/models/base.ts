/**
 * A base model: an encoder, its frozen pretrained weights and its tokenizer, loaded once and
 * shared by every task. Sources: `use-lite` (the embedded offline default), a local model
 * directory, or a Hugging Face hub id (downloaded into the HF cache); the encoder family is the
 * one config.json's model_type names in the registry (registry.ts).
 */
import { fail } from '../errors.js';
import { hfBaseTokenizer, type BaseModel } from './base-model.js';
import { resolveModel, type HubOptions } from './hub/index.js';
import { loadEncoderModel } from './registry.js';
import { readSentenceTransformersConfig } from './sentence-transformers/read.js';
import { loadTokenizer, type Tokenizer } from './tokenizers/index.js';
import { isDir } from '../util/fs.js';

export { baseFingerprint, baseParamCount, hfBaseTokenizer, type BaseModel, type BaseTokenizer, type SpecialIds, type TextInput } from './base-model.js';

/** The id of the embedded default base. */
export const DEFAULT_BASE = 'use-lite';

/** Options of {@link loadBase}. */
export interface LoadBaseOptions extends HubOptions {
  /** Hub revision (branch, tag or commit). */
  revision?: string;
}

/**
 * Loads a base model.
 *
 * @example
 * ```ts
 * const base = await loadBase('test/fixtures/models/tiny-bert');
 * base.encoder.describe().family; // 'bert'
 * ```
 */
export async function loadBase(source: string = DEFAULT_BASE, o: LoadBaseOptions = {}): Promise<BaseModel> {
  if (source === DEFAULT_BASE) {
    const { loadUseLiteBase } = await import('./use-lite/package-files.js');
    return loadUseLiteBase();
  }
  const local = await isDir(source);
  const dir = local ? source : (await resolveModel(source, o)).dir;
  const m = await loadEncoderModel(dir);
  const st = await readSentenceTransformersConfig(dir);
  let tok: Tokenizer;
  try {
    tok = await loadTokenizer(dir);
  } catch (e) {
    return fail('BAD_FILE', `${source}: the model loaded but its tokenizer did not: ${(e as Error).message}`);
  }
  return {
    id: local ? source : `${source}${o.revision ? `@${o.revision}` : ''}`,
    encoder: m.encoder,
    weights: m.weights,
    tokenizer: hfBaseTokenizer(tok),
    sources: m.files,
    ...(st ? { sentenceTransformers: st } : {}),
  };
}
