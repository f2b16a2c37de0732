/**
 * A small rule-based English sentence splitter: a sentence ends at `.`, `!` or `?` (plus any
 * closing quotes or brackets) followed by whitespace and an upper-case letter, digit or opening
 * quote — unless the word before the period is a common abbreviation (Mr., Dr., Gen., U.S., ...)
 * or a single letter (an initial).
 */

const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'jr', 'sr', 'st', 'mt', 'ft', 'gen', 'gov', 'sen', 'rep', 'hon', 'col', 'capt', 'lt', 'maj',
  'sgt', 'adm', 'prof', 'rev', 'messrs', 'no', 'nos', 'vol', 'vs', 'etc', 'inc', 'co', 'corp', 'ltd', 'dept', 'jan', 'feb',
  'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'art', 'sec', 'cf', 'viz', 'i.e', 'e.g', 'u.s', 'u.s.a',
]);

const BOUNDARY = /([.!?])(["'”’)\]]*)(\s+)(?=["'“‘(]?[A-Z0-9])/g;

/** Splits text into trimmed, non-empty sentences. */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (const m of text.matchAll(BOUNDARY)) {
    const end = (m.index as number) + (m[1] as string).length + (m[2] as string).length;
    if (m[1] === '.' && !m[2]) {
      const word = /([A-Za-z.]+)$/.exec(text.slice(start, m.index as number))?.[1] ?? '';
      const bare = word.toLowerCase().replace(/^\.+/, '');
      if (ABBREVIATIONS.has(bare) || /^[A-Za-z]$/.test(bare) || /^([a-z]\.)+[a-z]$/.test(bare)) continue;
    }
    const sentence = text.slice(start, end).trim();
    if (sentence !== '') out.push(sentence);
    start = end + (m[3] as string).length;
  }
  const rest = text.slice(start).trim();
  if (rest !== '') out.push(rest);
  return out;
}
