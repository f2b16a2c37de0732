/**
 * Adapters in AdapterHub's layout: `adapter.safetensors` (always; the adapter's tensors under
 * AdapterHub's key names, Linear weights `[out, in]`), and `adapter_config.json` with
 * `pytorch_adapter.bin` when AdapterHub can express the adapter.
 *
 * An adapter setup (several named adapters) keeps each adapter in a folder of its name, keys
 * carrying that name, each AdapterFusion in a folder of its name (fusion-files.ts), and its
 * composition in `adapter_setup.json`, as AdapterHub's `save_adapter_setup` writes them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import type { HostTensor } from '../../engine/index.js';
import type { Encoder } from '../../models/encoder.js';
import { writeSafetensors, writeTorchStateDict } from '../../models/weights/index.js';
import { pythonJson } from '../../util/python-json.js';
import { ADAPTERHUB_FILES, ADAPTERHUB_VERSION, adapterHubAdapterConfig, adapterHubKeys } from '../adapterhub.js';
import type { NamedFusion } from '../fusion.js';
import type { FileTensorKey } from '../method.js';
import { methodOf, type MethodConfig } from '../methods/index.js';
import { isAdapterTensor } from '../names.js';
import type { TaskManifest } from './manifest.js';
import { fusionInternalNames, writeFusionFiles } from './fusion-files.js';
import { internalShapes, mapTensors, readFirst, toFile, type FileTensors, type ReadWeightsFile } from './tensor-files.js';

/** AdapterHub's file of an adapter setup (`utils.py` SETUP_CONFIG_NAME). */
export const SETUP_FILE = 'adapter_setup.json';

type Tensors = ReadonlyMap<string, HostTensor<'float32'>>;

/** A setup's adapters as the manifest lists them. */
type SetupAdapters = NonNullable<TaskManifest['mode']['adapters']>;

/** The adapter's tensors under the file keys `keys`; GRAPH_ERROR when one is missing. */
function adapterFileTensors(keys: readonly FileTensorKey[], tensors: Tensors, taskName: string): FileTensors {
  const out: FileTensors = new Map();
  for (const k of keys) {
    const t = tensors.get(k.internal);
    if (!t) fail('GRAPH_ERROR', `saving ${taskName}: adapter tensor ${k.internal} is missing`);
    out.set(k.key, toFile(k, t));
  }
  return out;
}

/** GRAPH_ERROR when the task holds adapter tensors that none of the file keys `known` (internal names) covers. */
function checkNoExtraAdapterTensors(tensors: Tensors, known: (internal: string) => boolean, taskName: string): void {
  const extra = [...tensors.keys()].filter((k) => isAdapterTensor(k) && !known(k));
  if (extra.length) fail('GRAPH_ERROR', `saving ${taskName}: adapter tensors without a file key: ${extra.slice(0, 4).join(', ')}`);
}

/**
 * Writes `adapter.safetensors`, then `adapter_config.json` and `pytorch_adapter.bin` when AdapterHub
 * can express `c` (named `name` in its config). Returns why not, otherwise undefined.
 */
async function writeAdapterFiles(dir: string, c: MethodConfig, enc: Encoder, name: string, tensors: FileTensors, meta: Record<string, string>): Promise<string | undefined> {
  await writeSafetensors(join(dir, ADAPTERHUB_FILES.safeWeights), tensors, meta);
  const hub = adapterHubAdapterConfig(c, enc, name);
  if (!('json' in hub)) return hub.unsupported;
  await writeFile(join(dir, ADAPTERHUB_FILES.config), pythonJson(hub.json));
  await writeTorchStateDict(join(dir, ADAPTERHUB_FILES.weights), tensors);
  return undefined;
}

/** What writing adapters in AdapterHub's layout gave. */
export interface AdapterHubWrite {
  /** Whether AdapterHub can load what was written. */
  readonly loadable: boolean;
  /** One line per adapter AdapterHub cannot load. */
  readonly notes: string[];
}

/**
 * Writes the task's one adapter `c` at the top of `dir`, its keys named after the task (`taskName`),
 * its tensors found under `adapterName`.
 */
export async function writeAdapterHubAdapter(
  dir: string, c: MethodConfig, enc: Encoder, adapterName: string, taskName: string, tensors: Tensors, meta: Record<string, string>,
): Promise<AdapterHubWrite> {
  const keys = adapterHubKeys(c, enc, adapterName, taskName);
  const files = adapterFileTensors(keys, tensors, taskName);
  checkNoExtraAdapterTensors(tensors, (k) => keys.some((x) => x.internal === k), taskName);
  const unsupported = await writeAdapterFiles(dir, c, enc, taskName, files, meta);
  if (unsupported === undefined) return { loadable: true, notes: [] };
  return { loadable: false, notes: [`AdapterHub cannot load this adapter (${unsupported}); ${ADAPTERHUB_FILES.safeWeights} holds it under AdapterHub's key names for adapterkit`] };
}

/** Writes a setup's adapters and fusions, one folder each, and `adapter_setup.json` with its active composition. */
export async function writeAdapterSetup(
  dir: string, adapters: SetupAdapters, active: Record<string, unknown> | undefined, enc: Encoder, taskName: string, tensors: Tensors, meta: Record<string, string>,
  fusions: readonly NamedFusion[] = [],
): Promise<AdapterHubWrite> {
  let loadable = true;
  const notes: string[] = [];
  for (const a of adapters) {
    const sub = join(dir, a.name);
    await mkdir(sub);
    const files = adapterFileTensors(adapterHubKeys(a.config, enc, a.name, a.name), tensors, taskName);
    const unsupported = await writeAdapterFiles(sub, a.config, enc, a.name, files, meta);
    if (unsupported !== undefined) {
      loadable = false;
      notes.push(`AdapterHub cannot load adapter ${a.name} (${unsupported}); ${a.name}/${ADAPTERHUB_FILES.safeWeights} holds it under AdapterHub's key names for adapterkit`);
    }
  }
  const configs = new Map(adapters.map((a) => [a.name, a.config]));
  await writeFusionFiles(dir, fusions, configs, enc, tensors, meta, taskName);
  const known = new Set([...adapters.flatMap((a) => adapterHubKeys(a.config, enc, a.name, a.name).map((k) => k.internal)), ...fusionInternalNames(fusions, configs, enc)]);
  checkNoExtraAdapterTensors(tensors, (k) => known.has(k), taskName);
  // AdapterHub's save_adapter_setup: {adapter_setup: to_dict(), head_setup, version}, json.dump(indent=2)
  await writeFile(join(dir, SETUP_FILE), JSON.stringify({ adapter_setup: active, head_setup: null, version: `adapters.${ADAPTERHUB_VERSION}` }, null, 2));
  return { loadable, notes };
}

/** Where an adapter in AdapterHub's layout is read from and what it is called in messages. */
export interface AdapterHubRead {
  /** The folder holding `adapter.safetensors` or `pytorch_adapter.bin`. */
  readonly dir: string;
  /** The adapter's name in adapterkit's tensor names. */
  readonly adapterName: string;
  /** The name its file keys carry. */
  readonly fileName: string;
  /** How messages name it, e.g. `adapter lang` or `task sst`. */
  readonly label: string;
  /** The BAD_FILE message when neither weights file exists. */
  readonly missing: string;
}

/**
 * Key names of adapter-transformers (AdapterHub's predecessor) and what they are now: AdapterHub's
 * `AdapterLoader.legacy_weights_mapping`, applied to every key it loads.
 */
const LEGACY_KEY_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['attention_text_task_adapters', 'adapters'], ['attention_text_lang_adapters', 'adapters'],
  ['layer_text_task_adapters', 'adapters'], ['layer_text_lang_adapters', 'adapters'], ['invertible_lang_adapters', 'invertible_adapters'],
];

/**
 * A weights file's keys as AdapterHub loads them (`loading.py`): legacy names renamed, and, when
 * no key starts with the model's base prefix (`bert`…; a file saved from a model without a head,
 * e.g. `adapters.init(BertModel)`), every key taken as relative to the base model, which
 * `load_weights_from_state_dict` does with `in_base_model`.
 */
export function adapterHubFileKeys(read: ReadWeightsFile, enc: Encoder): ReadWeightsFile {
  const prefix = enc.checkpointPrefix;
  const renamed = [...read.tensors].map(([k, t]) => [LEGACY_KEY_NAMES.reduce((x, [from, to]) => x.replaceAll(from, to), k), t] as const);
  const relative = prefix !== '' && !renamed.some(([k]) => k.startsWith(prefix.replace(/\.$/, '')));
  return { file: read.file, tensors: new Map(renamed.map(([k, t]) => [relative ? `${prefix}${k}` : k, t])) };
}

/** Reads an adapter's tensors (safetensors first) into `out` under internal names, `[in, out]`. */
export async function readAdapterHubAdapter(c: MethodConfig, enc: Encoder, at: AdapterHubRead, out: Map<string, HostTensor<'float32'>>): Promise<void> {
  const file = await readFirst(at.dir, [ADAPTERHUB_FILES.safeWeights, ADAPTERHUB_FILES.weights]);
  if (!file) fail('BAD_FILE', at.missing);
  const read = adapterHubFileKeys(file, enc);
  mapTensors(read, adapterHubKeys(c, enc, at.adapterName, at.fileName), internalShapes(c, enc, at.adapterName), out, `${at.label} (${methodOf(c).describe(c, enc)}) on a ${enc.family} encoder`);
}
