/**
 * Training progress on stderr. On a terminal: a `cli-progress` bar with step/total, epoch, loss,
 * examples per second and ETA, plus evaluation progress; evaluation results are logged above the
 * bar. Elsewhere (a file, a pipe, CI): a plain line every ~10 % of the steps and one per evaluation.
 */
import cliProgress from 'cli-progress';
import type { TrainEvent } from '../train/trainer.js';
import { formatDuration, formatMetrics } from './format.js';

/** Where progress goes. */
export interface ProgressStream {
  write(s: string): unknown;
  readonly isTTY?: boolean;
}

/** Options of {@link TrainProgress}. */
export interface TrainProgressOptions {
  /** Epochs planned (for "epoch 2/3"). */
  epochs: number;
  /** Default: process.stderr. */
  stream?: ProgressStream;
  /** Force the bar (true) or plain lines (false); default: whether the stream is a TTY. */
  tty?: boolean;
}

/** Renders {@link TrainEvent}s; pass {@link TrainProgress.onEvent} as the trainer's `onEvent`. */
export class TrainProgress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private multi?: cliProgress.MultiBar;
  private bar?: cliProgress.SingleBar;
  private startStep = 0;
  private totalSteps = 0;
  private t0 = 0;
  private nextReport = 0;
  private payload = { epoch: '1', loss: '-', eps: '-', phase: '' };

  constructor(private readonly o: TrainProgressOptions) {
    this.stream = o.stream ?? process.stderr;
    this.tty = o.tty ?? !!this.stream.isTTY;
  }

  /** Handles one trainer event. */
  readonly onEvent = (e: TrainEvent): void => {
    switch (e.type) {
      case 'start':
        this.begin(e.totalSteps, e.resumedAt);
        break;
      case 'step':
        this.step(e);
        break;
      case 'eval-progress':
        if (this.bar) {
          this.payload.phase = e.done < e.total ? ` | eval ${e.done}/${e.total}` : '';
          this.bar.update(this.payload);
        }
        break;
      case 'eval':
        if (this.bar) this.payload.phase = '';
        this.log(`eval at step ${e.step} (epoch ${e.epoch + 1}): ${formatMetrics(e.metrics)}${e.best ? '  * best so far' : ''} [${e.seconds.toFixed(1)}s]`);
        break;
      case 'stop':
        if (e.reason === 'early-stopping') this.log(`early stopping at step ${e.step}: no dev improvement`);
        this.stop();
        break;
      case 'note':
        this.log(`note: ${e.message}`);
        break;
      case 'checkpoint':
        break;
    }
  };

  private begin(total: number, resumedAt: number): void {
    this.totalSteps = total;
    this.startStep = resumedAt;
    this.t0 = performance.now();
    if (resumedAt > 0) this.log(`resuming at step ${resumedAt} of ${total}`);
    if (this.tty) {
      this.multi = new cliProgress.MultiBar({
        format: 'train |{bar}| {value}/{total} steps | epoch {epoch} | loss {loss} | {eps} ex/s | ETA {eta_formatted}{phase}',
        stream: this.stream as NodeJS.WritableStream,
        gracefulExit: false,
        hideCursor: false,
        clearOnComplete: false,
        etaBuffer: 50,
        fps: 5,
      }, cliProgress.Presets.shades_classic);
      this.bar = this.multi.create(total, resumedAt, this.payload);
    } else {
      this.nextReport = resumedAt + Math.max(1, Math.ceil(total / 10));
    }
  }

  private step(e: Extract<TrainEvent, { type: 'step' }>): void {
    this.payload.epoch = `${e.epoch + 1}/${this.o.epochs}`;
    this.payload.loss = e.loss.toFixed(4);
    this.payload.eps = e.examplesPerSec.toFixed(1);
    if (this.bar) {
      this.bar.update(e.step, this.payload);
      return;
    }
    if (e.step >= this.nextReport || e.step === e.totalSteps) {
      while (this.nextReport <= e.step) this.nextReport += Math.max(1, Math.ceil(this.totalSteps / 10));
      const done = e.step - this.startStep;
      const elapsed = (performance.now() - this.t0) / 1000;
      const eta = done > 0 ? (elapsed / done) * (e.totalSteps - e.step) : NaN;
      const pct = Math.round((100 * e.step) / Math.max(1, e.totalSteps));
      this.stream.write(`step ${e.step}/${e.totalSteps} (${pct}%) | epoch ${this.payload.epoch} | loss ${this.payload.loss} | ${this.payload.eps} ex/s | ETA ${formatDuration(eta)}\n`);
    }
  }

  /** Prints a line (above the bar on a terminal). */
  log(line: string): void {
    if (this.multi) {
      this.multi.log(`${line}\n`);
      this.multi.update(); // flush now: a log line just before stop() would otherwise be lost
    } else this.stream.write(`${line}\n`);
  }

  /** Stops the bar (idempotent). */
  stop(): void {
    this.multi?.stop();
    this.multi = undefined;
    this.bar = undefined;
  }
}
