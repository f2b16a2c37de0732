/**
 * Train several modes on one task and compare them on the test split: the building block of the
 * demo (`npm start`) and of sweeps. Each run has its own directory under `outDir`; a run that
 * already finished (its `result.json` exists) is not trained again, so an interrupted comparison
 * resumes where it stopped.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import type { BaseModel } from '../../models/base.js';
import type { TaskData } from '../data/types.js';
import type { MetricValues } from '../metrics/index.js';
import type { TrainingMode } from '../modes.js';
import type { TrainEvent, TrainOptions } from '../trainer.js';
import { sentenceTask } from './experiment-task.js';
import { trainAndTest } from './train-and-test.js';
import { makeOutDir } from '../../util/out-dir.js';

/** One method to compare. */
export interface CompareMethod {
  /** Short id used for the run directory (`adapters`, `full`, ...). */
  readonly id: string;
  readonly mode: TrainingMode;
  /** Per-method training options (learning rate, epochs...). */
  readonly train?: Partial<TrainOptions>;
}

/** The result of one method. */
export interface CompareResult {
  readonly id: string;
  readonly method: string;
  readonly test: MetricValues;
  readonly dev?: MetricValues;
  readonly trainableParams: number;
  readonly share: number;
  readonly bytesPerTask: number;
  readonly trainSeconds: number;
  readonly steps: number;
  readonly runDir: string;
}

/** Options of {@link compareModes}. */
export interface CompareOptions {
  readonly base: BaseModel;
  readonly task: TaskData;
  readonly methods: readonly CompareMethod[];
  readonly outDir: string;
  /** Options shared by every run (per-method options override them). */
  readonly train: Partial<TrainOptions>;
  readonly seed: number;
  readonly onEvent?: (method: CompareMethod, e: TrainEvent) => void;
  readonly onResult?: (r: CompareResult) => void;
  readonly signal?: AbortSignal;
}

/** Trains and tests every method in turn; see the module comment. */
export async function compareModes(o: CompareOptions): Promise<CompareResult[]> {
  const task = sentenceTask(o.task, { requireDev: false }); // BAD_DATA without a training split
  if (!task.scoredSplits.includes('test')) fail('BAD_DATA', `task ${o.task.name} has no labeled test split to compare on`);
  const results: CompareResult[] = [];
  await makeOutDir(o.outDir);
  for (const m of o.methods) {
    const runDir = join(o.outDir, `${o.task.name}-${m.id}`);
    const resultPath = join(runDir, 'result.json');
    const done = await readFile(resultPath, 'utf8').then((t) => JSON.parse(t) as CompareResult, () => undefined);
    if (done) {
      results.push(done);
      o.onResult?.(done);
      continue;
    }
    const r = await trainAndTest({
      base: o.base, task, mode: m.mode, outDir: runDir, seed: o.seed,
      train: { ...o.train, ...m.train, signal: o.signal, onEvent: (e) => o.onEvent?.(m, e) },
    });
    const res: CompareResult = {
      id: m.id, method: r.description, test: r.test as MetricValues, dev: r.dev ?? undefined,
      trainableParams: r.trainableParams, share: r.share, bytesPerTask: r.bytes, trainSeconds: r.trainSeconds, steps: r.steps, runDir,
    };
    await writeFile(resultPath, `${JSON.stringify(res, null, 2)}\n`);
    results.push(res);
    o.onResult?.(res);
  }
  return results;
}
