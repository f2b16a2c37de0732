/** Shared data for the experiment tests: the toy task on the tiny BERT fixture. */
import type { TaskData } from '../../src/train/data/types.js';
import { toyExamples } from '../train/toy-task.js';
import { tempDir as sharedTempDir } from '../temp-dir.js';

/** The tiny BERT fixture used as base. */
export const TINY_BERT = 'test/fixtures/models/tiny-bert';

/** The toy sentiment task with train, dev and test splits. */
export function toyTask(name = 'toy'): TaskData {
  return {
    name, kind: 'classification', labels: ['negative', 'positive'], pair: false, metrics: ['accuracy', 'f1'],
    splits: { train: toyExamples(96, 1), dev: toyExamples(32, 2), test: toyExamples(32, 3) },
  };
}

/** A fresh temporary directory `ak-<prefix>-XXXXXX`, removed when the test process exits. */
export function tempDir(prefix: string): string {
  return sharedTempDir(`ak-${prefix}-`);
}
