/**
 * BERT-family bases the ui server offers the page besides the embedded USE-lite: local model
 * directories (`config.json`, `*.safetensors`, `tokenizer.json` or `vocab.txt`, and the optional
 * tokenizer side files), served file by file under `/assets/bases/<name>/` and built in the
 * page's worker with {@link bertBaseFrom} (the browser build reads safetensors only). The server
 * keeps its own copy of each (`loadBase(dir)`) for Download, so a task trained on one records the
 * same fingerprint as `adapterkit train` on that directory.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { parseBertConfig } from '../models/bert/config.js';
import { FAMILIES } from '../models/bert/names.js';
import { readJsonObjectFile } from '../util/json.js';
import { EMBEDDED_BASE_NAME, type ServedBase } from './protocol.js';

/** The files of a model directory the page may fetch. */
export const SERVED_BASE_FILE = /^(config\.json|[\w.-]+\.safetensors|model\.safetensors\.index\.json|tokenizer\.json|vocab\.txt|tokenizer_config\.json|special_tokens_map\.json)$/;

/**
 * Checks `dir` and lists what the page fetches of it.
 *
 * @throws AdapterkitError BAD_CONFIG for a bad name; UNSUPPORTED_MODEL for a family other than
 *   BERT's or a directory without safetensors weights; BAD_FILE without a tokenizer.
 */
export async function servedBase(name: string, dir: string): Promise<ServedBase> {
  if (!/^[A-Za-z0-9_-]+$/.test(name) || name === EMBEDDED_BASE_NAME) fail('BAD_CONFIG', `base name ${JSON.stringify(name)}: use letters, digits, _ and - (and not ${EMBEDDED_BASE_NAME}, the embedded base)`);
  const configPath = join(dir, 'config.json');
  const raw = await readJsonObjectFile(configPath);
  if (typeof raw.model_type !== 'string' || !Object.prototype.hasOwnProperty.call(FAMILIES, raw.model_type)) {
    fail('UNSUPPORTED_MODEL', `base ${name} (${dir}): the page builds BERT-family bases (${Object.keys(FAMILIES).join(', ')}), not model_type ${JSON.stringify(raw.model_type)}`);
  }
  const config = parseBertConfig(raw, configPath);
  const files = readdirSync(dir).filter((f) => SERVED_BASE_FILE.test(f)).sort();
  if (!files.some((f) => f.endsWith('.safetensors'))) fail('UNSUPPORTED_MODEL', `base ${name} (${dir}): the page reads safetensors weights only and the directory has none (convert the checkpoint to model.safetensors)`);
  if (!files.includes('tokenizer.json') && !files.includes('vocab.txt')) fail('BAD_FILE', `base ${name} (${dir}): no tokenizer.json or vocab.txt`);
  return { name, family: config.modelType, files };
}
