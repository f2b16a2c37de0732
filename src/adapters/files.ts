/**
 * A task directory: the task's files in the layouts the Python libraries load, plus adapterkit's
 * own manifest.
 *
 *     adapterkit.json            mode, method config, head, base fingerprint, training summary
 *     adapter_config.json        AdapterHub (when AdapterHub can express the adapter)
 *     pytorch_adapter.bin        AdapterHub's default weights file (torch zip-pickle)
 *     adapter.safetensors        the adapter's tensors under AdapterHub's key names (always)
 *     head_config.json, pytorch_model_head.bin, model_head.safetensors     AdapterHub's head
 *     trained_base.safetensors   base weights the task trained (layer norms...), checkpoint keys
 *     peft/adapter_config.json, peft/adapter_model.safetensors             PEFT (LoRA, IA³)
 *
 * A task holding several named adapters (an adapter setup) keeps each adapter in a folder of its
 * name, `<name>/adapter_config.json`, `<name>/pytorch_adapter.bin`, `<name>/adapter.safetensors`
 * (keys with the adapter's name), and the composition in `adapter_setup.json` as AdapterHub's
 * `save_adapter_setup` writes them; the head and `trained_base.safetensors` stay at the top.
 *
 * Directories written by AdapterHub (`adapter_config.json` + head) or by PEFT (`adapter_config.json`
 * with `peft_type`) load too. A config value adapterkit does not implement is an error naming the
 * field, never a different function.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { transposeMatrix, type HostTensor } from '../engine/index.js';
import { headConfig, type HeadConfig } from '../heads/head.js';
import type { Encoder } from '../models/encoder.js';
import { readWeights, writeSafetensors, writeTorchStateDict, type TensorToWrite, type WeightTensor } from '../models/weights/index.js';
import { writeDirAtomically } from '../util/atomic-dir.js';
import { exists } from '../util/fs.js';
import { readJsonObjectFile } from '../util/json.js';
import { pythonJson } from '../util/python-json.js';
import {
  ADAPTERHUB_FILES, ADAPTERHUB_VERSION, adapterHubAdapterConfig, adapterHubHeadConfig, adapterHubKeys, headFromAdapterHub, headInternal, headKey,
} from './adapterhub.js';
import { compositionFromDict, compositionToDict } from './composition.js';
import type { AdapterDrop } from './compose.js';
import type { FileTensorKey } from './method.js';
import { checkMethodConfig, fromAdapterHubConfig, fromLegacyConfig, methodOf, type MethodConfig } from './methods/index.js';
import { isAdapterTensor } from './names.js';
import { PEFT_FILES, fromPeftConfig, peftAdapterConfig, peftHead, peftHeadKey, peftKeys } from './peft.js';

/** AdapterHub's file of an adapter setup (`utils.py` SETUP_CONFIG_NAME). */
export const SETUP_FILE = 'adapter_setup.json';

/** Version of the adapterkit.json manifest (1: bottleneck adapters only, camelCase config). */
export const MANIFEST_VERSION = 2;

/** The PEFT layout's folder inside a task directory. */
export const PEFT_DIR = 'peft';

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

/** Whether a base weight is stored transposed (Linear weights are [out, in] in PyTorch files). */
function baseIsLinear(enc: Encoder): (name: string, shape: readonly number[]) => boolean {
  const roles = new Map(enc.weightSpecs.map((s) => [s.name, s.role]));
  return (name, shape) => shape.length === 2 && name.endsWith('.weight') && (roles.get(name) === 'linear' || roles.get(name) === 'pooler');
}

function transposed(t: HostTensor<'float32'>): HostTensor<'float32'> {
  const [r, c] = t.shape as [number, number];
  return { dtype: 'float32', shape: [c, r], data: transposeMatrix(t.data, r, c) };
}

/** An internal tensor as a file stores it under `k`. */
function toFile(k: FileTensorKey, t: HostTensor<'float32'>): TensorToWrite {
  const data = k.transpose ? transposed(t).data : t.data;
  if (data.length !== k.shape.reduce((a, b) => a * b, 1)) fail('GRAPH_ERROR', `${k.internal} has ${data.length} values, its file key ${k.key} [${k.shape.join(', ')}] does not fit`);
  return { dtype: 'float32', shape: k.shape, data };
}

/** A file tensor back to its internal layout. */
function fromFile(k: FileTensorKey, t: WeightTensor, internalShape: readonly number[], file: string): HostTensor<'float32'> {
  if (t.dtype !== 'float32') fail('BAD_FILE', `${file}: tensor ${k.key} is ${t.dtype}, expected float32`);
  if (t.shape.length !== k.shape.length || t.shape.some((d, i) => d !== k.shape[i])) {
    fail('ADAPTER_MISMATCH', `${file}: tensor ${k.key} has shape [${t.shape.join(', ')}], this adapter config gives [${k.shape.join(', ')}]`);
  }
  const data = t.data as Float32Array;
  if (k.transpose) return { dtype: 'float32', shape: [...internalShape], data: transposeMatrix(data, k.shape[0] as number, k.shape[1] as number) };
  return { dtype: 'float32', shape: [...internalShape], data };
}

function internalShapes(c: MethodConfig, enc: Encoder, adapterName: string): Map<string, readonly number[]> {
  return new Map(methodOf(c).tensors(c, enc, adapterName).map((t) => [t.name, t.shape]));
}

/**
 * Writes a task directory atomically: the files go to a temporary sibling that then replaces
 * `dir` by renames, so a complete copy of the task exists at every instant, even across a kill
 * (util/atomic-dir.ts). Returns one-line notes about what a layout could not hold.
 */
export async function saveTaskFiles(dir: string, enc: Encoder, f: TaskFiles): Promise<string[]> {
  return writeDirAtomically(dir, (tmp) => writeTaskFiles(tmp, enc, f), { overwrite: true });
}

async function writeTaskFiles(tmp: string, enc: Encoder, f: TaskFiles): Promise<string[]> {
  const notes: string[] = [];
  const m = f.manifest;
  const name = m.name;
  const meta = { format: 'pt', adapterkit_fingerprint: m.base.fingerprint };
  const head = new Map<string, TensorToWrite>();
  const base = new Map<string, TensorToWrite>();
  const isLinear = baseIsLinear(enc);
  for (const [k, t] of f.tensors) {
    if (isAdapterTensor(k)) continue;
    if (k.startsWith('head.')) head.set(headKey(name, k, m.head.layers), t.shape.length === 2 ? transposed(t) : t);
    else base.set(`${enc.checkpointPrefix}${k}`, isLinear(k, t.shape) ? transposed(t) : t);
  }
  const layouts = { adapterhub: false, peft: false };
  if (m.mode.adapters) {
    layouts.adapterhub = true;
    for (const a of m.mode.adapters) {
      const sub = join(tmp, a.name);
      await mkdir(sub);
      const adapter = new Map<string, TensorToWrite>();
      for (const k of adapterHubKeys(a.config, enc, a.name, a.name)) {
        const t = f.tensors.get(k.internal);
        if (!t) fail('GRAPH_ERROR', `saving ${name}: adapter tensor ${k.internal} is missing`);
        adapter.set(k.key, toFile(k, t));
      }
      await writeSafetensors(join(sub, ADAPTERHUB_FILES.safeWeights), adapter, meta);
      const hub = adapterHubAdapterConfig(a.config, enc, a.name);
      if ('json' in hub) {
        await writeFile(join(sub, ADAPTERHUB_FILES.config), pythonJson(hub.json));
        await writeTorchStateDict(join(sub, ADAPTERHUB_FILES.weights), adapter);
      } else {
        layouts.adapterhub = false;
        notes.push(`AdapterHub cannot load adapter ${a.name} (${hub.unsupported}); ${a.name}/${ADAPTERHUB_FILES.safeWeights} holds it under AdapterHub's key names for adapterkit`);
      }
    }
    const known = new Set(m.mode.adapters.flatMap((a) => adapterHubKeys(a.config, enc, a.name, a.name).map((k) => k.internal)));
    const extra = [...f.tensors.keys()].filter((k) => isAdapterTensor(k) && !known.has(k));
    if (extra.length) fail('GRAPH_ERROR', `saving ${name}: adapter tensors without a file key: ${extra.slice(0, 4).join(', ')}`);
    // AdapterHub's save_adapter_setup: {adapter_setup: to_dict(), head_setup, version}, json.dump(indent=2)
    await writeFile(join(tmp, SETUP_FILE), JSON.stringify({ adapter_setup: m.mode.active, head_setup: null, version: `adapters.${ADAPTERHUB_VERSION}` }, null, 2));
    if (base.size && m.mode.adapters.some((a) => a.config.trainLayerNorms)) {
      notes.push(`the layer norms this task trained are in trained_base.safetensors: AdapterHub's and PEFT's adapter files have no place for them (README, "Use an adapter from Python")`);
    }
  }
  const c = m.mode.adapter;
  if (c) {
    const adapter = new Map<string, TensorToWrite>();
    const keys = adapterHubKeys(c, enc, f.adapterName, name);
    for (const k of keys) {
      const t = f.tensors.get(k.internal);
      if (!t) fail('GRAPH_ERROR', `saving ${name}: adapter tensor ${k.internal} is missing`);
      adapter.set(k.key, toFile(k, t));
    }
    const extra = [...f.tensors.keys()].filter((k) => isAdapterTensor(k) && !keys.some((x) => x.internal === k));
    if (extra.length) fail('GRAPH_ERROR', `saving ${name}: adapter tensors without a file key: ${extra.slice(0, 4).join(', ')}`);
    await writeSafetensors(join(tmp, ADAPTERHUB_FILES.safeWeights), adapter, meta);
    const hub = adapterHubAdapterConfig(c, enc, name);
    if ('json' in hub) {
      await writeFile(join(tmp, ADAPTERHUB_FILES.config), pythonJson(hub.json));
      await writeTorchStateDict(join(tmp, ADAPTERHUB_FILES.weights), adapter);
      layouts.adapterhub = true;
    } else notes.push(`AdapterHub cannot load this adapter (${hub.unsupported}); ${ADAPTERHUB_FILES.safeWeights} holds it under AdapterHub's key names for adapterkit`);
    if (methodOf(c).peft) {
      const peft = peftAdapterConfig(c, enc, m.head, m.base.id);
      if ('json' in peft) {
        const tensors = new Map<string, TensorToWrite>();
        for (const k of peftKeys(c, enc, f.adapterName)) tensors.set(k.key, toFile(k, f.tensors.get(k.internal) as HostTensor<'float32'>));
        const hm = peftHead(m.head, enc);
        if (hm) for (const [k, t] of f.tensors) {
          const key = k.startsWith('head.') ? peftHeadKey(hm.module, k) : undefined;
          if (key) tensors.set(key, t.shape.length === 2 ? transposed(t) : t);
        }
        else notes.push(`PEFT's layout holds the adapter only: this ${m.head.kind} head (${m.head.layers} layer${m.head.layers > 1 ? 's' : ''}) is not the Hugging Face ${enc.family} head`);
        await mkdir(join(tmp, PEFT_DIR));
        await writeFile(join(tmp, PEFT_DIR, PEFT_FILES.config), pythonJson(peft.json));
        await writeSafetensors(join(tmp, PEFT_DIR, PEFT_FILES.weights), tensors, { format: 'pt' });
        layouts.peft = true;
      } else notes.push(`PEFT cannot load this adapter (${peft.unsupported})`);
    }
    if (base.size && c.trainLayerNorms) {
      notes.push(`the layer norms this adapter trained are in trained_base.safetensors: AdapterHub's and PEFT's adapter files have no place for them (README, "Use an adapter from Python")`);
    }
  }
  await writeFile(join(tmp, ADAPTERHUB_FILES.headConfig), pythonJson(adapterHubHeadConfig(m.head, enc, name)));
  await writeSafetensors(join(tmp, ADAPTERHUB_FILES.safeHeadWeights), head, meta);
  await writeTorchStateDict(join(tmp, ADAPTERHUB_FILES.headWeights), head);
  if (base.size) await writeSafetensors(join(tmp, 'trained_base.safetensors'), base, meta);
  await writeFile(join(tmp, 'adapterkit.json'), `${JSON.stringify({ ...m, layouts }, null, 2)}\n`);
  return notes;
}

/** Reads whichever of a weights file's variants exists (safetensors first). */
async function readFirst(dir: string, files: readonly string[]): Promise<{ file: string; tensors: Map<string, WeightTensor> } | undefined> {
  for (const f of files) {
    const p = join(dir, f);
    if (await exists(p)) return { file: p, tensors: await readWeights(p) };
  }
  return undefined;
}

/** Maps a file's tensors to internal names through `keys`; ADAPTER_MISMATCH for a tensor that has no place. */
function mapTensors(
  read: { file: string; tensors: Map<string, WeightTensor> }, keys: readonly FileTensorKey[], shapes: ReadonlyMap<string, readonly number[]>,
  out: Map<string, HostTensor<'float32'>>, what: string, other?: (key: string, t: WeightTensor) => boolean,
): void {
  const byKey = new Map(keys.map((k) => [k.key, k]));
  for (const [key, t] of read.tensors) {
    const k = byKey.get(key);
    if (!k) {
      if (other?.(key, t)) continue;
      fail('ADAPTER_MISMATCH', `${read.file}: tensor ${key} has no place in ${what}`);
    }
    out.set(k.internal, fromFile(k, t, shapes.get(k.internal) as readonly number[], read.file));
  }
}

function headTensors(read: { file: string; tensors: Map<string, WeightTensor> }, name: string, layers: 1 | 2, out: Map<string, HostTensor<'float32'>>): void {
  for (const [key, t] of read.tensors) {
    const internal = headInternal(name, key, layers);
    if (!internal) fail('ADAPTER_MISMATCH', `${read.file}: tensor ${key} is not part of head ${name} (${layers} layer${layers > 1 ? 's' : ''})`);
    if (t.dtype !== 'float32') fail('BAD_FILE', `${read.file}: tensor ${key} is ${t.dtype}, expected float32`);
    const data = t.data as Float32Array;
    out.set(internal, t.shape.length === 2 ? transposed({ dtype: 'float32', shape: t.shape, data }) : { dtype: 'float32', shape: t.shape, data });
  }
}

async function readBase(dir: string, enc: Encoder, out: Map<string, HostTensor<'float32'>>): Promise<void> {
  const read = await readFirst(dir, ['trained_base.safetensors']);
  if (!read) return;
  const isLinear = baseIsLinear(enc);
  const known = new Set(enc.weightSpecs.map((s) => s.name));
  for (const [key, t] of read.tensors) {
    const name = key.startsWith(enc.checkpointPrefix) ? key.slice(enc.checkpointPrefix.length) : key;
    if (!known.has(name)) fail('ADAPTER_MISMATCH', `${read.file}: tensor ${key} is not a weight of the ${enc.family} encoder`);
    if (t.dtype !== 'float32') fail('BAD_FILE', `${read.file}: tensor ${key} is ${t.dtype}, expected float32`);
    const data = t.data as Float32Array;
    out.set(name, isLinear(name, t.shape) ? transposed({ dtype: 'float32', shape: t.shape, data }) : { dtype: 'float32', shape: t.shape, data });
  }
}

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail('BAD_FILE', `${where} must be an object`);
  return v as Record<string, unknown>;
}

/** Checks adapterkit's manifest and brings a version-1 manifest up to date. */
function checkManifest(raw: Record<string, unknown>, path: string): TaskManifest {
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
      adapterDrop = d as unknown as AdapterDrop;
    }
  }
  if (mode.kind === 'adapters' && !adapter && !adapters) fail('BAD_FILE', `${path}: mode adapters without mode.adapter`);
  if (mode.k !== undefined && !(typeof mode.k === 'number' && Number.isInteger(mode.k))) fail('BAD_FILE', `${path}: mode.k must be an integer`);
  const head = headConfig(asObject(raw.head, `${path}: head`) as unknown as HeadConfig);
  const maxLength = raw.maxLength;
  if (!(typeof maxLength === 'number' && Number.isInteger(maxLength) && maxLength >= 1)) fail('BAD_FILE', `${path}: maxLength must be a positive integer`);
  return {
    format: 'adapterkit-task', version, name: raw.name, base: base as TaskManifest['base'],
    mode: {
      kind: mode.kind, ...(mode.k !== undefined ? { k: mode.k as number } : {}), ...(adapter ? { adapter } : {}), ...(mode.trainPooler === true ? { trainPooler: true } : {}),
      ...(adapters ? { adapters, active } : {}), ...(adapterDrop ? { adapterDrop } : {}),
    },
    head, maxLength, ...(raw.layouts ? { layouts: raw.layouts as TaskManifest['layouts'] } : {}), ...(raw.training ? { training: raw.training as Record<string, unknown> } : {}),
  };
}

/**
 * Reads a task directory (adapterkit's, AdapterHub's or PEFT's) for `enc`; adapter tensors get
 * internal names with `adapterName`.
 */
export async function loadTaskFiles(dir: string, enc: Encoder, adapterName = 'adapter'): Promise<LoadedTaskFiles> {
  if (!(await exists(dir))) fail('NOT_FOUND', `task directory ${dir} does not exist`);
  const manifestPath = join(dir, 'adapterkit.json');
  const tensors = new Map<string, HostTensor<'float32'>>();
  if (await exists(manifestPath)) {
    const manifest = checkManifest(await readJsonObjectFile(manifestPath), manifestPath);
    for (const a of manifest.mode.kind === 'adapters' ? manifest.mode.adapters ?? [] : []) {
      methodOf(a.config).validateFor(a.config as never, enc);
      const sub = join(dir, a.name);
      const read = await readFirst(sub, [ADAPTERHUB_FILES.safeWeights, ADAPTERHUB_FILES.weights]);
      if (!read) fail('BAD_FILE', `${dir}: missing ${a.name}/${ADAPTERHUB_FILES.safeWeights}`);
      mapTensors(read, adapterHubKeys(a.config, enc, a.name, a.name), internalShapes(a.config, enc, a.name), tensors, `adapter ${a.name} (${methodOf(a.config).describe(a.config, enc)}) on a ${enc.family} encoder`);
    }
    const c = manifest.mode.adapter;
    if (c && manifest.mode.kind === 'adapters') {
      const read = await readFirst(dir, [ADAPTERHUB_FILES.safeWeights, ADAPTERHUB_FILES.weights]);
      if (!read) fail('BAD_FILE', `${dir}: missing ${ADAPTERHUB_FILES.safeWeights}`);
      mapTensors(read, adapterHubKeys(c, enc, adapterName, manifest.name), internalShapes(c, enc, adapterName), tensors, `task ${manifest.name} (${methodOf(c).describe(c, enc)}) on a ${enc.family} encoder`);
    }
    const head = await readFirst(dir, [ADAPTERHUB_FILES.safeHeadWeights, ADAPTERHUB_FILES.headWeights]);
    if (!head) fail('BAD_FILE', `${dir}: missing ${ADAPTERHUB_FILES.safeHeadWeights}`);
    headTensors(head, manifest.name, manifest.head.layers, tensors);
    await readBase(dir, enc, tensors);
    return { manifest, tensors, origin: 'adapterkit' };
  }
  const configPath = join(dir, ADAPTERHUB_FILES.config);
  const config = (await exists(configPath)) ? await readJsonObjectFile(configPath) : undefined;
  if (config && 'peft_type' in config) return loadPeftDir(dir, enc, config, configPath, adapterName);
  const headPath = join(dir, ADAPTERHUB_FILES.headConfig);
  if (!(await exists(headPath))) fail('BAD_FILE', `${dir}: neither adapterkit.json, a PEFT adapter_config.json nor head_config.json found; not a task directory`);
  const hc = await readJsonObjectFile(headPath);
  const hf = headFromAdapterHub(hc, headPath);
  const name = typeof hc.name === 'string' ? hc.name : typeof config?.name === 'string' ? config.name : 'task';
  const family = typeof hc.model_type === 'string' ? hc.model_type : '';
  let mode: TaskManifest['mode'] = { kind: 'head-only' };
  if (config) {
    const c = fromAdapterHubConfig(config.config, configPath, typeof config.version === 'string');
    if (typeof config.hidden_size === 'number' && config.hidden_size !== enc.hiddenSize) {
      fail('ADAPTER_MISMATCH', `${configPath}: hidden_size ${config.hidden_size} does not match the ${enc.family} encoder's ${enc.hiddenSize}`);
    }
    const adapterFileName = typeof config.name === 'string' ? config.name : name;
    methodOf(c).validateFor(c, enc);
    const read = await readFirst(dir, [ADAPTERHUB_FILES.safeWeights, ADAPTERHUB_FILES.weights]);
    if (!read) fail('BAD_FILE', `${dir}: missing ${ADAPTERHUB_FILES.safeWeights} and ${ADAPTERHUB_FILES.weights}`);
    mapTensors(read, adapterHubKeys(c, enc, adapterName, adapterFileName), internalShapes(c, enc, adapterName), tensors, `adapter ${adapterFileName} (${methodOf(c).describe(c, enc)}) on a ${enc.family} encoder`);
    mode = { kind: 'adapters', adapter: c };
  }
  const head = headConfig({ kind: hf.kind, labels: hf.labels, layers: hf.layers, dropout: hf.dropout });
  const headRead = await readFirst(dir, [ADAPTERHUB_FILES.safeHeadWeights, ADAPTERHUB_FILES.headWeights]);
  if (!headRead) fail('BAD_FILE', `${dir}: missing ${ADAPTERHUB_FILES.safeHeadWeights} and ${ADAPTERHUB_FILES.headWeights}`);
  headTensors(headRead, name, head.layers, tensors);
  await readBase(dir, enc, tensors);
  return {
    manifest: { format: 'adapterkit-task', version: MANIFEST_VERSION, name, base: { id: 'unknown', family, fingerprint: '' }, mode, head, maxLength: 128 },
    tensors, origin: 'adapterhub',
  };
}

/** A PEFT directory: its config, its adapter tensors and its head (from `modules_to_save`). */
async function loadPeftDir(dir: string, enc: Encoder, config: Record<string, unknown>, configPath: string, adapterName: string): Promise<LoadedTaskFiles> {
  const c = fromPeftConfig(config, enc, configPath);
  methodOf(c).validateFor(c, enc);
  const read = await readFirst(dir, [PEFT_FILES.weights, PEFT_FILES.binWeights]);
  if (!read) fail('BAD_FILE', `${dir}: missing ${PEFT_FILES.weights} and ${PEFT_FILES.binWeights}`);
  const tensors = new Map<string, HostTensor<'float32'>>();
  const headParts = new Map<string, WeightTensor>();
  const heads = ['classifier', 'qa_outputs'];
  mapTensors(read, peftKeys(c, enc, adapterName), internalShapes(c, enc, adapterName), tensors, `PEFT adapter (${methodOf(c).describe(c, enc)}) on a ${enc.family} encoder`, (key, t) => {
    const m = /^base_model\.model\.(classifier|qa_outputs)\.(weight|bias)$/.exec(key);
    if (!m || !heads.includes(m[1] as string)) return false;
    headParts.set(`${m[1]}.${m[2]}`, t);
    return true;
  });
  const module = headParts.has('qa_outputs.weight') ? 'qa_outputs' : 'classifier';
  const w = headParts.get(`${module}.weight`);
  const b = headParts.get(`${module}.bias`);
  if (!w || !b) fail('BAD_FILE', `${dir}: the PEFT adapter has no head (modules_to_save classifier or qa_outputs, with weight and bias); adapterkit needs a task head`);
  const type = config.task_type;
  const n = w.shape[0] as number;
  const kind = module === 'qa_outputs' || type === 'QUESTION_ANS' ? 'qa' : type === 'TOKEN_CLS' ? 'tagging' : n === 1 ? 'regression' : 'classification';
  const head = headConfig({ kind, labels: kind === 'qa' || kind === 'regression' ? [] : Array.from({ length: n }, (_, i) => `LABEL_${i}`), layers: 1 });
  const wt = w.data as Float32Array;
  tensors.set('head.out.weight', transposed({ dtype: 'float32', shape: w.shape, data: wt }));
  tensors.set('head.out.bias', { dtype: 'float32', shape: b.shape, data: b.data as Float32Array });
  const base = typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : 'unknown';
  return {
    manifest: { format: 'adapterkit-task', version: MANIFEST_VERSION, name: 'task', base: { id: base, family: enc.family, fingerprint: '' }, mode: { kind: 'adapters', adapter: c }, head, maxLength: 128 },
    tensors, origin: 'peft',
  };
}
