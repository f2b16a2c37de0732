/**
 * Saving a trained task to its directory and loading it back onto a base.
 * Loading checks the base's fingerprint: an adapter trained on another base is refused.
 */
import { fail } from '../errors.js';
import { loadTaskFiles, saveTaskFiles, MANIFEST_VERSION, type LoadedTaskFiles, type TaskManifest } from '../adapters/files.js';
import { compositionFromDict, compositionToDict } from '../adapters/composition.js';
import { checkMethodConfig } from '../adapters/methods/index.js';
import { isAdapterTensor } from '../adapters/names.js';
import { baseFingerprint, type BaseModel } from '../models/base.js';
import { TaskModel } from './task-model.js';
import type { FrozenOptions } from './frozen-precision.js';
import { MODE_NAMES, isAdapterSetup, type TrainingMode } from './modes.js';
import { inferenceForm } from './inference-form.js';

/** Options of {@link saveTask}. */
export interface SaveTaskOptions {
  /** Task name used in AdapterHub keys (letters, digits, _ and -). */
  name: string;
  maxLength: number;
  /** Training summary stored in adapterkit.json. */
  training?: Record<string, unknown>;
}

/**
 * Writes `model`'s task files to `dir` (atomically). Returns one-line notes on what the Python
 * libraries' layouts could not hold (e.g. trained layer norms), for the caller to show.
 */
export async function saveTask(model: TaskModel, dir: string, o: SaveTaskOptions): Promise<string[]> {
  if (!/^[A-Za-z0-9_-]+$/.test(o.name)) fail('BAD_CONFIG', `task name ${JSON.stringify(o.name)} may only contain letters, digits, _ and -`);
  const mode = model.mode;
  const manifest: TaskManifest = {
    format: 'adapterkit-task',
    version: MANIFEST_VERSION,
    name: o.name,
    base: { id: model.base.id, family: model.base.encoder.family, fingerprint: baseFingerprint(model.base) },
    mode: {
      kind: mode.kind,
      ...(mode.kind === 'adapters' && mode.adapter ? { adapter: mode.adapter } : {}),
      ...(isAdapterSetup(mode)
        ? {
          adapters: mode.adapters.map((a) => ({ name: a.name, config: a.config, trainable: a.trainable !== false })),
          active: compositionToDict(mode.active), ...(mode.adapterDrop ? { adapterDrop: mode.adapterDrop } : {}),
          ...(mode.fusions?.length ? { fusions: mode.fusions.map((f) => ({ name: f.name, adapters: [...f.adapters], config: f.config, trainable: f.trainable !== false })) } : {}),
        }
        : {}),
      ...(mode.kind === 'top-k' ? { k: mode.k } : {}),
      ...(model.trainPooler ? { trainPooler: true } : {}),
    },
    head: model.head,
    maxLength: o.maxLength,
    training: o.training,
  };
  return saveTaskFiles(dir, model.base.encoder, { manifest, adapterName: model.adapterName, tensors: model.owned });
}

/** A task loaded from disk. */
export interface SavedTask {
  readonly model: TaskModel;
  readonly manifest: TaskManifest;
  /** True for a directory written by AdapterHub or PEFT (no fingerprint check was possible). */
  readonly foreign: boolean;
  /** Who wrote the directory. */
  readonly origin: LoadedTaskFiles['origin'];
}

/** The training mode a manifest describes. */
function modeOf(m: TaskManifest, f: LoadedTaskFiles, dir: string): TrainingMode {
  const kind = m.mode.kind;
  if (kind === 'adapters' && m.mode.adapters) {
    const { adapters, active, adapterDrop, fusions } = m.mode;
    return { kind, adapters, active: compositionFromDict(active, `${dir}: mode.active`), ...(adapterDrop ? { adapterDrop } : {}), ...(fusions ? { fusions } : {}) };
  }
  if (kind === 'adapters') {
    const a = m.mode.adapter;
    if (!a) fail('BAD_FILE', `${dir}: an adapter task without its adapter config`);
    // A foreign adapter may come with trained layer norms in trained_base.safetensors.
    const trainsLn = [...f.tensors.keys()].some((k) => !isAdapterTensor(k) && !k.startsWith('head.') && !k.startsWith('pooler.'));
    return { kind, adapter: f.origin === 'adapterkit' ? a : checkMethodConfig({ ...a, trainLayerNorms: trainsLn }) };
  }
  if (kind === 'top-k') return { kind, k: m.mode.k ?? 1 };
  if (kind === 'full' || kind === 'layer-norm' || kind === 'head-only') return { kind };
  return fail('BAD_FILE', `${dir}: unknown training mode ${JSON.stringify(kind)} (modes: ${MODE_NAMES.join(', ')})`);
}

/** Options of {@link loadSavedTask}. */
export interface LoadSavedTaskOptions extends FrozenOptions {
  readonly threads?: number;
  readonly adapterName?: string;
  /**
   * The model only predicts: adapters are put in their inference form (see train/inference-form.ts;
   * prefix tuning's MLP is ejected into the flat prefix, the same function without the MLP in
   * every call; in a mixed batch such a task then shares its group with flat-prefix tasks), and
   * the model is predict-only (`TaskModelOptions.predictOnly`: training refused, its tensors held
   * as constants; with an int8 base, the adapters' matmuls in int8 under the guard too).
   * Leave it off for a model that trains further or is merged. Default false.
   */
  readonly inference?: boolean;
}

/** Loads a task directory onto `base`. */
export async function loadSavedTask(base: BaseModel, dir: string, o: LoadSavedTaskOptions = {}): Promise<SavedTask> {
  const f = await loadTaskFiles(dir, base.encoder, o.adapterName);
  const m = f.manifest;
  if (f.origin === 'adapterkit') {
    const fp = baseFingerprint(base);
    if (m.base.fingerprint !== fp) {
      fail('ADAPTER_MISMATCH', `${dir} was trained on base ${m.base.id} (${m.base.family}, ${m.base.fingerprint.slice(0, 19)}…) but the loaded base is ${base.id} (${base.encoder.family}, ${fp.slice(0, 19)}…)`);
    }
  } else if (m.base.family && m.base.family !== base.encoder.family) {
    fail('ADAPTER_MISMATCH', `${dir} is an adapter for ${m.base.family} models; the loaded base is ${base.encoder.family}`);
  }
  // Older manifests did not record a trained pooler: its tensors in trained_base tell.
  const trainPooler = m.mode.trainPooler ?? base.encoder.weightSpecs.some((s) => s.role === 'pooler' && f.tensors.has(s.name) && m.mode.kind !== 'full' && m.mode.kind !== 'top-k');
  const loaded = { mode: modeOf(m, f, dir), tensors: f.tensors };
  const { mode, tensors } = o.inference === true ? inferenceForm(loaded.mode, base.encoder, loaded.tensors, o.adapterName) : loaded;
  const model = TaskModel.create(base, {
    mode, head: m.head, seed: 0, weights: tensors, threads: o.threads, trainPooler, adapterName: o.adapterName,
    frozenPrecision: o.frozenPrecision, int8Tolerance: o.int8Tolerance, onFrozenPlan: o.onFrozenPlan, predictOnly: o.inference === true, int8Adapters: o.int8Adapters,
  });
  return { model, manifest: m, foreign: f.origin !== 'adapterkit', origin: f.origin };
}
