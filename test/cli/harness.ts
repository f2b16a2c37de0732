/**
 * Helpers for CLI tests: run `runCli` in-process with stdout/stderr captured, spawn the real
 * binary where a process is needed, and write small toy data files.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { runCli } from '../../src/cli/main.js';
import { toyExamples } from '../train/toy-task.js';
import { tempDir as sharedTempDir } from '../temp-dir.js';

/** The tiny BERT fixture used as --base. */
export const TINY_BERT = 'test/fixtures/models/tiny-bert';

/** What a CLI run produced. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process, capturing everything written to stdout and stderr. */
export async function cli(...argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const origOut = process.stdout.write;
  const origErr = process.stderr.write;
  // The CLI writes strings; Node's test runner reports to its parent through stdout with binary
  // (serialized) chunks, which must pass through untouched.
  const capture = (sink: string[], orig: typeof process.stdout.write, stream: NodeJS.WriteStream) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk !== 'string') return (orig as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
      sink.push(chunk);
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture(out, origOut, process.stdout);
  process.stderr.write = capture(err, origErr, process.stderr);
  let code: number;
  try {
    code = await runCli(argv);
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const BIN = ['--import', 'tsx', 'src/cli/bin.ts'];

/** Runs the real binary to completion (with optional stdin). */
export function cliProcess(argv: string[], input?: string): CliRun {
  const r = spawnSync(process.execPath, [...BIN, ...argv], { input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the real binary. */
export function startCli(argv: string[]): ChildProcess {
  return spawn(process.execPath, [...BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Starts the binary with `argv`, sends it SIGINT once stderr shows its first progress line
 * (`step i/n`), and waits for it to exit: its exit code, its stderr, and whether the signal was sent.
 */
export async function interruptAtFirstStep(argv: string[]): Promise<{ code: number | null; stderr: string; sent: boolean }> {
  const child = startCli(argv);
  let stderr = '';
  let sent = false;
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    if (!sent && /^step \d+\/\d+/m.test(stderr)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, stderr, sent };
}

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix = 'ak-cli-'): string {
  return sharedTempDir(prefix);
}

/** Writes the toy sentiment task as CSV (columns sentence, sentiment with labels neg/pos). */
export function writeToyCsv(file: string, n: number, seed: number): void {
  const rows = toyExamples(n, seed).map((e) => `"${e.textA}",${e.label ? 'pos' : 'neg'}`);
  writeFileSync(file, `sentence,sentiment\n${rows.join('\n')}\n`);
}
