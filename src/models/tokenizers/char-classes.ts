/**
 * Character classes used by BERT's BasicTokenizer, with an ASCII lookup table so the common case
 * costs one array read. All regexes are compiled once, here.
 */

const PUNCT_RE = /^\p{P}$/u;
const OTHER_RE = /^\p{C}$/u; // Cc, Cf, Cs, Co, Cn: what transformers' `_is_control` treats as control
const SPACE_SEPARATOR_RE = /^\p{Zs}$/u;

const ASCII_PUNCT = 1;
const ASCII_CONTROL = 2;
const ASCII_SPACE = 4;

/** Flags for code points 0..127, filled once. */
const ASCII_FLAGS: Uint8Array = (() => {
  const flags = new Uint8Array(128);
  for (let cp = 0; cp < 128; cp++) {
    // BERT treats every non-letter, non-digit printable ASCII character as punctuation.
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
      flags[cp] = ASCII_PUNCT;
    }
    if (cp === 32 || cp === 9 || cp === 10 || cp === 13) flags[cp] = ASCII_SPACE;
    else if (cp < 32 || cp === 127) flags[cp] = ASCII_CONTROL;
  }
  return flags;
})();

/** BERT's `_is_whitespace`: space, tab, newline, carriage return, or Unicode category Zs. */
export function isBertWhitespace(cp: number, ch: string): boolean {
  if (cp < 128) return ((ASCII_FLAGS[cp] ?? 0) & ASCII_SPACE) !== 0;
  return SPACE_SEPARATOR_RE.test(ch);
}

/** BERT's `_is_control`: Unicode category C* except tab, newline and carriage return. */
export function isBertControl(cp: number, ch: string): boolean {
  if (cp < 128) return ((ASCII_FLAGS[cp] ?? 0) & ASCII_CONTROL) !== 0;
  return OTHER_RE.test(ch);
}

/** BERT's `_is_punctuation`: ASCII 33-47, 58-64, 91-96, 123-126, or Unicode category P*. */
export function isBertPunctuation(cp: number, ch: string): boolean {
  if (cp < 128) return ((ASCII_FLAGS[cp] ?? 0) & ASCII_PUNCT) !== 0;
  return PUNCT_RE.test(ch);
}

/**
 * BERT's `_is_chinese_char`: the CJK Unified Ideographs blocks (and extensions A-E) and the CJK
 * Compatibility Ideographs blocks. Hangul, Hiragana and Katakana are deliberately not included.
 */
export function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

const NON_SPACING_MARKS_RE = /\p{Mn}/gu;
const NON_ASCII_RE = /[\u0080-\uffff]/; // any UTF-16 unit above ASCII, surrogates included

/** BERT's `_run_strip_accents`: NFD, then drop every non-spacing mark (category Mn). */
export function stripAccents(text: string): string {
  if (!NON_ASCII_RE.test(text)) return text;
  return text.normalize('NFD').replace(NON_SPACING_MARKS_RE, '');
}

/** True when the string has a character outside ASCII. */
export function hasNonAscii(text: string): boolean {
  return NON_ASCII_RE.test(text);
}
