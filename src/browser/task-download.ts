/**
 * Download in the ui: the task trained in the tab, written by the library's own `saveTask` (so it
 * is exactly what `adapterkit train` writes: adapterkit.json, the AdapterHub and PEFT layouts,
 * the head) and zipped under one folder named after the task. The page sends the trained tensors
 * ({@link TaskUpload}); the base is the server's copy of the same embedded base, whose
 * fingerprint the task records.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { checkMethodConfig } from '../adapters/methods/index.js';
import { f32, type HostTensor } from '../engine/index.js';
import { fail } from '../errors.js';
import { headConfig } from '../heads/head.js';
import type { BaseModel } from '../models/base-model.js';
import { saveTask } from '../train/task-io.js';
import { TaskModel } from '../train/task-model.js';
import { base64ToFloats, type TaskUpload } from './task-upload.js';
import { zipStored, type ZipFile } from './zip-store.js';

function filesUnder(dir: string, root = dir): ZipFile[] {
  return readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? filesUnder(p, root) : [{ path: relative(root, p).split('\\').join('/'), data: readFileSync(p) }];
  });
}

/** Checks the upload's shape (it comes over HTTP); BAD_DATA naming the field. */
function checkUpload(u: unknown): TaskUpload {
  const o = u as Partial<TaskUpload> | null;
  if (typeof o !== 'object' || o === null) fail('BAD_DATA', 'the task upload must be a JSON object');
  if (typeof o.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(o.name)) fail('BAD_DATA', `name must be letters, digits, _ and -, got ${JSON.stringify(o.name)}`);
  if (!Array.isArray(o.labels) || o.labels.length < 2 || !o.labels.every((l) => typeof l === 'string')) fail('BAD_DATA', 'labels must be an array of at least 2 strings');
  if (!Number.isInteger(o.maxLength) || (o.maxLength as number) < 2) fail('BAD_DATA', `maxLength must be an integer >= 2, got ${JSON.stringify(o.maxLength)}`);
  if (typeof o.tensors !== 'object' || o.tensors === null) fail('BAD_DATA', 'tensors must be an object of { shape, data }');
  if (typeof o.training !== 'object' || o.training === null) fail('BAD_DATA', 'training must be an object');
  return o as TaskUpload;
}

/**
 * The zip of the uploaded task's directory (see the module comment) and its file name.
 *
 * @throws AdapterkitError BAD_DATA for a malformed upload; BAD_CONFIG / ADAPTER_MISMATCH when the
 *   config or the tensors do not fit the base.
 */
export async function taskZip(base: BaseModel, upload: unknown): Promise<{ fileName: string; zip: Buffer }> {
  const u = checkUpload(upload);
  const weights = new Map<string, HostTensor<'float32'>>();
  for (const [name, t] of Object.entries(u.tensors)) {
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0) || typeof t.data !== 'string') fail('BAD_DATA', `tensor ${name}: needs an integer shape and base64 data`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    weights.set(name, f32([...t.shape], base64ToFloats(t.data, count, `tensor ${name}`)));
  }
  const model = TaskModel.create(base, {
    mode: { kind: 'adapters', adapter: checkMethodConfig(u.adapter as unknown as Readonly<Record<string, unknown>>, 'adapter') },
    head: headConfig({ kind: 'classification', labels: [...u.labels] }),
    seed: 0, weights,
  });
  const dir = mkdtempSync(join(tmpdir(), 'adapterkit-ui-task-'));
  try {
    const taskDir = join(dir, u.name);
    await saveTask(model, taskDir, { name: u.name, maxLength: u.maxLength, training: u.training });
    const files = filesUnder(taskDir).map((f) => ({ ...f, path: `${u.name}/${f.path}` }));
    return { fileName: `${u.name}.zip`, zip: zipStored(files) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await model.dispose();
  }
}
