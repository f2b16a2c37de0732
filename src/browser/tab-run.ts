/**
 * A training run that lives in memory: the trainer's own step loop (trainer-loop.ts), dev
 * evaluation and schedule, with the run's log, checkpoints and best task kept in the tab instead
 * of a run directory. Stopping (an abort) leaves the model, the optimizer and the trainer state
 * where they were; {@link TabRun.run} called again continues from there, exactly as a resumed run
 * on disk does (same data order, schedule and dropout masks).
 *
 * It runs anywhere the engine runs: in the ui page's worker on onnxruntime-web, and in Node.
 */
import { AdapterkitError, fail } from '../errors.js';
import type { Example } from '../train/data/types.js';
import { epochBatches } from '../train/batching.js';
import type { MetricName } from '../train/metrics/index.js';
import { AdamW } from '../train/optim/adamw.js';
import { linearWarmupDecay } from '../train/optim/schedule.js';
import type { TrainerState } from '../train/run-dir.js';
import type { TaskModel } from '../train/task-model.js';
import { sentenceTrainingData, type TrainingData } from '../train/training-data.js';
import { checkpointSelection, DevEvaluation } from '../train/trainer-evaluation.js';
import type { TrainEvent } from '../train/trainer-events.js';
import { runStepLoop } from '../train/trainer-loop.js';
import { checkMaxLength, resolveTrainOptions, type ResolvedTrainOptions, type TrainDataOptions } from '../train/trainer-options.js';
import { freshTrainerState, runSignature } from '../train/trainer-state.js';

/**
 * Lets queued events run: each step ends here, so that a stop request arriving as a message (in
 * a worker) is seen between steps; ONNX Runtime's promises alone resolve as microtasks and would
 * keep the message queue waiting until the run ends.
 */
const yieldToEvents = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Where a tab run's checkpoints "are", for the trainer's messages. */
const IN_MEMORY = 'this tab (in memory)';

/** Options of a {@link TabRun}: the trainer's, without a run directory or resume. */
export type TabRunOptions = Omit<TrainDataOptions, 'outDir' | 'resume' | 'signal'> & { readonly metrics: readonly MetricName[] };

/** How one {@link TabRun.run} call ended. */
export type TabRunOutcome =
  | { readonly kind: 'finished'; readonly reason: string; readonly step: number }
  | { readonly kind: 'stopped'; readonly step: number };

/** One line of the run's log (what `metrics.jsonl` holds on disk). */
export type TabLogRecord = Record<string, unknown>;

/** The best task so far: its step, dev scores and a copy of the trainable weights. */
export interface TabBest {
  readonly step: number;
  readonly metrics: Record<string, number | undefined>;
  readonly weights: ReadonlyMap<string, Float32Array>;
}

/** See the module comment. */
export class TabRun {
  readonly totalSteps: number;
  readonly log: TabLogRecord[] = [];
  private readonly o: ResolvedTrainOptions;
  private readonly data: TrainingData;
  private readonly opt: AdamW;
  private readonly st: TrainerState;
  private readonly lrAt: (step: number) => number;
  private readonly evaluation: DevEvaluation;
  private bestCopy: TabBest | undefined;
  private running = false;
  private ended = false;

  constructor(readonly model: TaskModel, train: readonly Example[], dev: readonly Example[], options: TabRunOptions) {
    const maxLength = checkMaxLength(model, options.maxLength);
    if (train.length === 0) fail('BAD_DATA', 'the training split is empty');
    this.data = sentenceTrainingData(model, train, dev.length ? dev : undefined, { maxLength, metrics: [...options.metrics] });
    const { metrics: _metrics, ...rest } = options;
    this.o = resolveTrainOptions(model, this.data, { ...rest, maxLength, outDir: IN_MEMORY });
    const stepsPerEpoch = epochBatches(this.data.rows, this.o.batchSize, this.o.seed, 0).length;
    this.totalSteps = Math.min(this.o.maxSteps ?? Infinity, stepsPerEpoch * this.o.epochs);
    this.lrAt = linearWarmupDecay({ peakLr: this.o.peakLr, totalSteps: this.totalSteps, warmupRatio: this.o.warmupRatio });
    this.opt = new AdamW(model.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: this.o.peakLr, weightDecay: this.o.weightDecay });
    this.st = freshTrainerState(runSignature(model, this.o, this.data.examples));
    const run = { log: async (r: TabLogRecord) => void this.log.push(r) };
    const checkpoints = { saveBest: async () => void (this.bestCopy = this.snapshot()) };
    this.evaluation = new DevEvaluation(model, this.data, run, checkpoints, checkpointSelection(this.data), (e) => this.o.onEvent?.(e));
  }

  /** Optimizer steps taken so far. */
  get step(): number {
    return this.st.step;
  }

  /** Whether the run reached its end (more calls of {@link run} do nothing). */
  get finished(): boolean {
    return this.ended;
  }

  /** The best evaluation so far (the last step's weights when there is no dev split). */
  get best(): TabBest | undefined {
    return this.bestCopy;
  }

  /**
   * Trains until the end, or until `signal` aborts (then it returns `stopped` and a later call
   * continues). Events go to the options' `onEvent`.
   */
  async run(signal?: AbortSignal): Promise<TabRunOutcome> {
    if (this.running) fail('BAD_CONFIG', 'this run is already training');
    if (this.ended) return { kind: 'finished', reason: 'done', step: this.st.step };
    this.running = true;
    const onEvent = (e: TrainEvent): void => this.o.onEvent?.(e);
    const { st, model, data, opt, lrAt, totalSteps, evaluation } = this;
    const checkpoints = { save: async () => undefined, lastGood: async () => '', dir: IN_MEMORY };
    try {
      onEvent({ type: 'start', totalSteps, examples: data.examples, resumedAt: st.step, description: 'adapter training in this tab' });
      const o = { ...this.o, signal };
      const log = async (r: TabLogRecord): Promise<void> => {
        this.log.push(r);
        await yieldToEvents(); // the loop logs once per step and per evaluation
      };
      const { stopReason, seen } = await runStepLoop({ model, data, o, st, run: { log }, opt, lrAt, totalSteps, checkpoints, evaluation });
      if (!evaluation.enabled) this.bestCopy = this.snapshot();
      else if (seen > 0 && !evaluation.evaluatedAtStep(st.step)) await evaluation.evaluate(st);
      this.ended = true;
      onEvent({ type: 'stop', reason: stopReason, step: st.step });
      return { kind: 'finished', reason: stopReason, step: st.step };
    } catch (e) {
      if (e instanceof AdapterkitError && e.code === 'INTERRUPTED') return { kind: 'stopped', step: st.step };
      throw e;
    } finally {
      this.running = false;
    }
  }

  /** Copies of the trainable weights, with the step and the best dev scores. */
  private snapshot(): TabBest {
    return {
      step: this.st.step,
      metrics: { ...(this.st.best?.metrics ?? {}) },
      weights: new Map(this.model.trainable.map((t) => [t.name, Float32Array.from(t.data)])),
    };
  }
}
