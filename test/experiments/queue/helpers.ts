/** Shared pieces of the queue tests: toy CSV files, the sweep's flags, and worker processes. */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startCli, writeToyCsv } from '../../cli/harness.js';
import { TINY_BERT } from '../helpers.js';

/** Writes the toy task's train/dev/test CSV files into `dir`; returns the data flags. */
export function toyData(dir: string, trainRows = 256): string[] {
  writeToyCsv(join(dir, 'toy.csv'), trainRows, 1);
  writeToyCsv(join(dir, 'dev.csv'), 32, 2);
  writeToyCsv(join(dir, 'test.csv'), 32, 3);
  return ['--train', join(dir, 'toy.csv'), '--dev', join(dir, 'dev.csv'), '--test', join(dir, 'test.csv'), '--text', 'sentence', '--label', 'sentiment'];
}

/** `sweep` with the data and a grid on the tiny BERT (batch 16, 16 tokens). */
export function sweepArgs(data: string[], grid: string[]): string[] {
  return ['sweep', ...data, '--base', TINY_BERT, ...grid, '--seeds', '1', '--batch-size', '16', '--max-length', '16'];
}

/** A worker process and what it printed. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `re` in the output (rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
}

/** Starts `adapterkit worker` as a separate process. */
export function spawnWorker(args: string[]): WorkerProcess {
  const child = startCli(['worker', ...args]);
  let out = '';
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onData = (b: Buffer) => {
    out += b.toString();
    for (const w of [...waiters]) {
      const m = out.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child, exited, output: () => out,
    waitFor: (re, ms = 60_000) => new Promise((resolve, reject) => {
      const m = out.match(re);
      if (m) return resolve(m);
      const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms in:\n${out}`)), ms);
      waiters.push({ re, resolve: (x) => (clearTimeout(timer), resolve(x)) });
    }),
  };
}

/** Rejects when `p` takes longer than `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const timeout = new Promise<T>((_, reject) => {
    setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref();
  });
  return Promise.race([p, timeout]);
}
