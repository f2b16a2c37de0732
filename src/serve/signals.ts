/**
 * SIGINT/SIGTERM handling for the CLI's `serve` command. The library never installs signal
 * handlers itself; the CLI calls {@link installShutdownSignals} once it has a server.
 */
import type { EventEmitter } from 'node:events';

/** Options of {@link installShutdownSignals}. */
export interface ShutdownSignalOptions {
  /** Signals to handle. Default `['SIGINT', 'SIGTERM']`. */
  signals?: readonly NodeJS.Signals[];
  /** Told about each step (default: nothing). */
  log?: (message: string) => void;
  /** Called once the graceful close has finished (or failed), with the exit code to use: 0 or 1. */
  onClosed?: (exitCode: number) => void;
  /**
   * Called on a second signal while closing. Default: remove these handlers and re-send the
   * signal to this process, so Node's default action ends it at once.
   */
  onForce?: (signal: NodeJS.Signals) => void;
  /** Where signals come from. Default `process` (tests pass an EventEmitter). */
  target?: EventEmitter;
  /**
   * How long after the first signal to stop waiting for `close` (ms): then `onGiveUp` is called
   * (after a log line saying so). Default: wait as long as `close` takes.
   */
  giveUpAfterMs?: number;
  /**
   * Called when `close` has not finished `giveUpAfterMs` after the first signal (a backend call
   * cannot be cancelled, so `close` can outlast the server's own shutdown timeout). The CLI exits
   * here; the library never does.
   */
  onGiveUp?: () => void;
}

/**
 * On the first signal, calls `close` (graceful shutdown); on a second signal during the close,
 * forces the exit; `giveUpAfterMs` after the first signal, if `close` is still running, calls
 * `onGiveUp`. Returns a function removing the handlers.
 *
 * @example
 * ```ts
 * const server = await startServer(backend, { port: 8080 });
 * installShutdownSignals(server.close, { log: console.error, onClosed: (code) => { process.exitCode = code; } });
 * ```
 */
export function installShutdownSignals(close: () => Promise<void>, opts: ShutdownSignalOptions = {}): () => void {
  const target: EventEmitter = opts.target ?? process;
  const signals = opts.signals ?? ['SIGINT', 'SIGTERM'];
  const log = opts.log ?? (() => {});
  let closing = false;

  const uninstall = (): void => {
    for (const s of signals) target.removeListener(s, handler);
  };
  const force = opts.onForce ?? ((signal: NodeJS.Signals) => {
    uninstall();
    process.kill(process.pid, signal);
  });

  function handler(signal: NodeJS.Signals): void {
    if (closing) {
      log(`${signal} again: stopping now without waiting`);
      force(signal);
      return;
    }
    closing = true;
    log(`${signal}: finishing in-flight requests, then stopping (send ${signal} again to stop at once)`);
    let giveUp: ReturnType<typeof setTimeout> | undefined;
    if (opts.giveUpAfterMs !== undefined) {
      const ms = opts.giveUpAfterMs;
      giveUp = setTimeout(() => {
        log(`still not closed ${ms} ms after ${signal}: giving up on running work (a backend call cannot be cancelled) and stopping now`);
        uninstall();
        opts.onGiveUp?.();
      }, ms);
    }
    close().then(
      () => {
        clearTimeout(giveUp);
        log('server closed');
        uninstall();
        opts.onClosed?.(0);
      },
      (err: unknown) => {
        clearTimeout(giveUp);
        log(`error while closing: ${err instanceof Error ? err.message : String(err)}`);
        uninstall();
        opts.onClosed?.(1);
      },
    );
  }

  for (const s of signals) target.on(s, handler);
  return uninstall;
}
