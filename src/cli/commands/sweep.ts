/**
 * `adapterkit sweep`: the paper's hyper-parameter sweep on one task — adapters over learning
 * rates x epochs x sizes x seeds, and the baselines — with the best run on dev per method and its
 * test score. Results are appended to `<out>/results.jsonl` as runs finish; running the same
 * command again continues where it stopped. With `--queue`, the runs become jobs of a Redis queue
 * that `adapterkit worker` processes on any number of machines (`--status` follows them).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AdapterkitError, fail } from '../../errors.js';
import { DEFAULT_BASE, loadBase } from '../../models/base.js';
import type { TaskSpec } from '../../train/data/index.js';
import { loadExperimentTask } from '../../train/experiments/experiment-task.js';
import type { TokenTaskSpec } from '../../train/token-tasks/index.js';
import { PAPER_GRID, SWEEP_METHODS, checkAdapterMethod, presetSizesHelp, shortNumber, type SweepAdapterMethod, type SweepGrid, type SweepMethodKind } from '../../train/experiments/sweep-grid.js';
import { PRESET_NAMES } from '../../adapters/methods/index.js';
import { summarizeSweep, type SweepResult, type SweepSummaryRow } from '../../train/experiments/sweep-results.js';
import { runSweep, type SweepOptions } from '../../train/experiments/sweep.js';
import {
  enqueueSweep, findSweeps, openSweepQueue, parseQueueUrl, PASSWORD_ENV, redactError, runSweepWorker, sweepStatus,
  type QueueTarget, type SweepQueue, type SweepStatus,
} from '../../train/experiments/queue/index.js';
import { hostname } from 'node:os';
import { addDataOptions, dataSpecFromFlags, describeDataSpec, type DataFlags } from '../data-options.js';
import { formatDuration, formatInt, formatPercent, printJson, table } from '../format.js';
import { intArg, numberArg, sanitizeTaskName } from '../options.js';
import { TrainProgress } from '../progress.js';
import { baseSource, jobRunRecord, writeRunRecord, type RunRecord } from '../saved-task.js';
import { continueAdvice, withInterrupt } from '../interrupt.js';
import { cliBaseOptions } from '../download-progress.js';
import { addFrozenPrecisionOptions, frozenPrecisionOptions, type FrozenPrecisionFlags } from '../frozen-precision-options.js';
import { frozenRecord } from '../../train/frozen-precision.js';
import { checkOutDir, makeOutDir } from '../../util/out-dir.js';

/** File in a sweep's output directory recording each task's data and base (for `ablate`). */
export const SWEEP_RECORD = 'sweep.json';

/** What `sweep` records per task in {@link SWEEP_RECORD}. */
export interface SweepTaskRecord {
  data: TaskSpec | TokenTaskSpec;
  base: string;
  revision?: string;
  maxLength: number;
}

interface SweepFlags extends DataFlags, FrozenPrecisionFlags {
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
  queue?: string;
  queueName?: string;
  work?: boolean;
  concurrency?: number;
  status?: boolean;
  watch?: boolean;
  download?: string;
  retryFailed?: boolean;
  sweep?: string;
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
    if (!PRESET_NAMES.includes(preset)) throw new InvalidArgumentError(`unknown adapter method "${preset}" (the presets of train --method: ${PRESET_NAMES.join(', ')}).`);
    if (sizes === undefined) return { preset };
    const ns = sizes.split('/').map((x) => (x.trim() === '' ? NaN : Number(x)));
    if (ns.some((n) => !Number.isInteger(n) || n < 1)) throw new InvalidArgumentError(`"${part}": sizes after ":" must be positive integers separated by "/", e.g. lora:4/16 or prefix:10/30.`);
    const m = { preset, sizes: ns };
    try {
      checkAdapterMethod(m);
    } catch (e) {
      if (e instanceof AdapterkitError) throw new InvalidArgumentError(`"${part}": ${e.message.replace(/^sweep grid: /, '')}.`);
      throw e;
    }
    return m;
  });
}

const EXAMPLES = `
Examples:
  # the paper's grid (18 adapter runs per size, baselines with the same lrs) on a built-in task
  $ adapterkit sweep --dataset spam --out runs/sweep-spam

  # several adapter methods at matched budgets (each with its own sizes) against full fine-tuning
  $ adapterkit sweep --dataset spam --methods adapters,full --adapter-methods paper:8/64,pfeiffer:16/128,lora:4/32,ia3

  # prefix and prompt tuning (P = prefix_length / prompt_length), Compacter and MAM (m = bottleneck width)
  $ adapterkit sweep --dataset spam --methods adapters --adapter-methods prefix:10/30,prompt:10/50,compacter:16/64,mam:32

  # a token-level task: POS tagging on the built-in Brown corpus (token accuracy)
  $ adapterkit sweep --dataset brown-pos --methods adapters,full,layer-norm --epochs-grid 1 --seeds 1

  # a quick look: one lr, one epoch, adapters of size 8 against training the head only
  $ adapterkit sweep --dataset spam --methods adapters,head-only --lrs 3e-3 --epochs-grid 1 \\
      --sizes 8 --seeds 1 --max-length 32 --budget-minutes 10

  # many machines: enqueue the runs in Redis (returns at once), start workers anywhere, follow them
  $ adapterkit sweep --dataset spam --out /shared/sweep-spam --queue redis://queue-host:6379/0
  $ adapterkit worker --queue redis://queue-host:6379/0          # on each machine
  $ adapterkit sweep --queue redis://queue-host:6379/0 --status --out /shared/sweep-spam --watch
  $ adapterkit sweep --queue redis://queue-host:6379/0 --download report-input   # then: adapterkit report report-input

Results go to <out>/results.jsonl as each run finishes. Run the same command again to continue an
interrupted or budget-limited sweep: finished runs are skipped, a run cut short resumes from its
checkpoint. Then: adapterkit ablate <out> and adapterkit report <out>.

With --queue, <out> must be a directory every worker sees at the same path; job ids are
deterministic, so enqueueing again adds only runs that are neither finished nor queued. The
password goes in the URL (redis://:password@host) or in ${PASSWORD_ENV}; it is never printed.
See docs/distributed.md.`;

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
    .option('--adapter-methods <list>', `adapter methods (the presets of train --method), each optionally with its own sizes after ":" (else --sizes), e.g. paper:8/64,lora:4/16,prefix:10/30,prompt:10/50,ia3; each size is its own method in the results (lora-r4, prefix-P10). What a size sets, per preset: ${presetSizesHelp()} (default: paper)`, adapterMethodsArg)
    .option('--sizes <list>', `sizes of the adapter methods given without their own (bottleneck m, LoRA r, prefix/prompt length P, ...: see --adapter-methods) (default: ${list(PAPER_GRID.sizes)})`, intListFrom(1))
    .option('--top-k <list>', `k values of the top-k baseline (default: ${list(PAPER_GRID.topK)})`, intListFrom(1))
    .option('--seeds <list>', `random restarts (default: ${list(PAPER_GRID.seeds)})`, intListFrom(0))
    .option('--budget-minutes <m>', 'stop starting new runs after this many minutes (default: no limit)', numberArg(0, Infinity, { exclusiveMin: true }))
    .option('--max-length <n>', 'tokens per example (default: 128, QA 384, capped at the base\'s limit)', intArg(2))
    .option('--batch-size <n>', 'examples per batch', intArg(1), 32)
    .option('--threads <n>', 'ONNX Runtime threads', intArg(1));
  addFrozenPrecisionOptions(cmd, 'every run (training and the test scoring; an int8 run is recorded as such in results.jsonl and trains in its own run directory, <run>_int8)');
  cmd
    .option('--json', 'print the per-method summary (with --status: the status) as JSON on stdout')
    .option('--queue <url>', 'enqueue the runs in Redis for `adapterkit worker` instead of training here: redis://[:password@]host[:port][/db], rediss:// for TLS')
    .option('--queue-name <name>', 'queue name (default: "sweep")')
    .option('--work', 'with --queue: also work on the queue in this process until the sweep is done, then print the summary')
    .option('--concurrency <n>', 'with --work: runs at once in this process', intArg(1, 64), 1)
    .option('--status', 'with --queue: show done, running (on which worker), waiting and failed runs, with an ETA')
    .option('--watch', 'with --status: refresh every 2 s until nothing is waiting or running')
    .option('--sweep <id>', 'with --status or --download: the sweep id (default: the sweeps of --out, or every sweep)')
    .option('--download <dir>', 'with --queue: write the result rows kept in Redis to <dir>/results.jsonl (and sweep.json), for report on any machine')
    .option('--retry-failed', 'with --queue: put the sweep\'s failed runs back in the queue')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: SweepFlags) => {
      if (flags.queue === undefined) {
        const given = (['work', 'status', 'watch', 'download', 'retryFailed', 'queueName', 'sweep'] as const).filter((k) => flags[k] !== undefined);
        if (given.length) fail('BAD_CONFIG', `${given.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} need(s) --queue <url>`);
        await runSweepCommand(flags);
        return;
      }
      const target = parseQueueUrl(flags.queue, flags.queueName !== undefined ? { queueName: flags.queueName } : {});
      try {
        if (flags.status || flags.download !== undefined) await queueStatusCommand(flags, target);
        else await queueSweepCommand(flags, target);
      } catch (e) {
        throw redactError(e, target.redact);
      }
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

/**
 * Records a task's data and base in `<out>/sweep.json` (for `ablate`); with `onlyIfMissing`
 * (workers), leaves a record that already names the task as it is.
 */
export async function recordSweepTask(out: string, task: string, rec: SweepTaskRecord, o: { onlyIfMissing?: boolean } = {}): Promise<void> {
  const p = join(out, SWEEP_RECORD);
  let cur: { tasks: Record<string, SweepTaskRecord> } = { tasks: {} };
  try {
    cur = JSON.parse(await readFile(p, 'utf8')) as typeof cur;
  } catch {
    // first task of this directory (or an unreadable record: rewritten)
  }
  if (o.onlyIfMissing && cur.tasks?.[task]) return;
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
    throw continueAdvice(e, 'run the same command again to continue the sweep');
  }
}

/** The task, base and grid of a sweep command, loaded and checked. */
interface LoadedSweep {
  spec: TaskSpec | TokenTaskSpec;
  grid: Partial<SweepGrid>;
  taskName: string;
  task: Awaited<ReturnType<typeof loadExperimentTask>>['task'];
  out: string;
  source: string;
  base: Awaited<ReturnType<typeof loadBase>>;
  maxLength: number;
}

async function loadSweep(f: SweepFlags): Promise<LoadedSweep> {
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
  await checkOutDir(out, `--out ${out}`);
  const source = await baseSource(f.base);
  const base = await loadBase(source, cliBaseOptions(f.revision));
  const maxLength = f.maxLength ?? Math.min(task.defaultMaxLength, base.encoder.maxLength);
  if (maxLength > base.encoder.maxLength) fail('BAD_CONFIG', `--max-length ${maxLength} exceeds the base's limit of ${base.encoder.maxLength} tokens`);
  return { spec, grid, taskName, task, out, source, base, maxLength };
}

function printSummary(f: SweepFlags, task: LoadedSweep['task'], results: readonly SweepResult[], planned: number, json: Record<string, unknown>): void {
  const rows = summarizeSweep(results);
  if (f.json) {
    printJson({ ...json, best: rows });
    return;
  }
  process.stdout.write(`\nbest run on dev per method (${task.metrics[0]}), ${results.length} of ${planned} runs finished:\n`);
  process.stdout.write(sweepTable(rows));
}

async function runSweepCommand(f: SweepFlags): Promise<void> {
  const frozen = frozenPrecisionOptions(f, (line) => say(`      ${line}`));
  const { spec, grid, taskName, task, out, base, maxLength } = await loadSweep(f);
  await makeOutDir(out, `--out ${out}`);
  await recordSweepTask(out, taskName, { data: spec, base: base.id, ...(f.revision !== undefined ? { revision: f.revision } : {}), maxLength });

  say(`adapterkit sweep: ${taskName} (${describeDataSpec(spec)}) on ${base.id}${frozen.frozenPrecision === 'int8' ? ', int8 frozen base' : ''} -> ${out}`);
  const reporter = sweepReporter({ data: spec, base: base.id, ...(f.revision !== undefined ? { revision: f.revision } : {}), task: taskName, maxLength, ...frozenRecord(frozen) });
  const outcome = await runInterruptible(reporter, (signal) => runSweep({
    base, task, outDir: out, grid, batchSize: f.batchSize, maxLength, signal, ...reporter.callbacks, frozen,
    ...(f.budgetMinutes !== undefined ? { budgetMinutes: f.budgetMinutes } : {}),
    ...(f.threads !== undefined ? { threads: f.threads } : {}),
  }));
  const status = [
    `${outcome.trained} run(s) trained now`, `${outcome.skipped} already done`,
    ...(outcome.budgetExceeded ? [`time budget of ${f.budgetMinutes} min reached: ${outcome.notStarted} run(s) not started (run the same command again to continue)`] : []),
  ].join(', ');
  say(`${status}; results in ${outcome.resultsPath}`);
  printSummary(f, task, outcome.results, outcome.planned, {
    task: taskName, out, planned: outcome.planned, trained: outcome.trained, skipped: outcome.skipped, notStarted: outcome.notStarted, budgetExceeded: outcome.budgetExceeded,
    ...frozenRecord(frozen),
  });
}

/** `sweep --queue`: enqueue the grid's runs; with --work, work on the queue until the sweep is done. */
async function queueSweepCommand(f: SweepFlags, target: QueueTarget): Promise<void> {
  if (f.budgetMinutes !== undefined) fail('BAD_CONFIG', '--budget-minutes applies to a local sweep, not to --queue (stop the workers instead)');
  const frozen = frozenPrecisionOptions(f, () => undefined); // the guard runs in the workers, which log its choices
  const ld = await loadSweep(f);
  const out = resolve(ld.out);
  const rec: SweepTaskRecord = { data: ld.spec, base: ld.base.id, ...(f.revision !== undefined ? { revision: f.revision } : {}), maxLength: ld.maxLength };
  await makeOutDir(out, `--out ${out}`);
  await recordSweepTask(out, ld.taskName, rec);
  const q = await openSweepQueue(target, 'command', (m) => say(`redis: ${m}`));
  let outcome;
  try {
    outcome = await enqueueSweep(q, {
      base: ld.base, task: ld.task, data: ld.spec, baseSource: ld.source, ...(f.revision !== undefined ? { revision: f.revision } : {}),
      outDir: out, grid: ld.grid, batchSize: f.batchSize, maxLength: ld.maxLength, ...(f.retryFailed ? { retryFailed: true } : {}), frozen,
    });
  } finally {
    await q.close();
  }
  say(`adapterkit sweep: ${ld.taskName} (${describeDataSpec(ld.spec)}) on ${ld.base.id}${frozen.frozenPrecision === 'int8' ? ', int8 frozen base' : ''} -> ${out}`);
  say(`sweep ${outcome.sweep} on queue "${target.queueName}" at ${target.url}: ${outcome.planned} run(s) planned, ${outcome.added} enqueued now, ` +
    `${outcome.queued} already queued, ${outcome.done} already done${outcome.failed ? `, ${outcome.failed} failed${outcome.retried ? ` (${outcome.retried} put back in the queue)` : ' (--retry-failed puts them back)'}` : ''}`);
  if (!f.work) {
    say(`start workers: adapterkit worker --queue ${target.url}${target.queueName !== 'sweep' ? ` --queue-name ${target.queueName}` : ''}`);
    say(`follow: adapterkit sweep --queue ${target.url} --status --sweep ${outcome.sweep}`);
    if (f.json) printJson({ task: ld.taskName, out, queue: target.queueName, ...outcome, ...frozenRecord(frozen) });
    return;
  }
  const log = (line: string) => say(`${new Date().toISOString()} ${target.redact(line)}`);
  const name = `${hostname()}:${process.pid}`;
  const done = async (wq: SweepQueue) => {
    const s = await sweepStatus(wq, outcome.sweep);
    return !s || s.counts.waiting + s.counts.running === 0;
  };
  const worked = await withInterrupt({ message: 'interrupt: saving a checkpoint of the runs in progress and returning them to the queue (Ctrl-C again to exit at once)' }, (signal) =>
    runSweepWorker({
      target, name, concurrency: f.concurrency ?? 1, log, signal, until: done, ...(f.threads !== undefined ? { threads: f.threads } : {}),
      loadBase: (source, revision) => loadBase(source, cliBaseOptions(revision)),
      onRunStart: (d, runDir) => writeRunRecord(runDir, jobRunRecord(d)),
    }));
  if (worked.interrupted) {
    throw new AdapterkitError('INTERRUPTED', `sweep interrupted${worked.returned ? `: ${worked.returned} run(s) saved a checkpoint and went back to the queue` : ''}; run the same command again (or start workers) to continue`);
  }
  const sq = await openSweepQueue(target, 'command');
  let st: SweepStatus | undefined;
  try {
    st = await sweepStatus(sq, outcome.sweep);
  } finally {
    await sq.close();
  }
  if (!st) fail('NOT_FOUND', `sweep ${outcome.sweep} is gone from the queue`);
  say(`${worked.trained} run(s) trained here, ${st.counts.done} of ${st.planned} done${st.counts.failed ? `, ${st.counts.failed} failed (see --status)` : ''}; results in ${join(out, 'results.jsonl')}`);
  printSummary(f, ld.task, st.results, st.planned, { task: ld.taskName, out, planned: st.planned, trained: worked.trained, counts: st.counts, sweep: outcome.sweep });
}

const BAR_WIDTH = 30;

/** A text bar: `[#########.....]`. */
function bar(done: number, total: number): string {
  const n = total > 0 ? Math.round((done / total) * BAR_WIDTH) : 0;
  return `[${'#'.repeat(n)}${'.'.repeat(BAR_WIDTH - n)}]`;
}

/** The status of one sweep as `sweep --status` prints it. */
export function statusText(s: SweepStatus, o: { tty?: boolean } = {}): string {
  const c = s.counts;
  const int8 = s.meta.frozen ? `, int8 frozen base${s.meta.frozen.int8Adapters === false ? ' (adapters scored in fp32)' : ''}` : '';
  const lines = [`sweep ${s.meta.id}: ${s.meta.task} on ${s.meta.base}${int8} -> ${s.meta.out}`];
  const eta = c.done === s.planned ? 'finished' : c.waiting + c.running === 0 ? 'nothing left to run' : s.etaSeconds !== undefined ? `ETA ${formatDuration(s.etaSeconds)}` : 'ETA after the first run finishes';
  const counts = `${c.done}/${s.planned} done, ${c.running} running, ${c.waiting} waiting, ${c.failed} failed${c.missing ? `, ${c.missing} not in the queue` : ''}; ${eta}`;
  lines.push(o.tty ? `${bar(c.done, s.planned)} ${counts}` : counts);
  for (const r of s.runs.filter((x) => x.state === 'running')) {
    const p = r.progress;
    lines.push(`  running  ${r.method} ${r.run}${p ? ` on ${p.worker}, step ${p.step}/${p.totalSteps || '?'}${p.resumedAt ? ` (resumed at ${p.resumedAt})` : ''}` : ''}`);
  }
  for (const r of s.runs.filter((x) => x.state === 'failed')) lines.push(`  failed   ${r.method} ${r.run} after ${r.attempts ?? 1} attempt(s): ${r.reason ?? ''}`);
  if (c.missing) lines.push(`  ${c.missing} run(s) are neither finished nor in the queue (Redis lost them?): run the same sweep --queue command again to enqueue them`);
  if (c.waiting && !c.running) lines.push('  no worker is running this sweep: start one with adapterkit worker --queue <url>');
  return `${lines.join('\n')}\n`;
}

/** `sweep --queue … --status` and `--download <dir>`. */
async function queueStatusCommand(f: SweepFlags, target: QueueTarget): Promise<void> {
  const q = await openSweepQueue(target, 'command', (m) => say(`redis: ${m}`));
  try {
    const sel = { ...(f.out !== undefined ? { out: resolve(f.out) } : {}), ...(f.sweep !== undefined ? { id: f.sweep } : {}) };
    const metas = await findSweeps(q, sel);
    if (!metas.length) fail('NOT_FOUND', `no sweep${f.sweep !== undefined ? ` ${f.sweep}` : ''}${f.out !== undefined ? ` with output directory ${resolve(f.out)}` : ''} on queue "${target.queueName}" at ${target.url}`);
    const read = async () => (await Promise.all(metas.map((m) => sweepStatus(q, m.id)))).filter((s): s is SweepStatus => s !== undefined);
    if (f.download !== undefined) {
      // one results file holds one sweep: rows of several would mix (and a task's record would be overwritten)
      if (metas.length > 1) {
        fail('BAD_CONFIG', `--download writes one sweep, and ${metas.length} on queue "${target.queueName}" match: choose one with --sweep <id> or --out <dir> (${metas.map((m) => `${m.id}: ${m.task}, --out ${m.out}`).join('; ')})`);
      }
      const dir = f.download;
      await mkdir(dir, { recursive: true });
      const all = await read();
      const lines = all.flatMap((s) => s.results.map((r) => JSON.stringify(r)));
      await writeFile(join(dir, 'results.jsonl'), lines.length ? `${lines.join('\n')}\n` : '');
      for (const s of all) {
        await recordSweepTask(dir, s.meta.task, { data: s.meta.data, base: s.meta.base, ...(s.meta.revision !== undefined ? { revision: s.meta.revision } : {}), maxLength: s.meta.maxLength });
      }
      say(`wrote ${lines.length} result row(s) of ${all.length} sweep(s) to ${join(dir, 'results.jsonl')}: adapterkit report ${dir}`);
      if (!f.status) return;
    }
    const tty = !!process.stdout.isTTY && !f.json;
    for (;;) {
      const all = await read();
      if (f.json) printJson(all.map((s) => ({ sweep: s.meta.id, task: s.meta.task, out: s.meta.out, planned: s.planned, ...s.counts, workers: s.workers, etaSeconds: s.etaSeconds ?? null, runs: s.runs })));
      else {
        const text = all.map((s) => statusText(s, { tty })).join('\n');
        process.stdout.write(tty && f.watch ? `\x1b[2J\x1b[H${text}` : text);
      }
      const active = all.some((s) => s.counts.waiting + s.counts.running > 0);
      if (!f.watch || !active) return;
      await new Promise((r) => setTimeout(r, 2000));
    }
  } finally {
    await q.close();
  }
}
