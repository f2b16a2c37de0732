/**
 * `adapterkit merge <task-dir> <task-dir>... --out <dir>`: the adapters of several saved tasks
 * merged into a new task (linear averaging, TIES or DARE; see adapters/merge.ts), saved in the
 * same layouts as a trained task. Steps go to stderr, the summary to stdout.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { fail } from '../../errors.js';
import { MERGE_METHODS, type MergeMethod } from '../../adapters/merge.js';
import { describeMode } from '../../train/modes.js';
import { mergeTaskModels } from '../../train/merge-tasks.js';
import { loadSavedTask, saveTask } from '../../train/task-io.js';
import type { TaskModel } from '../../train/task-model.js';
import { checkWritableDir } from '../../util/atomic-dir.js';
import { exists } from '../../util/fs.js';
import { formatInt, keyValues, printJson } from '../format.js';
import { intArg, numberArg, sanitizeTaskName } from '../options.js';
import { loadTaskDir } from '../saved-task.js';

interface MergeFlags {
  out: string;
  method: MergeMethod;
  weights?: number[];
  density?: number;
  rank?: number;
  seed: number;
  heads: 'first' | 'average';
  name?: string;
  base?: string;
  revision?: string;
  force?: boolean;
  json?: boolean;
}

const EXAMPLES = `
Methods:
  linear   weighted average of every adapter tensor (bottleneck, LoRA A and B, IA3); weights
           normalised to sum 1, equal by default (AdapterHub's average_adapter "linear")
  ties     LoRA: TIES-Merging (Yadav et al. 2023) of the task vectors (alpha/r) A B: trim to
           --density, elect signs, average the agreeing entries; weights default 1
  dare     LoRA: DARE (Yu et al. 2024): drop entries with probability 1 - --density, rescale
           by 1/density, weighted sum (weights default 1); --seed fixes the masks
  ties and dare save the merged update as a LoRA of rank --rank (default the largest input
  rank; min(in, out) is exact) and say how much of it the rank loses.

Examples:
  # average two seeds of the same task (adapters and heads)
  $ adapterkit merge runs/spam-s1/best runs/spam-s2/best --out runs/spam-avg --heads average

  # TIES-merge two LoRA tasks, keeping 40 % of each task vector, head of the first task
  $ adapterkit merge runs/a-lora/best runs/b-lora/best --out runs/ab-ties --method ties --density 0.4

  # DARE with weights and a larger rank
  $ adapterkit merge runs/a-lora/best runs/b-lora/best --out runs/ab-dare --method dare --density 0.3 --weights 0.7,0.3 --rank 16`;

function weightsArg(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const w = parts.map(Number);
  if (parts.length === 0 || w.some((x) => !Number.isFinite(x))) throw new InvalidArgumentError(`expected comma-separated numbers such as 0.7,0.3, got "${value}".`);
  return w;
}

/** Registers `adapterkit merge`. */
export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('Merge the adapters of several saved tasks (same method and structure, one base) into a new task: linear averaging, TIES or DARE.')
    .argument('<task-dirs...>', 'two or more task directories (e.g. runs/<task>-<mode>/best)')
    .requiredOption('--out <dir>', 'directory to write the merged task to (must not exist, unless --force)')
    .addOption(new Option('--method <method>', 'merge method').choices([...MERGE_METHODS]).default('linear'))
    .option('--weights <list>', 'one weight per task, comma-separated (linear: normalised; ties, dare: as given)', weightsArg)
    .option('--density <d>', 'ties, dare: share of each task vector kept, in (0, 1]', numberArg(0, 1, { exclusiveMin: true }))
    .option('--rank <n>', 'ties, dare: rank of the merged LoRA (default: the largest input rank)', intArg(1))
    .option('--seed <n>', 'dare: seed of the drop masks', intArg(0), 0)
    .addOption(new Option('--heads <which>', 'head (and trained base weights) of the merged task: the first task\'s, or the weighted average').choices(['first', 'average']).default('first'))
    .option('--name <name>', 'name of the merged task (default: from --out)')
    .option('--base <source>', 'base model (default: the one the first task records)')
    .option('--revision <rev>', 'hub revision of --base')
    .option('--force', 'replace --out if it exists')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (dirs: string[], flags: MergeFlags) => {
      await runMerge(dirs, flags);
    });
}

async function runMerge(dirs: string[], f: MergeFlags): Promise<void> {
  if (dirs.length < 2) fail('BAD_CONFIG', `merge: give at least two task directories, got ${dirs.length}`);
  if (f.method !== 'linear' && f.density === undefined) fail('BAD_CONFIG', `--method ${f.method} needs --density (the share of each task vector kept)`);
  if (f.method === 'linear' && (f.density !== undefined || f.rank !== undefined)) fail('BAD_CONFIG', '--density and --rank apply to --method ties and dare only');
  if (f.weights && f.weights.length !== dirs.length) fail('BAD_CONFIG', `--weights has ${f.weights.length} entries for ${dirs.length} tasks`);
  if ((await exists(f.out)) && !f.force) fail('BAD_CONFIG', `${f.out} exists; choose another --out or add --force`);
  await checkWritableDir(f.out, { overwrite: true, keep: dirs }); // a file, or a directory holding an input task
  const name = f.name ?? sanitizeTaskName(f.out.replace(/\/+$/, '').split('/').pop() ?? 'merged');
  if (!/^[A-Za-z0-9_-]+$/.test(name)) fail('BAD_CONFIG', `--name ${JSON.stringify(name)} may only contain letters, digits, _ and -`);
  const say = (s: string) => process.stderr.write(`${s}\n`);
  say(`loading ${dirs[0]}`);
  const first = await loadTaskDir(dirs[0] as string, { ...(f.base !== undefined ? { base: f.base } : {}), ...(f.revision !== undefined ? { revision: f.revision } : {}) });
  const models: TaskModel[] = [first.saved.model];
  try {
    for (const d of dirs.slice(1)) {
      say(`loading ${d}`);
      models.push((await loadSavedTask(first.base, d)).model);
    }
    say(`merging ${dirs.length} adapters (${f.method})`);
    const { model, notes } = mergeTaskModels(first.base, models, {
      method: f.method, heads: f.heads, seed: f.seed,
      ...(f.weights ? { weights: f.weights } : {}), ...(f.density !== undefined ? { density: f.density } : {}), ...(f.rank !== undefined ? { rank: f.rank } : {}),
    });
    const training = { merged: { method: f.method, from: dirs, weights: f.weights ?? null, density: f.density ?? null, rank: f.rank ?? null, seed: f.method === 'dare' ? f.seed : null, heads: f.heads } };
    const saveNotes = await saveTask(model, f.out, { name, maxLength: first.maxLength, training });
    const all = [...notes, ...saveNotes];
    const summary = { out: f.out, name, method: f.method, tasks: dirs, mode: describeMode(model.mode, first.base.encoder), adapterParams: model.adapterParams(), notes: all };
    await model.dispose();
    if (f.json) {
      printJson(summary);
      return;
    }
    process.stdout.write(keyValues([
      ['merged', `${dirs.length} tasks (${f.method}) -> ${f.out}`],
      ['task', name],
      ['adapter', summary.mode],
      ['adapter parameters', formatInt(summary.adapterParams)],
    ]));
    for (const n of all) process.stdout.write(`note: ${n}\n`);
  } finally {
    for (const m of models) await m.dispose();
  }
}
