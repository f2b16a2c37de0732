/**
 * BERT-style WordPiece tokenizer built from vocab.txt: BasicTokenizer, then greedy
 * longest-match-first WordPiece with '##' continuations. Used for BERT, DistilBERT and ELECTRA
 * checkpoints that ship no tokenizer.json.
 */
import { fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { BasicTokenizer } from './basic-tokenizer.js';
import { encodeBatch } from './batch.js';
import { extraSpecialTokens, readBool, readModelMaxLength, resolveSpecialTokens, sideFilePath, type TokenizerSideFiles } from './config.js';
import { hasNonAscii } from './char-classes.js';
import type { EncodedBatch, EncodeOptions, Tokenizer } from './types.js';

/** Everything a {@link WordPieceTokenizer} needs, already parsed. */
export interface WordPieceOptions {
  /** Token strings by id (line order of vocab.txt). */
  vocab: readonly string[];
  /** Where the vocabulary came from, for messages. */
  source: string;
  doLowerCase: boolean;
  /** null: strip accents exactly when lower-casing. */
  stripAccents: boolean | null;
  tokenizeChineseChars: boolean;
  /** Special tokens by role; cls, sep, pad and unk are required. */
  specialTokens: Record<string, string>;
  /** More special tokens, matched in text and never split. */
  extraSpecialTokens?: readonly string[];
  /** Words the BasicTokenizer keeps whole (tokenizer_config.json `never_split`). */
  neverSplit?: readonly string[];
  modelMaxLength: number | undefined;
  /** Words longer than this many characters become the unknown token. Default 100. */
  maxInputCharsPerWord?: number;
  /** Prefix of non-initial pieces. Default '##'. */
  continuingSubwordPrefix?: string;
}

const REQUIRED_ROLES = ['cls', 'sep', 'pad', 'unk'] as const;
const CACHE_LIMIT = 100_000;

/** BERT's tokenizer: `[CLS] a [SEP]` for one text, `[CLS] a [SEP] b [SEP]` with token types 0/1 for pairs. */
export class WordPieceTokenizer implements Tokenizer {
  readonly kind = 'wordpiece';
  readonly vocabSize: number;
  readonly padId: number;
  readonly specialTokens: Record<string, string>;
  readonly modelMaxLength: number | undefined;
  private readonly ids: Map<string, number>;
  private readonly basic: BasicTokenizer;
  private readonly clsId: number;
  private readonly sepId: number;
  private readonly unkToken: string;
  private readonly maxChars: number;
  private readonly prefix: string;
  private readonly source: string;
  /** Matches any special token in raw text; undefined when there are none. */
  private readonly specialRe: RegExp | undefined;
  private readonly specialSet: ReadonlySet<string>;
  private readonly cache = new Map<string, readonly string[]>();

  constructor(opts: WordPieceOptions) {
    this.source = opts.source;
    this.ids = new Map();
    opts.vocab.forEach((token, id) => this.ids.set(token, id)); // a repeated line keeps its last id, as HF does
    this.vocabSize = opts.vocab.length;
    this.specialTokens = {};
    for (const [role, token] of Object.entries(opts.specialTokens)) {
      // Optional roles (mask, bos, eos) whose token the vocabulary lacks are left out.
      if (this.ids.has(token) || (REQUIRED_ROLES as readonly string[]).includes(role)) this.specialTokens[role] = token;
    }
    for (const role of REQUIRED_ROLES) {
      const token = this.specialTokens[role];
      if (token === undefined) fail('BAD_FILE', `${opts.source}: no ${role}_token configured`);
      if (!this.ids.has(token)) fail('BAD_FILE', `${opts.source}: special token ${describeValue(token)} (${role}_token) is not in the vocabulary`);
    }
    const idOf = (role: string): number => this.ids.get(this.specialTokens[role] as string) as number;
    this.clsId = idOf('cls');
    this.sepId = idOf('sep');
    this.padId = idOf('pad');
    this.unkToken = this.specialTokens['unk'] as string;
    this.modelMaxLength = opts.modelMaxLength;
    this.maxChars = opts.maxInputCharsPerWord ?? 100;
    this.prefix = opts.continuingSubwordPrefix ?? '##';
    const specials = [...new Set([...Object.values(this.specialTokens), ...(opts.extraSpecialTokens ?? [])])]
      .filter((t) => t.length > 0 && this.ids.has(t));
    this.specialSet = new Set(specials);
    this.specialRe = specials.length === 0
      ? undefined
      : new RegExp(`(${specials.sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')})`);
    this.basic = new BasicTokenizer({
      doLowerCase: opts.doLowerCase,
      stripAccents: opts.stripAccents,
      tokenizeChineseChars: opts.tokenizeChineseChars,
      neverSplit: [...specials, ...(opts.neverSplit ?? [])],
    });
  }

  /** Pieces of `text` without [CLS]/[SEP], e.g. "Unaffable!" -> ["un", "##aff", "##able", "!"]. */
  tokenize(text: string): string[] {
    const out: string[] = [];
    const segments = this.specialRe === undefined ? [text] : text.split(this.specialRe);
    for (const segment of segments) {
      if (segment.length === 0) continue;
      if (this.specialSet.has(segment)) {
        out.push(segment);
        continue;
      }
      for (const word of this.basic.tokenize(segment)) {
        for (const piece of this.wordPieces(word)) out.push(piece);
      }
    }
    return out;
  }

  /** Encodes texts or pairs; see {@link Tokenizer.encode}. */
  encode(inputs: Array<string | [string, string]>, opts?: EncodeOptions): EncodedBatch {
    return encodeBatch<number>(inputs, opts, {
      pieces: (text) => this.tokenize(text).map((p) => this.ids.get(p) as number),
      assemble: (a, b) => {
        const ids = [this.clsId, ...a, this.sepId];
        const types = new Array<number>(ids.length).fill(0);
        if (b !== null) {
          for (const id of b) { ids.push(id); types.push(1); }
          ids.push(this.sepId);
          types.push(1);
        }
        return { ids, types };
      },
      numSpecial: (pair) => (pair ? 3 : 2),
      padId: this.padId,
      modelMaxLength: this.modelMaxLength,
    });
  }

  /** A JSON-friendly description. */
  summary(): Record<string, unknown> {
    return {
      kind: this.kind,
      source: this.source,
      vocabSize: this.vocabSize,
      doLowerCase: this.basic.doLowerCase,
      stripAccents: this.basic.stripAccents,
      tokenizeChineseChars: this.basic.tokenizeChineseChars,
      modelMaxLength: this.modelMaxLength ?? null,
      padId: this.padId,
      specialTokens: { ...this.specialTokens },
    };
  }

  /** Greedy longest-match-first split of one word; the whole word becomes [UNK] if any part has no match. */
  private wordPieces(word: string): readonly string[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    const pieces = this.splitWord(word);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, pieces);
    return pieces;
  }

  private splitWord(word: string): readonly string[] {
    // Work on code points so lengths and cut positions match Python's str.
    const chars = hasNonAscii(word) ? Array.from(word) : undefined;
    const n = chars === undefined ? word.length : chars.length;
    if (n > this.maxChars) return [this.unkToken];
    const sub = (s: number, e: number): string => (chars === undefined ? word.slice(s, e) : chars.slice(s, e).join(''));
    const pieces: string[] = [];
    let start = 0;
    while (start < n) {
      let end = n;
      let found: string | undefined;
      while (start < end) {
        const candidate = start > 0 ? this.prefix + sub(start, end) : sub(start, end);
        if (this.ids.has(candidate)) { found = candidate; break; }
        end--;
      }
      if (found === undefined) return [this.unkToken];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** vocab.txt lines in order: one token per line, id = line number from 0; a trailing newline adds no token. */
export function parseVocabTxt(text: string, path: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const vocab = lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (vocab.length === 0) fail('BAD_FILE', `${path}: vocabulary is empty`);
  return vocab;
}

/**
 * A {@link WordPieceTokenizer} from the text of vocab.txt (named `path` in messages) and the side
 * files: lower-casing, accents, Chinese characters, special tokens and the length limit as the
 * tokenizer_config.json says.
 */
export function wordPieceFromVocab(text: string, path: string, side: TokenizerSideFiles, opts: { doLowerCase?: boolean } = {}): WordPieceTokenizer {
  const doLowerCase = opts.doLowerCase ?? readBool(side, 'do_lower_case', true);
  const rawStrip = side.config['strip_accents'];
  if (rawStrip !== undefined && rawStrip !== null && typeof rawStrip !== 'boolean') {
    fail('BAD_FILE', `${sideFilePath(side.dir, 'tokenizer_config.json')}: "strip_accents" must be true, false or null, got ${describeValue(rawStrip)}`);
  }
  const neverSplitRaw = side.config['never_split'];
  const neverSplit = Array.isArray(neverSplitRaw) ? neverSplitRaw.filter((t): t is string => typeof t === 'string') : [];
  return new WordPieceTokenizer({
    vocab: parseVocabTxt(text, path),
    source: path,
    doLowerCase,
    stripAccents: (rawStrip as boolean | null | undefined) ?? null,
    tokenizeChineseChars: readBool(side, 'tokenize_chinese_chars', true),
    specialTokens: resolveSpecialTokens(side, { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]', mask: '[MASK]' }),
    extraSpecialTokens: extraSpecialTokens(side),
    neverSplit,
    modelMaxLength: readModelMaxLength(side),
  });
}
