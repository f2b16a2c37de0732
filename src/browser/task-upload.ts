/**
 * The trained task as the page sends it to the ui server for Download: what `saveTask` needs
 * (the method config, the head, the length) and every tensor the task owns, as little-endian
 * float32 bytes in base64. One declaration for both sides: the worker encodes, the server decodes.
 */
import { fail } from '../errors.js';
import type { MethodConfig } from '../adapters/methods/index.js';
import { f32 } from '../engine/tensor.js';
import { headConfig } from '../heads/head.js';
import type { BaseModel } from '../models/base-model.js';
import type { FrozenOptions } from '../train/frozen-precision.js';
import { TaskModel } from '../train/task-model.js';

/** The JSON body of `POST /api/tasks/zip`. */
export interface TaskUpload {
  readonly name: string;
  readonly labels: readonly string[];
  readonly adapter: MethodConfig;
  readonly maxLength: number;
  /** The base it was trained on: a served base's name; absent: the embedded USE-lite. */
  readonly base?: string;
  /** Step and dev scores, stored as the manifest's `training`. */
  readonly training: Record<string, unknown>;
  readonly tensors: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: string }>>;
}

const CHUNK = 0x8000;

/** Base64 of a Float32Array's bytes (little-endian on every platform adapterkit runs on). */
export function floatsToBase64(x: Float32Array): string {
  const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += CHUNK) s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(s);
}

/** The Float32Array of {@link floatsToBase64}'s text; BAD_DATA naming `what` when it does not fit `count`. */
export function base64ToFloats(text: string, count: number, what: string): Float32Array {
  let bin: string;
  try {
    bin = atob(text);
  } catch {
    return fail('BAD_DATA', `${what}: not base64`);
  }
  if (bin.length !== count * 4) fail('BAD_DATA', `${what}: ${bin.length} bytes for ${count} float32 values (${count * 4} bytes expected)`);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

/**
 * The model that predicts with an opened task (what the page's worker builds from the server's
 * {@link TaskUpload}): predict-only, on `base`, with the upload's tensors as they are. With
 * `frozenPrecision: 'int8'` the base's and the adapter's matmuls run in int8 under the outlier
 * guard, which measures on the first texts it predicts (as `adapterkit predict --frozen-precision
 * int8` does). ADAPTER_MISMATCH when the tensors do not fit the adapter; BAD_DATA when one's bytes
 * do not fit its shape.
 *
 * @example
 * ```ts
 * const model = taskModelFromUpload(base, await openTaskDir(base, 'tasks/spam'), { frozenPrecision: 'int8' });
 * (await predictTexts(model, ['Win a free prize now'], { maxLength: 64 }))[0].label; // 'spam'
 * ```
 */
export function taskModelFromUpload(base: BaseModel, u: TaskUpload, o: FrozenOptions = {}): TaskModel {
  const weights = new Map(Object.entries(u.tensors).map(([name, t]) => [name, f32([...t.shape], base64ToFloats(t.data, t.shape.reduce((x, y) => x * y, 1), `tensor ${name}`))]));
  return TaskModel.create(base, {
    mode: { kind: 'adapters', adapter: u.adapter }, head: headConfig({ kind: 'classification', labels: [...u.labels] }), seed: 0, weights, predictOnly: true, ...o,
  });
}
