/**
 * Ctrl-C for long-running commands: the first interrupt aborts a signal (the trainer stops after
 * the current step and saves a checkpoint), a second one exits at once with code 130.
 */
import { AdapterkitError } from '../errors.js';

/** Options of {@link withInterrupt}. */
export interface InterruptOptions {
  /** Printed on the first interrupt. */
  readonly message: string;
  /** Printed before exiting on the second interrupt (default: "adapterkit: interrupted twice, exiting"). */
  readonly exitMessage?: string;
  /** Writes a line (default: stderr); a progress bar passes its own so that the line lands above the bar. */
  readonly log?: (line: string) => void;
  /** Called just before the second interrupt exits (to stop a progress bar). */
  readonly beforeExit?: () => void;
}

/**
 * Runs `fn` with a signal that the first SIGINT aborts; the handler is removed when `fn` settles.
 *
 * @example
 * ```ts
 * await withInterrupt({ message: 'interrupt: saving a checkpoint' }, (signal) => train(model, { ...o, signal }));
 * ```
 */
export async function withInterrupt<T>(o: InterruptOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      (o.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(o.message);
      ac.abort();
      return;
    }
    o.beforeExit?.();
    process.stderr.write(`\n${o.exitMessage ?? 'adapterkit: interrupted twice, exiting'}\n`);
    process.exit(130);
  };
  process.on('SIGINT', onSigint);
  try {
    return await fn(ac.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * A training run's INTERRUPTED error with its advice replaced by `how` to continue (the trainer
 * says `continue with --resume`, which sweeps and the demo do not take: they continue when run
 * again); any other error as it is.
 */
export function continueAdvice(e: unknown, how: string): unknown {
  if (!(e instanceof AdapterkitError) || e.code !== 'INTERRUPTED' || typeof e.details?.checkpointDir !== 'string') return e;
  return new AdapterkitError('INTERRUPTED', `training interrupted at step ${String(e.details.step)}; checkpoint saved in ${e.details.checkpointDir}: ${how}`, { ...e.details, options: {} }, { cause: e });
}
