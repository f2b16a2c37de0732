/**
 * `adapterkit train`: trains a task (adapters or a baseline mode) on a base model and saves the
 * best checkpoint to `<out>/best`.
 */
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { AdapterkitError, fail } from '../../errors.js';
import { BOTTLENECK_ACTIVATIONS } from '../../adapters/methods/bottleneck.js';
import { checkMethodConfig, PRESET_NAMES } from '../../adapters/methods/index.js';
import { checkAdapterDrop, checkAdapters, checkSetup, type NamedAdapter } from '../../adapters/compose.js';
import { formatComposition } from '../../adapters/composition.js';
import { isAdapterTensor, renameAdapterTensor } from '../../adapters/names.js';
import { readFusionDir } from '../../adapters/task-files/fusion-files.js';
import { loadHeadlessAdapterHubAdapter } from '../../adapters/files.js';
import type { NamedFusion } from '../../adapters/fusion.js';
import type { HostTensor } from '../../engine/index.js';
import { DEFAULT_QA_OPTIONS, isTokenHead, type HeadConfig } from '../../heads/head.js';
import { HEAD_POOLINGS, POOLING_HELP, headPoolingFor, type HeadPooling } from '../../heads/pooling.js';
import { DEFAULT_BASE, loadBase, type BaseModel } from '../../models/base.js';
import { devSplitNames, loadTask, positiveLabelOf, type TaskData, type TaskSpec } from '../../train/data/index.js';
import { describeMode, isAdapterSetup, MODE_NAMES, positionsTaken, type AdapterSetupMode, type SingleTrainingMode, type TrainingMode } from '../../train/modes.js';
import { resolveMaxLength } from '../../train/max-length.js';
import { TaskModel } from '../../train/task-model.js';
import { loadSavedTask } from '../../train/task-io.js';
import type { TaskMetricValues } from '../../train/training-data.js';
import { sentenceTask, tokenTask, type ExperimentTask } from '../../train/experiments/experiment-task.js';
import { DEFAULT_LR, type TrainDataOptions, type TrainResult } from '../../train/trainer.js';
import { loadTokenTask, type TokenTaskSpec } from '../../train/token-tasks/index.js';
import { addDataOptions, defaultTaskName, describeSpec, describeTokenSpec, TASK_NAME_HELP, taskSpecFromFlags, tokenTaskSpecFromFlags, type DataFlags } from '../data-options.js';
import { formatBytes, formatDuration, formatInt, formatPercent, keyValues, printJson, table } from '../format.js';
import {
  adapterArg, adapterDropArg, fusionConfigArg, hasSetupFlags, intArg, intListArg, listArg, modeFromFlags, namesArg, promptStart, numberArg, pointsArg, refuseSingleAdapterFlags, rolesArg, sanitizeTaskName,
  setupFromFlags, withArg, type ModeFlags, type SetupFlags, type SetupPlan,
} from '../options.js';
import { TrainProgress } from '../progress.js';
import { withInterrupt } from '../interrupt.js';
import { baseSource, readManifest, writeRunRecord } from '../saved-task.js';
import { cliBaseOptions } from '../download-progress.js';
import { addFrozenPrecisionOptions, frozenPrecisionOptions, type FrozenPrecisionFlags } from '../frozen-precision-options.js';
import { DEFAULT_CACHE_MEMORY_BYTES } from '../../train/frozen-cache-options.js';
import { frozenRecord } from '../../train/frozen-precision.js';
import { LENGTH_BUCKETING_HELP, MULTI_TASK_HELP, runMultiTaskTrain, SAMPLING_HELP, type MultiTaskFlags } from './train-multi-task.js';
import { checkOutDir, makeOutDir } from '../../util/out-dir.js';

/** Flags of `adapterkit train`. */
interface TrainFlags extends DataFlags, ModeFlags, SetupFlags, FrozenPrecisionFlags {
  base: string;
  revision?: string;
  trainPooler?: boolean;
  headLayers?: number;
  pooling?: HeadPooling;
  epochs: number;
  batchSize: number;
  maxLength?: number;
  lr?: number;
  weightDecay: number;
  warmupRatio: number;
  clipNorm: number;
  dropout?: number;
  seed: number;
  evalEvery?: number;
  patience?: number;
  maxSteps?: number;
  threads?: number;
  cacheFrozenLayers?: boolean;
  cacheMemory?: number;
  out?: string;
  name?: string;
  resume?: boolean;
  json?: boolean;
  docStride?: number;
  maxAnswerLength?: number;
  nBest?: number;
  nullThreshold?: number;
}

const EXAMPLES = `
Examples:
  # Houlsby adapters as in the paper (m=64, layer norms trained) on the embedded USE-lite base
  $ adapterkit train --dataset spam

  # other methods: AdapterHub's Houlsby / Pfeiffer / parallel presets, LoRA, IA3
  $ adapterkit train --dataset spam --method pfeiffer --reduction-factor 8
  $ adapterkit train --dataset spam --method lora --lora-r 16 --targets query,value,intermediate
  $ adapterkit train --dataset spam --adapter-config '{"architecture": "lora", "r": 4, "alpha": 8}'
  $ adapterkit train --dataset spam --adapter-config path/to/adapter_config.json

  # several named adapters in one model (AdapterHub's compositions): a trained adapter loaded
  # frozen under the name lang, a new LoRA named task stacked on it (MAD-X style: only task trains)
  $ adapterkit train --dataset spam --with lang=runs/brown-pfeiffer/best --adapter task=lora:r=8,alpha=16 \\
      --compose 'Stack(lang, task)'
  $ adapterkit train --dataset spam --adapter a=pfeiffer:reduction_factor=8 --adapter b=ia3 --compose 'Average(a, b, weights=[3, 1])'
  $ adapterkit train --dataset spam --with a=runs/x/best --with b=runs/y/best --compose 'Average(a, b)' --train-adapter a,b
  # AdapterFusion (Pfeiffer et al. 2021): adapters trained on other tasks, loaded frozen, and a new
  # fusion layer (AdapterHub's dynamic preset) that learns to combine them, trained with the head
  $ adapterkit train --dataset spam --with a=runs/x/best --with b=runs/y/best --with c=runs/z/best --fuse a,b,c
  $ adapterkit train --dataset spam --with a=runs/x/best --with b=runs/y/best --compose 'Fuse(a, b)' --fusion-config static
  $ adapterkit train --dataset spam --with lang=runs/l/best --with a=runs/x/best --with b=runs/y/best --compose 'Stack(lang, Fuse(a, b))'
  # AdapterHub's annealed softmax temperature: T = 50 at the first forward call, 0.05 less at each
  # call after (training steps and dev evaluation batches alike), down to 1; --resume restores it
  $ adapterkit train --dataset spam --with a=runs/x/best --with b=runs/y/best --fuse a,b --fusion-config '{"temperature": true}'
  # AdapterDrop: no adapters in the first layer; or robust: 0..2 layers dropped per training batch
  $ adapterkit train --dataset spam --method lora --adapter-drop 1
  # ... computing layer 0 once per example and training layer 1 from it (dropout off in layer 0)
  $ adapterkit train --dataset spam --method lora --adapter-drop 1 --cache-frozen-layers
  $ adapterkit train --dataset spam --adapter task=houlsby --adapter-drop robust:2

  # a GLUE task on a local BERT checkpoint, smaller adapters, early stopping
  $ adapterkit train --glue SST-2 --data glue_data/SST-2 --base ./bert-base-uncased \\
      --adapter-size 16 --eval-every 500 --patience 5 --out runs/sst2

  # your own CSV files, a baseline that trains only the top 2 layers, JSON summary
  $ adapterkit train --train train.csv --dev dev.csv --text review --label stars \\
      --mode top-k --top-k 2 --json

  # several tasks in one run, mixed batches (each example its own adapter and head); each task's
  # best checkpoint in <out>/<task>/best; CSV tasks as name=<dir> with train.csv and dev.csv
  $ adapterkit train --multi-task spam,sotu --method lora --sampling temperature=2 --out runs/mt
  $ adapterkit train --multi-task reviews=data/reviews,topics=data/topics --text text --label label
  $ adapterkit train --multi-task spam,brown-pos --out runs/mt-pos   # a tagging task beside a classifier

  # token-level tasks: part-of-speech tagging on the built-in Brown corpus, NER from CoNLL
  # files, extractive QA from SQuAD files
  $ adapterkit train --dataset brown-pos --epochs 1
  $ adapterkit train --task-kind tagging --train train.conll --dev dev.conll --base ./bert-base-cased
  $ adapterkit train --task-kind qa --train train-v2.0.json --dev dev-v2.0.json --base ./bert-base-uncased \\
      --max-length 384 --doc-stride 128

Press Ctrl-C once to stop after the current step (a checkpoint is saved; continue with
--resume), twice to exit at once.`;

/** Registers `adapterkit train`. */
export function registerTrain(program: Command): void {
  const lrs = Object.entries(DEFAULT_LR).map(([k, v]) => `${k} ${v.toExponential()}`).join(', ');
  const cmd = program
    .command('train')
    .description('Train a task: adapters inside a frozen base model (or a baseline mode); the best dev checkpoint is saved to <out>/best.');
  addDataOptions(cmd, { trainRequired: true });
  cmd
    .option('--base <source>', `base model: "${DEFAULT_BASE}" (embedded), a local model directory, or a Hugging Face hub id`, DEFAULT_BASE)
    .option('--revision <rev>', 'hub revision (branch, tag or commit) of --base')
    .addOption(new Option('--mode <mode>', 'what trains').choices([...MODE_NAMES]).default('adapters'))
    .addOption(new Option('--method <preset>', 'adapter method: paper (Houlsby et al. as published: m=64, GELU, layer norms trained), houlsby / pfeiffer / parallel (AdapterHub\'s double_seq_bn / seq_bn / par_bn), compacter / compacter++ (AdapterHub\'s Compacter presets: PHM layers on double_seq_bn / seq_bn), lora, ia3 (AdapterHub\'s placement), ia3-peft (PEFT\'s), prefix / prefix-flat (prefix tuning, Li & Liang 2021: AdapterHub\'s prefix_tuning with its MLP, prefix_tuning_flat), prompt (prompt tuning, Lester et al. 2021: AdapterHub\'s prompt_tuning, joined after the embeddings), prompt-peft (PEFT\'s PROMPT_TUNING: joined before the word embeddings), mam (AdapterHub\'s MAMConfig, He et al. 2022: prefix tuning + a parallel adapter as one adapter), unipelt (AdapterHub\'s UniPELTConfig, Mao et al. 2022: gated prefix tuning, seq_bn and LoRA) (default: paper)').choices([...PRESET_NAMES]))
    .option('--adapter-config <file|json>', 'adapter config in AdapterHub\'s format (an adapter_config.json, its "config" object, or a preset name such as seq_bn), or adapterkit\'s (with "method"); instead of --method')
    .option('--adapter-size <m>', 'bottleneck width m (paper preset: 64; AdapterHub presets use --reduction-factor)', intArg(1))
    .option('--reduction-factor <r>', 'bottleneck width = int(hidden width // r) as AdapterHub computes it, instead of --adapter-size', numberArg(0, Infinity, { exclusiveMin: true }))
    .addOption(new Option('--adapter-activation <fn>', 'bottleneck nonlinearity (default: the preset\'s)').choices([...BOTTLENECK_ACTIVATIONS]))
    .option('--adapter-init-std <std>', 'std of the bottleneck\'s truncated-normal near-identity initialisation (default: 0.01)', numberArg(0, 1, { exclusiveMin: true, exclusiveMax: true }))
    .option('--adapter-points <sub-layers>', 'bottleneck adapters after: attention,ffn (default: the preset\'s)', pointsArg)
    .option('--lora-r <r>', 'LoRA rank (default: 8)', intArg(1))
    .option('--lora-alpha <a>', 'LoRA alpha: the update is scaled by alpha / r (default: 8)', numberArg(0, Infinity, { exclusiveMin: true }))
    .option('--lora-dropout <p>', 'dropout on LoRA\'s input while training (default: 0)', numberArg(0, 1, { exclusiveMax: true }))
    .option('--targets <projections>', 'projections LoRA adapts or IA3 rescales: query,key,value,attention_output,intermediate,output (LoRA default: query,value; IA3: key,value,intermediate)', rolesArg)
    .option('--prefix-length <n>', 'prefix tuning: prefix vectors joined to the keys and values of every attention (default: 30, AdapterHub\'s)', intArg(1))
    .option('--prompt-length <n>', 'prompt tuning: prompt vectors joined to the input (default: 10, AdapterHub\'s)', intArg(1))
    .option('--prompt-init-text <text>', 'prompt tuning: start the prompt from the word embeddings of this text\'s tokens (AdapterHub\'s prompt_init from_string; default: uniform in [-0.5, 0.5])')
    .addOption(new Option('--prompt-combine <where>', 'prompt tuning: prefix (before every token, [CLS] included: the pooler reads the first prompt vector) or prefix_after_bos (after [CLS] / <s>) (default: prefix)').choices(['prefix', 'prefix_after_bos']))
    .option('--leave-out <layers>', 'layers without adapters, e.g. 0,1 (default: none)', intListArg)
    .option('--train-layer-norms', 'train the base\'s layer norms with the adapter (default: only with --method paper)')
    .option('--no-train-layer-norms', 'keep the base\'s layer norms frozen')
    .option('--adapter <name=method[:options]>', 'a named adapter of a setup (repeatable): a preset with AdapterHub config fields, e.g. task=lora:r=4,alpha=8 or lang=pfeiffer:reduction_factor=8,leave_out=[0], or name=<adapter_config.json|JSON>; trains unless --train-adapter says otherwise', adapterArg)
    .option('--with <name=task-dir>', 'load the adapter of a saved task (an adapterkit, AdapterHub or setup directory; for a setup, its adapter called <name>) into the setup under <name>, frozen unless --train-adapter names it (repeatable)', withArg)
    .option('--compose <composition>', 'how the setup\'s adapters combine, AdapterHub\'s blocks as text: Stack(lang, task), Average(a, b, weights=[1, 3]) (default: Stack of the --with then --adapter adapters in order)')
    .option('--train-adapter <names>', 'which adapters of the setup train, comma-separated (default: every --adapter; --with adapters stay frozen)', namesArg)
    .option('--fuse <names>', 'AdapterFusion (Pfeiffer et al. 2021) over these adapters of the setup, comma-separated (at least two bottleneck adapters, usually --with ones): short for --compose \'Fuse(a, b, c)\'; a new fusion layer trains with the head, the fused adapters stay frozen unless --train-adapter names them', namesArg)
    .option('--fusion-config <preset|json|file>', 'config of the fusion layers the composition\'s Fuse blocks run: dynamic (AdapterHub\'s default: value matrix started at the identity and regularised towards it) or static (no value matrix), AdapterHub\'s AdapterFusionConfig fields as JSON over dynamic (e.g. \'{"query_before_ln": true}\'; "temperature": true anneals the softmax temperature as AdapterHub does: 50 at a fusion\'s first forward call, 0.05 less at every call after, training and evaluation alike, down to 1, restarting at 50 when the task is loaded again), or an adapter_fusion_config.json (default: dynamic)', (v: string) => fusionConfigArg(v))
    .option('--fusion-from <dir>', 'start a fusion from a trained one: a folder AdapterHub\'s save_adapter_fusion wrote, or <task>/<fusion name> of a fused task (its adapter_fusion_config.json and weights; the name and adapters must be those of a Fuse block); repeatable', listArg)
    .option('--adapter-drop <n|robust:n>', 'AdapterDrop (Rücklé et al. 2021): no adapters in the first n layers; robust:n draws 0..n per training batch (inference keeps every layer\'s adapters)', adapterDropArg)
    .option('--top-k <k>', 'with --mode top-k: how many top layers train', intArg(1))
    .option('--train-pooler', 'train the base\'s pooler too (default: frozen except in full and top-k modes)')
    .option('--head-layers <n>', 'task head: 1 = linear, 2 = dense + tanh + linear (default: 1)', intArg(1, 2))
    .addOption(new Option('--pooling <how>', `what a sentence-level head (classification, regression, multilabel) reads: ${HEAD_POOLINGS.map((p) => `${p} = ${POOLING_HELP[p]}`).join('; ')} (default: the base's sentence-transformers pooling, from modules.json and 1_Pooling/config.json, where it has one (cls or mean); else encoder)`).choices([...HEAD_POOLINGS]))
    .option('--epochs <n>', 'training epochs', intArg(1), 3)
    .option('--batch-size <n>', 'examples per batch', intArg(1), 32)
    .option('--max-length <n>', 'tokens per example, longer inputs are truncated (default: 128, capped at the base\'s limit)', intArg(2))
    .option('--lr <rate>', `peak learning rate (default per mode: ${lrs})`, numberArg(0, Infinity, { exclusiveMin: true }))
    .option('--weight-decay <w>', 'AdamW weight decay', numberArg(0), 0.01)
    .option('--warmup-ratio <r>', 'share of the steps with linear warm-up', numberArg(0, 1), 0.1)
    .option('--clip-norm <n>', 'clip gradients at this global norm', numberArg(0, Infinity, { exclusiveMin: true }), 1)
    .option('--dropout <p>', 'dropout while training, in the encoder and the head (default: the base\'s configuration; head 0.1)', numberArg(0, 1, { exclusiveMax: true }))
    .option('--seed <n>', 'random seed (initialisation, dropout, data order)', intArg(0), 42)
    .option('--eval-every <steps>', 'evaluate on dev every N steps (default: after each epoch)', intArg(1))
    .option('--patience <evals>', 'stop after this many evaluations without dev improvement (default: never)', intArg(1))
    .option('--max-steps <n>', 'stop after this many optimizer steps (default: no limit)', intArg(1))
    .option('--threads <n>', 'ONNX Runtime threads (default: ONNX Runtime\'s choice)', intArg(1))
    .option('--cache-frozen-layers', 'when the lowest layers train nothing (--adapter-drop n, --leave-out 0,1,..., --mode top-k; trained layer norms count as training), compute the input of the lowest layer that trains once per training example (a pre-pass before the first step) and run every step from that layer up. Dropout is off in the frozen layers and the embeddings (it changes the training, hence opt-in); with --dropout 0 the losses are those of the run without it')
    .option('--cache-memory <MiB>', `with --cache-frozen-layers: memory the cached inputs may take (default: ${DEFAULT_CACHE_MEMORY_BYTES / 1024 ** 2}); beyond it they go to a file in --out, read back each batch`, numberArg(0));
  addFrozenPrecisionOptions(cmd, 'training and in scoring the test split');
  cmd
    .option('--out <dir>', 'run directory (default: runs/<task>-<mode>)')
    .option('--name <task>', TASK_NAME_HELP)
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--multi-task <tasks>', MULTI_TASK_HELP)
    .option('--sampling <how>', SAMPLING_HELP)
    .option('--no-length-bucketing', LENGTH_BUCKETING_HELP)
    .option('--json', 'print the final summary as JSON on stdout (epochs count from 1, as in the text summary)')
    .option('--doc-stride <n>', `QA: overlap in tokens between context windows (default: ${DEFAULT_QA_OPTIONS.stride}, capped at half a window)`, intArg(0))
    .option('--max-answer-length <n>', `QA: longest answer in tokens (default: ${DEFAULT_QA_OPTIONS.maxAnswerLength})`, intArg(1))
    .option('--n-best <n>', `QA: start and end candidates per window (default: ${DEFAULT_QA_OPTIONS.nBest})`, intArg(1))
    .option('--null-threshold <t>', 'QA, SQuAD v2: answer "" when null score - best span score exceeds this (default: 0)', numberArg(-Infinity, Infinity))
    .addHelpText('after', EXAMPLES)
    .action(async (flags: TrainFlags & { multiTask?: string; sampling?: string; lengthBucketing?: boolean }, command: Command) => {
      if (flags.multiTask !== undefined) return runMultiTaskTrain(flags as unknown as MultiTaskFlags);
      if (flags.sampling !== undefined) fail('BAD_CONFIG', '--sampling applies to --multi-task runs only');
      if (flags.lengthBucketing === false) fail('BAD_CONFIG', '--no-length-bucketing applies to --multi-task runs only (single-task runs always bucket by length)');
      await runTrain(flags, command);
    });
}

function say(line = ''): void {
  process.stderr.write(`${line}\n`);
}

function resumeHint(command: Command, out: string): string {
  const raw = (command.parent as unknown as { rawArgs?: string[] } | null)?.rawArgs;
  const args = raw && raw.length ? raw.filter((a) => a !== '--resume') : undefined;
  const quoted = args?.map((a) => (/^[\w./@:=,+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  return quoted ? `adapterkit ${quoted}${args?.includes('--out') ? '' : ` --out ${out}`} --resume` : `the same command with --out ${out} --resume`;
}

/** A task ready to train: what differs between sentence-level and token-level tasks. */
interface PreparedTask {
  taskName: string;
  /** Where the task name comes from, for the plan. */
  nameFrom: string;
  /** Data source for the run record. */
  record: TaskSpec | TokenTaskSpec;
  /** Description lines. */
  data: string;
  examples: string;
  dev: string;
  defaultMaxLength: number;
  head(base: BaseModel): HeadConfig;
  run(model: TaskModel, o: TrainDataOptions): Promise<TrainResult>;
  /** The --test file: scored with best/ at the end, or why not (no labels). */
  test?: { readonly examples: number; score(model: TaskModel, maxLength: number): Promise<TaskMetricValues> } | { readonly unlabeled: string };
}

function reportSkipped(skipped: readonly { file: string; line: number; reason: string }[]): void {
  if (!skipped.length) return;
  const first = skipped.slice(0, 3).map((s) => `${s.file}:${s.line}: ${s.reason}`).join('; ');
  say(`skipped ${skipped.length} bad row(s): ${first}${skipped.length > 3 ? '; ...' : ''}`);
}

/** The head flags; a sentence-level head's pooling is --pooling, else the base's sentence-transformers pooling (heads/pooling.ts). */
function headFlags(f: TrainFlags, kind: HeadConfig['kind'], base: BaseModel): Partial<HeadConfig> {
  const pooling = isTokenHead({ kind }) ? f.pooling : headPoolingFor(f.pooling, base).pooling;
  return {
    ...(f.headLayers !== undefined ? { layers: f.headLayers as 1 | 2 } : {}), ...(f.dropout !== undefined ? { dropout: f.dropout } : {}),
    ...(pooling !== undefined && pooling !== 'encoder' ? { pooling } : {}),
  };
}

/** How a prepared task builds its head, trains and scores --test: the library's experiment view of the task. */
function fromExperimentTask(t: ExperimentTask, f: TrainFlags): Pick<PreparedTask, 'head' | 'run' | 'test'> {
  const test: PreparedTask['test'] = f.test === undefined ? undefined
    : t.scoredSplits.includes('test') ? { examples: t.sizes.test ?? 0, score: (model, maxLength) => t.score(model, 'test', { maxLength, batchSize: 64 }) }
      : { unlabeled: `${f.test} has no labels: not scored (adapterkit predict gives its predictions)` };
  return { head: (base) => t.head(headFlags(f, t.kind, base)), run: (model, o) => t.train(model, o), ...(test ? { test } : {}) };
}

/** The plan's pooling line of a sentence-level head, when --pooling or the base's sentence-transformers config chose it. */
function poolingLine(head: HeadConfig, f: TrainFlags, base: BaseModel): [string, string][] {
  if (isTokenHead(head)) return [];
  const chosen = headPoolingFor(f.pooling, base);
  return chosen.from === 'default' ? [] : [['pooling', `${chosen.pooling} (${chosen.from === '--pooling' ? '--pooling' : `from the base's ${chosen.from}; --pooling to choose`})`]];
}

/** Where the task name comes from (the plan's "task" line). */
function nameSource(f: TrainFlags): string {
  if (f.name !== undefined) return '--name';
  if (f.dataset !== undefined || f.glue !== undefined || f.train === undefined) return 'the dataset\'s name; --name to choose';
  const { from } = defaultTaskName(f.train, { label: f.label, kind: f.taskKind ?? 'classification' });
  return `from the ${from}; --name to choose`;
}

/** The plan's word on the positive class, when a metric scores one. */
function positiveNote(data: TaskData, spec: TaskSpec): string {
  const p = positiveLabelOf(data);
  if (p === undefined) return '';
  if (spec.positiveLabel !== undefined) return `; positive class ${p}`;
  return `; positive class ${p} (class 1${'files' in spec && spec.labels === undefined ? ' of the sorted labels' : ''}; --positive-label to choose)`;
}

async function prepareSentenceTask(f: TrainFlags, spec: TaskSpec): Promise<PreparedTask> {
  const data = await loadTask(spec);
  reportSkipped(data.report.skipped);
  const trainSet = data.splits.train;
  if (!trainSet || trainSet.length === 0) fail('BAD_DATA', `${describeSpec(spec)}: the training split is empty`);
  const devName = devSplitNames(data)[0];
  const dev = devName ? data.splits[devName] : undefined;
  return {
    taskName: f.name ?? sanitizeTaskName(data.name),
    nameFrom: nameSource(f),
    record: spec,
    data: `${describeSpec(spec)} (${data.kind}${data.pair ? ', sentence pairs' : ''}; labels: ${data.labels.join(', ') || 'score'}${positiveNote(data, spec)})`,
    examples: Object.entries(data.splits).map(([k, v]) => `${k} ${formatInt(v.length)}`).join(', '),
    dev: dev ? `${devName} (${formatInt(dev.length)} examples; model selection on ${data.metrics[0]})` : 'none: the last step is saved',
    defaultMaxLength: 128,
    ...fromExperimentTask(sentenceTask(data, { requireDev: false }), f),
  };
}

async function prepareTokenTask(f: TrainFlags, spec: TokenTaskSpec): Promise<PreparedTask> {
  const t = await loadTokenTask(spec);
  reportSkipped(t.skipped);
  const splits: Record<string, readonly unknown[]> = t.kind === 'tagging' ? t.data.splits : t.splits;
  const trainSet = splits.train;
  if (!trainSet || trainSet.length === 0) fail('BAD_DATA', `${describeTokenSpec(spec)}: the training split is empty`);
  const devCount = splits.dev?.length ?? 0;
  const common = {
    taskName: f.name ?? sanitizeTaskName(t.name),
    nameFrom: nameSource(f),
    record: spec,
    examples: Object.entries(splits).map(([k, v]) => `${k} ${formatInt(v.length)}`).join(', '),
  };
  if (t.kind === 'tagging') {
    const d = t.data;
    const tokens = (d.splits.train ?? []).reduce((n, s) => n + s.tokens.length, 0);
    return {
      ...common,
      data: `${describeTokenSpec(spec)} (tagging, ${d.scheme} scheme, ${formatInt(tokens)} training words; tags: ${d.tagSet.join(' ')})`,
      dev: devCount ? `dev (${formatInt(devCount)} sentences; model selection on ${d.metrics[0]})` : 'none: the last step is saved',
      defaultMaxLength: 128,
      ...fromExperimentTask(tokenTask(t, { requireDev: false }), f),
    };
  }
  const qa = {
    ...DEFAULT_QA_OPTIONS, allowNoAnswer: t.v2,
    ...(f.docStride !== undefined ? { stride: f.docStride } : {}),
    ...(f.maxAnswerLength !== undefined ? { maxAnswerLength: f.maxAnswerLength } : {}),
    ...(f.nBest !== undefined ? { nBest: f.nBest } : {}),
    ...(f.nullThreshold !== undefined ? { nullThreshold: f.nullThreshold } : {}),
  };
  return {
    ...common,
    data: `${describeTokenSpec(spec)} (extractive QA, SQuAD ${t.v2 ? 'v2.0 (unanswerable questions allowed)' : 'v1.1'}; stride ${qa.stride}, max answer ${qa.maxAnswerLength} tokens)`,
    dev: devCount ? `dev (${formatInt(devCount)} questions; model selection on f1)` : 'none: the last step is saved',
    defaultMaxLength: 384,
    ...fromExperimentTask(tokenTask(t, { requireDev: false, qa }), f),
  };
}

async function runTrain(f: TrainFlags, command: Command): Promise<void> {
  // Everything that can be checked without loading anything, first.
  const setup = setupPlanOf(f);
  const single = setup ? undefined : modeFromFlags(f);
  if (f.cacheMemory !== undefined && !f.cacheFrozenLayers) fail('BAD_CONFIG', `--cache-memory ${f.cacheMemory} is the budget of --cache-frozen-layers: give that flag too`);
  const tokenSpec = tokenTaskSpecFromFlags(f);
  const spec = tokenSpec ? undefined : taskSpecFromFlags(f);
  if (f.name !== undefined && !/^[A-Za-z0-9_-]+$/.test(f.name)) fail('BAD_CONFIG', `--name ${JSON.stringify(f.name)} may only contain letters, digits, _ and -`);
  if (!tokenSpec && [f.docStride, f.maxAnswerLength, f.nBest, f.nullThreshold].some((v) => v !== undefined)) {
    fail('BAD_CONFIG', '--doc-stride, --max-answer-length, --n-best and --null-threshold apply to QA tasks only (--task-kind qa)');
  }

  const task = tokenSpec ? await prepareTokenTask(f, tokenSpec) : await prepareSentenceTask(f, spec as TaskSpec);
  const taskName = task.taskName;
  const out = f.out ?? join('runs', `${taskName}-${setup ? sanitizeTaskName(formatComposition(setup.active).toLowerCase()) : runSuffix(single as SingleTrainingMode)}`);
  await checkOutDir(out, `--out ${out}`);

  const source = await baseSource(f.base);
  const base = await loadBase(source, cliBaseOptions(f.revision));
  const head = task.head(base);
  const built = setup ? await setupMode(setup, base) : undefined;
  const mode: TrainingMode = built?.mode ?? (single as SingleTrainingMode);
  const maxLength = resolveMaxLength(base.encoder.maxLength, f.maxLength, { fallback: task.defaultMaxLength, over: 'fail', name: '--max-length', taken: positionsTaken(mode) });
  const frozen = frozenPrecisionOptions(f, say);
  const model = TaskModel.create(base, {
    mode, head, seed: f.seed, ...frozen,
    ...(built ? { adapterWeights: built.adapterWeights } : promptStart(mode, base)),
    ...(f.dropout !== undefined ? { dropout: f.dropout } : {}),
    ...(f.threads !== undefined ? { threads: f.threads } : {}),
    ...(f.trainPooler ? { trainPooler: true } : {}),
  });

  const stats = model.stats();
  say(`adapterkit train: ${taskName} -> ${out}`);
  say(keyValues([
    ['task', `${taskName} (${task.nameFrom})`],
    ['data', task.data],
    ['examples', task.examples],
    ['base', `${base.id} (${base.encoder.family}, ${formatInt(stats.baseParams)} parameters, max ${base.encoder.maxLength} tokens)`],
    ['mode', describeMode(mode, base.encoder)],
    ...poolingLine(head, f, base),
    ...(built?.loaded.length ? [['loaded', built.loaded.join('; ')] as [string, string]] : []),
    ['trainable', `${formatInt(stats.trainableParams)} parameters (${formatPercent(stats.share)} of the base)`],
    ['per task', formatBytes(stats.bytesPerTask)],
    ...(frozen.frozenPrecision === 'int8' ? [['frozen base', 'int8 matmuls (outlier guard on the first batch)'] as [string, string]] : []),
    ['schedule', `${f.epochs} epoch(s), batch ${f.batchSize}, max length ${maxLength}, lr ${f.lr ?? DEFAULT_LR[mode.kind]}, seed ${f.seed}`],
    ['dev', task.dev],
    ...(task.test ? [['test', 'unlabeled' in task.test ? task.test.unlabeled : `${formatInt(task.test.examples)} examples, scored with the best checkpoint at the end`] as [string, string]] : []),
  ]).trimEnd());

  for (const n of built?.notes ?? []) say(`note: ${n}`);
  await makeOutDir(out, `--out ${out}`);
  // A token-level spec is stored in the same `data` field; eval tells them apart (isTokenTaskSpec).
  await writeRunRecord(out, { data: task.record, base: base.id, ...(f.revision !== undefined ? { revision: f.revision } : {}), task: taskName, maxLength, ...frozenRecord(frozen) });

  const progress = new TrainProgress({ epochs: f.epochs });
  let r: TrainResult;
  try {
    r = await withInterrupt({
      message: 'interrupt: stopping after this step and saving a checkpoint (Ctrl-C again to exit at once)',
      exitMessage: 'adapterkit: interrupted twice, exiting without saving', log: (l) => progress.log(l), beforeExit: () => progress.stop(),
    }, (signal) => task.run(model, {
      outDir: out, taskName, epochs: f.epochs, batchSize: f.batchSize, maxLength,
      ...(f.lr !== undefined ? { lr: f.lr } : {}),
      weightDecay: f.weightDecay, warmupRatio: f.warmupRatio, clipNorm: f.clipNorm, seed: f.seed,
      ...(f.evalEvery !== undefined ? { evalEvery: f.evalEvery } : {}),
      ...(f.patience !== undefined ? { patience: f.patience } : {}),
      ...(f.maxSteps !== undefined ? { maxSteps: f.maxSteps } : {}),
      resume: !!f.resume, signal, onEvent: progress.onEvent,
      ...(f.cacheFrozenLayers ? { cacheFrozenLayers: true } : {}),
      ...(f.cacheMemory !== undefined ? { cacheMemoryBytes: Math.round(f.cacheMemory * 1024 ** 2) } : {}),
    }));
  } catch (e) {
    progress.stop();
    if (e instanceof AdapterkitError && e.code === 'INTERRUPTED') say(`to continue: ${resumeHint(command, out)}`);
    throw e;
  } finally {
    await model.dispose();
  }

  for (const n of r.notes) say(`note: ${n}`);
  const test = await scoreTest(task, base, r.bestDir, maxLength, f.threads, { ...frozen, onFrozenPlan: undefined });
  const summary = {
    task: taskName, base: base.id, mode: describeMode(mode, base.encoder), out, bestDir: r.bestDir,
    steps: r.steps, epochs: r.epochsRun, epochsCompleted: r.epochsCompleted, stopReason: r.stopReason, seconds: r.seconds, examplesPerSec: r.examplesPerSec,
    lastLoss: r.lastLoss, epochLosses: r.epochLosses, best: r.best ? { ...r.best, epoch: r.best.epoch + 1 } : null, test,
    trainableParams: stats.trainableParams, baseParams: stats.baseParams, bytesPerTask: stats.bytesPerTask, ...frozenRecord(frozen),
    ...(isAdapterSetup(mode) ? { setup: setupSummary(mode, setup as SetupPlan) } : {}),
  };
  if (f.json) {
    printJson(summary);
    return;
  }
  const rows: [string, string | number][] = [
    ['task', taskName],
    ...Object.entries(r.best?.metrics ?? {}).map(([k, v]): [string, string] => [`dev ${k}`, (v as number).toFixed(4)]),
    ...(r.best ? [['best at', `step ${r.best.step} (epoch ${r.best.epoch + 1})`] as [string, string]] : []),
    ...Object.entries(test ?? {}).map(([k, v]): [string, string] => [`test ${k}`, (v as number).toFixed(4)]),
    ['steps', r.steps],
    ['epochs', r.epochsRun === r.epochsCompleted ? r.epochsRun : `${r.epochsRun} (${r.epochsCompleted} completed; stopped: ${r.stopReason})`],
    ['stopped', r.stopReason],
    ['last loss', Number.isFinite(r.lastLoss) ? r.lastLoss.toFixed(4) : 'n/a (no step run)'],
    ['time', r.steps > 0 && r.examplesPerSec > 0 ? `${formatDuration(r.seconds)} (${r.examplesPerSec.toFixed(1)} examples/s)` : formatDuration(r.seconds)],
    ['saved', r.bestDir],
  ];
  process.stdout.write(`\n${table(['result', 'value'], rows)}`);
}

/** Scores the --test file with the best checkpoint (reloaded from disk, as eval would); null without one or without labels. */
async function scoreTest(task: PreparedTask, base: BaseModel, bestDir: string, maxLength: number, threads: number | undefined, frozen: ReturnType<typeof frozenPrecisionOptions>): Promise<TaskMetricValues | null> {
  if (!task.test || 'unlabeled' in task.test) return null;
  say(`scoring the test split (${formatInt(task.test.examples)} examples) with ${bestDir}`);
  const best = await loadSavedTask(base, bestDir, { ...(threads !== undefined ? { threads } : {}), ...frozen });
  try {
    return await task.test.score(best.model, maxLength);
  } finally {
    await best.model.dispose();
  }
}

/** The run directory's suffix for a single-adapter or baseline mode: the preset (paper: `adapters`) or the mode. */
function runSuffix(mode: SingleTrainingMode): string {
  return mode.kind === 'adapters' && mode.adapter.preset !== 'paper' ? (mode.adapter.preset ?? mode.adapter.method) : mode.kind;
}

/** The setup flags checked (before anything loads), or undefined without them. */
function setupPlanOf(f: TrainFlags): SetupPlan | undefined {
  if (!hasSetupFlags(f)) return undefined;
  if (f.mode !== 'adapters') fail('BAD_CONFIG', `--adapter, --with, --compose, --fuse, --fusion-config, --train-adapter and --adapter-drop apply to --mode adapters (the mode is ${f.mode})`);
  refuseSingleAdapterFlags(f);
  return setupFromFlags(f, () => (modeFromFlags(f) as { adapter: NamedAdapter['config'] }).adapter);
}

/** The adapter called `name` (or the only one) of a saved task, with its tensors under `name`. */
function adapterOf(model: TaskModel, w: { name: string; dir: string }): { config: NamedAdapter['config']; tensors: [string, HostTensor<'float32'>][] } {
  const m = model.mode;
  const flag = `--with ${w.name}=${w.dir}`;
  let config: NamedAdapter['config'];
  let inside: string;
  if (isAdapterSetup(m)) {
    const a = m.adapters.find((x) => x.name === w.name) ?? (m.adapters.length === 1 ? m.adapters[0] : undefined);
    if (!a) fail('BAD_CONFIG', `${flag}: the task holds several adapters (${m.adapters.map((x) => x.name).join(', ')}) and none is called ${w.name}; name the one to load`);
    config = a.config;
    inside = a.name;
  } else if (m.kind === 'adapters' && m.adapter) {
    config = m.adapter;
    inside = model.adapterName;
  } else return fail('BAD_CONFIG', `${flag}: a ${m.kind} task has no adapter to load`);
  const prefix = `adapters.${inside}.`;
  const tensors = [...model.owned].filter(([k]) => isAdapterTensor(k) && k.startsWith(prefix)).map(([k, t]): [string, HostTensor<'float32'>] => [renameAdapterTensor(k, w.name), t]);
  return { config, tensors };
}

/** The setup mode of a plan: the --with adapters loaded from their tasks (on `base`), the new ones fresh. */
async function setupMode(plan: SetupPlan, base: BaseModel): Promise<{ mode: AdapterSetupMode; adapterWeights: Map<string, HostTensor<'float32'>>; loaded: string[]; notes: string[] }> {
  const adapters: NamedAdapter[] = [];
  const adapterWeights = new Map<string, HostTensor<'float32'>>();
  const loaded: string[] = [];
  const notes: string[] = [];
  for (const w of plan.loaded) {
    await readManifest(w.dir); // a missing directory, or a run directory: "did you mean runs/x/best?"
    // an adapter AdapterHub saved without a head: the adapter is all --with needs
    const headless = await loadHeadlessAdapterHubAdapter(w.dir, base.encoder, w.name);
    if (headless) {
      const config = !w.trainable && headless.config.trainLayerNorms ? checkMethodConfig({ ...headless.config, trainLayerNorms: false }) : headless.config;
      adapters.push({ name: w.name, config, trainable: w.trainable });
      for (const [k, t] of headless.tensors) adapterWeights.set(k, t);
      loaded.push(`${w.name} from ${w.dir}${w.trainable ? ' (trains on)' : ' (frozen)'}`);
      continue;
    }
    const saved = await loadSavedTask(base, w.dir);
    try {
      const { config, tensors } = adapterOf(saved.model, w);
      // a frozen adapter trains nothing, the base's layer norms included (its config says so, for the plan and the files)
      adapters.push({ name: w.name, config: !w.trainable && config.trainLayerNorms ? checkMethodConfig({ ...config, trainLayerNorms: false }) : config, trainable: w.trainable });
      for (const [k, t] of tensors) adapterWeights.set(k, t);
      loaded.push(`${w.name} from ${w.dir}${w.trainable ? ' (trains on)' : ' (frozen)'}`);
      if ([...saved.model.owned.keys()].some((k) => !isAdapterTensor(k) && !k.startsWith('head.') && !k.startsWith('pooler.'))) {
        notes.push(`${w.dir} trained the base's layer norms with its adapter; they are not part of the adapter, so here ${w.name} runs on the base's layer norms (or on those this run trains)`);
      }
    } finally {
      await saved.model.dispose();
    }
  }
  adapters.push(...plan.fresh);
  // the checks that need the encoder, with the flag named (the model checks them again)
  const flagged = <T>(flag: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof AdapterkitError) fail(e.code, `${flag}: ${e.message}`);
      throw e;
    }
  };
  const drop = plan.adapterDrop;
  if (drop) flagged(`--adapter-drop ${drop.kind === 'static' ? drop.layers : `robust:${drop.maxLayers}`}`, () => checkAdapterDrop(drop, base.encoder));
  const started = new Map<string, NamedFusion>();
  for (const dir of plan.fusionFrom ?? []) {
    const flag = `--fusion-from ${dir}`;
    const { fusion, tensors } = await readFusionDir(dir, new Map(adapters.map((a) => [a.name, a.config])), base.encoder).catch((e: unknown) => {
      if (e instanceof AdapterkitError) fail(e.code, `${flag}: ${e.message}`);
      throw e;
    });
    const planned = plan.fusions.find((x) => x.name === fusion.name);
    if (!planned) fail('BAD_CONFIG', `${flag}: fusion ${fusion.name} is not one the composition runs (it runs ${plan.fusions.map((x) => x.name).join('; ')})`);
    if (planned.adapters.join(',') !== fusion.adapters.join(',')) fail('BAD_CONFIG', `${flag}: fusion ${fusion.name} fuses ${fusion.adapters.join(', ')}, the composition's fuses ${planned.adapters.join(', ')}`);
    if (plan.fusionConfigGiven) fail('BAD_CONFIG', `${flag}: the fusion brings its own config; give --fusion-config or --fusion-from, not both`);
    if (started.has(fusion.name)) fail('BAD_CONFIG', `${flag}: fusion ${fusion.name} is started twice`);
    started.set(fusion.name, { ...planned, config: fusion.config });
    for (const [k, t] of tensors) adapterWeights.set(k, t);
    loaded.push(`fusion ${fusion.name} from ${dir} (trains on)`);
  }
  const planFusions = plan.fusions.map((x) => started.get(x.name) ?? x);
  const fusions = planFusions.length ? { fusions: planFusions } : {};
  flagged(`--compose ${formatComposition(plan.active)}`, () => {
    checkAdapters(adapters, base.encoder, planFusions);
    return checkSetup(base.encoder, adapters, plan.active, { dropBelow: drop?.kind === 'static' ? drop.layers : 0, ...fusions });
  });
  const mode: AdapterSetupMode = { kind: 'adapters', adapters, active: plan.active, ...(plan.adapterDrop ? { adapterDrop: plan.adapterDrop } : {}), ...fusions };
  return { mode, adapterWeights, loaded, notes };
}

/** The setup in the JSON summary. */
function setupSummary(mode: AdapterSetupMode, plan: SetupPlan): Record<string, unknown> {
  const from = new Map(plan.loaded.map((w) => [w.name, w.dir]));
  return {
    active: formatComposition(mode.active), adapterDrop: mode.adapterDrop ?? null,
    adapters: mode.adapters.map((a) => ({ name: a.name, method: a.config.method, preset: a.config.preset ?? null, trainable: a.trainable !== false, from: from.get(a.name) ?? null })),
    ...(mode.fusions?.length ? { fusions: mode.fusions.map((x) => ({ name: x.name, adapters: x.adapters, config: x.config, trainable: x.trainable !== false })) } : {}),
  };
}
