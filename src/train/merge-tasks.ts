/**
 * Merging saved tasks: the adapters of several single-adapter tasks on one base merged into a new
 * task (adapters/merge.ts: linear averaging, TIES, DARE), with the head (and any trained base
 * weights such as the paper preset's layer norms) of the first task, or their weighted average.
 */
import { fail } from '../errors.js';
import { f32, type HostTensor } from '../engine/index.js';
import { mergeAdapters, mergeWeights, type MergeOptions } from '../adapters/merge.js';
import { isAdapterTensor } from '../adapters/names.js';
import type { BaseModel } from '../models/base.js';
import { isAdapterSetup } from './modes.js';

/** How messages name the heads option: the CLI rewords it as its flag (src/cli/library-terms.ts). */
const HEADS_OPTION = 'the option heads:';
const HEADS_AVERAGE = `${HEADS_OPTION} 'average'`;
import { TaskModel } from './task-model.js';

/** Options of {@link mergeTaskModels}. */
export interface MergeTasksOptions extends MergeOptions {
  /** The merged task's head and trained base weights: the first task's (default), or the weighted average (same head required). */
  readonly heads?: 'first' | 'average';
}

/**
 * A new task model whose adapter merges the adapters of `models` (single-adapter tasks on `base`).
 *
 * @example
 * ```ts
 * const { model, notes } = mergeTaskModels(base, [a.model, b.model], { method: 'ties', density: 0.5 });
 * await saveTask(model, 'runs/merged', { name: 'merged', maxLength: 128 });
 * ```
 * @throws AdapterkitError BAD_CONFIG for tasks of other bases, modes or incompatible adapters.
 */
export function mergeTaskModels(base: BaseModel, models: readonly TaskModel[], o: MergeTasksOptions): { model: TaskModel; notes: string[] } {
  if (models.length < 2) fail('BAD_CONFIG', `merge: give at least two tasks, got ${models.length}`);
  const inputs = models.map((m, i) => {
    if (m.base !== base) fail('ADAPTER_MISMATCH', `merge: task ${i + 1} is loaded on another base object`);
    if (m.mode.kind !== 'adapters' || isAdapterSetup(m.mode) || !m.mode.adapter) fail('BAD_CONFIG', `merge: task ${i + 1} is ${m.mode.kind === 'adapters' ? 'a setup of several adapters' : `a ${m.mode.kind} task`}; merging takes tasks with one adapter each`);
    return { name: m.adapterName, config: m.mode.adapter, tensors: m.owned };
  });
  const names = new Set(inputs.map((x) => x.name));
  if (names.size !== inputs.length) {
    // tasks loaded under the same adapter name: give each its own for the merge
    inputs.forEach((x, i) => {
      const renamed = new Map<string, HostTensor<'float32'>>();
      for (const [k, t] of x.tensors) if (isAdapterTensor(k)) renamed.set(k.replace(`adapters.${x.name}.`, `adapters.task${i}.`), t);
      Object.assign(x, { name: `task${i}`, tensors: renamed });
    });
  }
  const merged = mergeAdapters(base.encoder, inputs, 'adapter', o);
  const first = models[0] as TaskModel;
  const weights = new Map<string, HostTensor<'float32'>>(merged.tensors);
  const rest = (m: TaskModel) => [...m.owned].filter(([k]) => !isAdapterTensor(k));
  const notes = [...merged.notes];
  if ((o.heads ?? 'first') === 'average') {
    const w = mergeWeights(models.length, { method: 'linear', weights: o.weights });
    const same = JSON.stringify(first.head);
    models.forEach((m, i) => {
      if (JSON.stringify(m.head) !== same) fail('BAD_CONFIG', `merge: ${HEADS_AVERAGE} needs the same head in every task; task ${i + 1} has ${m.head.kind} (${m.head.labels.join(', ')}), task 1 ${first.head.kind} (${first.head.labels.join(', ')})`, { options: { heads: HEADS_OPTION } });
      const a = rest(m).map(([k]) => k).sort().join();
      if (a !== rest(first).map(([k]) => k).sort().join()) fail('BAD_CONFIG', `merge: ${HEADS_AVERAGE} needs the same trained base weights in every task; task ${i + 1} differs from task 1`, { options: { heads: HEADS_OPTION } });
    });
    for (const [k, t] of rest(first)) {
      const acc = new Float64Array(t.data.length);
      models.forEach((m, i) => {
        const x = m.owned.get(k) as HostTensor<'float32'>;
        for (let j = 0; j < acc.length; j++) acc[j] = (acc[j] as number) + (w[i] as number) * (x.data[j] as number);
      });
      weights.set(k, f32(t.shape, Float32Array.from(acc)));
    }
    notes.push('the head (and any trained base weights) is the weighted average of the tasks\'');
  } else {
    for (const [k, t] of rest(first)) weights.set(k, t);
    notes.push('the head (and any trained base weights) is the first task\'s');
  }
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: merged.config }, head: first.head, seed: 0, weights, trainPooler: first.trainPooler });
  return { model, notes };
}
