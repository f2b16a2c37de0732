/**
 * Predict in the ui with a saved task: a task directory named on the command line, or a zip the
 * page uploads (such as Download's), read by the library's own loader (loadSavedTask, which
 * checks the base's fingerprint) on the server's copy of the base it was trained on (the embedded
 * one, or a base the server serves: the one whose fingerprint the task records) and sent to the
 * page as a {@link TaskUpload}, which the worker turns back into a model. Single-adapter tasks
 * with a classification head only; an AdapterHub or PEFT directory (no fingerprint) opens on the
 * embedded base.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fail } from '../errors.js';
import { MANIFEST_FILE, readManifest } from '../adapters/task-files/manifest.js';
import { baseFingerprint } from '../models/base.js';
import type { BaseModel } from '../models/base-model.js';
import { bytesFile } from '../models/weights/open-file.js';
import { readZipDirectory, readZipEntry } from '../models/weights/zip.js';
import { loadSavedTask } from '../train/task-io.js';
import { EMBEDDED_BASE_NAME } from './protocol.js';
import { floatsToBase64, type TaskUpload } from './task-upload.js';

/** Most bytes a task zip may hold once unpacked. */
const MAX_UNPACKED = 512 * 1024 * 1024;

/** The bases the server can open tasks on, as the page names them ({@link EMBEDDED_BASE_NAME} first). */
export interface OpenBases {
  /** Each base's name, and its encoder family where known without loading it (config.json's model_type). */
  readonly names: readonly { readonly name: string; readonly family?: string }[];
  /** The server's copy of the base `name` (loaded once). */
  load(name: string): Promise<BaseModel>;
}

/** The base a task in `dir` was trained on, among `bases`: by the fingerprint its manifest records (the embedded base for a directory without one). */
async function baseOfTask(bases: OpenBases, dir: string): Promise<{ name: string; base: BaseModel }> {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return { name: EMBEDDED_BASE_NAME, base: await bases.load(EMBEDDED_BASE_NAME) };
  const m = await readManifest(path);
  for (const { name, family } of bases.names) {
    if (family !== undefined && family !== m.base.family) continue;
    const base = await bases.load(name);
    if (baseFingerprint(base) === m.base.fingerprint) return { name, base };
  }
  const list = bases.names.map((b) => (b.family ? `${b.name} (${b.family})` : b.name)).join(', ');
  return fail('ADAPTER_MISMATCH', `task ${m.name} was trained on base ${m.base.id} (${m.base.family}, ${m.base.fingerprint.slice(0, 19)}…), which this server does not serve (bases: ${list}): start adapterkit ui with --base name=<that model's directory> to predict with it`);
}

/** The task in `dir` as the page takes it, on the base it was trained on (see {@link OpenBases}). */
export async function openTaskDir(bases: OpenBases, dir: string): Promise<TaskUpload> {
  const { name: baseName, base } = await baseOfTask(bases, dir);
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
    return { name: m.name, labels: m.head.labels ?? [], adapter, maxLength: m.maxLength, training: m.training ?? {}, tensors, ...(baseName !== EMBEDDED_BASE_NAME ? { base: baseName } : {}) };
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
export async function openTaskZip(bases: OpenBases, zip: Uint8Array, name: string): Promise<TaskUpload> {
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
    return await openTaskDir(bases, taskDir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
