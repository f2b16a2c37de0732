/**
 * AdapterHub's file layout (adapters 1.2.0, `loading.py` and `configuration/model_adapters_config.py`
 * `build_full_config`), written exactly as its `save_adapter` / `save_head` write it and read back:
 *
 * - `adapter_config.json`: `{config, hidden_size, model_class, model_name, model_type, name, version}`,
 *   `json.dump(…, indent=2, sort_keys=True)`, where `config` is the method config's `to_dict()`;
 * - `pytorch_adapter.bin` (what `load_adapter(dir)` reads by default) and `adapter.safetensors`
 *   (with `use_safetensors=True`): the adapter's state dict, PyTorch layouts;
 * - `head_config.json`, `pytorch_model_head.bin`, `model_head.safetensors`: the prediction head
 *   (`heads.<name>.<i>.…`, a Sequential of [Dropout, Linear, Act] x (layers - 1) + [Dropout, Linear]).
 */
import { fail } from '../errors.js';
import { headInputWidth, type HeadConfig, type HeadKind } from '../heads/head.js';
import type { Encoder } from '../models/encoder.js';
import { pyFloat } from '../util/python-json.js';
import type { FileTensorKey } from './method.js';
import { methodOf, type MethodConfig } from './methods/index.js';

/** The AdapterHub version whose layout adapterkit writes (its files say `adapters.<version>`). */
export const ADAPTERHUB_VERSION = '1.2.0';

/** File names, as AdapterHub's `utils.py` declares them. */
export const ADAPTERHUB_FILES = {
  config: 'adapter_config.json',
  weights: 'pytorch_adapter.bin',
  safeWeights: 'adapter.safetensors',
  headConfig: 'head_config.json',
  headWeights: 'pytorch_model_head.bin',
  safeHeadWeights: 'model_head.safetensors',
} as const;

/** AdapterHub's flexible-head model class of an encoder family (USE-lite has none in AdapterHub; its name is adapterkit's). */
export function adapterModelClass(enc: Encoder): string {
  if (enc.adapterHubModelClass !== undefined) return enc.adapterHubModelClass;
  const known: Record<string, string> = { bert: 'BertAdapterModel', roberta: 'RobertaAdapterModel', distilbert: 'DistilBertAdapterModel', electra: 'ElectraAdapterModel' };
  return known[enc.family] ?? `${enc.family.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase())}AdapterModel`;
}

/**
 * The module config AdapterHub loads from an `adapter_config.json`, after its `_fix_backward_compat`
 * (`loading.py`, adapters 1.1 and later): `adapters` releases before 1.1.0 ignored a LoRA's (or
 * IA³'s, also `architecture: "lora"`) `alpha` and trained at scaling 1 (adapter-hub/adapters#770),
 * so a file whose `version` is `adapters.<below 1.1.0>` and whose `r` and `alpha` differ is loaded
 * with `alpha = r`, as it was trained. Other files' config is returned as it is.
 *
 * @example
 * adapterHubModuleConfig({ version: 'adapters.1.0.1', config: { architecture: 'lora', r: 8, alpha: 16 } });
 * // → { architecture: 'lora', r: 8, alpha: 8 }
 */
export function adapterHubModuleConfig(file: Record<string, unknown>): unknown {
  const c = file.config;
  if (!c || typeof c !== 'object' || Array.isArray(c)) return c;
  const m = c as Record<string, unknown>;
  const scaled = m.architecture === 'lora' && typeof m.r === 'number' && typeof m.alpha === 'number' && m.r !== m.alpha;
  return scaled && typeof file.version === 'string' && beforeAdapters11(file.version) ? { ...m, alpha: m.r } : c;
}

/** Whether `adapters.<version>` is an `adapters` release before 1.1.0 (PEP 440 order: 1.1.0.dev0 and 1.1.0rc1 come before 1.1.0). */
function beforeAdapters11(version: string): boolean {
  const m = /^adapters\.v?(\d+(?:\.\d+)*)(.*)$/i.exec(version.trim());
  if (!m) return false;
  const release = m[1]!.split('.').map(Number);
  const min = [1, 1, 0];
  for (let i = 0; i < Math.max(release.length, min.length); i++) {
    const a = release[i] ?? 0, b = min[i] ?? 0;
    if (a !== b) return a < b;
  }
  return /^[-_.]?(a|b|c|rc|alpha|beta|pre|preview|dev)/i.test(m[2]!);
}

/** The common fields `build_full_config` adds around a module's config. */
function fullConfig(enc: Encoder, name: string, config: unknown, hiddenSize: number): Record<string, unknown> {
  return { config, hidden_size: hiddenSize, model_class: adapterModelClass(enc), model_name: null, model_type: enc.family, name, version: `adapters.${ADAPTERHUB_VERSION}` };
}

/**
 * Why neither AdapterHub nor PEFT can load adapters of this encoder, if so: layers that share
 * weights (ALBERT's layer groups) get one adapter per depth here, while both libraries keep one
 * adapter per shared module.
 */
export function sharedLayersIssue(enc: Encoder): string | undefined {
  const shared = [...enc.sites.sublayers, ...enc.sites.linears].some((s) => s.sharedWith !== undefined && s.sharedWith.length > 0);
  return shared ? `the ${enc.family} base runs shared layers at several depths; adapterkit keeps one adapter per depth, AdapterHub and PEFT one per shared layer` : undefined;
}

/** `adapter_config.json` of an adapter, or why AdapterHub cannot express it. */
export function adapterHubAdapterConfig(c: MethodConfig, enc: Encoder, name: string): { json: Record<string, unknown> } | { unsupported: string } {
  if (enc.adapterHubIssue !== undefined) return { unsupported: enc.adapterHubIssue };
  const shared = sharedLayersIssue(enc);
  if (shared !== undefined) return { unsupported: shared };
  const r = methodOf(c).adapterHub.config(c, enc);
  if ('unsupported' in r) return r;
  return { json: fullConfig(enc, name, r.config, enc.hiddenSize) };
}

/** The file keys of an adapter's tensors in AdapterHub's state dict. */
export function adapterHubKeys(c: MethodConfig, enc: Encoder, internalName: string, fileName: string): FileTensorKey[] {
  return methodOf(c).adapterHub.keys(c, enc, internalName, fileName);
}

/** AdapterHub `head_type` of each head kind (regression is a one-label classification head there). */
const HEAD_TYPES: Readonly<Record<HeadKind, string>> = {
  classification: 'classification', regression: 'classification', multilabel: 'multilabel_classification', tagging: 'tagging', qa: 'question_answering',
};

/** `head_config.json` of a head, as AdapterHub's heads (`heads/base.py`) hold their config. */
export function adapterHubHeadConfig(h: HeadConfig, enc: Encoder, name: string): Record<string, unknown> {
  const token = h.kind === 'tagging' || h.kind === 'qa';
  const labels = h.labels.length ? Object.fromEntries(h.labels.map((l, i) => [l, i])) : null;
  const config: Record<string, unknown> = {
    head_type: HEAD_TYPES[h.kind],
    num_labels: h.kind === 'regression' ? 1 : h.kind === 'qa' ? 2 : h.labels.length,
    layers: h.layers,
    activation_function: h.layers === 2 ? 'tanh' : null,
    label2id: labels,
    dropout_prob: pyFloat(h.dropout),
    // AdapterHub's heads read the pooler output (use_pooler) or the first token; adapterkit's cls and mean poolings never read the pooler
    ...(token ? {} : { use_pooler: h.pooling === undefined && enc.checkpointPrefix !== '' && enc.describe().pooler === true, bias: true }),
  };
  return fullConfig(enc, name, config, headInputWidth(h, enc));
}

/** AdapterHub key of an internal head tensor name (Dropout, Linear[, Tanh, Dropout, Linear]). */
export function headKey(adapterName: string, internal: string, layers: 1 | 2): string {
  const kind = internal.endsWith('.weight') ? 'weight' : 'bias';
  if (internal.startsWith('head.dense.')) return `heads.${adapterName}.1.${kind}`;
  if (internal.startsWith('head.out.')) return `heads.${adapterName}.${layers === 2 ? 4 : 1}.${kind}`;
  return fail('GRAPH_ERROR', `not a head tensor name: ${internal}`);
}

/** The internal head tensor name of an AdapterHub head key (undefined when it is not one). */
export function headInternal(adapterName: string, key: string, layers: 1 | 2): string | undefined {
  const p = `heads.${adapterName}.`;
  if (!key.startsWith(p)) return undefined;
  const m = /^(\d+)\.(weight|bias)$/.exec(key.slice(p.length));
  if (!m) return undefined;
  const idx = Number(m[1]);
  if (layers === 2) return idx === 1 ? `head.dense.${m[2]}` : idx === 4 ? `head.out.${m[2]}` : undefined;
  return idx === 1 ? `head.out.${m[2]}` : undefined;
}

/**
 * Reads AdapterHub's `head_config.json` into adapterkit's head fields. `weights` is the head's
 * weights file with its number of values: a head with n outputs stores at least n (its last bias),
 * so a larger `num_labels` is refused before any label is made up for it.
 */
export function headFromAdapterHub(hc: Record<string, unknown>, where: string, weights: { file: string; values: number }): { kind: HeadKind; labels: string[]; layers: 1 | 2; dropout: number } {
  const c = hc.config;
  if (!c || typeof c !== 'object' || Array.isArray(c)) fail('BAD_FILE', `${where}: config must be an object`);
  const conf = c as Record<string, unknown>;
  const type = conf.head_type ?? 'classification';
  const numLabels = conf.num_labels;
  if (!(typeof numLabels === 'number' && Number.isInteger(numLabels) && numLabels >= 1)) fail('BAD_FILE', `${where}: config.num_labels must be a positive integer, got ${JSON.stringify(numLabels)}`);
  if (numLabels > weights.values) fail('BAD_FILE', `${where}: config.num_labels ${numLabels} is more than ${weights.file} can hold (${weights.values} values)`);
  const kinds: Record<string, HeadKind> = { classification: numLabels === 1 ? 'regression' : 'classification', multilabel_classification: 'multilabel', tagging: 'tagging', question_answering: 'qa' };
  const kind = kinds[String(type)];
  if (!kind) fail('BAD_CONFIG', `${where}: config.head_type ${JSON.stringify(type)} is not implemented (adapterkit has ${Object.keys(kinds).join(', ')})`);
  const layers = conf.layers ?? 2;
  if (layers !== 1 && layers !== 2) fail('BAD_CONFIG', `${where}: config.layers ${JSON.stringify(layers)} is not implemented (1 or 2)`);
  if (layers === 2 && conf.activation_function !== 'tanh') fail('BAD_CONFIG', `${where}: config.activation_function ${JSON.stringify(conf.activation_function)} is not implemented for two-layer heads (tanh)`);
  if (conf.bias === false) fail('BAD_CONFIG', `${where}: config.bias false is not implemented (heads have a bias)`);
  const l2i = conf.label2id;
  let labels: string[] = [];
  if (l2i !== null && l2i !== undefined) {
    if (typeof l2i !== 'object' || Array.isArray(l2i)) fail('BAD_FILE', `${where}: config.label2id must be an object of label to index`);
    const entries = Object.entries(l2i as Record<string, unknown>);
    const seen = new Map<number, string>();
    for (const [l, i] of entries) {
      if (!(typeof i === 'number' && Number.isInteger(i) && i >= 0 && i < entries.length)) fail('BAD_FILE', `${where}: config.label2id[${JSON.stringify(l)}] must be an index below ${entries.length}, got ${JSON.stringify(i)}`);
      const other = seen.get(i);
      if (other !== undefined) fail('BAD_FILE', `${where}: config.label2id gives index ${i} to both ${JSON.stringify(other)} and ${JSON.stringify(l)}`);
      seen.set(i, l);
    }
    labels = entries.sort((a, b) => (a[1] as number) - (b[1] as number)).map(([l]) => l);
  }
  if (kind === 'regression' || kind === 'qa') labels = [];
  else if (labels.length !== numLabels) labels = Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`);
  const dropout = typeof conf.dropout_prob === 'number' ? conf.dropout_prob : 0.1;
  return { kind, labels, layers, dropout };
}
