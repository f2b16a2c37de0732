/**
 * `--frozen-precision` and `--int8-tolerance`, shared by the commands that build a model (train,
 * eval, predict, serve, info), and the log lines of the int8 outlier guard.
 */
import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { fail } from '../errors.js';
import { DEFAULT_INT8_TOLERANCE, describeFrozenPlan, FROZEN_PRECISIONS, summarizeFrozenPlan, type FrozenOptions, type FrozenPlan, type FrozenPrecision } from '../train/frozen-precision.js';
import { numberArg } from './options.js';

/** The flags as commander parses them. */
export interface FrozenPrecisionFlags {
  frozenPrecision?: FrozenPrecision;
  int8Tolerance?: number;
  /** false with --no-int8-adapters (commander's default true otherwise). */
  int8Adapters?: boolean;
}

/** Adds the two flags to `cmd` (`what`: what the precision applies to, for the help text). */
export function addFrozenPrecisionOptions(cmd: Command, what = 'training and prediction'): Command {
  return cmd
    .addOption(new Option('--frozen-precision <p>', `precision of the frozen base's matmuls in ${what}: int8 quantises each frozen linear weight once (per output column, with the transposed copy the input gradient needs); trainable weights, softmax, layer norms, activations, the loss and the optimizer stay fp32. An outlier guard checks every matmul's int8 output against fp32 on the first batch and keeps a finer kernel (8-bit blocks) or fp32 where it is off. A saved task loaded only to predict (eval, predict, export; serve for a task on its own session, not in the shared mixed batches) runs its bottleneck adapters' matmuls in int8 too, under the same guard (int8 or fp32 each)`).choices([...FROZEN_PRECISIONS]).default('fp32'))
    .option('--int8-tolerance <e>', `with --frozen-precision int8: the largest relative error of a matmul's int8 output the guard accepts (default: ${DEFAULT_INT8_TOLERANCE})`, numberArg(0, 1, { exclusiveMin: true }))
    .option('--no-int8-adapters', "with --frozen-precision int8: keep a saved task's adapter matmuls in fp32 when it is loaded to predict (beside the int8 base, as in training)");
}

/**
 * The task-model options for the flags, with `log` receiving the guard's summary line and one
 * line per matmul that is not int8 (all of them with `all`). BAD_CONFIG for --int8-tolerance or
 * --no-int8-adapters without --frozen-precision int8.
 */
export function frozenPrecisionOptions(f: FrozenPrecisionFlags, log: (line: string) => void, o: { all?: boolean } = {}): FrozenOptions {
  const precision = f.frozenPrecision ?? 'fp32';
  if (f.int8Tolerance !== undefined && precision !== 'int8') fail('BAD_CONFIG', `--int8-tolerance ${f.int8Tolerance} applies to --frozen-precision int8 only (got --frozen-precision ${precision})`);
  if (f.int8Adapters === false && precision !== 'int8') fail('BAD_CONFIG', `--no-int8-adapters applies to --frozen-precision int8 only (got --frozen-precision ${precision})`);
  if (precision === 'fp32') return {};
  return {
    frozenPrecision: precision,
    ...(f.int8Tolerance !== undefined ? { int8Tolerance: f.int8Tolerance } : {}),
    ...(f.int8Adapters === false ? { int8Adapters: false } : {}),
    onFrozenPlan: (plan: FrozenPlan) => {
      log(summarizeFrozenPlan(plan));
      for (const line of describeFrozenPlan(plan, { onlyExceptions: !o.all })) log(`  ${line}`);
    },
  };
}

/**
 * What `info --frozen-precision int8` runs the guard on without `--guard-input`: short English
 * sentences of mixed length (real activations; random ids would not show a model's outlier channels).
 */
export const GUARD_SAMPLE: readonly string[] = [
  'The committee approved the new budget after a long debate on Tuesday.',
  'Thanks for your order! Your package will arrive within three to five business days.',
  'I did not like the movie at all; the plot was slow and the ending made no sense.',
  'Click here to claim your FREE prize now!!! Limited time offer, act fast.',
  'She walked along the river, thinking about the letter her brother had sent from abroad.',
  'The results suggest that the treatment reduces symptoms in most patients.',
  'Meeting moved to 3pm, room 204.',
  'What a wonderful performance by the orchestra tonight.',
];

/** The guard's input for `info`: the lines of `file` (at most 32), or {@link GUARD_SAMPLE}. */
export async function guardTexts(file: string | undefined): Promise<string[]> {
  if (file === undefined) return [...GUARD_SAMPLE];
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_FILE', `cannot read --guard-input ${file}: ${(e as Error).message}`);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length === 0) fail('BAD_DATA', `--guard-input ${file} has no text lines`);
  return lines.slice(0, 32);
}
