/**
 * Per-task files, interoperable with AdapterHub's `adapters` library for BERT-style models:
 *
 * - `adapter_config.json`, `adapter.safetensors` — the adapters, AdapterHub key names
 *   (`<module>.adapters.<name>.adapter_down.0.weight`, `...adapter_up.weight`, biases), Linear
 *   weights [out, in] as PyTorch stores them;
 * - `head_config.json`, `model_head.safetensors` — the head (`heads.<name>.1.weight`, ...) with label names;
 * - `trained_base.safetensors` — base weights the task trained (layer norms, top layers...), under
 *   their checkpoint keys, [out, in] for Linear weights (absent when none trained);
 * - `adapterkit.json` — what adapterkit needs to rebuild the task exactly: mode, configs, the base's
 *   fingerprint, label names, training summary.
 *
 * A directory written by AdapterHub (no `adapterkit.json`) can be loaded too: the configs are
 * read from AdapterHub's JSON files.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { transposeMatrix, type HostTensor } from '../engine/index.js';
import { readJsonObjectFile } from '../util/json.js';
import type { Encoder, AttachmentPoint } from '../models/encoder.js';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../models/weights/index.js';
import { adapterConfig, type AdapterActivation, type AdapterConfig } from './config.js';
import type { AdapterSite } from './bottleneck.js';
import { headConfig, headInputWidth, type HeadConfig, type HeadKind } from '../heads/head.js';
import { exists } from '../util/fs.js';

/** Version of the adapterkit.json manifest. */
export const MANIFEST_VERSION = 1;

/** Contents of `adapterkit.json`. */
export interface TaskManifest {
  format: 'adapterkit-task';
  version: number;
  name: string;
  base: { id: string; family: string; fingerprint: string };
  mode: { kind: string; k?: number; adapter?: AdapterConfig };
  head: HeadConfig;
  maxLength: number;
  /** Free-form training summary (metrics, steps, time). */
  training?: Record<string, unknown>;
}

/** Everything needed to save a task. */
export interface TaskFiles {
  manifest: TaskManifest;
  sites: readonly AdapterSite[];
  /** Task-owned tensors by internal name (adapters.*, head.*, base canonical names). */
  tensors: ReadonlyMap<string, HostTensor<'float32'>>;
}

/** Whether an internal tensor is a Linear weight (stored [out, in] in files): adapters and heads by name, base weights by their declared role. */
function linearTest(enc: Encoder): (name: string, shape: readonly number[]) => boolean {
  const roles = new Map(enc.weightSpecs.map((s) => [s.name, s.role]));
  return (name, shape) => {
    if (shape.length !== 2 || !name.endsWith('.weight')) return false;
    if (name.startsWith('adapters.') || name.startsWith('head.')) return true;
    const r = roles.get(name);
    return r === 'linear' || r === 'pooler';
  };
}

/** Converts an internal [in, out] tensor to PyTorch's [out, in] for a file. */
function toTorch(linear: boolean, t: HostTensor<'float32'>): TensorToWrite {
  if (!linear) return { dtype: 'float32', shape: [...t.shape], data: t.data };
  return { dtype: 'float32', shape: [t.shape[1] as number, t.shape[0] as number], data: transposeMatrix(t.data, t.shape[0] as number, t.shape[1] as number) };
}

/** Converts a file tensor [out, in] back to [in, out]. */
function fromTorch(linear: boolean, shape: readonly number[], data: Float32Array): HostTensor<'float32'> {
  if (!linear) return { dtype: 'float32', shape: [...shape], data };
  return { dtype: 'float32', shape: [shape[1] as number, shape[0] as number], data: transposeMatrix(data, shape[0] as number, shape[1] as number) };
}

/** AdapterHub key of an internal adapter tensor name. */
export function adapterHubKey(enc: Encoder, adapterName: string, internal: string): string {
  const m = /^adapters\.(\d+)\.(attention_output|ffn_output)\.(down|up)\.(weight|bias)$/.exec(internal);
  if (!m) fail('GRAPH_ERROR', `not an adapter tensor name: ${internal}`);
  const [, layer, point, proj, kind] = m as unknown as [string, string, AttachmentPoint, string, string];
  const module = enc.adapterModulePath(Number(layer), point);
  return `${module}.adapters.${adapterName}.${proj === 'down' ? 'adapter_down.0' : 'adapter_up'}.${kind}`;
}

/** AdapterHub key of an internal head tensor name (Dropout, Linear[, Tanh, Dropout, Linear]). */
export function headKey(adapterName: string, internal: string, layers: 1 | 2): string {
  const kind = internal.endsWith('.weight') ? 'weight' : 'bias';
  if (internal.startsWith('head.dense.')) return `heads.${adapterName}.1.${kind}`;
  if (internal.startsWith('head.out.')) return `heads.${adapterName}.${layers === 2 ? 4 : 1}.${kind}`;
  return fail('GRAPH_ERROR', `not a head tensor name: ${internal}`);
}

function adapterHubConfig(c: AdapterConfig, enc: Encoder, name: string, width: number): Record<string, unknown> {
  const size = c.size ?? Math.round(width / (c.reductionFactor as number));
  return {
    config: {
      architecture: 'bottleneck',
      mh_adapter: c.points.includes('attention_output'),
      output_adapter: c.points.includes('ffn_output'),
      reduction_factor: width / size,
      non_linearity: c.activation,
      original_ln_before: false,
      original_ln_after: true,
      residual_before_ln: true,
      adapter_residual_before_ln: false,
      ln_before: false,
      ln_after: false,
      init_weights: 'bert',
      is_parallel: false,
      scaling: 1.0,
      use_gating: false,
      dropout: 0.0,
      leave_out: [...c.leaveOut],
    },
    hidden_size: width,
    model_class: `${enc.family[0]?.toUpperCase()}${enc.family.slice(1)}AdapterModel`,
    model_name: null,
    model_type: enc.family,
    name,
    version: 'adapterkit',
  };
}

/** AdapterHub `head_type` of each head kind (regression is a one-label classification head there). */
const HUB_HEAD_TYPES: Readonly<Record<HeadKind, string>> = {
  classification: 'classification', regression: 'classification', multilabel: 'multilabel_classification', tagging: 'tagging', qa: 'question_answering',
};

function headHubConfig(h: HeadConfig, enc: Encoder, name: string): Record<string, unknown> {
  const token = h.kind === 'tagging' || h.kind === 'qa';
  return {
    config: {
      head_type: HUB_HEAD_TYPES[h.kind],
      num_labels: h.kind === 'regression' ? 1 : h.kind === 'qa' ? 2 : h.labels.length,
      layers: h.layers,
      activation_function: h.layers === 2 ? 'tanh' : null,
      label2id: Object.fromEntries(h.labels.map((l, i) => [l, i])),
      ...(token ? {} : { use_pooler: enc.checkpointPrefix !== '' && enc.describe().pooler === true }),
      bias: true,
    },
    hidden_size: headInputWidth(h, enc),
    model_class: `${enc.family[0]?.toUpperCase()}${enc.family.slice(1)}AdapterModel`,
    model_name: null,
    model_type: enc.family,
    name,
  };
}

/**
 * Writes a task directory atomically: files go to `dir.tmp-<pid>` first, which then replaces `dir`,
 * so an interrupted save never leaves a half-written task.
 */
export async function saveTaskFiles(dir: string, enc: Encoder, f: TaskFiles): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const name = f.manifest.name;
  const adapters = new Map<string, TensorToWrite>();
  const head = new Map<string, TensorToWrite>();
  const base = new Map<string, TensorToWrite>();
  const isLinear = linearTest(enc);
  for (const [k, t] of f.tensors) {
    const torch = toTorch(isLinear(k, t.shape), t);
    if (k.startsWith('adapters.')) adapters.set(adapterHubKey(enc, name, k), torch);
    else if (k.startsWith('head.')) head.set(headKey(name, k, f.manifest.head.layers), torch);
    else base.set(`${enc.checkpointPrefix}${k}`, torch);
  }
  const meta = { format: 'pt', adapterkit_fingerprint: f.manifest.base.fingerprint };
  const json = (o: unknown) => `${JSON.stringify(o, null, 2)}\n`;
  if (f.manifest.mode.adapter) {
    const width = f.sites[0]?.width ?? enc.hiddenSize;
    await writeFile(join(tmp, 'adapter_config.json'), json(adapterHubConfig(f.manifest.mode.adapter, enc, name, width)));
    await writeSafetensors(join(tmp, 'adapter.safetensors'), adapters, meta);
  }
  await writeFile(join(tmp, 'head_config.json'), json(headHubConfig(f.manifest.head, enc, name)));
  await writeSafetensors(join(tmp, 'model_head.safetensors'), head, meta);
  if (base.size) await writeSafetensors(join(tmp, 'trained_base.safetensors'), base, meta);
  await writeFile(join(tmp, 'adapterkit.json'), json(f.manifest));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

/** A task read back from disk. */
export interface LoadedTaskFiles {
  manifest: TaskManifest;
  /** Task tensors by internal name, [in, out]. */
  tensors: Map<string, HostTensor<'float32'>>;
  /** True when the directory came from AdapterHub (no adapterkit.json, no fingerprint). */
  foreign: boolean;
}

function manifestFromHub(ac: Record<string, unknown> | undefined, hc: Record<string, unknown>, dir: string): TaskManifest {
  const hconf = (hc.config ?? {}) as Record<string, unknown>;
  const label2id = (hconf.label2id ?? {}) as Record<string, number>;
  const labels = Object.entries(label2id).sort((a, b) => a[1] - b[1]).map(([l]) => l);
  const type = String(hconf.head_type ?? 'classification');
  const kind: HeadKind = type === 'multilabel_classification' ? 'multilabel' : type === 'tagging' ? 'tagging' : type === 'question_answering' ? 'qa'
    : Number(hconf.num_labels) === 1 ? 'regression' : 'classification';
  const head = headConfig({ kind, labels: kind === 'regression' || kind === 'qa' ? [] : labels, layers: Number(hconf.layers ?? 2) === 2 ? 2 : 1, dropout: 0.1 });
  let mode: TaskManifest['mode'] = { kind: 'head-only' };
  if (ac) {
    const c = (ac.config ?? {}) as Record<string, unknown>;
    const width = Number(ac.hidden_size);
    const rf = Number(c.reduction_factor);
    if (!(width > 0 && rf > 0)) fail('BAD_FILE', `${dir}/adapter_config.json: needs hidden_size and config.reduction_factor`);
    const points: AttachmentPoint[] = [];
    if (c.mh_adapter !== false) points.push('attention_output');
    if (c.output_adapter !== false) points.push('ffn_output');
    const act = String(c.non_linearity ?? 'gelu').replace('gelu_new', 'gelu') as AdapterActivation;
    mode = { kind: 'adapters', adapter: adapterConfig({ size: Math.round(width / rf), activation: act, points, leaveOut: (c.leave_out as number[]) ?? [], trainLayerNorms: false }) };
  }
  return {
    format: 'adapterkit-task', version: MANIFEST_VERSION, name: String(hc.name ?? ac?.name ?? 'task'),
    base: { id: 'unknown', family: String(hc.model_type ?? ''), fingerprint: '' }, mode, head, maxLength: 128,
  };
}

/** Reads a task directory (adapterkit's or AdapterHub's) for `enc`. */
export async function loadTaskFiles(dir: string, enc: Encoder): Promise<LoadedTaskFiles> {
  if (!(await exists(dir))) fail('NOT_FOUND', `task directory ${dir} does not exist`);
  const manifestPath = join(dir, 'adapterkit.json');
  const foreign = !(await exists(manifestPath));
  let manifest: TaskManifest;
  if (!foreign) {
    manifest = (await readJsonObjectFile(manifestPath)) as unknown as TaskManifest;
    if (manifest.format !== 'adapterkit-task') fail('BAD_FILE', `${manifestPath}: not an adapterkit task manifest`);
    if (manifest.version > MANIFEST_VERSION) fail('BAD_FILE', `${manifestPath}: version ${manifest.version} is newer than this adapterkit understands (${MANIFEST_VERSION})`);
    manifest.head = headConfig(manifest.head);
    if (manifest.mode.adapter) manifest.mode.adapter = adapterConfig(manifest.mode.adapter);
  } else {
    if (!(await exists(join(dir, 'head_config.json')))) fail('BAD_FILE', `${dir}: neither adapterkit.json nor head_config.json found; not a task directory`);
    const ac = (await exists(join(dir, 'adapter_config.json'))) ? await readJsonObjectFile(join(dir, 'adapter_config.json')) : undefined;
    manifest = manifestFromHub(ac, await readJsonObjectFile(join(dir, 'head_config.json')), dir);
  }
  const tensors = new Map<string, HostTensor<'float32'>>();
  const isLinear = linearTest(enc);
  const name = manifest.name;
  // Reverse key maps from the encoder's declared module paths.
  const adapterKeys = new Map<string, string>();
  for (let layer = 0; layer < enc.numLayers; layer++) {
    for (const point of enc.attachmentPoints) {
      for (const proj of ['down', 'up']) {
        for (const kind of ['weight', 'bias']) {
          const internal = `adapters.${layer}.${point}.${proj}.${kind}`;
          adapterKeys.set(adapterHubKey(enc, name, internal), internal);
        }
      }
    }
  }
  const files: Array<[string, (key: string) => string | undefined]> = [
    ['adapter.safetensors', (k) => adapterKeys.get(k)],
    ['model_head.safetensors', (k) => {
      const m = new RegExp(`^heads\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.(weight|bias)$`).exec(k);
      if (!m) return undefined;
      const idx = Number(m[1]);
      if (manifest.head.layers === 2) return idx === 1 ? `head.dense.${m[2]}` : idx === 4 ? `head.out.${m[2]}` : undefined;
      return idx === 1 ? `head.out.${m[2]}` : undefined;
    }],
    ['trained_base.safetensors', (k) => (k.startsWith(enc.checkpointPrefix) ? k.slice(enc.checkpointPrefix.length) : k)],
  ];
  for (const [file, map] of files) {
    const p = join(dir, file);
    if (!(await exists(p))) {
      if (file === 'model_head.safetensors') fail('BAD_FILE', `${dir}: missing ${file}`);
      if (file === 'adapter.safetensors' && manifest.mode.kind === 'adapters') fail('BAD_FILE', `${dir}: missing ${file}`);
      continue;
    }
    for (const [key, t] of await readSafetensors(p)) {
      const internal = map(key);
      if (!internal) fail('ADAPTER_MISMATCH', `${p}: tensor ${key} does not belong to task ${name} on a ${enc.family} encoder`);
      if (t.dtype !== 'float32') fail('BAD_FILE', `${p}: tensor ${key} is ${t.dtype}, expected float32`);
      tensors.set(internal, fromTorch(isLinear(internal, t.shape), t.shape, t.data as Float32Array));
    }
  }
  return { manifest, tensors, foreign };
}
