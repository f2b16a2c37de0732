/**
 * Task files on disk: {@link loadTabularTask} reads CSV, TSV or JSONL files and parses them with
 * the runtime-neutral loader in tabular-task.ts (which the browser page uses on dropped files).
 */
import { readFile } from 'node:fs/promises';
import { fail } from '../../errors.js';
import { tabularTaskFromTexts, type TabularTaskOptions } from './tabular-task.js';
import type { LoadedTask } from './types.js';

export {
  cellText, readDelimitedRecords, tabularTaskFromTexts,
  type ColumnRef, type FileRecord, type TabularColumns, type TabularFormat, type TabularTaskOptions, type TaskTextReader,
} from './tabular-task.js';

async function readText(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (e) {
    fail('BAD_FILE', `cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * Loads a task from CSV, TSV or JSONL files.
 *
 * @example
 * ```ts
 * const task = await loadTabularTask({
 *   files: { train: 'train.csv', dev: 'dev.csv' },
 *   columns: { text: 'review', label: 'stars' },
 *   kind: 'classification',
 * });
 * task.labels; // ['1', '2', '3', '4', '5'] (sorted names seen in train.csv)
 * ```
 */
export async function loadTabularTask(options: TabularTaskOptions): Promise<LoadedTask> {
  return tabularTaskFromTexts(options, readText);
}
