/**
 * Predict in the ui with a saved task: a task directory named on the command line, or a zip the
 * page uploads (such as Download's), read by the library's own loader (loadSavedTask, which
 * checks the base's fingerprint) on the server's copy of the embedded base and sent to the page
 * as a {@link TaskUpload}, which the worker turns back into a model. The page's base is USE-lite,
 * so only tasks on it, with a single adapter and a classification head, can be opened.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fail } from '../errors.js';
import type { BaseModel } from '../models/base-model.js';
import { bytesFile } from '../models/weights/open-file.js';
import { readZipDirectory, readZipEntry } from '../models/weights/zip.js';
import { loadSavedTask } from '../train/task-io.js';
import { floatsToBase64, type TaskUpload } from './task-upload.js';

/** Most bytes a task zip may hold once unpacked. */
const MAX_UNPACKED = 512 * 1024 * 1024;

/** The task in `dir` as the page takes it. */
export async function openTaskDir(base: BaseModel, dir: string): Promise<TaskUpload> {
  const t = await loadSavedTask(base, dir, { inference: true });
  try {
    const m = t.manifest;
    // the adapter as the loaded model holds it: its inference form (prefix tuning's MLP evaluated
    // into the flat prefix), which is what the tensors sent along are
    const mode = t.model.mode;
    const adapter = mode.kind === 'adapters' ? mode.adapter : undefined;
    if (!adapter) fail('BAD_CONFIG', `${dir}: the page predicts with single-adapter tasks; this one is ${m.mode.kind === 'adapters' ? 'a setup of several adapters' : `mode ${m.mode.kind}`}`);
    if (m.head.kind !== 'classification') fail('BAD_CONFIG', `${dir}: the page predicts with classification heads; this task's head is ${m.head.kind}`);
    const tensors: Record<string, { shape: readonly number[]; data: string }> = {};
    for (const [name, x] of t.model.owned) tensors[name] = { shape: x.shape, data: floatsToBase64(x.data) };
    return { name: m.name, labels: m.head.labels ?? [], adapter, maxLength: m.maxLength, training: m.training ?? {}, tensors };
  } finally {
    await t.model.dispose();
  }
}

/** The task directory inside an unpacked zip: the folder holding adapterkit.json (or adapter_config.json). */
function findTaskDir(root: string): string | undefined {
  for (const marker of ['adapterkit.json', 'adapter_config.json']) {
    if (existsSync(join(root, marker))) return root;
  }
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (e.isDirectory()) {
      const hit = findTaskDir(join(root, e.name));
      if (hit) return hit;
    }
  }
  return undefined;
}

/** The task in an uploaded zip (see {@link openTaskDir}); BAD_FILE for a zip that is not one. */
export async function openTaskZip(base: BaseModel, zip: Uint8Array, name: string): Promise<TaskUpload> {
  const file = bytesFile(name, zip);
  const entries = await readZipDirectory(file);
  const dir = mkdtempSync(join(tmpdir(), 'adapterkit-ui-open-'));
  try {
    let total = 0;
    for (const e of entries.values()) {
      if (e.name.endsWith('/')) continue;
      const target = resolve(dir, e.name);
      if (!target.startsWith(`${dir}/`)) fail('BAD_FILE', `${name}: entry ${JSON.stringify(e.name)} points outside the archive`);
      const data = await readZipEntry(file, e);
      total += data.byteLength;
      if (total > MAX_UNPACKED) fail('BAD_FILE', `${name}: unpacks to more than ${MAX_UNPACKED} bytes`);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, data);
    }
    const taskDir = findTaskDir(dir);
    if (!taskDir) fail('BAD_FILE', `${name}: no task directory in the zip (no adapterkit.json or adapter_config.json)`);
    return await openTaskDir(base, taskDir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
