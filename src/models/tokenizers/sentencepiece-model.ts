/**
 * SentencePiece model files (`spm.model`, the `ModelProto` of sentencepiece_model.proto) read
 * without the SentencePiece library, and DeBERTa-v2/v3's tokenizer built from one. DeBERTa's hub
 * repositories ship `spm.model` and no tokenizer.json; Hugging Face's fast tokenizer is the
 * conversion transformers' DebertaV2Converter makes, which is what this module writes as a
 * tokenizer.json object for {@link HfJsonTokenizer}:
 *
 * - model: Unigram over the pieces with their scores, unk = trainer_spec.unk_id; `[MASK]` is added
 *   after the pieces when the model has none (DebertaV2Tokenizer adds it);
 * - normalizer: Lowercase (`do_lower_case`), Strip, Precompiled (when the model has a character
 *   map), Replace(" {2,}" -> " ");
 * - pre-tokenizer: Punctuation isolated (`split_by_punct`), Metaspace ("▁", prepended when
 *   normalizer_spec.add_dummy_prefix);
 * - post-processor: `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]` (B and its `[SEP]` type 1);
 * - the control and unknown pieces, and `[MASK]`, are special added tokens.
 */
import { readFile, stat } from 'node:fs/promises';
import { fail } from '../../errors.js';
import { MAX_TOKENIZER_FILE_BYTES, type TokenizerSideFiles } from './config.js';

/** Piece types of sentencepiece_model.proto. */
export const PIECE_TYPES = { 1: 'normal', 2: 'unknown', 3: 'control', 4: 'user-defined', 5: 'unused', 6: 'byte' } as const;
/** A piece type. */
export type PieceType = (typeof PIECE_TYPES)[keyof typeof PIECE_TYPES];

/** What adapterkit reads of a SentencePiece model. */
export interface SentencePieceModel {
  readonly pieces: readonly { readonly piece: string; readonly score: number; readonly type: PieceType }[];
  /** trainer_spec.model_type: 1 unigram, 2 bpe, 3 word, 4 char. */
  readonly modelType: number;
  readonly unkId: number;
  readonly byteFallback: boolean;
  /** normalizer_spec.name, e.g. `nmt_nfkc`. */
  readonly normalizerName: string;
  /** normalizer_spec.precompiled_charsmap (empty: none). */
  readonly precompiledCharsmap: Uint8Array;
  readonly addDummyPrefix: boolean;
}

/** A cursor over protobuf wire format. */
class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly source: string) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) fail('BAD_FILE', `${this.source}: truncated SentencePiece model (a varint runs past the end)`);
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result >= 2 ** 63 ? result - 2 ** 64 : result; // int32/int64 negatives are 10-byte two's complement
      scale *= 128;
    }
    return fail('BAD_FILE', `${this.source}: malformed SentencePiece model (a varint longer than 10 bytes)`);
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.buf.length) fail('BAD_FILE', `${this.source}: truncated SentencePiece model (a field of ${n} bytes runs past the end)`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  float(): number {
    if (this.pos + 4 > this.buf.length) fail('BAD_FILE', `${this.source}: truncated SentencePiece model (a float runs past the end)`);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  /** Skips a field of wire type `wire`. */
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else fail('BAD_FILE', `${this.source}: malformed SentencePiece model (wire type ${wire})`);
  }

  /** Calls `f(field, wire)` for every field until the end; `f` reads the value or returns false to skip it. */
  fields(f: (field: number, wire: number) => boolean): void {
    while (!this.done) {
      const tag = this.varint();
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (!f(field, wire)) this.skip(wire);
    }
    if (this.pos > this.buf.length) fail('BAD_FILE', `${this.source}: truncated SentencePiece model`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads and parses a SentencePiece model file (at most {@link MAX_TOKENIZER_FILE_BYTES}). */
export async function readSentencePieceModel(path: string): Promise<SentencePieceModel> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) fail('BAD_FILE', `cannot read ${path}: not a regular file`);
    size = st.size;
  } catch (e) {
    return fail('BAD_FILE', `cannot read ${path}: ${(e as Error).message}`);
  }
  if (size > MAX_TOKENIZER_FILE_BYTES) fail('BAD_FILE', `${path}: ${size} bytes is more than the ${MAX_TOKENIZER_FILE_BYTES}-byte limit for a tokenizer file`);
  return parseSentencePieceModel(new Uint8Array(await readFile(path)), path);
}

/** Parses a SentencePiece `ModelProto`; `source` names it in errors. */
export function parseSentencePieceModel(buf: Uint8Array, source: string): SentencePieceModel {
  const pieces: { piece: string; score: number; type: PieceType }[] = [];
  let modelType = 1;
  let unkId = 0;
  let byteFallback = false;
  let normalizerName = '';
  let precompiledCharsmap: Uint8Array = new Uint8Array(0);
  let addDummyPrefix = true;
  const text = (b: Uint8Array, what: string): string => {
    try {
      return utf8.decode(b);
    } catch {
      return fail('BAD_FILE', `${source}: ${what} is not valid UTF-8`);
    }
  };
  const top = new Reader(buf, source);
  top.fields((field, wire) => {
    if (wire !== 2 || field < 1 || field > 3) return false;
    const r = new Reader(top.bytes(), source);
    if (field === 1) {
      // SentencePiece { piece = 1; score = 2; type = 3 }
      let piece = '';
      let score = 0;
      let type = 1;
      r.fields((f, w) => {
        if (f === 1 && w === 2) piece = text(r.bytes(), `piece ${pieces.length}`);
        else if (f === 2 && w === 5) score = r.float();
        else if (f === 3 && w === 0) type = r.varint();
        else return false;
        return true;
      });
      const t = PIECE_TYPES[type as keyof typeof PIECE_TYPES];
      if (!t) fail('BAD_FILE', `${source}: piece ${pieces.length} has unknown type ${type}`);
      pieces.push({ piece, score, type: t });
    } else if (field === 2) {
      // TrainerSpec { model_type = 3; byte_fallback = 35; unk_id = 40 }
      r.fields((f, w) => {
        if (f === 3 && w === 0) modelType = r.varint();
        else if (f === 40 && w === 0) unkId = r.varint();
        else if (f === 35 && w === 0) byteFallback = r.varint() !== 0;
        else return false;
        return true;
      });
    } else {
      // NormalizerSpec { name = 1; precompiled_charsmap = 2; add_dummy_prefix = 3 }
      r.fields((f, w) => {
        if (f === 1 && w === 2) normalizerName = text(r.bytes(), 'the normalizer name');
        else if (f === 2 && w === 2) precompiledCharsmap = r.bytes();
        else if (f === 3 && w === 0) addDummyPrefix = r.varint() !== 0;
        else return false;
        return true;
      });
    }
    return true;
  });
  if (pieces.length === 0) fail('BAD_FILE', `${source}: a SentencePiece model without pieces`);
  if (!(Number.isInteger(unkId) && unkId >= 0 && unkId < pieces.length)) fail('BAD_FILE', `${source}: unk_id ${unkId} is not a piece of the ${pieces.length}-piece model`);
  return { pieces, modelType, unkId, byteFallback, normalizerName, precompiledCharsmap, addDummyPrefix };
}

/**
 * The tokenizer.json object of DeBERTa-v2/v3's fast tokenizer for a SentencePiece model (see the
 * module comment); `do_lower_case` (unless `doLowerCase` overrides it) and `split_by_punct` are
 * read from tokenizer_config.json (default false, as DebertaV2Tokenizer).
 */
export function debertaV2TokenizerJson(m: SentencePieceModel, side: TokenizerSideFiles, source: string, doLowerCase?: boolean): Record<string, unknown> {
  if (m.modelType !== 1) fail('UNSUPPORTED_MODEL', `${source}: SentencePiece model_type ${m.modelType} is not supported; only unigram (1)`);
  if (m.byteFallback) fail('UNSUPPORTED_MODEL', `${source}: SentencePiece byte_fallback is not supported`);
  const flag = (key: string): boolean => {
    const v = side.config[key];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') fail('BAD_FILE', `${side.dir}/tokenizer_config.json: "${key}" must be true or false`);
    return v;
  };
  const vocab: [string, number][] = m.pieces.map((p) => [p.piece, p.score]);
  const ids = new Map(m.pieces.map((p, i) => [p.piece, i]));
  for (const t of ['[CLS]', '[SEP]', '[PAD]']) if (!ids.has(t)) fail('UNSUPPORTED_MODEL', `${source}: no ${t} piece: not a DeBERTa-v2 SentencePiece model`);
  if (!ids.has('[MASK]')) {
    ids.set('[MASK]', vocab.length);
    vocab.push(['[MASK]', 0]);
  }
  const special = (content: string) => ({ id: ids.get(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const specials = m.pieces.flatMap((p, i) => (p.type === 'control' || p.type === 'unknown' || i === m.unkId ? [p.piece] : []));
  const added = [...specials, ...(specials.includes('[MASK]') ? [] : ['[MASK]'])].map(special);
  const metaspace = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: m.addDummyPrefix ? 'always' : 'never', split: true };
  const b64 = Buffer.from(m.precompiledCharsmap).toString('base64');
  const template = (t: string, typeId: number) => ({ SpecialToken: { id: t, type_id: typeId } });
  const seq = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        ...((doLowerCase ?? flag('do_lower_case')) ? [{ type: 'Lowercase' }] : []),
        { type: 'Strip', strip_left: true, strip_right: true },
        ...(m.precompiledCharsmap.length ? [{ type: 'Precompiled', precompiled_charsmap: b64 }] : []),
        { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
      ],
    },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [...(flag('split_by_punct') ? [{ type: 'Punctuation', behavior: 'Isolated' }] : []), metaspace] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [template('[CLS]', 0), seq('A', 0), template('[SEP]', 0)],
      pair: [template('[CLS]', 0), seq('A', 0), template('[SEP]', 0), seq('B', 1), template('[SEP]', 1)],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [ids.get(t)], tokens: [t] }])),
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: m.unkId, vocab, byte_fallback: false },
  };
}
