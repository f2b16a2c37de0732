/**
 * Reading a sentence-transformers checkpoint directory's modules.json and its Pooling module's
 * config.json (the layout and the fields: config.ts).
 */
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { parseJsonText, readOptionalJsonObjectFile, readTextFile } from '../../util/json.js';
import { POOLING_TYPE, ST_MODULES_FILE, parseStModules, parseStPooling, sentenceTransformersConfig, type SentenceTransformersConfig, type StPoolingConfig } from './config.js';

/**
 * Reads `dir`'s sentence-transformers pipeline: undefined when it has no modules.json (a plain
 * Hugging Face checkpoint). A Pooling module whose config.json is missing, and malformed files,
 * are BAD_FILE errors naming the file; an unsupported mode is not an error here (it only matters
 * when a head would take its pooling from it: sentencePooling in config.ts).
 */
export async function readSentenceTransformersConfig(dir: string): Promise<SentenceTransformersConfig | undefined> {
  const text = await readTextFile(join(dir, ST_MODULES_FILE), 1 << 20);
  if (text === undefined) return undefined;
  const where = join(dir, ST_MODULES_FILE);
  const modules = parseStModules(parseJsonText(text, `${where} is not valid JSON`), where);
  const poolingModule = modules.find((m) => m.type === POOLING_TYPE);
  let pooling: StPoolingConfig | undefined;
  if (poolingModule) {
    const file = join(poolingModule.path, 'config.json');
    const c = await readOptionalJsonObjectFile(join(dir, file));
    if (!c) fail('BAD_FILE', `${where} names a Pooling module in ${describeValue(poolingModule.path)}, but ${join(dir, file)} does not exist`);
    pooling = parseStPooling(c, file);
  }
  return sentenceTransformersConfig(modules, pooling);
}

