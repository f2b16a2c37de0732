/**
 * `adapterkit sweep`: the paper's hyper-parameter sweep on one task — adapters over learning
 * rates x epochs x sizes x seeds, and the baselines — with the best run on dev per method and its
 * test score. Results are appended to `<out>/results.jsonl` as runs finish; running the same
 * command again continues where it stopped.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdapterkitError, fail } from '../../errors.js';
import { DEFAULT_BASE, loadBase } from '../../models/base.js';
import type { TaskSpec } from '../../train/data/index.js';
import { loadExperimentTask } from '../../train/experiments/experiment-task.js';
import type { TokenTaskSpec } from '../../train/token-tasks/index.js';
import { PAPER_GRID, SWEEP_METHODS, shortNumber, type SweepAdapterMethod, type SweepGrid, type SweepMethodKind } from '../../train/experiments/sweep-grid.js';
import { PRESET_NAMES } from '../../adapters/methods/index.js';
import { summarizeSweep, type SweepResult, type SweepSummaryRow } from '../../train/experiments/sweep-results.js';
import { runSweep, type SweepOptions } from '../../train/experiments/sweep.js';
import { addDataOptions, dataSpecFromFlags, describeDataSpec, type DataFlags } from '../data-options.js';
import { formatDuration, formatInt, formatPercent, printJson, table } from '../format.js';
import { intArg, numberArg, sanitizeTaskName } from '../options.js';
import { TrainProgress } from '../progress.js';
import { baseSource, writeRunRecord, type RunRecord } from '../saved-task.js';
import { withInterrupt } from '../interrupt.js';
import { cliBaseOptions } from '../download-progress.js';

/** File in a sweep's output directory recording each task's data and base (for `ablate`). */
export const SWEEP_RECORD = 'sweep.json';

/** What `sweep` records per task in {@link SWEEP_RECORD}. */
export interface SweepTaskRecord {
  data: TaskSpec | TokenTaskSpec;
  base: string;
  revision?: string;
  maxLength: number;
}

interface SweepFlags extends DataFlags {
  base: string;
  revision?: string;
  out?: string;
  methods: SweepMethodKind[];
  adapterMethods?: SweepAdapterMethod[];
  lrs?: number[];
  baselineLrs?: number[];
  epochsGrid?: number[];
  sizes?: number[];
  topK?: number[];
  seeds?: number[];
  budgetMinutes?: number;
  maxLength?: number;
  batchSize: number;
  threads?: number;
  json?: boolean;
}

function splitList(value: string, what: string): string[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${what}, got "${value}".`);
  return parts;
}

/** Parses a comma-separated list of positive numbers (`3e-5,3e-4`). */
export function positiveListArg(value: string): number[] {
  return splitList(value, 'positive numbers').map((p) => {
    const n = Number(p);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${p}" is not a positive number.`);
    return n;
  });
}

/** A parser of comma-separated integers >= `min` (`3,20`). */
export function intListFrom(min: number): (value: string) => number[] {
  return (value) => splitList(value, `integers >= ${min}`).map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`"${p}" is not an integer >= ${min}.`);
    return n;
  });
}

/** Parses `--methods adapters,full,...`. */
export function methodsArg(value: string): SweepMethodKind[] {
  const parts = splitList(value, `methods (${SWEEP_METHODS.join(', ')})`);
  for (const p of parts) {
    if (!(SWEEP_METHODS as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown method "${p}" (methods: ${SWEEP_METHODS.join(', ')}).`);
  }
  return [...new Set(parts)] as SweepMethodKind[];
}

const list = (xs: readonly number[]) => xs.join(',');

/** Parses `--adapter-methods paper:8/64,lora:4/16,ia3` (a preset, optionally with its own sizes). */
export function adapterMethodsArg(value: string): SweepAdapterMethod[] {
  return splitList(value, 'adapter methods').map((part) => {
    const [preset, sizes] = part.split(':') as [string, string | undefined];
    if (!PRESET_NAMES.includes(preset)) throw new InvalidArgumentError(`unknown adapter method "${preset}" (methods: ${PRESET_NAMES.join(', ')}).`);
    if (sizes === undefined) return { preset };
    const ns = sizes.split('/').map((x) => Number(x));
    if (!ns.length || ns.some((n) => !Number.isInteger(n) || n < 1)) throw new InvalidArgumentError(`"${part}": sizes after ":" must be positive integers separated by "/", e.g. lora:4/16.`);
    return { preset, sizes: ns };
  });
}

const EXAMPLES = `
Examples:
  # the paper's grid (18 adapter runs per size, baselines with the same lrs) on a built-in task
  $ adapterkit sweep --dataset spam --out runs/sweep-spam

  # several adapter methods at matched budgets (each with its own sizes) against full fine-tuning
  $ adapterkit sweep --dataset spam --methods adapters,full --adapter-methods paper:8/64,pfeiffer:16/128,lora:4/32,ia3

  # a token-level task: POS tagging on the built-in Brown corpus (token accuracy)
  $ adapterkit sweep --dataset brown-pos --methods adapters,full,layer-norm --epochs-grid 1 --seeds 1

  # a quick look: one lr, one epoch, adapters of size 8 against training the head only
  $ adapterkit sweep --dataset spam --methods adapters,head-only --lrs 3e-3 --epochs-grid 1 \\
      --sizes 8 --seeds 1 --max-length 32 --budget-minutes 10

Results go to <out>/results.jsonl as each run finishes. Run the same command again to continue an
interrupted or budget-limited sweep: finished runs are skipped, a run cut short resumes from its
checkpoint. Then: adapterkit ablate <out> and adapterkit report <out>.`;

/** Registers `adapterkit sweep`. */
export function registerSweep(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('Hyper-parameter sweep as in the paper: adapters (lr x epochs x size x seed) and baselines; best run on dev per method, tested. Sentence-level tasks, tagging and extractive QA.');
  addDataOptions(cmd, { trainRequired: true });
  cmd
    .option('--base <source>', `base model: "${DEFAULT_BASE}" (embedded), a local model directory, or a Hugging Face hub id`, DEFAULT_BASE)
    .option('--revision <rev>', 'hub revision of --base')
    .option('--out <dir>', 'output directory (default: runs/sweep-<task>)')
    .option('--methods <list>', `methods to run (${SWEEP_METHODS.join(', ')})`, methodsArg, [...SWEEP_METHODS])
    .option('--lrs <list>', `learning rates of the adapters (default: ${list(PAPER_GRID.lrs)})`, positiveListArg)
    .option('--baseline-lrs <list>', 'learning rates of the baselines (default: --lrs)', positiveListArg)
    .option('--epochs-grid <list>', `epochs to try (default: ${list(PAPER_GRID.epochs)})`, intListFrom(1))
    .option('--adapter-methods <list>', `adapter methods (presets: ${PRESET_NAMES.join(', ')}), each optionally with its own sizes: paper:8/64,lora:4/16,ia3 (default: paper)`, adapterMethodsArg)
    .option('--sizes <list>', `adapter sizes: bottleneck m, LoRA r (default: ${list(PAPER_GRID.sizes)})`, intListFrom(1))
    .option('--top-k <list>', `k values of the top-k baseline (default: ${list(PAPER_GRID.topK)})`, intListFrom(1))
    .option('--seeds <list>', `random restarts (default: ${list(PAPER_GRID.seeds)})`, intListFrom(0))
    .option('--budget-minutes <m>', 'stop starting new runs after this many minutes (default: no limit)', numberArg(0, Infinity, { exclusiveMin: true }))
    .option('--max-length <n>', 'tokens per example (default: 128, QA 384, capped at the base\'s limit)', intArg(2))
    .option('--batch-size <n>', 'examples per batch', intArg(1), 32)
    .option('--threads <n>', 'ONNX Runtime threads', intArg(1))
    .option('--json', 'print the per-method summary as JSON on stdout')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: SweepFlags) => {
      await runSweepCommand(flags);
    });
}

function say(line = ''): void {
  process.stderr.write(`${line}\n`);
}

function fmtScore(x: number | null): string {
  return x === null ? '–' : x.toFixed(4);
}

/** The summary table `sweep` prints. */
export function sweepTable(rows: readonly SweepSummaryRow[]): string {
  return table(
    ['method', 'dev', 'test', 'lr', 'epochs', 'seed', 'trained params', '% of base', 'runs'],
    rows.map((r) => [r.method, fmtScore(r.devScore), fmtScore(r.testScore), shortNumber(r.lr), r.epochs, r.seed, r.trainableParams, formatPercent(r.share), r.runs]),
  );
}

async function recordTask(out: string, task: string, rec: SweepTaskRecord): Promise<void> {
  const p = join(out, SWEEP_RECORD);
  let cur: { tasks: Record<string, SweepTaskRecord> } = { tasks: {} };
  try {
    cur = JSON.parse(await readFile(p, 'utf8')) as typeof cur;
  } catch {
    // first task of this directory (or an unreadable record: rewritten)
  }
  cur.tasks = { ...cur.tasks, [task]: rec };
  await writeFile(p, `${JSON.stringify(cur, null, 2)}\n`);
}

/** Progress of a sweep on stderr, and each run's record for `eval` and `ablate`. */
export interface SweepReporter {
  readonly callbacks: Required<Pick<SweepOptions, 'onRunStart' | 'onEvent' | 'onResult'>>;
  /** Stops the current run's progress bar. */
  stop(): void;
}

/**
 * A line per run (`[i/n] method: lr, epochs, seed`), the run's training progress (a bar on a
 * terminal, plain lines elsewhere) and its scores; writes `run.json` into each run directory.
 */
export function sweepReporter(rec: RunRecord): SweepReporter {
  let progress: TrainProgress | undefined;
  return {
    callbacks: {
      onRunStart: async (run, runDir, i, total, remaining) => {
        const eta = remaining !== undefined ? ` (about ${formatDuration(remaining)} left for the runs still to train)` : '';
        say(`[${i + 1}/${total}] ${run.method}: lr ${shortNumber(run.lr)}, ${run.epochs} epoch${run.epochs === 1 ? '' : 's'}, seed ${run.seed}${eta}`);
        await mkdir(runDir, { recursive: true });
        await writeRunRecord(runDir, rec);
        progress = new TrainProgress({ epochs: run.epochs });
      },
      onEvent: (_run, e) => progress?.onEvent(e),
      onResult: (r: SweepResult, fresh: boolean) => {
        if (!fresh) return;
        progress?.stop();
        say(`      dev ${r.metric} ${fmtScore(r.devScore)}, test ${r.metric} ${fmtScore(r.testScore)}, ${formatInt(r.trainableParams)} trained params, ${formatDuration(r.seconds)}`);
      },
    },
    stop: () => progress?.stop(),
  };
}

/** Runs a sweep with Ctrl-C handling: the first interrupt checkpoints the current run, and the user is told how to continue. */
export async function runInterruptible<T>(reporter: SweepReporter, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  try {
    return await withInterrupt({
      message: 'interrupt: stopping after this step and saving a checkpoint (Ctrl-C again to exit at once)', beforeExit: () => reporter.stop(),
    }, fn);
  } catch (e) {
    reporter.stop();
    if (e instanceof AdapterkitError && e.code === 'INTERRUPTED') say('run the same command again to continue the sweep');
    throw e;
  }
}

async function runSweepCommand(f: SweepFlags): Promise<void> {
  const spec = dataSpecFromFlags(f);
  const grid: Partial<SweepGrid> = {
    methods: f.methods,
    ...(f.adapterMethods ? { adapterMethods: f.adapterMethods } : {}),
    ...(f.lrs ? { lrs: f.lrs } : {}), ...(f.baselineLrs ? { baselineLrs: f.baselineLrs } : {}),
    ...(f.epochsGrid ? { epochs: f.epochsGrid } : {}), ...(f.sizes ? { sizes: f.sizes } : {}),
    ...(f.topK ? { topK: f.topK } : {}), ...(f.seeds ? { seeds: f.seeds } : {}),
  };
  const given = [['--sizes', f.sizes, 'adapters'], ['--adapter-methods', f.adapterMethods, 'adapters'], ['--top-k', f.topK, 'top-k']] as const;
  for (const [flag, v, m] of given) if (v && !f.methods.includes(m)) fail('BAD_CONFIG', `${flag} is given but --methods does not include ${m}`);
  const loaded = await loadExperimentTask(spec);
  if (loaded.skipped.length) say(`skipped ${loaded.skipped.length} bad row(s), e.g. ${loaded.skipped[0]?.file}:${loaded.skipped[0]?.line}: ${loaded.skipped[0]?.reason}`);
  const taskName = sanitizeTaskName(loaded.task.name);
  const task = { ...loaded.task, name: taskName };
  const out = f.out ?? join('runs', `sweep-${taskName}`);
  const source = await baseSource(f.base);
  const base = await loadBase(source, cliBaseOptions(f.revision));
  const maxLength = f.maxLength ?? Math.min(task.defaultMaxLength, base.encoder.maxLength);
  if (maxLength > base.encoder.maxLength) fail('BAD_CONFIG', `--max-length ${maxLength} exceeds the base's limit of ${base.encoder.maxLength} tokens`);
  await mkdir(out, { recursive: true });
  await recordTask(out, taskName, { data: spec, base: base.id, ...(f.revision !== undefined ? { revision: f.revision } : {}), maxLength });

  say(`adapterkit sweep: ${taskName} (${describeDataSpec(spec)}) on ${base.id} -> ${out}`);
  const reporter = sweepReporter({ data: spec, base: base.id, ...(f.revision !== undefined ? { revision: f.revision } : {}), task: taskName, maxLength });
  const outcome = await runInterruptible(reporter, (signal) => runSweep({
    base, task, outDir: out, grid, batchSize: f.batchSize, maxLength, signal, ...reporter.callbacks,
    ...(f.budgetMinutes !== undefined ? { budgetMinutes: f.budgetMinutes } : {}),
    ...(f.threads !== undefined ? { threads: f.threads } : {}),
  }));
  const rows = summarizeSweep(outcome.results);
  const status = [
    `${outcome.trained} run(s) trained now`, `${outcome.skipped} already done`,
    ...(outcome.budgetExceeded ? [`time budget of ${f.budgetMinutes} min reached: ${outcome.notStarted} run(s) not started (run the same command again to continue)`] : []),
  ].join(', ');
  say(`${status}; results in ${outcome.resultsPath}`);
  if (f.json) {
    printJson({ task: taskName, out, planned: outcome.planned, trained: outcome.trained, skipped: outcome.skipped, notStarted: outcome.notStarted, budgetExceeded: outcome.budgetExceeded, best: rows });
    return;
  }
  process.stdout.write(`\nbest run on dev per method (${task.metrics[0]}), ${outcome.results.length} of ${outcome.planned} runs finished:\n`);
  process.stdout.write(sweepTable(rows));
}
