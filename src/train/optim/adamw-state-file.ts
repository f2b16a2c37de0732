/**
 * AdamW state on disk, as safetensors: tensors `m.<name>` and `v.<name>` (float32, 1-D) and string
 * metadata `format` (`adapterkit-adamw`), `step`, `lr`, `beta1`, `beta2`, `eps`, `weight_decay`.
 * Numbers are written with JavaScript's shortest round-trip spelling, so they read back exactly.
 * (Kept apart from adamw.ts, so the optimizer itself has no file access and runs in a browser.)
 */
import { fail } from '../../errors.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type TensorToWrite } from '../../models/weights/index.js';
import { checkHyper, type AdamW, type AdamWState } from './adamw.js';

/** Value of the `format` metadata key. */
export const ADAMW_STATE_FORMAT = 'adapterkit-adamw';

/** Writes `s` to `path` (the moment arrays are written as they are, not copied). */
export async function writeAdamWStateFile(path: string, s: AdamWState): Promise<void> {
  const tensors = new Map<string, TensorToWrite>();
  for (const [which, moments] of [['m', s.m], ['v', s.v]] as const) {
    for (const [name, data] of moments) tensors.set(`${which}.${name}`, { dtype: 'float32', shape: [data.length], data });
  }
  await writeSafetensors(path, tensors, {
    format: ADAMW_STATE_FORMAT,
    step: String(s.step),
    lr: String(s.hyper.lr),
    beta1: String(s.hyper.betas[0]),
    beta2: String(s.hyper.betas[1]),
    eps: String(s.hyper.eps),
    weight_decay: String(s.hyper.weightDecay),
  });
}

/** Reads a file written by {@link writeAdamWStateFile}. Throws BAD_FILE naming the file and the problem. */
export async function readAdamWStateFile(path: string): Promise<AdamWState> {
  const header = await readSafetensorsHeader(path);
  const meta = header.metadata ?? {};
  if (meta.format !== ADAMW_STATE_FORMAT) {
    fail('BAD_FILE', `${path}: not an AdamW state file (metadata format is ${JSON.stringify(meta.format ?? null)}, expected "${ADAMW_STATE_FORMAT}")`);
  }
  const num = (key: string): number => {
    const text = meta[key];
    const value = text === undefined || text.trim() === '' ? NaN : Number(text);
    if (!Number.isFinite(value)) fail('BAD_FILE', `${path}: metadata "${key}" must be a number, got ${JSON.stringify(text ?? null)}`);
    return value;
  };
  const step = num('step');
  if (!Number.isSafeInteger(step) || step < 0) fail('BAD_FILE', `${path}: metadata "step" must be a non-negative integer, got ${step}`);
  const hyper = { lr: num('lr'), betas: [num('beta1'), num('beta2')] as [number, number], eps: num('eps'), weightDecay: num('weight_decay') };

  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [key, t] of await readSafetensors(path)) {
    const which = key.startsWith('m.') ? m : key.startsWith('v.') ? v : undefined;
    if (which === undefined) fail('BAD_FILE', `${path}: tensor ${key} is neither "m.<name>" nor "v.<name>"`);
    if (t.sourceDtype !== 'F32' || !(t.data instanceof Float32Array)) fail('BAD_FILE', `${path}: tensor ${key} is ${t.sourceDtype}, expected F32`);
    which.set(key.slice(2), t.data);
  }
  for (const [name, a] of m) {
    const b = v.get(name);
    if (b === undefined) fail('BAD_FILE', `${path}: tensor m.${name} has no matching v.${name}`);
    if (b.length !== a.length) fail('BAD_FILE', `${path}: m.${name} has ${a.length} elements but v.${name} has ${b.length}`);
  }
  for (const name of v.keys()) {
    if (!m.has(name)) fail('BAD_FILE', `${path}: tensor v.${name} has no matching m.${name}`);
  }
  return { step, m, v, hyper };
}

/**
 * Writes an optimizer's state as safetensors: tensors `m.<name>` and `v.<name>` (float32, 1-D) and
 * string metadata `format`, `step`, `lr`, `beta1`, `beta2`, `eps`, `weight_decay` (numbers written
 * so that they read back exactly). Throws BAD_FILE when the file cannot be written.
 */
export async function saveAdamWState(opt: AdamW, path: string): Promise<void> {
  await writeAdamWStateFile(path, opt.state());
}

/** Reads a state written by {@link saveAdamWState}, for `AdamW.loadState`. Throws BAD_FILE naming the file and what is wrong. */
export async function loadAdamWStateFile(path: string): Promise<AdamWState> {
  const s = await readAdamWStateFile(path);
  checkHyper(s.hyper, path, 'BAD_FILE');
  return s;
}
