/**
 * How a base's tokenizer splits words for token-level tasks: per-word piece ids and the special
 * ids rows are built with, taken from the optional {@link BaseTokenizer} members.
 */
import { fail } from '../../errors.js';
import type { BaseModel } from '../../models/base.js';

/** Per-word tokenization of one base. */
export interface WordPieces {
  /** Ids of one word without specials. */
  pieces(word: string): readonly number[];
  /** CLS / SEP of tagging rows (absent for tokenizers without them, e.g. USE-lite). */
  clsId?: number;
  sepId?: number;
  /** Start and separator ids of QA windows (CLS/SEP, else the vocabulary's `<s>`/`</s>`). */
  qaStartId: number;
  qaSepId: number;
  unkId: number;
  /** Split punctuation off words when computing character spans (WordPiece: true; SentencePiece: false). */
  splitPunctuation: boolean;
}

/**
 * The {@link WordPieces} of a base.
 *
 * @throws AdapterkitError UNSUPPORTED_MODEL when the tokenizer cannot tokenize single words.
 */
export function wordPieces(base: BaseModel): WordPieces {
  const tok = base.tokenizer;
  const ids = tok.specialIds;
  if (!tok.pieceIds || !ids) fail('UNSUPPORTED_MODEL', `the tokenizer of base ${base.id} cannot tokenize single words (no pieceIds), so it cannot serve tagging or QA tasks`);
  const pieceIds = tok.pieceIds.bind(tok);
  const qaStartId = ids.cls ?? ids.bos;
  const qaSepId = ids.sep ?? ids.eos;
  if (qaStartId === undefined || qaSepId === undefined) {
    fail('UNSUPPORTED_MODEL', `the tokenizer of base ${base.id} has neither CLS/SEP nor BOS/EOS ids, which QA windows need`);
  }
  return {
    pieces: pieceIds,
    ...(ids.cls !== undefined ? { clsId: ids.cls } : {}),
    ...(ids.sep !== undefined ? { sepId: ids.sep } : {}),
    qaStartId,
    qaSepId,
    unkId: ids.unk,
    splitPunctuation: tok.splitsPunctuation ?? true,
  };
}
