/**
 * A task's adapters in their inference form: each adapter whose method has a cheaper form that
 * computes the same function at inference ({@link AdapterMethod.inferenceForm}: prefix tuning's
 * MLP evaluated once into the flat prefix) is replaced by it, in a single-adapter mode and in a
 * setup of named adapters alike. Only for models that predict: the reparameterised form is what
 * trains (and what merging averages).
 *
 * @example
 * ```ts
 * const f = inferenceForm(mode, base.encoder, tensors);
 * // a prefix (P = 30, MLP 512) task: f.mode.adapter.flat === true, and f.tensors holds
 * // adapter.control_trans [30, layers · 2 · hidden] instead of the MLP's wte and control_trans.{0,2}
 * ```
 */
import type { HostTensor } from '../engine/index.js';
import type { AdapterMethod } from '../adapters/method.js';
import { methodOf, type MethodConfig } from '../adapters/methods/index.js';
import type { Encoder } from '../models/encoder.js';
import { isAdapterSetup, type TrainingMode } from './modes.js';

type Tensors = ReadonlyMap<string, HostTensor<'float32'>>;

function formOf(c: MethodConfig, enc: Encoder, name: string, tensors: Tensors): { config: MethodConfig; tensors: Tensors } {
  const m = methodOf(c) as AdapterMethod<MethodConfig>;
  return m.inferenceForm?.(c, enc, name, tensors) ?? { config: c, tensors };
}

/** `mode` and `tensors` (the task's loaded tensors, any others passed through) in their inference form; `adapterName`: the single adapter's name. */
export function inferenceForm(mode: TrainingMode, enc: Encoder, tensors: Tensors, adapterName = 'adapter'): { mode: TrainingMode; tensors: Tensors } {
  if (mode.kind !== 'adapters') return { mode, tensors };
  if (!isAdapterSetup(mode)) {
    const f = formOf(mode.adapter, enc, adapterName, tensors);
    return { mode: { ...mode, adapter: f.config }, tensors: f.tensors };
  }
  let all = tensors;
  const adapters = mode.adapters.map((a) => {
    const f = formOf(a.config, enc, a.name, all);
    all = f.tensors;
    return { ...a, config: f.config };
  });
  return { mode: { ...mode, adapters }, tensors: all };
}
