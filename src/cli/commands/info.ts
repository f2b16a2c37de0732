/**
 * `adapterkit info <model|task-dir>`: a base model's architecture, hook sites, parameter counts by
 * group and tokenizer; or a saved task's method, config, sizes and file layouts.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { AdapterkitError, fail } from '../../errors.js';
import { methodOf } from '../../adapters/methods/index.js';
import type { Encoder, WeightSpec } from '../../models/encoder.js';
import { loadBase } from '../../models/base.js';
import { compositionNames, formatComposition } from '../../adapters/composition.js';
import { tensorParamCount } from '../../adapters/method.js';
import { fusionLabel, setupFusionTensors } from '../../adapters/fusion.js';
import { describeMode, isAdapterSetup } from '../../train/modes.js';
import { exists } from '../../util/fs.js';
import { formatBytes, formatInt, formatPercent, keyValues, printJson, table } from '../format.js';
import { baseSource, loadTaskDir } from '../saved-task.js';
import { cliBaseOptions } from '../download-progress.js';
import { addFrozenPrecisionOptions, frozenPrecisionOptions, guardTexts, type FrozenPrecisionFlags } from '../frozen-precision-options.js';
import { TaskModel } from '../../train/task-model.js';
import { loadSavedTask } from '../../train/task-io.js';
import { headConfig } from '../../heads/head.js';
import { headPoolingFor } from '../../heads/pooling.js';
import type { FrozenPlan } from '../../train/frozen-precision.js';
import type { BaseModel } from '../../models/base.js';

/** Flags of `adapterkit info`. */
interface InfoFlags extends FrozenPrecisionFlags {
  base?: string;
  revision?: string;
  json?: boolean;
  guardInput?: string;
}

/**
 * With --frozen-precision int8: the outlier guard on `model` for the --guard-input texts (or a
 * built-in sample), the lines it logs going to `log`; undefined with fp32.
 */
async function frozenGuard(model: TaskModel, base: BaseModel, flags: InfoFlags): Promise<FrozenPlan | undefined> {
  if (flags.frozenPrecision !== 'int8') {
    if (flags.guardInput !== undefined) fail('BAD_CONFIG', '--guard-input applies to --frozen-precision int8 only');
    return undefined;
  }
  const texts = await guardTexts(flags.guardInput);
  return model.guardFrozen(base.tokenizer.encode(texts, Math.min(128, base.encoder.maxLength)));
}

/** The guard's lines for the text output. */
function frozenLines(plan: FrozenPlan | undefined, flags: InfoFlags): string {
  if (!plan) return '';
  const lines: string[] = [];
  frozenPrecisionOptions(flags, (l) => lines.push(l), { all: true }).onFrozenPlan?.(plan);
  return `
int8 outlier guard (${flags.guardInput ?? 'built-in sample sentences'})
${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

const EXAMPLES = `
Examples:
  $ adapterkit info use-lite
  $ adapterkit info ./models/bert-base-uncased --json
  $ adapterkit info google-bert/bert-base-uncased --revision main
  $ adapterkit info runs/spam-adapters/best            # a saved task: method, config, sizes, files
  $ adapterkit info runs/spam-stack-lang-task/best     # a setup: composition, AdapterDrop, each adapter
  $ adapterkit info ./hub-adapter --base ./bert-base-uncased   # an AdapterHub or PEFT directory`;

/** Counts of an encoder's hook sites by kind, for `info`. */
function siteSummary(enc: Encoder): string {
  const s = enc.sites;
  const roles = [...new Set(s.linears.map((l) => l.role))];
  return `${s.sublayers.length} sub-layers (attention, ffn), ${s.linears.length} projections (${roles.join(', ')}), ${s.attentions.length} attentions, embeddings`;
}

async function isTaskDir(p: string): Promise<boolean> {
  return (await exists(join(p, 'adapterkit.json'))) || (await exists(join(p, 'adapter_config.json'))) || (await exists(join(p, 'head_config.json')));
}

/**
 * Prints a saved task: its mode and method, config, trainable sizes and which layouts it holds.
 * With --frozen-precision int8, the guard runs on the task as eval and predict load it (only to
 * predict: its adapter matmuls are measured too, unless --no-int8-adapters).
 */
async function taskInfo(dir: string, flags: InfoFlags): Promise<void> {
  const frozen = frozenPrecisionOptions(flags, () => undefined);
  const { base, saved } = await loadTaskDir(dir, { base: flags.base, revision: flags.revision, model: frozen });
  const m = saved.model;
  const served = flags.frozenPrecision === 'int8' ? (await loadSavedTask(base, dir, { ...frozen, inference: true })).model : undefined;
  const plan = await frozenGuard(served ?? m, base, flags);
  await served?.dispose();
  const stats = m.stats();
  const adapter = m.mode.kind === 'adapters' ? m.mode.adapter : undefined;
  const setup = isAdapterSetup(m.mode)
    ? { adapters: m.mode.adapters.map((a) => ({ name: a.name, method: a.config.method, preset: a.config.preset ?? null, trainable: a.trainable !== false, config: a.config })), active: formatComposition(m.mode.active), adapterDrop: m.mode.adapterDrop ?? null,
      ...(m.mode.fusions?.length ? { fusions: m.mode.fusions.map((f) => ({ name: f.name, adapters: f.adapters, trainable: f.trainable !== false, config: f.config })) } : {}) }
    : undefined;
  const files = { adapterhub: await exists(join(dir, 'adapter_config.json')), peft: await exists(join(dir, 'peft', 'adapter_config.json')) };
  const info = {
    task: saved.manifest.name, origin: saved.origin, base: base.id, mode: describeMode(m.mode, base.encoder), method: adapter?.method ?? null,
    preset: adapter?.preset ?? null, config: adapter ?? null, head: m.head, adapterParams: m.adapterParams(), trainableParams: stats.trainableParams,
    share: stats.share, bytesPerTask: stats.bytesPerTask, canMerge: adapter ? methodOf(adapter).merge !== undefined : false, layouts: files,
    training: saved.manifest.training ?? null, ...(setup ? { setup } : {}), ...(plan ? { frozen: plan } : {}),
  };
  await m.dispose();
  if (flags.json) {
    printJson(info);
    return;
  }
  const out = process.stdout;
  out.write(`${info.task} (${saved.origin === 'adapterkit' ? 'adapterkit task' : `${saved.origin} directory`})

`);
  out.write(keyValues([
    ['base', base.id],
    ['mode', info.mode],
    ['head', `${m.head.kind}${m.head.labels.length ? ` (${m.head.labels.join(', ')})` : ''}, ${m.head.layers} layer${m.head.layers > 1 ? 's' : ''}${m.head.pooling ? `, pooling ${m.head.pooling}` : ''}`],
    ['adapter parameters', formatInt(info.adapterParams)],
    ['trainable', `${formatInt(stats.trainableParams)} (${formatPercent(stats.share)} of the base), ${formatBytes(stats.bytesPerTask)} per task`],
    ['merges into the base', info.canMerge ? 'yes' : 'no'],
    ['AdapterHub layout', files.adapterhub ? 'adapter_config.json, pytorch_adapter.bin, adapter.safetensors' : 'no'],
    ['PEFT layout', files.peft ? 'peft/adapter_config.json, peft/adapter_model.safetensors' : 'no'],
  ]));
  if (isAdapterSetup(m.mode)) {
    const setupMode = m.mode;
    const used = new Set(compositionNames(setupMode.active));
    const d = setupMode.adapterDrop;
    out.write(`\nsetup\n${keyValues([
      ['  composition', formatComposition(setupMode.active)],
      ['  AdapterDrop', d ? (d.kind === 'static' ? `no adapters in the first ${d.layers} layer(s)` : `robust, 0..${d.maxLayers} layers per training batch (inference keeps all)`) : 'none'],
    ])}`);
    const configs = new Map(setupMode.adapters.map((a) => [a.name, a.config]));
    out.write(table(['adapter', 'method', 'training', 'parameters'], [
      ...setupMode.adapters.map((a) => [
        `${a.name}${used.has(a.name) ? '' : ' (inactive)'}`, methodOf(a.config).describe(a.config as never, base.encoder), a.trainable === false ? 'frozen' : 'trained',
        tensorParamCount(methodOf(a.config).tensors(a.config as never, base.encoder, a.name)),
      ]),
      ...(setupMode.fusions ?? []).map((f) => [
        `fusion ${f.name}`, `AdapterFusion (${fusionLabel(f.config)}) over ${f.adapters.join(', ')}`, f.trainable === false ? 'frozen' : 'trained',
        tensorParamCount(setupFusionTensors([f], configs, base.encoder)),
      ]),
    ]));
  }
  if (adapter) out.write(`
config
${keyValues(Object.entries(adapter).map(([k, v]) => [`  ${k}`, typeof v === 'string' ? v : JSON.stringify(v)]))}`);
  out.write(frozenLines(plan, flags));
}

/** Sub-groups of a layer's weights. */
export const LAYER_PARTS = ['attention', 'feed-forward', 'norms', 'other'] as const;
/** One of {@link LAYER_PARTS}. */
export type LayerPart = (typeof LAYER_PARTS)[number];

/** Parameter counts of a base, grouped by where the weights sit. */
export interface ParamGroups {
  embeddings: number;
  /** Per layer, by part. */
  layers: Record<LayerPart | 'total', number>[];
  /** Totals over all layers, by part. */
  layerTotals: Record<LayerPart | 'total', number>;
  pooler: number;
  /** Weights outside layers that are neither embeddings nor pooler. */
  other: number;
  total: number;
}

function partOf(s: WeightSpec): LayerPart {
  if (s.role === 'norm') return 'norms';
  if (/attention|attn/i.test(s.name)) return 'attention';
  if (/ffn|intermediate|\.output\.dense|mlp/i.test(s.name)) return 'feed-forward';
  return 'other';
}

const emptyParts = (): Record<LayerPart | 'total', number> => ({ attention: 0, 'feed-forward': 0, norms: 0, other: 0, total: 0 });

/** Groups weight specs by role and layer. */
export function paramGroups(specs: readonly WeightSpec[], numLayers: number): ParamGroups {
  const g: ParamGroups = { embeddings: 0, layers: Array.from({ length: numLayers }, emptyParts), layerTotals: emptyParts(), pooler: 0, other: 0, total: 0 };
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    g.total += n;
    if (s.layer !== undefined) {
      const row = g.layers[s.layer] ?? (g.layers[s.layer] = emptyParts());
      const part = partOf(s);
      row[part] += n;
      row.total += n;
      g.layerTotals[part] += n;
      g.layerTotals.total += n;
    } else if (s.role === 'pooler') g.pooler += n;
    else if (s.role === 'embedding' || /embed/i.test(s.name)) g.embeddings += n;
    else g.other += n;
  }
  return g;
}

/** A value as plain text: integers with separators, other numbers as is, strings unquoted. */
function plain(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? formatInt(v) : String(v);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The sentence-transformers pipeline of a base, for `info`: its modules and the pooling a sentence-level head takes from it (or why it cannot). */
function sentenceTransformersInfo(base: BaseModel): Record<string, unknown> | undefined {
  const st = base.sentenceTransformers;
  if (!st) return undefined;
  let headPooling: Record<string, unknown>;
  try {
    const chosen = headPoolingFor(undefined, base);
    headPooling = { pooling: chosen.pooling, from: chosen.from };
  } catch (e) {
    if (!(e instanceof AdapterkitError)) throw e;
    headPooling = { error: e.message };
  }
  return { modules: st.modules, pooling: st.pooling ?? null, normalize: st.normalize, ignored: st.ignored.map((m) => m.type), headPooling };
}

/** The text lines of {@link sentenceTransformersInfo}. */
function sentenceTransformersLines(base: BaseModel, info: Record<string, unknown>): string {
  const st = base.sentenceTransformers;
  if (!st) return '';
  const hp = info.headPooling as { pooling?: string; from?: string; error?: string };
  const short = (type: string) => type.replace(/^sentence_transformers\.models\./, '');
  return `\nsentence-transformers (modules.json)\n${keyValues([
    ['  modules', st.modules.map((m) => `${short(m.type)}${m.path ? ` (${m.path})` : ''}`).join(', ')],
    ['  head pooling', hp.error !== undefined ? `none: ${hp.error}` : hp.from === 'default' ? 'no Pooling module: encoder (--pooling to choose)' : `${hp.pooling ?? ''} (${hp.from ?? ''}), unless --pooling says otherwise`],
    ...(st.normalize ? [['  normalize', 'a Normalize module follows (L2 normalisation of the sentence vector); heads read the pooled vector unnormalised'] as [string, string]] : []),
    ...(st.ignored.length ? [['  not run', st.ignored.map((m) => short(m.type)).join(', ')] as [string, string]] : []),
  ])}`;
}

/** Registers `adapterkit info`. */
export function registerInfo(program: Command): void {
  const cmd = program
    .command('info')
    .description('Describe a base model (architecture, hook sites, parameter counts by group, tokenizer) or a saved task (method, config, sizes, files).')
    .argument('<model|task-dir>', 'base source: "use-lite" (embedded), a local model directory, or a Hugging Face hub id; or a task directory')
    .option('--base <source>', 'for a task directory: the base to load it on (default: the one it records; needed for AdapterHub and PEFT directories)')
    .option('--revision <rev>', 'hub revision (branch, tag or commit)')
    .option('--json', 'print everything as JSON');
  addFrozenPrecisionOptions(cmd, 'the outlier guard\'s report: int8 runs the guard and lists the kernel it picks for each frozen matmul');
  cmd
    .option('--guard-input <file>', 'with --frozen-precision int8: texts (one per line, at most 32) the guard runs on (default: a few built-in English sentences)')
    .addHelpText('after', EXAMPLES)
    .action(async (model: string, flags: InfoFlags) => {
      if (await isTaskDir(model)) {
        await taskInfo(model, flags);
        return;
      }
      const base = await loadBase(await baseSource(model), cliBaseOptions(flags.revision));
      const enc = base.encoder;
      // The base alone: every matmul frozen, under a head-only task (the head is not measured).
      const frozen = frozenPrecisionOptions(flags, () => undefined);
      const probe = flags.frozenPrecision === 'int8' || flags.guardInput !== undefined
        ? TaskModel.create(base, { mode: { kind: 'head-only' }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 0, ...frozen })
        : undefined;
      const plan = probe ? await frozenGuard(probe, base, flags) : undefined;
      await probe?.dispose();
      const groups = paramGroups(enc.weightSpecs, enc.numLayers);
      const architecture = enc.describe();
      const tokenizer = base.tokenizer.summary();
      const st = sentenceTransformersInfo(base);
      if (flags.json) {
        const sites = { sublayers: enc.sites.sublayers.map((x) => x.key), linears: enc.sites.linears.map((x) => x.key), attentions: enc.sites.attentions.map((x) => x.key) };
        printJson({ id: base.id, family: enc.family, architecture, sites, parameters: groups, tokenizer, sources: base.sources, ...(st ? { sentenceTransformers: st } : {}), ...(plan ? { frozen: plan } : {}) });
        return;
      }
      const out = process.stdout;
      out.write(`${base.id} (${enc.family})\n\narchitecture\n`);
      out.write(keyValues(Object.entries(architecture).map(([k, v]) => [`  ${k}`, plain(v)])));
      out.write(`  hook sites: ${siteSummary(enc)}\n\nparameters\n`);
      const rows: (string | number)[][] = [['embeddings', '', '', '', '', groups.embeddings]];
      groups.layers.forEach((l, i) => rows.push([`layer ${i}`, l.attention, l['feed-forward'], l.norms, l.other, l.total]));
      const t = groups.layerTotals;
      rows.push(['all layers', t.attention, t['feed-forward'], t.norms, t.other, t.total]);
      rows.push(['pooler', '', '', '', '', groups.pooler]);
      if (groups.other) rows.push(['other', '', '', '', '', groups.other]);
      rows.push(['total', '', '', '', '', groups.total]);
      out.write(table(['group', 'attention', 'feed-forward', 'norms', 'other', 'parameters'], rows));
      out.write(`\ntokenizer\n`);
      out.write(keyValues(Object.entries(tokenizer).map(([k, v]) => [`  ${k}`, plain(v)])));
      if (st) out.write(sentenceTransformersLines(base, st));
      out.write(frozenLines(plan, flags));
    });
}
