/**
 * The reader fuzzer: seeded mutations of the valid fixtures, each case read in-process, and for
 * each the assertion of issue 12: success or a coded AdapterkitError that hides no internal JS
 * error, within a time bound, with bounded memory growth. Case `i` of seed `s` is a pure function
 * of (s, i), so any failure replays with `npm run fuzz -- --seed s --only i`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AdapterkitError } from '../../src/errors.js';
import { Rng } from '../../src/util/random.js';
import { fuzzTargets, makeCase, type FuzzTarget } from './targets.js';
import { cpuUsage } from 'node:process';
import { tempDir } from '../temp-dir.js';

/** What a run checks and how much. */
export interface FuzzOptions {
  seed: number;
  cases: number;
  /** Slowest a single case may be, in ms. */
  caseMs: number;
  /** Most the process's peak RSS may grow over the run, in bytes. */
  peakGrowth: number;
  /** Most live memory (heap + array buffers, after GC) may grow over the run, in bytes. */
  liveGrowth: number;
  /** Only these targets (names); all when empty. */
  targets?: readonly string[];
  /** Only this case index (replay). */
  only?: number;
  /** Called before each case (the CLI's hang watchdog listens). */
  onCase?: (i: number, target: string) => void;
  /** Called as soon as a case fails (the CLI prints it at once, in case a later case hangs). */
  onFailure?: (f: FuzzFailure) => void;
  /** Where to write the files of failing cases (for replay by hand). */
  saveDir?: string;
}

/** One broken promise. */
export interface FuzzFailure {
  index: number;
  target: string;
  seed: string;
  mutations: string[];
  problem: string;
}

/** What a run found. */
export interface FuzzReport {
  cases: number;
  ok: number;
  coded: number;
  failures: FuzzFailure[];
  byTarget: Record<string, { cases: number; ok: number; coded: number; slowestMs: number }>;
  ms: number;
  peakRssGrowth: number;
}

/** Messages that betray an internal JS error (or a JSON.parse message quoting the input). */
const INTERNAL = /TypeError|RangeError|ReferenceError|Maximum call stack|is not a function|Cannot read propert|is not iterable|Invalid (typed )?array length|Array buffer allocation failed|Unexpected token|must be of type|Cannot create a Buffer larger|ERR_/;

/** Why `e` breaks the promise, or undefined when it keeps it. */
export function problemWith(e: unknown): string | undefined {
  if (!(e instanceof AdapterkitError)) {
    const err = e as Error | undefined;
    return `uncoded ${err?.constructor?.name ?? typeof e}: ${String(err?.message ?? e).slice(0, 300)}`;
  }
  if (INTERNAL.test(e.message)) return `an internal error inside a ${e.code}: ${e.message.slice(0, 300)}`;
  const cause = e.cause;
  if (cause instanceof TypeError || cause instanceof RangeError || cause instanceof ReferenceError) return `${e.code} hides a ${cause.name}: ${cause.message.slice(0, 200)}`;
  // The tokenizer package compiles the file's regular expressions; a bad one is a SyntaxError of its own.
  if (cause instanceof SyntaxError && !e.message.includes('cannot build the tokenizer')) return `${e.code} hides a SyntaxError: ${cause.message.slice(0, 200)}`;
  if (e.message.length > 2000) return `a ${e.message.length}-character message (unbounded value in it?)`;
  return undefined;
}

let gcFn: (() => void) | undefined;
/** V8's gc(), exposed at run time (npm test does not pass --expose-gc). */
function gc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

function live(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

/** Runs the fuzzer. Never throws for a broken case: failures are collected in the report. */
export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const all = await fuzzTargets();
  const targets: FuzzTarget[] = o.targets?.length ? all.filter((t) => o.targets!.includes(t.name)) : all;
  if (targets.length === 0) throw new Error(`no fuzz targets match ${o.targets?.join(', ')}`);
  const root = tempDir('adapterkit-fuzz-');
  const report: FuzzReport = { cases: 0, ok: 0, coded: 0, failures: [], byTarget: {}, ms: 0, peakRssGrowth: 0 };
  for (const t of targets) report.byTarget[t.name] = { cases: 0, ok: 0, coded: 0, slowestMs: 0 };
  gc();
  const liveStart = live();
  const peakStart = peakRss();
  const t0 = performance.now();
  try {
    for (let i = 0; i < o.cases; i++) {
      if (o.only !== undefined && i !== o.only) continue;
      const target = targets[i % targets.length]!;
      const rng = new Rng((o.seed * 1_000_003 + i) >>> 0);
      const c = makeCase(rng, target);
      const dir = join(root, target.name);
      rmSync(dir, { recursive: true, force: true });
      for (const [name, data] of c.files) {
        mkdirSync(dirname(join(dir, name)), { recursive: true });
        writeFileSync(join(dir, name), data);
      }
      o.onCase?.(i, target.name);
      const stats = report.byTarget[target.name]!;
      const fail = (problem: string): void => {
        const failure = { index: i, target: target.name, seed: c.seed, mutations: c.what, problem };
        report.failures.push(failure);
        o.onFailure?.(failure);
        if (o.saveDir) {
          const keep = join(o.saveDir, `case-${o.seed}-${i}`);
          mkdirSync(keep, { recursive: true });
          for (const [name, data] of c.files) writeFileSync(join(keep, name), data);
        }
      };
      const start = cpuUsage();
      let problem: string | undefined;
      try {
        await target.read(dir);
        report.ok++;
        stats.ok++;
      } catch (e) {
        problem = problemWith(e);
        if (problem === undefined) {
          report.coded++;
          stats.coded++;
        }
      }
      const used = cpuUsage(start);
      const ms = (used.user + used.system) / 1000; // CPU time: a bound on work that other processes' load does not move
      report.cases++;
      stats.cases++;
      stats.slowestMs = Math.max(stats.slowestMs, ms);
      if (problem !== undefined) fail(problem);
      if (ms > o.caseMs) fail(`took ${ms.toFixed(0)} ms of CPU (bound ${o.caseMs} ms)`);
      const peak = peakRss() - peakStart;
      if (peak > o.peakGrowth) {
        fail(`peak RSS grew by ${(peak / 2 ** 20).toFixed(0)} MiB (bound ${(o.peakGrowth / 2 ** 20).toFixed(0)} MiB)`);
        break; // the peak never comes down: later cases could not be judged
      }
      if (i % 200 === 199) {
        gc();
        const grown = live() - liveStart;
        if (grown > o.liveGrowth) fail(`live memory grew by ${(grown / 2 ** 20).toFixed(0)} MiB after GC (bound ${(o.liveGrowth / 2 ** 20).toFixed(0)} MiB): a leak`);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  report.ms = performance.now() - t0;
  report.peakRssGrowth = peakRss() - peakStart;
  return report;
}

/** A few lines for a person: totals, per-target counts, then each failure with how to replay it. */
export function formatReport(r: FuzzReport, seed: number): string {
  const lines = [`${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s: ${r.ok} read, ${r.coded} refused with a coded error, ${r.failures.length} failures; peak RSS +${(r.peakRssGrowth / 2 ** 20).toFixed(0)} MiB`];
  for (const [name, s] of Object.entries(r.byTarget)) lines.push(`  ${name.padEnd(18)} ${String(s.cases).padStart(6)} cases  ${String(s.ok).padStart(6)} read  ${String(s.coded).padStart(6)} refused  slowest ${s.slowestMs.toFixed(0)} ms`);
  for (const f of r.failures.slice(0, 50)) lines.push(formatFailure(f, seed));
  if (r.failures.length > 50) lines.push(`... and ${r.failures.length - 50} more failures`);
  return lines.join('\n');
}

/** One failure and how to replay it. */
export function formatFailure(f: FuzzFailure, seed: number): string {
  return `FAIL case ${f.index} (${f.target}, seed file ${f.seed}; replay: --seed ${seed} --only ${f.index}): ${f.problem}\n    mutations: ${f.mutations.join('; ')}`;
}
