/**
 * A BERT-family base in a browser, from its files' contents (fetched, dropped or unzipped):
 * `config.json`, `*.safetensors` weights, and `tokenizer.json` or `vocab.txt` with the optional
 * `tokenizer_config.json` / `special_tokens_map.json`. The same parsing as `loadBase(dir)` in
 * Node (bert/config.ts, checkpoint-tensors.ts, bert/from-checkpoint.ts, the tokenizers), with the
 * weights read from memory instead of file handles.
 */
import { fail } from '../errors.js';
import { hfBaseTokenizer, type BaseModel } from '../models/base-model.js';
import { collectCheckpointTensors } from '../models/checkpoint-tensors.js';
import { parseBertConfig } from '../models/bert/config.js';
import { bertCheckpointNames, bertFromCheckpoint } from '../models/bert/from-checkpoint.js';
import { HfJsonTokenizer } from '../models/tokenizers/hf-json.js';
import type { Tokenizer } from '../models/tokenizers/types.js';
import { wordPieceFromVocab } from '../models/tokenizers/wordpiece.js';
import { bytesFile } from '../models/weights/open-file.js';
import { readSafetensorsOf } from '../models/weights/safetensors-read.js';

/** The files of a BERT-family model directory, parsed where they are JSON. */
export interface BertFiles {
  /** Names the model in messages and as {@link BaseModel.id}. */
  readonly id: string;
  readonly config: Record<string, unknown>;
  /** Weight files by name (`model.safetensors`, or the shards an index names). */
  readonly weights: ReadonlyMap<string, Uint8Array>;
  readonly tokenizerJson?: Record<string, unknown>;
  readonly vocabTxt?: string;
  readonly tokenizerConfig?: Record<string, unknown>;
  readonly specialTokensMap?: Record<string, unknown>;
}

/**
 * Builds the base (works in Node and in a browser).
 *
 * @throws AdapterkitError UNSUPPORTED_MODEL for a family other than BERT's or weights other than
 *   safetensors; BAD_FILE / BAD_WEIGHTS as `loadBase` for malformed files.
 */
export async function bertBaseFrom(f: BertFiles): Promise<BaseModel> {
  const configPath = `${f.id}/config.json`;
  const config = parseBertConfig(f.config, configPath);
  const names = [...f.weights.keys()].sort();
  if (names.length === 0) fail('BAD_FILE', `${f.id}: no weight files`);
  const other = names.filter((n) => !n.endsWith('.safetensors'));
  if (other.length) fail('UNSUPPORTED_MODEL', `${f.id}: the browser build reads safetensors weights only, not ${other.join(', ')} (convert the checkpoint to model.safetensors)`);
  const { prefix, wanted } = bertCheckpointNames(config);
  const read = await collectCheckpointTensors(names, prefix, wanted, (file, opts) => readSafetensorsOf(bytesFile(file, f.weights.get(file) as Uint8Array), opts));
  const m = bertFromCheckpoint(config, read, configPath);
  const side = { dir: f.id, config: f.tokenizerConfig ?? {}, specialTokensMap: f.specialTokensMap ?? {} };
  let tok: Tokenizer;
  if (f.tokenizerJson) tok = new HfJsonTokenizer({ json: f.tokenizerJson, source: `${f.id}/tokenizer.json`, side });
  else if (f.vocabTxt !== undefined) tok = wordPieceFromVocab(f.vocabTxt, `${f.id}/vocab.txt`, side);
  else fail('BAD_FILE', `${f.id}: no tokenizer (tokenizer.json or vocab.txt)`);
  return { id: f.id, encoder: m.encoder, weights: m.weights, tokenizer: hfBaseTokenizer(tok), sources: names.map((n) => `${f.id}/${n}`) };
}
