/**
 * `adapterkit predict <task-dir> <task-dir> ...`: every input answered by several saved tasks in
 * one pass over the shared base (the server's ModelBackend: an input runs once below the lowest
 * layer where a task acts; see train/multi-task-model.ts). Sentence-level tasks and tagging tasks
 * (which tag each input's text, split into words as single-task predict splits it); each task
 * answers in the shape single-task predict gives it. QA tasks are refused (their inputs are
 * questions over contexts, not one text every task reads).
 */
import { basename } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { fail } from '../../errors.js';
import type { ClassifyItem, ClassifyOutput, ItemOutput, TagOutput, TaskInfo } from '../../serve/backend.js';
import { ModelBackend } from '../../serve/model-backend.js';
import type { Example } from '../../train/data/index.js';
import type { FrozenOptions } from '../../train/frozen-precision.js';
import { loadTaskDir, readManifest } from '../saved-task.js';
import { parseInputs, tagsJson, type InputColumns, type InputLine, type ParseOptions } from './predict.js';

/** What {@link predictMany} needs of predict's flags. */
export interface PredictManyFlags {
  output?: string;
  batchSize: number;
  maxLength?: number;
  base?: string;
  revision?: string;
  threads?: number;
  allScores?: boolean;
  /** Flags that apply to one task only, by name, when given (refused). */
  singleTaskFlags: readonly string[];
  model?: FrozenOptions;
}

/** One task's answer in predict's output form (as `predictionJson`, and `tagsJson` for a tagging task). */
function answerJson(t: TaskInfo, a: ItemOutput, allScores: boolean): Record<string, unknown> {
  if (t.kind === 'tagging') {
    const { words, truncated } = a as TagOutput;
    return tagsJson(words.map((w) => w.word), { tags: words.map((w) => w.tag), scores: words.map((w) => w.score), truncated });
  }
  const o = a as ClassifyOutput;
  if (t.kind === 'regression') return { score: o.score, truncated: o.truncated };
  if (t.kind === 'multilabel') return { label: o.labels, scores: o.scores, truncated: o.truncated };
  return { label: o.label, score: o.scores[o.label as string], ...(allScores ? { scores: o.scores } : {}), truncated: o.truncated };
}

/**
 * The inputs that every task in `infos` reads: one text each (or a sentence pair each, when every
 * task takes pairs). Refuses QA tasks, a tagging task next to a pair task, pair inputs asked of a
 * tagging task and pre-split "tokens" (a tagging task predicted on its own reads those).
 */
function parseManyInputs(infos: readonly TaskInfo[], text: string, format: 'text' | 'jsonl' | 'csv' | 'tsv', where: string, columns: InputColumns): InputLine<Example>[] {
  const qa = infos.find((t) => t.kind === 'qa');
  if (qa) fail('BAD_CONFIG', `task ${qa.name} is a QA task: it answers questions over contexts, not the one text each input gives every task; predict it on its own`);
  const tagging = infos.find((t) => t.kind === 'tagging');
  const pair = infos.find((t) => t.pair);
  if (pair && tagging) fail('BAD_CONFIG', `task ${tagging.name} is a tagging task: it tags one text, while task ${pair.name} takes sentence pairs; predict them separately`);
  const single = infos.find((t) => !t.pair);
  if (pair && single) fail('BAD_CONFIG', `tasks ${pair.name} (sentence pairs) and ${single.name} (single texts) take different inputs; predict them separately`);
  const o: ParseOptions = tagging
    ? {
        singleTexts: `task ${tagging.name} is a tagging task: it tags one text, not a sentence pair`,
        checkObject: (line, at) => {
          if (Array.isArray(line.tokens)) fail('BAD_DATA', `${at}: "tokens" (pre-split words) is read by a tagging task predicted on its own; with several tasks every task reads the input's one text: give "text" (task ${tagging.name} splits it into words as predict does)`);
        },
      }
    : { singleTexts: 'these tasks take single texts' };
  return parseInputs(text, format, pair !== undefined, where, columns, o);
}

/**
 * Predicts `text` (already read, in `format`) with every task in `dirs`; writes one line per
 * input: `{"id", "tasks": {"<task>": {...}, ...}}` (or `{"id", "empty": true}`), each task's
 * object what single-task predict writes for it (without the id).
 */
export async function predictMany(dirs: readonly string[], text: string, format: 'text' | 'jsonl' | 'csv' | 'tsv', where: string, columns: InputColumns, f: PredictManyFlags): Promise<void> {
  if (f.singleTaskFlags.length) fail('BAD_CONFIG', `${f.singleTaskFlags.join(', ')} appl${f.singleTaskFlags.length > 1 ? 'y' : 'ies'} to one task; with several task directories give each task as saved`);
  const manifests = await Promise.all(dirs.map(async (d) => ({ dir: d, m: await readManifest(d) })));
  const names = manifests.map(({ dir, m }) => m?.name ?? basename(dir));
  names.forEach((n, i) => {
    const j = names.indexOf(n);
    if (j !== i) fail('BAD_CONFIG', `task directories ${dirs[j]} and ${dirs[i]} both hold a task named ${n}; each task answers under its name, so give tasks of distinct names`);
  });
  if (f.base === undefined) {
    const bases = manifests.map(({ m }) => m?.base.id);
    const other = bases.findIndex((b) => b !== bases[0]);
    if (other > 0) fail('ADAPTER_MISMATCH', `the tasks were trained on different bases (${names[0]}: ${bases[0] ?? 'none recorded'}, ${names[other]}: ${bases[other] ?? 'none recorded'}); predict several tasks of one base at a time, or give --base`);
  }
  const lengths = manifests.map(({ m }) => m?.maxLength);
  if (f.maxLength === undefined && new Set(lengths).size > 1) {
    fail('BAD_CONFIG', `the tasks were trained with different max lengths (${names.map((n, i) => `${n} ${lengths[i] ?? 'unknown'}`).join(', ')}) and one pass tokenizes once: give --max-length`);
  }
  const first = await loadTaskDir(dirs[0] as string, { ...f, model: f.model, inference: true });
  const maxLength = f.maxLength ?? first.maxLength;
  const backend = new ModelBackend(first.base, { maxLength, ...(f.threads !== undefined ? { threads: f.threads } : {}), ...(f.model ? { frozen: f.model } : {}) });
  try {
    const infos = [backend.attach(names[0] as string, first.saved.model)];
    for (let i = 1; i < dirs.length; i++) infos.push(await backend.load(names[i] as string, dirs[i] as string));
    const lines: InputLine<Example>[] = parseManyInputs(infos, text, format, where, columns);
    const inputs = lines.flatMap((l) => (l.input ? [l.input] : []));
    const answers: ItemOutput[][] = [];
    for (let s = 0; s < inputs.length; s += f.batchSize) {
      const chunk = inputs.slice(s, s + f.batchSize);
      const items: ClassifyItem[] = chunk.flatMap((e) => infos.map((t) => ({ task: t.name, input: e.textB !== undefined ? [e.textA, e.textB] as [string, string] : e.textA })));
      const out = await backend.classify(items);
      chunk.forEach((_, i) => answers.push(out.slice(i * infos.length, (i + 1) * infos.length)));
    }
    let k = 0;
    const body = lines.map((l) => {
      if (!l.input) return JSON.stringify({ id: l.id, empty: true });
      const a = answers[k++] as ItemOutput[];
      return JSON.stringify({ id: l.id, tasks: Object.fromEntries(infos.map((t, j) => [t.name, answerJson(t, a[j] as ItemOutput, !!f.allScores)])) });
    });
    const out = `${body.join('\n')}\n`;
    if (f.output !== undefined) await writeFile(f.output, out);
    else process.stdout.write(out);
    const truncated = answers.filter((a) => a.some((x) => x.truncated)).length;
    if (truncated) process.stderr.write(`note: ${truncated} of ${answers.length} input(s) were truncated to ${maxLength} tokens\n`);
  } finally {
    await backend.dispose();
  }
}
