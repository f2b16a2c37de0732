/**
 * Loader for sequence-tagging files:
 *
 * - CoNLL: one token per line, columns separated by whitespace, the token in the first column and
 *   the tag in the last (or `tagColumn`); a blank line ends a sentence; `-DOCSTART-` lines are
 *   skipped. Every token line of a file must have as many columns as its first token line, so a
 *   CoNLL-2003 line that lost its NER tag is caught instead of its chunk tag being read as the tag.
 * - JSONL: one object per line, `{"tokens": [...], "tags": [...]}` (keys configurable); tags may
 *   be numbers when `tagNames` gives their names (Hugging Face `ner_tags` style).
 *
 * A malformed line fails the load (BAD_DATA naming file and line) or, with `onBadRow: 'skip'`,
 * drops the whole sentence it belongs to and records it in the report.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fail } from '../../errors.js';
import type { LoadedTaggingData, TaggedSentence, TagScheme } from '../tokens/types.js';
import { BadRows, checkOnBadRow } from './bad-rows.js';
import type { OnBadRow } from './types.js';
import { defaultTaggingMetrics } from '../metrics/seqeval.js';

/** File format of a tagging file; by default `.jsonl`/`.ndjson` are JSONL, anything else CoNLL. */
export type TaggingFormat = 'conll' | 'jsonl';

/** How to read tagging files: their format, where tokens and tags are, and the tag set. */
export interface TaggingFileOptions {
  /** File format; by default `.jsonl`/`.ndjson` files are JSONL, any other file CoNLL. */
  format?: TaggingFormat;
  /**
   * CoNLL: 0-based column of the tag (column 0 is the token); negative counts from the end.
   * Default -1, the last column (CoNLL-2003's NER tag; 1 is its POS tag, 2 its chunk tag).
   */
  tagColumn?: number;
  /** JSONL: the key of each line's token array. Default `tokens`. */
  tokensKey?: string;
  /** JSONL: the key of each line's tag array. Default `tags`. */
  tagsKey?: string;
  /**
   * JSONL: names of numeric tags, index = number (Hugging Face `ner_tags` style). It only names
   * the tags; to keep this order as the class ids, pass the same list as `tagSet`.
   */
  tagNames?: string[];
  /**
   * The tag scheme, instead of the detected one: BIOES when some tag is `E-X` or `S-X` and all
   * are `O` or `[BIES]-X`, BIO when all are `O` or `[BI]-X`, else plain.
   */
  scheme?: TagScheme;
  /**
   * The tag set in class-id order, instead of the tags found in the files, sorted (`O` first,
   * then span tags grouped by type, then other tags in code-point order); a tag of the files that
   * is not in it fails the load (BAD_DATA naming file and line).
   */
  tagSet?: string[];
}

/** Options for {@link loadTaggingTask}. */
export interface TaggingTaskOptions extends TaggingFileOptions {
  files: { train: string; dev?: string; test?: string };
  name?: string;
  onBadRow?: OnBadRow;
  description?: string;
}

/** Options shared by the parsers. */
export interface ParseTaggingOptions {
  /** Split name used in generated ids (`<split>-<n>`). */
  split: string;
  tagColumn?: number;
  tokensKey?: string;
  tagsKey?: string;
  tagNames?: readonly string[];
}

/**
 * Loads a tagging task from CoNLL or JSONL files.
 *
 * @example
 * ```ts
 * const ner = await loadTaggingTask({ files: { train: 'train.txt', dev: 'valid.txt' } });
 * ner.scheme; // 'BIO'
 * ner.tagSet; // ['O', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC', 'B-ORG', 'I-ORG', 'B-PER', 'I-PER']
 * ```
 */
export async function loadTaggingTask(options: TaggingTaskOptions): Promise<LoadedTaggingData> {
  const bad = new BadRows(checkOnBadRow(options.onBadRow));
  const splits: Record<string, TaggedSentence[]> = {};
  for (const [split, file] of Object.entries(options.files)) {
    if (file === undefined) continue;
    const format = options.format ?? (['.jsonl', '.ndjson'].includes(extname(file).toLowerCase()) ? 'jsonl' : 'conll');
    const text = await readText(file);
    const opts: ParseTaggingOptions = {
      split,
      ...(options.tagColumn === undefined ? {} : { tagColumn: options.tagColumn }),
      ...(options.tokensKey === undefined ? {} : { tokensKey: options.tokensKey }),
      ...(options.tagsKey === undefined ? {} : { tagsKey: options.tagsKey }),
      ...(options.tagNames === undefined ? {} : { tagNames: options.tagNames }),
    };
    splits[split] = format === 'jsonl' ? parseTaggingJsonl(text, file, bad, opts) : parseConll(text, file, bad, opts);
  }
  const all = Object.values(splits).flat();
  const tagSet = options.tagSet ? [...options.tagSet] : sortTags(all.flatMap((s) => s.tags));
  if (options.tagSet) {
    const known = new Set(tagSet);
    for (const [split, sentences] of Object.entries(splits)) {
      for (const s of sentences) {
        const unknown = s.tags.find((t) => !known.has(t));
        if (unknown !== undefined) {
          fail('BAD_DATA', `${s.source?.file ?? split}:${s.source?.line ?? 0}: tag "${unknown}" is not in the given tagSet (${tagSet.join(', ')})`);
        }
      }
    }
  }
  const scheme = options.scheme ?? detectScheme(tagSet);
  return {
    name: options.name ?? 'custom-tagging',
    tagSet,
    scheme,
    splits,
    metrics: defaultTaggingMetrics(scheme),
    ...(options.description === undefined ? {} : { description: options.description }),
    report: bad.report,
  };
}

async function readText(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (e) {
    fail('BAD_FILE', `cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * Parses CoNLL text (see the module comment). Sentence ids are `<split>-<n>` counting kept
 * sentences from 0.
 */
export function parseConll(text: string, file: string, bad: BadRows, opts: ParseTaggingOptions): TaggedSentence[] {
  const tagColumn = opts.tagColumn ?? -1;
  const lines = text.split('\n');
  const out: TaggedSentence[] = [];
  let width: number | undefined;
  let widthLine = 0;
  let current: { tokens: string[]; tags: string[]; line: number; broken: boolean } | undefined;
  const close = () => {
    if (current && !current.broken && current.tokens.length > 0) {
      out.push({ id: `${opts.split}-${out.length}`, tokens: current.tokens, tags: current.tags, source: { file, line: current.line } });
    }
    current = undefined;
  };
  lines.forEach((raw, i) => {
    const line = i + 1;
    const fields = raw.trim().split(/\s+/).filter((f) => f !== '');
    if (fields.length === 0) {
      close();
      return;
    }
    if (fields[0] === '-DOCSTART-') {
      close();
      return;
    }
    current ??= { tokens: [], tags: [], line, broken: false };
    if (current.broken) return;
    const reject = (reason: string) => {
      bad.bad(file, line, `${reason} (sentence starting on line ${(current as { line: number }).line} dropped)`);
      (current as { broken: boolean }).broken = true;
    };
    if (fields.length < 2) {
      reject(`missing tag: expected "<token> ... <tag>", found only ${JSON.stringify(fields[0])}`);
      return;
    }
    if (width === undefined) {
      width = fields.length;
      widthLine = line;
    } else if (fields.length !== width) {
      reject(`expected ${width} columns as on line ${widthLine}, found ${fields.length}`);
      return;
    }
    const column = tagColumn < 0 ? fields.length + tagColumn : tagColumn;
    if (column < 1 || column >= fields.length) {
      fail('BAD_CONFIG', `${file}:${line}: tagColumn ${tagColumn} does not name a tag column of a ${fields.length}-column line (column 0 is the token)`);
    }
    current.tokens.push(fields[0] as string);
    current.tags.push(fields[column] as string);
  });
  close();
  return out;
}

/** Parses JSONL tagging lines (see the module comment). */
export function parseTaggingJsonl(text: string, file: string, bad: BadRows, opts: ParseTaggingOptions): TaggedSentence[] {
  const tokensKey = opts.tokensKey ?? 'tokens';
  const tagsKey = opts.tagsKey ?? 'tags';
  const out: TaggedSentence[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      bad.bad(file, line, `invalid JSON: ${(e as Error).message}`);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      bad.bad(file, line, 'expected a JSON object');
      return;
    }
    const record = value as Record<string, unknown>;
    const tokens = record[tokensKey];
    const rawTags = record[tagsKey];
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) {
      bad.bad(file, line, `"${tokensKey}" must be an array of strings`);
      return;
    }
    if (!Array.isArray(rawTags)) {
      bad.bad(file, line, `missing tags: "${tagsKey}" must be an array`);
      return;
    }
    if (rawTags.length !== tokens.length) {
      bad.bad(file, line, `length mismatch: ${tokens.length} tokens but ${rawTags.length} tags`);
      return;
    }
    const tags: string[] = [];
    for (const [k, t] of rawTags.entries()) {
      if (typeof t === 'string') {
        tags.push(t);
      } else if (typeof t === 'number' && opts.tagNames !== undefined && opts.tagNames[t] !== undefined) {
        tags.push(opts.tagNames[t]);
      } else {
        bad.bad(file, line, `tag ${k} is ${JSON.stringify(t)}; expected a string${opts.tagNames ? ` or an index below ${opts.tagNames.length}` : ' (numeric tags need tagNames)'}`);
        return;
      }
    }
    if (tokens.length === 0) {
      bad.bad(file, line, 'empty sentence (no tokens)');
      return;
    }
    const rawId = record['id'];
    const id = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : `${opts.split}-${out.length}`;
    out.push({ id, tokens: tokens as string[], tags, source: { file, line } });
  });
  return out;
}

const PREFIX_ORDER: Record<string, number> = { B: 0, I: 1, E: 2, S: 3 };
const SPAN_TAG = /^([BIES])-(.+)$/;

/**
 * Detects the tag scheme: BIOES when some tag is E-X or S-X and all are O or [BIES]-X; BIO when
 * all tags are O or [BI]-X (including a set of only 'O'); plain otherwise.
 */
export function detectScheme(tags: Iterable<string>): TagScheme {
  let bioes = false;
  for (const tag of tags) {
    if (tag === 'O') continue;
    const m = SPAN_TAG.exec(tag);
    if (!m) return 'plain';
    if (m[1] === 'E' || m[1] === 'S') bioes = true;
  }
  return bioes ? 'BIOES' : 'BIO';
}

/**
 * Distinct tags in a deterministic order: 'O' first; then span tags grouped by entity type
 * (types in code-point order) with prefixes in the order B, I, E, S; then any other tag in
 * code-point order.
 */
export function sortTags(tags: Iterable<string>): string[] {
  const key = (t: string): [number, string, number] => {
    if (t === 'O') return [0, '', 0];
    const m = SPAN_TAG.exec(t);
    return m ? [1, m[2] as string, PREFIX_ORDER[m[1] as string] as number] : [2, t, 0];
  };
  return [...new Set(tags)].sort((a, b) => {
    const [ga, ta, pa] = key(a);
    const [gb, tb, pb] = key(b);
    return ga - gb || (ta < tb ? -1 : ta > tb ? 1 : 0) || pa - pb;
  });
}
