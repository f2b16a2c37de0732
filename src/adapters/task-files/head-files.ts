/**
 * The task head in AdapterHub's layout: `head_config.json`, and its weights in
 * `model_head.safetensors` and `pytorch_model_head.bin` under AdapterHub's key names
 * (`heads.<task>.<i>.weight`), Linear weights `[out, in]`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import type { HostTensor } from '../../engine/index.js';
import type { HeadConfig } from '../../heads/head.js';
import type { Encoder } from '../../models/encoder.js';
import { writeSafetensors, writeTorchStateDict } from '../../models/weights/index.js';
import { pythonJson } from '../../util/python-json.js';
import { ADAPTERHUB_FILES, adapterHubHeadConfig, headInternal, headKey } from '../adapterhub.js';
import { float32Of, readFirst, transposed, type FileTensors, type ReadWeightsFile } from './tensor-files.js';

/** The head's tensors (internal `head.*`) under AdapterHub's keys for task `name`, as the files store them. */
export function headFileTensors(tensors: ReadonlyMap<string, HostTensor<'float32'>>, name: string, layers: 1 | 2): FileTensors {
  const head: FileTensors = new Map();
  for (const [k, t] of tensors) if (k.startsWith('head.')) head.set(headKey(name, k, layers), t.shape.length === 2 ? transposed(t) : t);
  return head;
}

/** Writes `head_config.json` and both weight files. */
export async function writeHeadFiles(dir: string, head: HeadConfig, enc: Encoder, name: string, tensors: FileTensors, meta: Record<string, string>): Promise<void> {
  await writeFile(join(dir, ADAPTERHUB_FILES.headConfig), pythonJson(adapterHubHeadConfig(head, enc, name)));
  await writeSafetensors(join(dir, ADAPTERHUB_FILES.safeHeadWeights), tensors, meta);
  await writeTorchStateDict(join(dir, ADAPTERHUB_FILES.headWeights), tensors);
}

/** Reads the head's weights (safetensors first), or undefined when neither file exists. */
export function readHeadWeights(dir: string): Promise<ReadWeightsFile | undefined> {
  return readFirst(dir, [ADAPTERHUB_FILES.safeHeadWeights, ADAPTERHUB_FILES.headWeights]);
}

/** Puts the head's weights into `out` under internal names, `[in, out]`; ADAPTER_MISMATCH for a key that is not part of head `name`. */
export function headTensors(read: ReadWeightsFile, name: string, layers: 1 | 2, out: Map<string, HostTensor<'float32'>>): void {
  for (const [key, t] of read.tensors) {
    const internal = headInternal(name, key, layers);
    if (!internal) fail('ADAPTER_MISMATCH', `${read.file}: tensor ${key} is not part of head ${name} (${layers} layer${layers > 1 ? 's' : ''})`);
    const tensor = float32Of(t, key, read.file);
    out.set(internal, t.shape.length === 2 ? transposed(tensor) : tensor);
  }
}
