/**
 * The int8 tests' common step (frozen-precision.test.ts, frozen-precision-families.test.ts): a
 * fresh task model's first training step on the toy task (16 examples, 16 tokens, seed 5, dropout
 * off), its prediction after that step, and the outlier guard's plans.
 */
import { headConfig } from '../../src/heads/head.js';
import type { BaseModel } from '../../src/models/base.js';
import type { FrozenPlan } from '../../src/train/frozen-precision.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { TaskModel } from '../../src/train/task-model.js';
import { toyExamples } from './toy-task.js';

const examples = toyExamples(16, 1);
const labels = examples.map((e) => e.label as number);
const head = headConfig({ kind: 'classification', labels: ['negative', 'positive'] });

/** One step of `mode` on `b` with the frozen base in `frozenPrecision`: loss, gradients, logits, trainable names, plans. */
export async function toyFrozenStep(b: BaseModel, mode: TrainingMode, frozenPrecision: 'fp32' | 'int8', o: { int8Tolerance?: number } = {}) {
  const plans: FrozenPlan[] = [];
  const m = TaskModel.create(b, { mode, head, seed: 5, dropout: 0, frozenPrecision, onFrozenPlan: (p) => plans.push(p), ...o });
  const batch = b.tokenizer.encode(examples.map((e) => e.textA), 16);
  const out = await m.trainStep(batch, labels);
  const logits = await m.predict(batch);
  const names = m.trainable.map((t) => t.name);
  await m.dispose();
  return { ...out, logits, names, plans };
}
