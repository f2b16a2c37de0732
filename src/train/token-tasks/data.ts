/**
 * Loading token-level task data from one spec: a built-in tagging dataset (`brown-pos`), CoNLL
 * or JSONL tagging files, or SQuAD v1.1/v2.0 JSON files.
 */
import { basename, extname } from 'node:path';
import { fail } from '../../errors.js';
import { loadTaggingTask, type TaggingFileOptions } from '../data/conll.js';
import { loadSquad } from '../data/squad.js';
import { listTokenDatasets, loadTokenDataset } from '../data/builtin/index.js';
import type { OnBadRow, SkippedRow } from '../data/types.js';
import type { QaExample, TaggingData } from '../tokens/types.js';

/** Files of a token-level task by split name. */
export interface TokenTaskFiles {
  train: string;
  dev?: string;
  test?: string;
}

/**
 * Tagging files (CoNLL or JSONL) of a token-level task, and how to read them: the format, the
 * tag's column or the JSONL keys, the names of numeric tags, and the scheme and tag set when they
 * are not to be detected.
 */
export interface TaggingFilesSpec extends TaggingFileOptions {
  tokenTask: 'tagging';
  files: TokenTaskFiles;
  /** The task's name; default: the train file's base name. */
  name?: string;
  /** What a malformed line does: `fail` (default, BAD_DATA naming file and line) or `skip` its sentence (listed in `skipped`). */
  onBadRow?: OnBadRow;
}

/** Where a token-level task's data comes from: a built-in tagging dataset, tagging files, or SQuAD files. */
export type TokenTaskSpec =
  | { tokenTask: 'tagging'; builtin: string }
  | TaggingFilesSpec
  | { tokenTask: 'qa'; files: TokenTaskFiles; name?: string; onBadRow?: OnBadRow };

/** A loaded token-level task. */
export type LoadedTokenTask =
  | { kind: 'tagging'; name: string; data: TaggingData; skipped: SkippedRow[] }
  | {
    kind: 'qa'; name: string; splits: Record<string, QaExample[]>;
    /** True when any file marks questions `is_impossible` (SQuAD v2: the empty answer is allowed). */
    v2: boolean;
    skipped: SkippedRow[];
  };

/** Whether a value (e.g. a run record's data) is a {@link TokenTaskSpec}. */
export function isTokenTaskSpec(x: unknown): x is TokenTaskSpec {
  return typeof x === 'object' && x !== null && ((x as { tokenTask?: unknown }).tokenTask === 'tagging' || (x as { tokenTask?: unknown }).tokenTask === 'qa');
}

/** Whether `name` is a built-in token-level dataset. */
export function isTokenDatasetName(name: string): boolean {
  return listTokenDatasets().some((d) => d.name === name);
}

function nameOf(files: TokenTaskFiles): string {
  return basename(files.train, extname(files.train)).replace(/[^A-Za-z0-9_-]+/g, '-') || 'task';
}

/**
 * Loads a token-level task.
 *
 * @example
 * ```ts
 * const pos = await loadTokenTask({ tokenTask: 'tagging', builtin: 'brown-pos' });
 * const ner = await loadTokenTask({ tokenTask: 'tagging', files: { train: 'train.txt', dev: 'valid.txt' } }); // CoNLL-2003: NER tag in the last column
 * const chunks = await loadTokenTask({ tokenTask: 'tagging', files: { train: 'train.txt' }, tagColumn: 2 });
 * const squad = await loadTokenTask({ tokenTask: 'qa', files: { train: 'train-v2.0.json', dev: 'dev-v2.0.json' } });
 * ```
 */
export async function loadTokenTask(spec: TokenTaskSpec): Promise<LoadedTokenTask> {
  if (spec.tokenTask === 'tagging') {
    if ('builtin' in spec) {
      const data = await loadTokenDataset(spec.builtin);
      return { kind: 'tagging', name: data.name, data, skipped: [] };
    }
    const { tokenTask: _tokenTask, ...options } = spec;
    const data = await loadTaggingTask({ ...options, name: spec.name ?? nameOf(spec.files) });
    return { kind: 'tagging', name: data.name, data, skipped: data.report.skipped };
  }
  if (spec.tokenTask !== 'qa') fail('BAD_CONFIG', `unknown token task ${JSON.stringify((spec as { tokenTask: unknown }).tokenTask)}`);
  const splits: Record<string, QaExample[]> = {};
  const skipped: SkippedRow[] = [];
  let v2 = false;
  for (const [split, file] of Object.entries(spec.files)) {
    if (file === undefined) continue;
    const d = await loadSquad(file, spec.onBadRow ? { onBadRow: spec.onBadRow } : {});
    splits[split] = d.examples;
    skipped.push(...d.report.skipped);
    v2 ||= d.hasImpossible || /^v?2/.test(d.version);
  }
  return { kind: 'qa', name: spec.name ?? nameOf(spec.files), splits, v2, skipped };
}
