/**
 * Tokenizers for BERT-family encoders: one loader that picks the implementation a model directory
 * calls for.
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer('models/bert-base-uncased');
 * tok.tokenize('Héllo, world!');          // ['hello', ',', 'world', '!']
 * const batch = tok.encode(['Héllo, world!', ['first', 'second']]);
 * batch.seqLen;                           // 6: [CLS] hello , world ! [SEP]
 * ```
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { loadWordPieceTokenizer, readJsonObject, readSideFiles } from './tokenizer-files.js';
import { HfJsonTokenizer } from './hf-json.js';
import { debertaV2TokenizerJson, readSentencePieceModel } from './sentencepiece-model.js';
import type { Tokenizer } from './types.js';
import { isFile } from '../../util/fs.js';

export type { EncodedBatch, EncodeOptions, Tokenizer } from './types.js';
export { WordPieceTokenizer, parseVocabTxt, type WordPieceOptions } from './wordpiece.js';
export { HfJsonTokenizer, type HfJsonTokenizerOptions } from './hf-json.js';
export { BasicTokenizer, type BasicTokenizerOptions } from './basic-tokenizer.js';
export { truncationLengths } from './batch.js';

/** Options of {@link loadTokenizer}. */
export interface LoadTokenizerOptions {
  /** Overrides tokenizer_config.json's do_lower_case (or the BertNormalizer's lowercase in tokenizer.json). */
  doLowerCase?: boolean;
}


/**
 * Loads the tokenizer of a model directory: tokenizer.json when present (run by
 * `@huggingface/tokenizers`), else vocab.txt (BERT WordPiece), else DeBERTa-v2/v3's spm.model
 * (converted to its fast tokenizer, see sentencepiece-model.ts). tokenizer_config.json and
 * special_tokens_map.json are read when present.
 */
export async function loadTokenizer(dir: string, opts: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    fail('BAD_FILE', `tokenizer directory ${dir} does not exist`);
  }
  if (!isDir) fail('BAD_FILE', `tokenizer directory ${dir} is not a directory`);
  const side = await readSideFiles(dir);

  const jsonPath = join(dir, 'tokenizer.json');
  const json = await readJsonObject(jsonPath);
  if (json !== undefined) {
    return new HfJsonTokenizer({ json, source: jsonPath, side, ...(opts.doLowerCase !== undefined ? { doLowerCase: opts.doLowerCase } : {}) });
  }
  if (await isFile(join(dir, 'vocab.txt'))) return loadWordPieceTokenizer(dir, side, opts);
  const spmPath = join(dir, 'spm.model');
  if (await isFile(spmPath)) {
    // DeBERTa-v2/v3 (DebertaV2Tokenizer's file name): the fast tokenizer transformers converts it to
    const json = debertaV2TokenizerJson(await readSentencePieceModel(spmPath), side, spmPath, opts.doLowerCase);
    return new HfJsonTokenizer({ json, source: spmPath, side });
  }

  if ((await isFile(join(dir, 'vocab.json'))) && (await isFile(join(dir, 'merges.txt')))) {
    fail('UNSUPPORTED_MODEL', `${dir}: has vocab.json and merges.txt (byte-level BPE, e.g. RoBERTa) but no tokenizer.json; adapterkit needs tokenizer.json for BPE tokenizers`);
  }
  for (const sp of ['spiece.model', 'sentencepiece.bpe.model', 'tokenizer.model']) {
    if (await isFile(join(dir, sp))) {
      fail('UNSUPPORTED_MODEL', `${dir}: has ${sp} (SentencePiece) but no tokenizer.json; adapterkit needs tokenizer.json for SentencePiece tokenizers`);
    }
  }
  fail('BAD_FILE', `${dir}: no tokenizer found: looked for tokenizer.json, vocab.txt and spm.model`);
}
