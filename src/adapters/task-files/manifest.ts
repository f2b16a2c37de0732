/**
 * `adapterkit.json`, the task's manifest: its name, base (with the fingerprint checked on load),
 * training mode with each adapter's config, head, maximum length, which Python-library layouts the
 * directory holds, and a training summary. It is written last, so a directory with a complete
 * manifest is a complete task. Also the records a task directory is saved from and loaded into.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import type { HostTensor } from '../../engine/index.js';
import { headConfig, type HeadConfig } from '../../heads/head.js';
import { readJsonObjectFile } from '../../util/json.js';
import { compositionFromDict, compositionToDict } from '../composition.js';
import type { AdapterDrop } from '../compose.js';
import { fusionConfig, type FusionConfig } from '../fusion.js';
import { checkMethodConfig, fromLegacyConfig, type MethodConfig } from '../methods/index.js';

/** The manifest's file name. */
export const MANIFEST_FILE = 'adapterkit.json';

/** Version of the adapterkit.json manifest (1: bottleneck adapters only, camelCase config). */
export const MANIFEST_VERSION = 2;

/** Contents of `adapterkit.json`. */
export interface TaskManifest {
  format: 'adapterkit-task';
  version: number;
  /** The task's name; the adapter and head carry it in the Python libraries' key names. */
  name: string;
  base: { id: string; family: string; fingerprint: string };
  mode: {
    kind: string; k?: number; adapter?: MethodConfig; trainPooler?: boolean;
    /** A setup's adapters, its active composition (AdapterHub's `to_dict()` form) and AdapterDrop. */
    adapters?: { name: string; config: MethodConfig; trainable: boolean }[];
    active?: Record<string, unknown>;
    adapterDrop?: AdapterDrop;
    /** A setup's AdapterFusion layers (see adapters/fusion.ts). */
    fusions?: { name: string; adapters: string[]; config: FusionConfig; trainable: boolean }[];
  };
  head: HeadConfig;
  maxLength: number;
  /** Which layouts the directory holds besides adapterkit's. */
  layouts?: { adapterhub: boolean; peft: boolean };
  /** Free-form training summary (metrics, steps, time). */
  training?: Record<string, unknown>;
}

/** Everything needed to save a task. */
export interface TaskFiles {
  manifest: TaskManifest;
  /** The adapter's name in the tensor names (see names.ts). */
  adapterName: string;
  /** Task-owned tensors by internal name (adapters.*, head.*, base canonical names). */
  tensors: ReadonlyMap<string, HostTensor<'float32'>>;
}

/** A task read back from disk. */
export interface LoadedTaskFiles {
  manifest: TaskManifest;
  /** Task tensors by internal name, [in, out]. */
  tensors: Map<string, HostTensor<'float32'>>;
  /** 'adapterkit' when the manifest is there; else which library wrote the directory (no fingerprint check is possible). */
  origin: 'adapterkit' | 'adapterhub' | 'peft';
}

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail('BAD_FILE', `${where} must be an object`);
  return v as Record<string, unknown>;
}

/** Checks adapterkit's manifest and brings a version-1 manifest up to date. */
export function checkManifest(raw: Record<string, unknown>, path: string): TaskManifest {
  if (raw.format !== 'adapterkit-task') fail('BAD_FILE', `${path}: not an adapterkit task manifest`);
  const version = raw.version;
  if (!(typeof version === 'number' && Number.isInteger(version) && version >= 1)) fail('BAD_FILE', `${path}: version must be a positive integer, got ${JSON.stringify(version)}`);
  if (version > MANIFEST_VERSION) fail('BAD_FILE', `${path}: version ${version} is newer than this adapterkit understands (${MANIFEST_VERSION})`);
  if (typeof raw.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(raw.name)) fail('BAD_FILE', `${path}: name must be a task name (letters, digits, _ and -), got ${JSON.stringify(raw.name)}`);
  const base = asObject(raw.base, `${path}: base`);
  for (const k of ['id', 'family', 'fingerprint']) if (typeof base[k] !== 'string') fail('BAD_FILE', `${path}: base.${k} must be a string`);
  const mode = asObject(raw.mode, `${path}: mode`);
  if (typeof mode.kind !== 'string') fail('BAD_FILE', `${path}: mode.kind must be a string`);
  let adapter: MethodConfig | undefined;
  if (mode.adapter !== undefined) {
    const a = asObject(mode.adapter, `${path}: mode.adapter`);
    adapter = version === 1 ? fromLegacyConfig(a, `${path}: mode.adapter`) : checkMethodConfig(a, `${path}: mode.adapter`);
  }
  let adapters: TaskManifest['mode']['adapters'];
  let active: Record<string, unknown> | undefined;
  let adapterDrop: AdapterDrop | undefined;
  let fusions: TaskManifest['mode']['fusions'];
  if (mode.fusions !== undefined) {
    if (mode.adapters === undefined || !Array.isArray(mode.fusions)) fail('BAD_FILE', `${path}: mode.fusions must be a list, in a setup (with mode.adapters)`);
    fusions = mode.fusions.map((x, i) => {
      const f = asObject(x, `${path}: mode.fusions[${i}]`);
      if (typeof f.name !== 'string') fail('BAD_FILE', `${path}: mode.fusions[${i}].name must be a string`);
      if (!Array.isArray(f.adapters) || !f.adapters.every((a) => typeof a === 'string')) fail('BAD_FILE', `${path}: mode.fusions[${i}].adapters must be a list of adapter names`);
      if (f.trainable !== undefined && typeof f.trainable !== 'boolean') fail('BAD_FILE', `${path}: mode.fusions[${i}].trainable must be true or false`);
      return { name: f.name, adapters: f.adapters as string[], config: fusionConfig(f.config, `${path}: mode.fusions[${i}].config`), trainable: f.trainable !== false };
    });
  }
  if (mode.adapters !== undefined) {
    if (!Array.isArray(mode.adapters) || mode.adapters.length === 0) fail('BAD_FILE', `${path}: mode.adapters must be a non-empty list`);
    adapters = mode.adapters.map((x, i) => {
      const a = asObject(x, `${path}: mode.adapters[${i}]`);
      if (typeof a.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(a.name)) fail('BAD_FILE', `${path}: mode.adapters[${i}].name must be an adapter name, got ${JSON.stringify(a.name)}`);
      if (a.trainable !== undefined && typeof a.trainable !== 'boolean') fail('BAD_FILE', `${path}: mode.adapters[${i}].trainable must be true or false`);
      return { name: a.name, config: checkMethodConfig(asObject(a.config, `${path}: mode.adapters[${i}].config`), `${path}: mode.adapters[${i}].config`), trainable: a.trainable !== false };
    });
    active = compositionToDict(compositionFromDict(mode.active, `${path}: mode.active`));
    if (mode.adapterDrop !== undefined) {
      const d = asObject(mode.adapterDrop, `${path}: mode.adapterDrop`);
      if (d.kind !== 'static' && d.kind !== 'robust') fail('BAD_FILE', `${path}: mode.adapterDrop.kind must be "static" or "robust"`);
      const field = d.kind === 'static' ? 'layers' : 'maxLayers';
      const n = d[field];
      if (!(typeof n === 'number' && Number.isInteger(n) && n >= 0)) fail('BAD_FILE', `${path}: mode.adapterDrop.${field} must be a non-negative integer (the number of lowest layers without adapters), got ${JSON.stringify(n)}`);
      adapterDrop = d as unknown as AdapterDrop;
    }
  }
  if (mode.kind === 'adapters' && !adapter && !adapters) fail('BAD_FILE', `${path}: mode adapters without mode.adapter`);
  if (mode.k !== undefined && !(typeof mode.k === 'number' && Number.isInteger(mode.k))) fail('BAD_FILE', `${path}: mode.k must be an integer`);
  const rawHead = asObject(raw.head, `${path}: head`);
  if (!Array.isArray(rawHead.labels) || !rawHead.labels.every((l) => typeof l === 'string')) fail('BAD_FILE', `${path}: head.labels must be a list of label names`);
  const head = headConfig(rawHead as unknown as HeadConfig);
  const maxLength = raw.maxLength;
  if (!(typeof maxLength === 'number' && Number.isInteger(maxLength) && maxLength >= 1)) fail('BAD_FILE', `${path}: maxLength must be a positive integer`);
  return {
    format: 'adapterkit-task', version, name: raw.name, base: base as TaskManifest['base'],
    mode: {
      kind: mode.kind, ...(mode.k !== undefined ? { k: mode.k as number } : {}), ...(adapter ? { adapter } : {}), ...(mode.trainPooler === true ? { trainPooler: true } : {}),
      ...(adapters ? { adapters, active } : {}), ...(adapterDrop ? { adapterDrop } : {}), ...(fusions ? { fusions } : {}),
    },
    head, maxLength, ...(raw.layouts ? { layouts: raw.layouts as TaskManifest['layouts'] } : {}), ...(raw.training ? { training: raw.training as Record<string, unknown> } : {}),
  };
}

/** Reads and checks the manifest at `path`; BAD_FILE naming the field that is wrong. */
export async function readManifest(path: string): Promise<TaskManifest> {
  return checkManifest(await readJsonObjectFile(path), path);
}

/** Writes the manifest with the layouts the directory holds (last: it marks the task complete). */
export async function writeManifest(dir: string, manifest: TaskManifest, layouts: NonNullable<TaskManifest['layouts']>): Promise<void> {
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify({ ...manifest, layouts }, null, 2)}\n`);
}
