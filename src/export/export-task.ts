/**
 * Exports a task as one standalone ONNX inference graph in the directory layout transformers.js
 * loads: `onnx/model.onnx` (fp32; `onnx/model.onnx_data` beside it above protobuf's 2 GB limit),
 * `config.json`, `tokenizer.json` and `tokenizer_config.json`; with `frozenPrecision: 'int8'` also
 * `onnx/model_quantized.onnx` (see `quantize.ts`). The graph holds the base, the
 * task's adapter (LoRA and IA³ merged into the frozen weights except on bases whose layers share
 * weights, bottleneck adapters as they are)
 * and the head; its inputs are `input_ids`, `attention_mask` (and `token_type_ids` where the
 * family reads them), int64 [batch, seq]; its outputs `logits` ([batch, labels], or
 * [batch, seq, labels] for tagging), or `start_logits` and `end_logits` [batch, seq] for QA.
 *
 * What transformers.js reads and where: `hf-config.ts` and `tokenizer-files.ts`.
 *
 * @example
 * ```ts
 * const base = await loadBase('test/fixtures/models/tiny-bert');
 * const { model, manifest } = await loadSavedTask(base, 'runs/spam/best');
 * const r = await exportTask(model, 'exports/spam', { maxLength: manifest.maxLength, name: manifest.name });
 * r.files.map((f) => f.path); // ['config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json']
 * // then, with @huggingface/transformers: await pipeline('text-classification', 'exports/spam')
 * ```
 */
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fail } from '../errors.js';
import { serializeGraph, slice, squeeze, type ForwardKernel, type Graph, type Value } from '../engine/index.js';
import { baseFingerprint, type BaseModel } from '../models/base.js';
import type { EncodedBatch } from '../models/tokenizers/index.js';
import { summarizeFrozenPlan, type FrozenPlan } from '../train/frozen-precision.js';
import { describeMode } from '../train/modes.js';
import type { TaskModel } from '../train/task-model.js';
import { checkWritableDir, writeDirAtomically } from '../util/atomic-dir.js';
import { isFile } from '../util/fs.js';
import { readJsonObjectFile } from '../util/json.js';
import { VERSION } from '../version.js';
import { architectureOf, checkExportable, exportConfig, hfFamily, pipelineTask, runsInTransformersJs } from './hf-config.js';
import { quantizeExportedModel } from './quantize.js';
import { exportTokenizerFiles } from './tokenizer-files.js';

/** Options of {@link exportTask}. */
export interface ExportOptions {
  /**
   * Longest input in tokens, specials included: transformers.js truncates to it
   * (`model_max_length`). Default: the base tokenizer's limit, at most the encoder's.
   */
  readonly maxLength?: number;
  /** Task name, recorded in config.json and the model's metadata. */
  readonly name?: string;
  /** Replace an existing output directory (default: refuse). */
  readonly overwrite?: boolean;
  /** Words naming the overwrite switch in the refusal (the CLI says `--force`). */
  readonly overwriteHint?: string;
  /**
   * Weights in `onnx/model.onnx_data` instead of inside the model: `'auto'` (default) when they
   * approach protobuf's 2 GB limit.
   */
  readonly externalData?: boolean | 'auto';
  /**
   * `int8` also writes `onnx/model_quantized.onnx` (transformers.js: `dtype: 'q8'`): the frozen
   * matmuls with the kernels of the model's int8 outlier guard (see `quantize.ts`). Needs a task
   * model created with `frozenPrecision: 'int8'`; its plan is used when the guard has run,
   * otherwise the guard runs on {@link guardBatch}. Default `fp32`: model.onnx only.
   */
  readonly frozenPrecision?: 'fp32' | 'int8';
  /** With `frozenPrecision: 'int8'`: the batch the outlier guard runs on when the model has no plan yet (real text: outlier channels show on real activations). */
  readonly guardBatch?: EncodedBatch;
  /** Called with a short line as each step starts. */
  readonly onStep?: (line: string) => void;
}

/** One file an export wrote. */
export interface ExportedFile {
  /** Relative to the export directory, `/`-separated. */
  readonly path: string;
  readonly bytes: number;
}

/** What {@link exportTask} wrote. */
export interface ExportResult {
  readonly dir: string;
  readonly files: readonly ExportedFile[];
  /** `architectures[0]` of config.json (undefined for USE-lite). */
  readonly architecture?: string;
  /**
   * The transformers.js pipeline task that runs it. Its pipelines take single texts: a
   * sentence-pair task ({@link pair}) runs with the tokenizer (`tokenizer(a, { text_pair: b })`)
   * and the model class instead.
   */
  readonly pipeline: string;
  /** Whether the task takes sentence pairs (which transformers.js's text-classification pipeline does not). */
  readonly pair: boolean;
  /** Graph input and output names. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Whether the adapter was merged into the frozen weights (LoRA, IA³). */
  readonly merged: boolean;
  /** How tokenizer.json was made; `none` for a base without a Hugging Face tokenizer (USE-lite). */
  readonly tokenizer: 'copied' | 'written from vocab.txt' | 'written from spm.model' | 'none';
  /**
   * What runs it: transformers.js; onnxruntime fed by the exported tokenizer.json, for a head
   * transformers.js has no class for on that family (ALBERT tagging, ModernBERT QA); or onnxruntime
   * with adapterkit's tokenizer (USE-lite).
   */
  readonly runsWith: 'transformers.js' | 'onnxruntime + tokenizer.json' | 'onnxruntime + adapterkit tokenizer';
  /** One-line notes on what the layout could not hold or what was adjusted. */
  readonly notes: readonly string[];
  /** With `frozenPrecision: 'int8'`: what `onnx/model_quantized.onnx` holds. */
  readonly quantized?: {
    /** The guard's plan in one line (kernels chosen, tolerance, worst error). */
    readonly plan: string;
    /** Matmul nodes per quantised kernel in the file (a weight ALBERT shares across layers counts once per node). */
    readonly nodes: Readonly<Record<Exclude<ForwardKernel, 'fp32'>, number>>;
    /** Frozen matmul weights the guard kept in fp32. */
    readonly fp32Weights: readonly string[];
    /** Size of model_quantized.onnx over model.onnx. */
    readonly sizeRatio: number;
  };
}

/** Above this many bytes of weights, `externalData: 'auto'` moves them out of the model file. */
const EXTERNAL_AUTO_BYTES = 1.5 * 2 ** 30;

function constantBytes(graph: Graph): number {
  let n = 0;
  for (const v of graph.constants) n += graph.dataOf(v).data.byteLength;
  return n;
}

/** The outputs transformers.js reads, by name: QA's [B, T, 2] channels become two [B, T] outputs. */
function namedOutputs(model: TaskModel, logits: Value): { values: Value[]; names: string[] } {
  if (model.head.kind !== 'qa') return { values: [logits], names: ['logits'] };
  const g = logits.graph;
  const channel = (c: number) => g.scope('export', () => squeeze(slice(logits, [c], [c + 1], [2]), [2])); // [B, T]
  return { values: [channel(0), channel(1)], names: ['start_logits', 'end_logits'] };
}

/** config.json of a Hugging Face base (next to its weights). */
async function baseConfigJson(base: BaseModel): Promise<Record<string, unknown>> {
  const first = base.sources[0];
  const p = first === undefined ? undefined : join(dirname(first), 'config.json');
  if (p === undefined || !(await isFile(p))) fail('BAD_FILE', `cannot find the config.json of base ${base.id} (looked next to ${first ?? 'its weight files'})`);
  return readJsonObjectFile(p);
}

async function listFiles(root: string, dir = root): Promise<ExportedFile[]> {
  const out: ExportedFile[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(root, p)));
    else out.push({ path: relative(root, p).split('\\').join('/'), bytes: (await stat(p)).size });
  }
  return out;
}

/**
 * Writes `model` to `outDir` in the transformers.js layout (see the module comment). The
 * directory is written atomically: a failed or refused export leaves no directory (or the old
 * one) behind. A LoRA or IA³ task is merged for the export and unmerged afterwards (a task that
 * was merged before stays merged).
 *
 * @throws AdapterkitError UNSUPPORTED_MODEL for a head transformers.js cannot express (regression)
 *   or an unknown family; BAD_CONFIG for `frozenPrecision: 'int8'` on a model without an int8
 *   base (or without a plan and a guard batch, or with external data), an invalid max length or
 *   an existing `outDir` without `overwrite`.
 */
export async function exportTask(model: TaskModel, outDir: string, o: ExportOptions = {}): Promise<ExportResult> {
  if (o.frozenPrecision !== undefined && o.frozenPrecision !== 'fp32' && o.frozenPrecision !== 'int8') fail('BAD_CONFIG', `unknown frozen precision ${JSON.stringify(o.frozenPrecision)} (fp32, int8)`);
  const int8 = o.frozenPrecision === 'int8';
  if (int8 && model.frozenPrecision !== 'int8') fail('BAD_CONFIG', 'frozen precision int8 (onnx/model_quantized.onnx) needs the task model created with frozenPrecision: \'int8\' (its outlier guard picks each matmul\'s kernel)');
  const base = model.base;
  const enc = base.encoder;
  checkExportable(model.head, enc);
  const tokMax = base.tokenizer.summary()['modelMaxLength'];
  const tokLimit = typeof tokMax === 'number' ? tokMax : enc.maxLength;
  // a prompt before the position embeddings (PEFT's) takes some of the base's positions
  const limit = model.maxTokens;
  const maxLength = o.maxLength ?? Math.min(tokLimit, limit);
  if (!Number.isInteger(maxLength) || maxLength < 2 || maxLength > limit) {
    const what = limit < enc.maxLength ? `the limit of ${limit} tokens (the base's ${enc.maxLength} positions, less the ${enc.maxLength - limit} that the adapter's prompt takes)` : `the base's limit of ${enc.maxLength} tokens`;
    fail('BAD_CONFIG', `max length must be an integer from 2 to ${what}, got ${maxLength}`);
  }
  await checkWritableDir(outDir, o); // refuse before the work
  let plan: FrozenPlan | undefined;
  if (int8) {
    plan = model.frozenPlan ?? (o.guardBatch ? await model.guardFrozen(o.guardBatch) : undefined);
    if (!plan) fail('BAD_CONFIG', 'frozen precision int8: the task model has no int8 plan yet; pass guardBatch (a batch of real text for the outlier guard) or run model.guardFrozen(batch) first');
  }
  const step = o.onStep ?? (() => undefined);
  const family = enc.family;
  const hf = hfFamily(family);
  const notes: string[] = [];

  const tokenizer = hf ? await exportTokenizerFiles(base, hf, maxLength) : undefined;
  const baseConfig = hf ? await baseConfigJson(base) : undefined;
  if (!hf) notes.push(`${family} has no transformers.js tokenizer: run onnx/model.onnx with onnxruntime (node or web) and adapterkit's tokenizer`);
  const inTransformersJs = runsInTransformersJs(model.head, enc);
  if (hf && !inTransformersJs) notes.push(`transformers.js has no ${architectureOf(model.head, enc) ?? ''} class: run onnx/model.onnx with onnxruntime (node or web); its tokenizer.json loads in transformers.js's AutoTokenizer`);
  notes.push(...(tokenizer?.notes ?? []));
  if (model.head.kind === 'multilabel') notes.push(`transformers.js gives the sigmoid scores; adapterkit's decision threshold (${model.head.threshold}) is recorded in config.json (adapterkit.threshold)`);
  if (model.head.pair === true && inTransformersJs) notes.push('transformers.js\'s text-classification pipeline takes single texts (it reads neither a [text, pair] array nor a {text, text_pair} object as a pair), so run this sentence-pair task with its tokenizer and model: tokenizer(text, { text_pair }) and then the model on those inputs');
  if (model.head.kind === 'qa') notes.push('transformers.js\'s question-answering pipeline decodes spans its own way (one window, no maximum answer length); the logits are adapterkit\'s');

  const mode = model.mode;
  // LoRA and IA³ fold into the frozen weights where they can (not on ALBERT's shared layers: there they run as adapters)
  const canMerge = model.mergeIssue === undefined;
  if (model.channels > 1) fail('BAD_CONFIG', `the task's active composition is Parallel (${model.channels} outputs per input); export a single adapter, or a composition with one output`);
  const mergedBefore = model.isMerged;
  step('building the inference graph');
  if (canMerge && !mergedBefore) model.merge();
  let built: { graph: Graph; logits: Value };
  try {
    built = model.inferenceGraph();
  } finally {
    if (canMerge && !mergedBefore) model.unmerge();
  }
  const { graph, logits } = built;
  const outputs = namedOutputs(model, logits);
  const weightBytes = constantBytes(graph);
  const external = o.externalData === true || ((o.externalData ?? 'auto') === 'auto' && weightBytes > EXTERNAL_AUTO_BYTES);
  if (int8 && external) fail('BAD_CONFIG', 'frozen precision int8 with the weights in onnx/model.onnx_data is not implemented: export int8 with external data off (weights under 2 GB)');
  // The int8 file runs what adapterkit's int8 path runs: a LoRA / IA³ adapter beside the int8 base, unmerged.
  const int8Built = int8 ? (canMerge && !mergedBefore ? model.inferenceGraph() : built) : undefined;
  if (int8 && canMerge && !mergedBefore) notes.push('onnx/model_quantized.onnx keeps the adapter unmerged, in fp32 beside the int8 frozen matmuls, as adapterkit\'s int8 path runs it (model.onnx has it merged)');
  const provenance = {
    version: VERSION,
    ...(o.name !== undefined ? { task: o.name } : {}),
    mode: describeMode(mode, enc),
    base: base.id,
    fingerprint: baseFingerprint(base),
    merged: canMerge || mergedBefore,
  };
  const planLine = plan ? summarizeFrozenPlan(plan) : undefined;
  const config = exportConfig(model.head, enc, { baseConfig, externalData: external, provenance, ...(planLine ? { int8: planLine } : {}) });
  const metadata: Record<string, string> = {
    'adapterkit.version': VERSION,
    'adapterkit.head': model.head.kind,
    'adapterkit.mode': provenance.mode,
    'adapterkit.base': base.id,
    'adapterkit.fingerprint': provenance.fingerprint,
    ...(o.name !== undefined ? { 'adapterkit.task': o.name } : {}),
    ...(model.head.kind !== 'qa' && model.head.labels.length ? { 'adapterkit.labels': JSON.stringify(model.head.labels) } : {}),
  };

  let io: { inputs: string[]; outputs: string[] } = { inputs: [], outputs: [] };
  let quantized: ExportResult['quantized'];
  const files = await writeDirAtomically(outDir, async (tmp) => {
    const onnxDir = join(tmp, 'onnx');
    await mkdir(onnxDir);
    step(`writing onnx/model.onnx (${external ? 'weights in onnx/model.onnx_data, ' : ''}${(weightBytes / 2 ** 20).toFixed(1)} MiB of weights)`);
    const s = serializeGraph(graph, {
      outputs: outputs.values,
      outputNames: outputs.names,
      paramsAs: 'initializers',
      metadata,
      ...(external ? { externalData: { dir: onnxDir, file: 'model', dataFile: 'model.onnx_data' } } : {}),
    });
    if (!external) await writeFile(join(onnxDir, 'model.onnx'), s.bytes);
    io = { inputs: s.inputs.map((v) => v.name), outputs: s.outputNames };
    if (int8Built && plan && planLine) {
      step(`writing onnx/model_quantized.onnx (${planLine})`);
      const q8 = int8Built === built ? s : serializeGraph(int8Built.graph, {
        outputs: namedOutputs(model, int8Built.logits).values, outputNames: outputs.names, paramsAs: 'initializers', metadata,
      });
      const q = quantizeExportedModel(q8.bytes, plan, { 'adapterkit.frozen_precision': 'int8', 'adapterkit.int8_plan': planLine });
      await writeFile(join(onnxDir, 'model_quantized.onnx'), q.bytes);
      quantized = { plan: planLine, nodes: q.nodes, fp32Weights: q.fp32Weights, sizeRatio: q.bytes.byteLength / s.bytes.byteLength };
    }
    step('writing config.json');
    await writeFile(join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    if (tokenizer) {
      step(`writing tokenizer.json (${tokenizer.tokenizerJson}) and tokenizer_config.json`);
      for (const [name, data] of tokenizer.files) await writeFile(join(tmp, name), data);
    }
    return listFiles(tmp);
  }, o);
  return {
    dir: outDir,
    files,
    architecture: architectureOf(model.head, enc),
    pipeline: pipelineTask(model.head),
    pair: model.head.pair === true,
    inputs: io.inputs,
    outputs: io.outputs,
    merged: provenance.merged,
    tokenizer: tokenizer?.tokenizerJson ?? 'none',
    runsWith: inTransformersJs ? 'transformers.js' : hf ? 'onnxruntime + tokenizer.json' : 'onnxruntime + adapterkit tokenizer',
    notes,
    ...(quantized ? { quantized } : {}),
  };
}
