/**
 * AdapterFusion layers in AdapterHub's layout (`loading.py` `AdapterFusionLoader`, as
 * `save_adapter_setup` writes the fusions of a setup): a folder named after the fusion (`a,b,c`)
 * beside the adapters' folders, holding
 *
 *     adapter_fusion_config.json          {adapter_names, config, hidden_size, model_class, model_name, model_type, name, version}
 *     pytorch_model_adapter_fusion.bin    the fusion's tensors (torch zip-pickle), Linear weights [out, in]
 *     model_adapter_fusion.safetensors    the same tensors (AdapterHub's safetensors variant)
 *
 * under the keys `<prefix><block module>.adapter_fusion_layer.<name>.<query|key|value>.<weight|bias>`
 * (see fusion.ts). Reading takes the safetensors file first.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { readJsonObjectFile } from '../../util/json.js';
import { exists } from '../../util/fs.js';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import type { HostTensor } from '../../engine/index.js';
import type { Encoder } from '../../models/encoder.js';
import { writeSafetensors, writeTorchStateDict } from '../../models/weights/index.js';
import { pyFloat, pythonJson } from '../../util/python-json.js';
import { ADAPTERHUB_VERSION, adapterModelClass } from '../adapterhub.js';
import { fusionConfig, fusionFileKeys, fusionSites, type NamedFusion } from '../fusion.js';
import type { MethodConfig } from '../methods/index.js';
import { mapTensors, readFirst, toFile, type FileTensors } from './tensor-files.js';

/** AdapterHub's file names of a fusion (`utils.py` ADAPTERFUSION_CONFIG_NAME, ADAPTERFUSION_WEIGHTS_NAME, SAFE_ADAPTERFUSION_WEIGHTS_NAME). */
export const FUSION_FILES = {
  config: 'adapter_fusion_config.json',
  weights: 'pytorch_model_adapter_fusion.bin',
  safeWeights: 'model_adapter_fusion.safetensors',
} as const;

type Tensors = ReadonlyMap<string, HostTensor<'float32'>>;

/** `adapter_fusion_config.json` of a fusion (AdapterHub's `build_full_config` with `adapter_names`). */
export function fusionConfigFile(f: NamedFusion, enc: Encoder): Record<string, unknown> {
  return {
    adapter_names: [...f.adapters], config: { ...f.config, dropout_prob: f.config.dropout_prob === null ? null : pyFloat(f.config.dropout_prob) }, hidden_size: enc.hiddenSize, model_class: adapterModelClass(enc),
    model_name: null, model_type: enc.family, name: f.name, version: `adapters.${ADAPTERHUB_VERSION}`,
  };
}

/** Internal names of every tensor a setup's fusions own. */
export function fusionInternalNames(fusions: readonly NamedFusion[], configs: ReadonlyMap<string, MethodConfig>, enc: Encoder): Set<string> {
  return new Set(fusions.flatMap((f) => fusionFileKeys(f, fusionSites(f, configs, enc), enc).map((k) => k.internal)));
}

/** Writes each fusion's folder in `dir` (see the module comment). */
export async function writeFusionFiles(
  dir: string, fusions: readonly NamedFusion[], configs: ReadonlyMap<string, MethodConfig>, enc: Encoder, tensors: Tensors, meta: Record<string, string>, taskName: string,
): Promise<void> {
  for (const f of fusions) {
    const sub = join(dir, f.name);
    await mkdir(sub);
    const files: FileTensors = new Map();
    for (const k of fusionFileKeys(f, fusionSites(f, configs, enc), enc)) {
      const t = tensors.get(k.internal);
      if (!t) fail('GRAPH_ERROR', `saving ${taskName}: fusion tensor ${k.internal} is missing`);
      files.set(k.key, toFile(k, t));
    }
    await writeFile(join(sub, FUSION_FILES.config), pythonJson(fusionConfigFile(f, enc)));
    await writeTorchStateDict(join(sub, FUSION_FILES.weights), files);
    await writeSafetensors(join(sub, FUSION_FILES.safeWeights), files, meta);
  }
}

/** Reads each fusion's tensors from its folder in `dir` into `out` under internal names, `[in, out]`. */
export async function readFusionFiles(dir: string, fusions: readonly NamedFusion[], configs: ReadonlyMap<string, MethodConfig>, enc: Encoder, out: Map<string, HostTensor<'float32'>>): Promise<void> {
  for (const f of fusions) {
    const sub = join(dir, f.name);
    const read = await readFirst(sub, [FUSION_FILES.safeWeights, FUSION_FILES.weights]);
    if (!read) fail('BAD_FILE', `${dir}: missing ${f.name}/${FUSION_FILES.safeWeights} and ${f.name}/${FUSION_FILES.weights} (fusion ${f.name})`);
    const keys = fusionFileKeys(f, fusionSites(f, configs, enc), enc);
    const shapes = new Map(keys.map((k) => [k.internal, k.transpose ? [...k.shape].reverse() : k.shape]));
    const before = out.size;
    mapTensors(read, keys, shapes, out, `fusion ${f.name} on a ${enc.family} encoder`);
    if (out.size - before !== keys.length) {
      const missing = keys.filter((k) => !read.tensors.has(k.key)).map((k) => k.key);
      fail('ADAPTER_MISMATCH', `${read.file}: fusion ${f.name} lacks ${missing.length} tensor(s): ${missing.slice(0, 4).join(', ')}`);
    }
  }
}

/**
 * Reads one fusion folder as AdapterHub's `save_adapter_fusion` writes it (or a fused task's
 * `<dir>/<fusion name>/`): the fusion from `adapter_fusion_config.json` and its tensors under
 * internal names, for the model's adapters `configs`.
 *
 * @throws AdapterkitError BAD_FILE / ADAPTER_MISMATCH naming the file, BAD_CONFIG naming the field.
 */
export async function readFusionDir(dir: string, configs: ReadonlyMap<string, MethodConfig>, enc: Encoder): Promise<{ fusion: NamedFusion; tensors: Map<string, HostTensor<'float32'>> }> {
  if (!(await exists(dir))) fail('NOT_FOUND', `fusion folder ${dir} does not exist`);
  const path = join(dir, FUSION_FILES.config);
  if (!(await exists(path))) fail('BAD_FILE', `${dir}: no ${FUSION_FILES.config}; not an AdapterFusion folder (AdapterHub's save_adapter_fusion, or <task>/<fusion name>/ of a fused task)`);
  const json = await readJsonObjectFile(path);
  const fusion = fusionFromConfigFile(json, path);
  if (typeof json.hidden_size === 'number' && json.hidden_size !== enc.hiddenSize) fail('ADAPTER_MISMATCH', `${path}: hidden_size ${json.hidden_size} does not match the ${enc.family} encoder's ${enc.hiddenSize}`);
  const tensors = new Map<string, HostTensor<'float32'>>();
  const read = await readFirst(dir, [FUSION_FILES.safeWeights, FUSION_FILES.weights]);
  if (!read) fail('BAD_FILE', `${dir}: missing ${FUSION_FILES.safeWeights} and ${FUSION_FILES.weights}`);
  const keys = fusionFileKeys(fusion, fusionSites(fusion, configs, enc), enc);
  mapTensors(read, keys, new Map(keys.map((k) => [k.internal, k.transpose ? [...k.shape].reverse() : k.shape])), tensors, `fusion ${fusion.name} on a ${enc.family} encoder`);
  const missing = keys.filter((k) => !tensors.has(k.internal)).map((k) => k.key);
  if (missing.length) fail('ADAPTER_MISMATCH', `${read.file}: fusion ${fusion.name} lacks ${missing.length} tensor(s): ${missing.slice(0, 4).join(', ')}`);
  return { fusion, tensors };
}

/**
 * A fusion from AdapterHub's `adapter_fusion_config.json` (its `name`, `adapter_names` and
 * `config`); BAD_CONFIG naming the field adapterkit does not implement.
 */
export function fusionFromConfigFile(json: Record<string, unknown>, where: string): NamedFusion {
  const name = json.name;
  if (typeof name !== 'string') fail('BAD_FILE', `${where}: name must be the fusion's name, got ${JSON.stringify(name)}`);
  const adapters = json.adapter_names ?? name.split(',');
  if (!Array.isArray(adapters) || !adapters.every((a) => typeof a === 'string')) fail('BAD_FILE', `${where}: adapter_names must be a list of adapter names`);
  return { name, adapters, config: fusionConfig(json.config, `${where}: config`) };
}
