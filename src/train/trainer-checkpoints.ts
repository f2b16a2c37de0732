/**
 * The trainer's checkpoint store: `checkpoint/` (the state to resume from) and `best/` (the task
 * to keep) of one run, written through {@link RunDir} so that a kill at any instant leaves a
 * complete copy of each. It binds the model, the optimizer and the saved task's name and length,
 * and reports each checkpoint as a {@link TrainEvent}.
 */
import { describeMode } from './modes.js';
import type { AdamW } from './optim/index.js';
import type { RunDir, TrainerState } from './run-dir.js';
import type { TaskModel } from './task-model.js';
import type { TaskMetricValues } from './training-data.js';
import type { TrainEvent } from './trainer-events.js';

/** Where the task saved in `best/` stands: its step, and its dev scores when it was evaluated. */
export interface BestTraining {
  readonly step: number;
  readonly epoch?: number;
  readonly dev?: TaskMetricValues;
}

/** The checkpoints of one run; see the module comment. */
export class TrainerCheckpoints {
  /** What the last task saved in `best/` could not hold in the Python libraries' layouts (see saveTask). */
  bestNotes: string[] = [];

  constructor(
    private readonly run: RunDir,
    private readonly model: TaskModel,
    private readonly opt: AdamW,
    private readonly task: { readonly name: string; readonly maxLength: number },
    private readonly onEvent: ((e: TrainEvent) => void) | undefined,
  ) {}

  /** The directory of the latest checkpoint. */
  get dir(): string {
    return this.run.checkpointDir;
  }

  /** Replaces `checkpoint/` with the model, the optimizer and `st`. */
  async save(st: TrainerState): Promise<void> {
    await this.run.saveCheckpoint(this.model, this.opt, st, this.task);
    this.onEvent?.({ type: 'checkpoint', step: st.step, dir: this.dir });
  }

  /** Replaces `best/` with the model's task, recording `training` (and the mode) in its manifest. */
  async saveBest(training: BestTraining): Promise<void> {
    const { step, epoch, dev } = training;
    this.bestNotes = await this.run.saveBest(this.model, {
      ...this.task,
      training: { step, ...(epoch !== undefined ? { epoch } : {}), ...(dev !== undefined ? { dev } : {}), mode: describeMode(this.model.mode, this.model.base.encoder) },
    });
  }

  /** "; the last good checkpoint (step N) is in DIR" when a checkpoint exists, else "" (for error messages). */
  async lastGood(): Promise<string> {
    return (await this.run.hasCheckpoint()) ? `; the last good checkpoint (step ${(await this.run.readState()).step}) is in ${this.dir}` : '';
  }
}
