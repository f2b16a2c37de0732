/**
 * Download progress for commands that load a base from the Hugging Face hub: one line per file
 * at start, every 10 % and at the end (or an updating line on a terminal), on stderr.
 */
import type { LoadBaseOptions } from '../models/base.js';
import type { DownloadProgress } from '../models/hub/index.js';
import type { ProgressStream } from './progress.js';

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** A progress callback for hub downloads that writes to `stream`. */
export function downloadReporter(stream: ProgressStream = process.stderr): (p: DownloadProgress) => void {
  const shown = new Map<string, number>(); // file -> last tenth reported
  return (p) => {
    const tenth = p.total > 0 ? Math.floor((10 * p.received) / p.total) : 0;
    const last = shown.get(p.file);
    const done = p.total > 0 && p.received >= p.total;
    if (stream.isTTY) {
      stream.write(`\rdownloading ${p.file}: ${mib(p.received)} of ${mib(p.total)}${done ? '\n' : ''}`);
      return;
    }
    if (last !== undefined && tenth <= last && !(done && last < 10)) return;
    shown.set(p.file, done ? 10 : tenth);
    stream.write(`downloading ${p.file}: ${mib(p.received)} of ${mib(p.total)} (${p.total > 0 ? Math.floor((100 * p.received) / p.total) : 0} %)\n`);
  };
}

/** Hub options for `loadBase` from the CLI: the revision, when given, and download progress. */
export function cliBaseOptions(revision?: string): LoadBaseOptions {
  return { ...(revision !== undefined ? { revision } : {}), onProgress: downloadReporter() };
}
