/**
 * A task directory: the task's files in the layouts the Python libraries load, plus adapterkit's
 * own manifest. Each kind of file has its module in `task-files/`:
 *
 *     adapterkit.json            mode, method config, head, base fingerprint, training summary  (manifest.ts)
 *     adapter_config.json        AdapterHub (when AdapterHub can express the adapter)           (adapterhub-adapter.ts)
 *     pytorch_adapter.bin        AdapterHub's default weights file (torch zip-pickle)
 *     adapter.safetensors        the adapter's tensors under AdapterHub's key names (always)
 *     head_config.json, pytorch_model_head.bin, model_head.safetensors     AdapterHub's head  (head-files.ts)
 *     trained_base.safetensors   base weights the task trained (layer norms...), checkpoint keys (trained-base.ts)
 *     peft/adapter_config.json, peft/adapter_model.safetensors             PEFT (LoRA, IA³)   (peft-files.ts)
 *
 * A task holding several named adapters (an adapter setup) keeps each adapter in a folder of its
 * name, `<name>/adapter_config.json`, `<name>/pytorch_adapter.bin`, `<name>/adapter.safetensors`
 * (keys with the adapter's name), each AdapterFusion in a folder of its name
 * (`a,b/adapter_fusion_config.json`, `a,b/pytorch_model_adapter_fusion.bin`,
 * `a,b/model_adapter_fusion.safetensors`; task-files/fusion-files.ts), and the composition in
 * `adapter_setup.json` as AdapterHub's `save_adapter_setup` writes them; the head and
 * `trained_base.safetensors` stay at the top.
 *
 * Directories written by AdapterHub (`adapter_config.json` + head) or by PEFT (`adapter_config.json`
 * with `peft_type`) load too. A config value adapterkit does not implement is an error naming the
 * field, never a different function.
 *
 * This module writes and reads the directory as a whole; the tensor layouts shared by every
 * weights file are in `task-files/tensor-files.ts`.
 */
import { join } from 'node:path';
import { fail } from '../errors.js';
import type { HostTensor } from '../engine/index.js';
import { headConfig } from '../heads/head.js';
import type { Encoder } from '../models/encoder.js';
import { writeDirAtomically } from '../util/atomic-dir.js';
import { exists } from '../util/fs.js';
import { readJsonObjectFile } from '../util/json.js';
import { ADAPTERHUB_FILES, adapterHubModuleConfig, headFromAdapterHub } from './adapterhub.js';
import { fromAdapterHubConfig, methodOf, type MethodConfig } from './methods/index.js';
import { readAdapterHubAdapter, writeAdapterHubAdapter, writeAdapterSetup } from './task-files/adapterhub-adapter.js';
import { readFusionFiles } from './task-files/fusion-files.js';
import { headFileTensors, headTensors, readHeadWeights, writeHeadFiles } from './task-files/head-files.js';
import { MANIFEST_FILE, MANIFEST_VERSION, readManifest, writeManifest, type LoadedTaskFiles, type TaskFiles, type TaskManifest } from './task-files/manifest.js';
import { loadPeftDir, writePeftLayout } from './task-files/peft-files.js';
import { fileMetadata } from './task-files/tensor-files.js';
import { readTrainedBase, trainedBaseFileTensors, trainedNormsNote, writeTrainedBase } from './task-files/trained-base.js';

export { SETUP_FILE } from './task-files/adapterhub-adapter.js';
export { MANIFEST_VERSION, type LoadedTaskFiles, type TaskFiles, type TaskManifest } from './task-files/manifest.js';
export { PEFT_DIR } from './task-files/peft-files.js';

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
  const meta = fileMetadata(m.base.fingerprint);
  const head = headFileTensors(f.tensors, name, m.head.layers);
  const base = trainedBaseFileTensors(f.tensors, enc);
  const layouts = { adapterhub: false, peft: false };
  if (m.mode.adapters) {
    const setup = await writeAdapterSetup(tmp, m.mode.adapters, m.mode.active, enc, name, f.tensors, meta, m.mode.fusions);
    layouts.adapterhub = setup.loadable;
    notes.push(...setup.notes);
    if (base.size && m.mode.adapters.some((a) => a.config.trainLayerNorms)) notes.push(trainedNormsNote('this task'));
  }
  const c = m.mode.adapter;
  if (c) {
    const hub = await writeAdapterHubAdapter(tmp, c, enc, f.adapterName, name, f.tensors, meta);
    if (hub.loadable) layouts.adapterhub = true;
    notes.push(...hub.notes);
    if (methodOf(c).peft) {
      const peft = await writePeftLayout(tmp, c, enc, m, f.adapterName, f.tensors);
      if (peft.written) layouts.peft = true;
      notes.push(...peft.notes);
    }
    if (base.size && c.trainLayerNorms) notes.push(trainedNormsNote('this adapter'));
  }
  await writeHeadFiles(tmp, m.head, enc, name, head, meta);
  if (m.head.pooling === 'mean') notes.push(`AdapterHub's heads have no mean pooling: its ${ADAPTERHUB_FILES.headConfig} for this head (pooling mean) says use_pooler false, which AdapterHub reads as the first token; adapterkit reads the pooling from adapterkit.json`);
  await writeTrainedBase(tmp, base, meta);
  await writeManifest(tmp, m, layouts);
  return notes;
}

/**
 * Reads a task directory (adapterkit's, AdapterHub's or PEFT's) for `enc`; adapter tensors get
 * internal names with `adapterName`.
 */
export async function loadTaskFiles(dir: string, enc: Encoder, adapterName = 'adapter'): Promise<LoadedTaskFiles> {
  if (!(await exists(dir))) fail('NOT_FOUND', `task directory ${dir} does not exist`);
  const manifestPath = join(dir, MANIFEST_FILE);
  if (await exists(manifestPath)) return loadAdapterkitDir(dir, enc, manifestPath, adapterName);
  const configPath = join(dir, ADAPTERHUB_FILES.config);
  const config = (await exists(configPath)) ? await readJsonObjectFile(configPath) : undefined;
  if (config && 'peft_type' in config) return loadPeftDir(dir, enc, config, configPath, adapterName);
  return loadAdapterHubDir(dir, enc, config, configPath, adapterName);
}

/** A directory adapterkit wrote: the manifest says what to read. */
async function loadAdapterkitDir(dir: string, enc: Encoder, manifestPath: string, adapterName: string): Promise<LoadedTaskFiles> {
  const tensors = new Map<string, HostTensor<'float32'>>();
  const manifest = await readManifest(manifestPath);
  for (const a of manifest.mode.kind === 'adapters' ? manifest.mode.adapters ?? [] : []) {
    methodOf(a.config).validateFor(a.config as never, enc);
    await readAdapterHubAdapter(a.config, enc, {
      dir: join(dir, a.name), adapterName: a.name, fileName: a.name, label: `adapter ${a.name}`, missing: `${dir}: missing ${a.name}/${ADAPTERHUB_FILES.safeWeights}`,
    }, tensors);
  }
  const setup = manifest.mode.adapters;
  if (setup && manifest.mode.fusions) await readFusionFiles(dir, manifest.mode.fusions, new Map(setup.map((a) => [a.name, a.config])), enc, tensors);
  const c = manifest.mode.adapter;
  if (c && manifest.mode.kind === 'adapters') {
    await readAdapterHubAdapter(c, enc, { dir, adapterName, fileName: manifest.name, label: `task ${manifest.name}`, missing: `${dir}: missing ${ADAPTERHUB_FILES.safeWeights}` }, tensors);
  }
  const head = await readHeadWeights(dir);
  if (!head) fail('BAD_FILE', `${dir}: missing ${ADAPTERHUB_FILES.safeHeadWeights}`);
  headTensors(head, manifest.name, manifest.head.layers, tensors);
  await readTrainedBase(dir, enc, tensors);
  return { manifest, tensors, origin: 'adapterkit' };
}

/** The adapter of an AdapterHub directory (its `adapter_config.json` read as `config`) into `tensors`; `fallbackName`: its file keys' name when the config has none. */
async function readAdapterHubDirAdapter(
  dir: string, enc: Encoder, config: Record<string, unknown>, configPath: string, adapterName: string, fallbackName: string, tensors: Map<string, HostTensor<'float32'>>,
): Promise<MethodConfig> {
  const c = fromAdapterHubConfig(adapterHubModuleConfig(config), configPath, typeof config.version === 'string');
  if (typeof config.hidden_size === 'number' && config.hidden_size !== enc.hiddenSize) {
    fail('ADAPTER_MISMATCH', `${configPath}: hidden_size ${config.hidden_size} does not match the ${enc.family} encoder's ${enc.hiddenSize}`);
  }
  const fileName = typeof config.name === 'string' ? config.name : fallbackName;
  methodOf(c).validateFor(c, enc);
  await readAdapterHubAdapter(c, enc, {
    dir, adapterName, fileName, label: `adapter ${fileName}`, missing: `${dir}: missing ${ADAPTERHUB_FILES.safeWeights} and ${ADAPTERHUB_FILES.weights}`,
  }, tensors);
  return c;
}

/**
 * The adapter alone of a directory AdapterHub's `save_adapter` wrote for a model without a head
 * (`adapter_config.json` and `adapter.safetensors` or `pytorch_adapter.bin`, no `head_config.json`),
 * its tensors under internal names with `adapterName`; undefined when `dir` is not such a
 * directory (it has adapterkit.json, a head, or a PEFT config), which loads as a task instead.
 */
export async function loadHeadlessAdapterHubAdapter(dir: string, enc: Encoder, adapterName: string): Promise<{ config: MethodConfig; tensors: Map<string, HostTensor<'float32'>> } | undefined> {
  const configPath = join(dir, ADAPTERHUB_FILES.config);
  if (await exists(join(dir, MANIFEST_FILE)) || await exists(join(dir, ADAPTERHUB_FILES.headConfig)) || !(await exists(configPath))) return undefined;
  const config = await readJsonObjectFile(configPath);
  if ('peft_type' in config) return undefined;
  const tensors = new Map<string, HostTensor<'float32'>>();
  return { config: await readAdapterHubDirAdapter(dir, enc, config, configPath, adapterName, adapterName, tensors), tensors };
}

/** A directory AdapterHub wrote: `head_config.json`, and an adapter when `adapter_config.json` is there. */
async function loadAdapterHubDir(dir: string, enc: Encoder, config: Record<string, unknown> | undefined, configPath: string, adapterName: string): Promise<LoadedTaskFiles> {
  const tensors = new Map<string, HostTensor<'float32'>>();
  const headPath = join(dir, ADAPTERHUB_FILES.headConfig);
  if (!(await exists(headPath))) fail('BAD_FILE', `${dir}: neither adapterkit.json, a PEFT adapter_config.json nor head_config.json found; not a task directory`);
  const hc = await readJsonObjectFile(headPath);
  const headRead = await readHeadWeights(dir);
  if (!headRead) fail('BAD_FILE', `${dir}: missing ${ADAPTERHUB_FILES.safeHeadWeights} and ${ADAPTERHUB_FILES.headWeights}`);
  const hf = headFromAdapterHub(hc, headPath, { file: headRead.file, values: [...headRead.tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0) });
  const name = typeof hc.name === 'string' ? hc.name : typeof config?.name === 'string' ? config.name : 'task';
  const family = typeof hc.model_type === 'string' ? hc.model_type : '';
  let mode: TaskManifest['mode'] = { kind: 'head-only' };
  if (config) mode = { kind: 'adapters', adapter: await readAdapterHubDirAdapter(dir, enc, config, configPath, adapterName, name, tensors) };
  // AdapterHub's sentence heads read the pooler output with use_pooler true and the first token's hidden state without it
  // (use_pooler false is its heads' default, so a file without the field, as adapter-transformers wrote them, reads the first token)
  const token = hf.kind === 'tagging' || hf.kind === 'qa';
  const usePooler = (hc.config as Record<string, unknown>).use_pooler;
  const firstToken = !token && usePooler !== true && enc.describe().pooler === true;
  const head = headConfig({ kind: hf.kind, labels: hf.labels, layers: hf.layers, dropout: hf.dropout, ...(firstToken ? { pooling: 'cls' as const } : {}) });
  headTensors(headRead, name, head.layers, tensors);
  await readTrainedBase(dir, enc, tensors);
  return {
    manifest: { format: 'adapterkit-task', version: MANIFEST_VERSION, name, base: { id: 'unknown', family, fingerprint: '' }, mode, head, maxLength: 128 },
    tensors, origin: 'adapterhub',
  };
}
