/**
 * Saving a trained task to its directory and loading it back onto a base.
 * Loading checks the base's fingerprint: an adapter trained on another base is refused.
 */
import { fail } from '../errors.js';
import { loadTaskFiles, saveTaskFiles, MANIFEST_VERSION, type TaskManifest } from '../adapters/files.js';
import { baseFingerprint, type BaseModel } from '../models/base.js';
import { adapterConfig } from '../adapters/config.js';
import { TaskModel } from './task-model.js';
import type { TrainingMode } from './modes.js';

/** Options of {@link saveTask}. */
export interface SaveTaskOptions {
  /** Task name used in AdapterHub keys (letters, digits, _ and -). */
  name: string;
  maxLength: number;
  /** Training summary stored in adapterkit.json. */
  training?: Record<string, unknown>;
}

/** Writes `model`'s task files to `dir` (atomically). */
export async function saveTask(model: TaskModel, dir: string, o: SaveTaskOptions): Promise<void> {
  if (!/^[A-Za-z0-9_-]+$/.test(o.name)) fail('BAD_CONFIG', `task name ${JSON.stringify(o.name)} may only contain letters, digits, _ and -`);
  const mode = model.mode;
  const manifest: TaskManifest = {
    format: 'adapterkit-task',
    version: MANIFEST_VERSION,
    name: o.name,
    base: { id: model.base.id, family: model.base.encoder.family, fingerprint: baseFingerprint(model.base) },
    mode: mode.kind === 'adapters' ? { kind: mode.kind, adapter: mode.adapter } : mode.kind === 'top-k' ? { kind: mode.kind, k: mode.k } : { kind: mode.kind },
    head: model.head,
    maxLength: o.maxLength,
    training: o.training,
  };
  await saveTaskFiles(dir, model.base.encoder, { manifest, sites: model.sites, tensors: model.owned });
}

/** A task loaded from disk. */
export interface SavedTask {
  readonly model: TaskModel;
  readonly manifest: TaskManifest;
  /** True for an AdapterHub directory without adapterkit's manifest (no fingerprint check was possible). */
  readonly foreign: boolean;
}

/** Loads a task directory onto `base`. */
export async function loadSavedTask(base: BaseModel, dir: string, o: { threads?: number } = {}): Promise<SavedTask> {
  const f = await loadTaskFiles(dir, base.encoder);
  const m = f.manifest;
  if (!f.foreign) {
    const fp = baseFingerprint(base);
    if (m.base.fingerprint !== fp) {
      fail('ADAPTER_MISMATCH', `${dir} was trained on base ${m.base.id} (${m.base.family}, ${m.base.fingerprint.slice(0, 19)}…) but the loaded base is ${base.id} (${base.encoder.family}, ${fp.slice(0, 19)}…)`);
    }
  } else if (m.base.family && m.base.family !== base.encoder.family) {
    fail('ADAPTER_MISMATCH', `${dir} is an adapter for ${m.base.family} models; the loaded base is ${base.encoder.family}`);
  }
  let mode: TrainingMode;
  if (m.mode.kind === 'adapters') {
    // A foreign adapter may come with trained layer norms in trained_base.safetensors.
    const trainsLn = [...f.tensors.keys()].some((k) => !k.startsWith('adapters.') && !k.startsWith('head.'));
    mode = { kind: 'adapters', adapter: adapterConfig({ ...(m.mode.adapter as object), trainLayerNorms: f.foreign ? trainsLn : m.mode.adapter?.trainLayerNorms ?? true }) };
  } else if (m.mode.kind === 'top-k') mode = { kind: 'top-k', k: m.mode.k ?? 1 };
  else if (m.mode.kind === 'full' || m.mode.kind === 'layer-norm' || m.mode.kind === 'head-only') mode = { kind: m.mode.kind };
  else return fail('BAD_FILE', `${dir}: unknown training mode ${JSON.stringify(m.mode.kind)}`);
  const model = TaskModel.create(base, { mode, head: m.head, seed: 0, weights: f.tensors, threads: o.threads });
  return { model, manifest: m, foreign: f.foreign };
}
