/**
 * The PEFT layout: `peft/adapter_config.json` and `peft/adapter_model.safetensors` (LoRA keys end
 * in `lora_A.weight`; the head, when it is the Hugging Face one, under `modules_to_save`), written
 * next to adapterkit's files; and directories PEFT wrote, read as tasks.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import type { HostTensor } from '../../engine/index.js';
import { headConfig } from '../../heads/head.js';
import type { Encoder } from '../../models/encoder.js';
import { writeSafetensors, type WeightTensor } from '../../models/weights/index.js';
import { pythonJson } from '../../util/python-json.js';
import { methodOf, type MethodConfig } from '../methods/index.js';
import { PEFT_FILES, fromPeftConfig, peftAdapterConfig, peftHeadKey, peftHeadOrIssue, peftKeys } from '../peft.js';
import { MANIFEST_VERSION, type LoadedTaskFiles, type TaskManifest } from './manifest.js';
import { float32Of, internalShapes, mapTensors, readFirst, toFile, transposed, type FileTensors } from './tensor-files.js';

/** The PEFT layout's folder inside a task directory. */
export const PEFT_DIR = 'peft';

/** What writing the PEFT layout gave. */
export interface PeftWrite {
  /** Whether the layout was written. */
  readonly written: boolean;
  /** What it could not hold (the head), or why PEFT cannot load the adapter. */
  readonly notes: string[];
}

/**
 * Writes `c` (tensors under `adapterName`) and, when it is the Hugging Face head of the family,
 * the head, in PEFT's layout under `dir/peft`.
 */
export async function writePeftLayout(
  dir: string, c: MethodConfig, enc: Encoder, manifest: TaskManifest, adapterName: string, tensors: ReadonlyMap<string, HostTensor<'float32'>>,
): Promise<PeftWrite> {
  const peft = peftAdapterConfig(c, enc, manifest.head, manifest.base.id);
  if (!('json' in peft)) return { written: false, notes: [`PEFT cannot load this adapter (${peft.unsupported})`] };
  const notes: string[] = [];
  const files: FileTensors = new Map();
  const held = methodOf(c).peft?.fileTensors?.(c as never, enc, adapterName, tensors) ?? tensors;
  for (const k of peftKeys(c, enc, adapterName)) files.set(k.key, toFile(k, held.get(k.internal) as HostTensor<'float32'>));
  const hm = peftHeadOrIssue(manifest.head, enc);
  if ('issue' in hm) notes.push(`PEFT's layout holds the adapter only, not this ${manifest.head.kind} head: ${hm.issue}`);
  else for (const [k, t] of tensors) {
    const key = k.startsWith('head.') ? peftHeadKey(hm.module, k) : undefined;
    if (key) files.set(key, t.shape.length === 2 ? transposed(t) : t);
  }
  await mkdir(join(dir, PEFT_DIR));
  await writeFile(join(dir, PEFT_DIR, PEFT_FILES.config), pythonJson(peft.json));
  await writeSafetensors(join(dir, PEFT_DIR, PEFT_FILES.weights), files, { format: 'pt' });
  return { written: true, notes };
}

/** A PEFT directory: its config, its adapter tensors and its head (from `modules_to_save`). */
export async function loadPeftDir(dir: string, enc: Encoder, config: Record<string, unknown>, configPath: string, adapterName: string): Promise<LoadedTaskFiles> {
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
  const wKey = `base_model.model.${module}.weight`, bKey = `base_model.model.${module}.bias`;
  const weight = float32Of(w, wKey, read.file), bias = float32Of(b, bKey, read.file);
  const [n, width] = weight.shape;
  if (weight.shape.length !== 2 || width !== enc.hiddenSize) {
    fail('ADAPTER_MISMATCH', `${read.file}: ${wKey} has shape [${weight.shape.join(', ')}], expected [labels, ${enc.hiddenSize}] (a Linear on the ${enc.family} encoder's hidden size)`);
  }
  if (bias.shape.length !== 1 || bias.shape[0] !== n) fail('ADAPTER_MISMATCH', `${read.file}: ${bKey} has shape [${bias.shape.join(', ')}], expected [${n}] (one per row of ${wKey})`);
  const type = config.task_type;
  const kind = module === 'qa_outputs' || type === 'QUESTION_ANS' ? 'qa' : type === 'TOKEN_CLS' ? 'tagging' : n === 1 ? 'regression' : 'classification';
  const head = headConfig({ kind, labels: kind === 'qa' || kind === 'regression' ? [] : Array.from({ length: n! }, (_, i) => `LABEL_${i}`), layers: 1 });
  // the head must be the Hugging Face one that PEFT's model wraps, as adapterkit writes it
  const hf = peftHeadOrIssue(head, enc);
  if ('issue' in hf || hf.module !== module) {
    fail('ADAPTER_MISMATCH', `${dir}: cannot rebuild this PEFT ${String(type ?? 'task')} head (${module}): ${'issue' in hf ? hf.issue : `a ${kind} head is PEFT's ${hf.module}`}`);
  }
  tensors.set('head.out.weight', transposed(weight));
  tensors.set('head.out.bias', bias);
  const base = typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : 'unknown';
  return {
    manifest: { format: 'adapterkit-task', version: MANIFEST_VERSION, name: 'task', base: { id: base, family: enc.family, fingerprint: '' }, mode: { kind: 'adapters', adapter: c }, head, maxLength: 128 },
    tensors, origin: 'peft',
  };
}
