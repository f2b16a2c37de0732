/**
 * `adapterkit worker`: trains the runs of distributed sweeps (`adapterkit sweep --queue …`) from
 * a BullMQ queue on Redis, on as many machines as there are; each writes its runs into the
 * sweep's shared output directory and the result rows to Redis too. Ctrl-C (or SIGTERM) saves a
 * checkpoint of the runs in progress, puts them back in the queue and exits.
 */
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { AdapterkitError } from '../../errors.js';
import { loadBase } from '../../models/base.js';
import { CA_ENV, parseQueueUrl, PASSWORD_ENV, redactError, runSweepWorker, type QueueTarget } from '../../train/experiments/queue/index.js';
import { cliBaseOptions } from '../download-progress.js';
import { intArg, numberArg } from '../options.js';
import { jobRunRecord, writeRunRecord } from '../saved-task.js';
import { recordSweepTask } from './sweep.js';

interface WorkerFlags {
  queue: string;
  queueName?: string;
  concurrency: number;
  threads?: number;
  name?: string;
  lockSeconds: number;
  exitWhenIdle?: boolean;
}

const EXAMPLES = `
Examples:
  # on every machine that sees the sweep's output directory at the same path
  $ ${PASSWORD_ENV}=… adapterkit worker --queue redis://queue-host:6379/0 --threads 4

  # two runs at once with 2 threads each; stop when the queue is empty
  $ adapterkit worker --queue rediss://queue-host:6380/0 --concurrency 2 --threads 2 --exit-when-idle

The password goes in the URL (redis://:password@host) or, better (the URL shows in ps), in
${PASSWORD_ENV}; rediss:// connects with TLS (${CA_ENV}=ca.pem for a private CA). Ctrl-C or
SIGTERM: the runs in progress save a checkpoint and go back to the queue, then the worker exits
(code 130); a second Ctrl-C exits at once (another worker takes the run over from its last
checkpoint). Set up Redis and workers on real machines: docs/distributed.md.`;

/** Registers `adapterkit worker`. */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('Train the runs of distributed sweeps (sweep --queue) from a Redis queue; run it on any number of machines.')
    .requiredOption('--queue <url>', 'Redis URL: redis://[:password@]host[:port][/db], rediss:// for TLS')
    .option('--queue-name <name>', 'queue name (default: "sweep", as sweep --queue uses)')
    .option('--concurrency <n>', 'runs at once in this process', intArg(1, 64), 1)
    .option('--threads <n>', 'ONNX Runtime threads per run', intArg(1))
    .option('--name <name>', 'worker name shown by sweep --status (default: <host>:<pid>)')
    .option('--lock-seconds <s>', 'job lock duration: a dead worker\'s run is taken over after about twice this', numberArg(1, 3600), 60)
    .option('--exit-when-idle', 'exit once no job of the queue is waiting, delayed or running')
    .addHelpText('after', EXAMPLES)
    .action(async (f: WorkerFlags) => {
      const target = parseQueueUrl(f.queue, f.queueName !== undefined ? { queueName: f.queueName } : {});
      try {
        await runWorkerCommand(f, target);
      } catch (e) {
        throw redactError(e, target.redact);
      }
    });
}

function logger(name: string, redact: (s: string) => string): (line: string) => void {
  return (line) => process.stderr.write(`${new Date().toISOString()} ${name} ${redact(line)}\n`);
}

async function runWorkerCommand(f: WorkerFlags, target: QueueTarget): Promise<void> {
  const name = f.name ?? `${hostname()}:${process.pid}`;
  const log = logger(name, target.redact);
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log(`${sig}: saving a checkpoint of the runs in progress and returning them to the queue (Ctrl-C again to exit at once)`);
      ac.abort();
      return;
    }
    log(`${sig} again: exiting now; another worker takes the run over from its last checkpoint`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  log(`worker on queue "${target.queueName}" at ${target.url}: concurrency ${f.concurrency}${f.threads !== undefined ? `, ${f.threads} thread(s) per run` : ''}`);
  const recorded = new Set<string>(); // sweeps whose task this worker has put in <out>/sweep.json (once per sweep)
  try {
    const out = await runSweepWorker({
      target, name, concurrency: f.concurrency, lockSeconds: f.lockSeconds, log, signal: ac.signal,
      ...(f.threads !== undefined ? { threads: f.threads } : {}), ...(f.exitWhenIdle ? { until: 'idle' as const } : {}),
      loadBase: (source, revision) => loadBase(source, cliBaseOptions(revision)),
      onRunStart: async (d, runDir) => {
        await writeRunRecord(runDir, jobRunRecord(d));
        const rec = { data: d.data, base: d.base, ...(d.revision !== undefined ? { revision: d.revision } : {}), maxLength: d.maxLength };
        if (!recorded.has(d.sweep)) {
          await recordSweepTask(d.out, d.task, rec, { onlyIfMissing: true });
          recorded.add(d.sweep);
        }
      },
    });
    log(`stopped: ${out.trained} run(s) trained, ${out.alreadyDone} already finished, ${out.failed} failed attempt(s)${out.returned ? `, ${out.returned} checkpointed and back in the queue` : ''}`);
    if (out.interrupted) throw new AdapterkitError('INTERRUPTED', `worker interrupted${out.returned ? `: ${out.returned} run(s) saved a checkpoint and went back to the queue` : ''}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
