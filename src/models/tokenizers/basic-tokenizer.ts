/**
 * BERT's BasicTokenizer: text cleaning, spaces around CJK ideographs, whitespace splitting,
 * optional lower-casing and accent stripping, and punctuation splitting.
 */
import { isBertControl, isBertPunctuation, isBertWhitespace, isCjkIdeograph, stripAccents } from './char-classes.js';

/** Options of {@link BasicTokenizer}, named as in tokenizer_config.json. */
export interface BasicTokenizerOptions {
  /** Lower-case every word not in `neverSplit`. */
  doLowerCase: boolean;
  /** null: strip accents exactly when lower-casing; true/false: always/never. */
  stripAccents: boolean | null;
  /** Put spaces around CJK ideographs so each becomes its own word. */
  tokenizeChineseChars: boolean;
  /** Words kept as they are: not lower-cased, not split on punctuation. */
  neverSplit: Iterable<string>;
}

// After cleaning, the only whitespace left is ' ' (all Zs and \t\n\r became ' ') plus the line and
// paragraph separators, which Python's str.split() also splits on.
const WORD_SPLIT_RE = /[ \u2028\u2029]+/;

/** Splits text into words and punctuation the way BERT does before WordPiece. */
export class BasicTokenizer {
  readonly doLowerCase: boolean;
  readonly stripAccents: boolean | null;
  readonly tokenizeChineseChars: boolean;
  private readonly neverSplit: ReadonlySet<string>;

  constructor(opts: BasicTokenizerOptions) {
    this.doLowerCase = opts.doLowerCase;
    this.stripAccents = opts.stripAccents;
    this.tokenizeChineseChars = opts.tokenizeChineseChars;
    this.neverSplit = new Set(opts.neverSplit);
  }

  /** Words and punctuation marks of `text`, e.g. "Héllo, World!" -> ["hello", ",", "world", "!"] when lower-casing. */
  tokenize(text: string, out: string[] = []): string[] {
    const cleaned = this.clean(text);
    for (const word of cleaned.split(WORD_SPLIT_RE)) {
      if (word.length === 0) continue;
      if (this.neverSplit.has(word)) {
        out.push(word);
        continue;
      }
      let w = word;
      if (this.doLowerCase) {
        w = w.toLowerCase();
        if (this.stripAccents !== false) w = stripAccents(w);
      } else if (this.stripAccents === true) {
        w = stripAccents(w);
      }
      if (w.length === 0) continue;
      if (this.neverSplit.has(w)) out.push(w);
      else splitOnPunctuation(w, out);
    }
    return out;
  }

  /** Drops NUL, U+FFFD and control characters, maps whitespace to ' ', pads CJK ideographs with spaces. */
  private clean(text: string): string {
    let out = '';
    let runStart = 0; // start of the current run of characters copied unchanged
    const n = text.length;
    let i = 0;
    while (i < n) {
      const cp = text.codePointAt(i) as number;
      const width = cp > 0xffff ? 2 : 1;
      if (cp < 128 && cp > 32 && cp !== 127) {
        i += width; // printable ASCII: unchanged
        continue;
      }
      const ch = width === 1 ? text[i] as string : text.slice(i, i + 2);
      let replacement: string | undefined;
      if (cp === 0 || cp === 0xfffd || isBertControl(cp, ch)) replacement = '';
      else if (isBertWhitespace(cp, ch)) replacement = cp === 32 ? undefined : ' ';
      else if (this.tokenizeChineseChars && isCjkIdeograph(cp)) replacement = ` ${ch} `;
      if (replacement !== undefined) {
        out += text.slice(runStart, i) + replacement;
        runStart = i + width;
      }
      i += width;
    }
    return runStart === 0 ? text : out + text.slice(runStart);
  }
}

/** BERT's `_run_split_on_punc`: every punctuation character becomes its own piece. */
function splitOnPunctuation(word: string, out: string[]): void {
  let start = 0;
  let i = 0;
  const n = word.length;
  while (i < n) {
    const cp = word.codePointAt(i) as number;
    const width = cp > 0xffff ? 2 : 1;
    if (isBertPunctuation(cp, width === 1 ? word[i] as string : word.slice(i, i + 2))) {
      if (i > start) out.push(word.slice(start, i));
      out.push(word.slice(i, i + width));
      start = i + width;
    }
    i += width;
  }
  if (n > start) out.push(word.slice(start));
}
