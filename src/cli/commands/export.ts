/**
 * `adapterkit export <task-dir> --out <dir>`: a saved task as one ONNX graph in the layout
 * transformers.js loads (onnx/model.onnx, config.json, tokenizer files). Steps go to stderr, the
 * summary to stdout.
 */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { fail } from '../../errors.js';
import { exportTask, type ExportResult } from '../../export/index.js';
import { formatBytes, formatDuration, keyValues, printJson, table } from '../format.js';
import { intArg } from '../options.js';
import { checkWritableDir } from '../../util/atomic-dir.js';
import { loadTaskDir, readManifest } from '../saved-task.js';
import { frozenPrecisionOptions, guardTexts } from '../frozen-precision-options.js';
import { DEFAULT_INT8_TOLERANCE, FROZEN_PRECISIONS } from '../../train/frozen-precision.js';
import { numberArg } from '../options.js';

interface ExportFlags {
  out: string;
  base?: string;
  revision?: string;
  maxLength?: number;
  force?: boolean;
  externalData: 'auto' | 'always' | 'never';
  frozenPrecision: 'fp32' | 'int8';
  int8Tolerance?: number;
  guardInput?: string;
  json?: boolean;
}

const EXAMPLES = `
Layout written (what transformers.js loads):
  <out>/onnx/model.onnx          the base, the adapter (LoRA/IA3 merged) and the head, fp32;
                                 inputs input_ids, attention_mask (, token_type_ids), outputs
                                 logits (start_logits, end_logits for QA)
  <out>/onnx/model_quantized.onnx  with --frozen-precision int8: the same graph with the frozen
                                 matmuls in int8 (transformers.js: { dtype: 'q8' })
  <out>/config.json              model_type, architectures, id2label/label2id, problem_type
  <out>/tokenizer.json, tokenizer_config.json   from the base (model_max_length = the task's)
The embedded use-lite base has no transformers.js tokenizer: its export (onnx/model.onnx and
config.json) runs with onnxruntime (node or web) and adapterkit's tokenizer.

Examples:
  # a saved task, for transformers.js
  $ adapterkit export runs/sst2/best --out exports/sst2
  #   then in JS: env.allowRemoteModels = false;
  #               await pipeline('text-classification', '/abs/path/to/exports/sst2')

  # a LoRA task: merged into the frozen weights, the graph costs what the bare base costs
  $ adapterkit export runs/sst2-lora/best --out exports/sst2-lora --force

  # also onnx/model_quantized.onnx, the outlier guard run on your own texts (one per line)
  $ adapterkit export runs/sst2/best --out exports/sst2 --frozen-precision int8 --guard-input dev.txt
  #   then in JS: await pipeline('text-classification', '/abs/path/to/exports/sst2', { dtype: 'q8' })

  # an AdapterHub directory (no adapterkit.json): name the base
  $ adapterkit export my-adapter --base bert-base-uncased --out exports/my-adapter --json`;

/** Registers `adapterkit export`. */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description('Export a saved task as one ONNX inference graph in the transformers.js layout (onnx/model.onnx, config.json, tokenizer files); the output directory is written atomically.')
    .argument('<task-dir>', 'task directory written by train (e.g. runs/<task>-<mode>/best)')
    .requiredOption('--out <dir>', 'directory to write (must not exist, unless --force)')
    .option('--base <source>', 'base model (default: the one recorded in the task\'s adapterkit.json)')
    .option('--revision <rev>', 'hub revision of --base')
    .option('--max-length <n>', 'longest input in tokens, written as model_max_length (default: the length used in training)', intArg(2))
    .option('--force', 'replace --out if it exists')
    .addOption(new Option('--external-data <when>', 'weights in onnx/model.onnx_data: auto (near protobuf\'s 2 GB limit), always, never').choices(['auto', 'always', 'never']).default('auto'))
    .addOption(new Option('--frozen-precision <p>', 'int8 also writes onnx/model_quantized.onnx: each frozen linear weight of the base quantised per output column and run by ONNX Runtime\'s DynamicQuantizeMatMul, as adapterkit\'s --frozen-precision int8 runs it (the adapter, head, embeddings and norms stay fp32); an outlier guard measures every matmul\'s int8 output against fp32 on the --guard-input texts and keeps 8-bit blocks (MatMulNBits) or fp32 where it is off').choices([...FROZEN_PRECISIONS]).default('fp32'))
    .option('--int8-tolerance <e>', `with --frozen-precision int8: the largest relative error of a matmul's int8 output the guard accepts (default: ${DEFAULT_INT8_TOLERANCE})`, numberArg(0, 1, { exclusiveMin: true }))
    .option('--guard-input <file>', 'with --frozen-precision int8: texts (one per line, at most 32) the outlier guard runs on (default: a few built-in English sentences)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (dir: string, flags: ExportFlags) => {
      await runExport(dir, flags);
    });
}

function printSummary(r: ExportResult, task: string, seconds: number): void {
  const out = process.stdout;
  out.write(`exported ${task} to ${r.dir} in ${formatDuration(seconds)}\n`);
  out.write(table(['file', 'size'], r.files.map((f) => [f.path, formatBytes(f.bytes)])));
  out.write(keyValues([
    ['architecture', r.architecture ?? '(none: not a transformers.js model type)'],
    ['inputs', r.inputs.join(', ')],
    ['outputs', r.outputs.join(', ')],
    ['adapter', r.merged ? 'merged into the frozen weights' : 'in the graph as trained'],
    ['tokenizer.json', r.tokenizer],
    ...(r.quantized ? [['int8', `onnx/model_quantized.onnx is ${(100 * r.quantized.sizeRatio).toFixed(0)} % of model.onnx; ${r.quantized.nodes.int8} DynamicQuantizeMatMul, ${r.quantized.nodes['int8-block']} MatMulNBits nodes, ${r.quantized.fp32Weights.length} frozen matmuls kept fp32`] as [string, string]] : []),
  ]));
  if (r.runsWith === 'transformers.js' && r.pair) {
    const dir = resolve(r.dir);
    out.write(`runs with transformers.js (a sentence-pair task: tokenizer and model, not the pipeline): env.allowRemoteModels = false;\n  const tokenizer = await AutoTokenizer.from_pretrained('${dir}'); const model = await AutoModelForSequenceClassification.from_pretrained('${dir}');\n  const { logits } = await model(await tokenizer(text, { text_pair }))\n`);
    if (r.quantized) out.write(`  the int8 file: AutoModelForSequenceClassification.from_pretrained('${dir}', { dtype: 'q8' })\n`);
    out.write('  or with onnxruntime (node or web) directly on onnx/model.onnx\n');
  } else if (r.runsWith === 'transformers.js') {
    out.write(`runs with transformers.js: env.allowRemoteModels = false; await pipeline('${r.pipeline}', '${resolve(r.dir)}')\n`);
    if (r.quantized) out.write(`  the int8 file: await pipeline('${r.pipeline}', '${resolve(r.dir)}', { dtype: 'q8' })\n`);
    out.write('  or with onnxruntime (node or web) directly on onnx/model.onnx\n');
  }
  else if (r.runsWith === 'onnxruntime + tokenizer.json') out.write('runs with onnxruntime (node or web) on onnx/model.onnx, fed by tokenizer.json (transformers.js\'s AutoTokenizer or adapterkit\'s): transformers.js has no model class for this head on this family\n');
  else out.write('runs with onnxruntime (node or web) on onnx/model.onnx, fed by adapterkit\'s tokenizer: this base has no transformers.js tokenizer\n');
  for (const n of r.notes) out.write(`note: ${n}\n`);
}

async function runExport(dir: string, f: ExportFlags): Promise<void> {
  const int8 = f.frozenPrecision === 'int8';
  if (!int8 && f.guardInput !== undefined) fail('BAD_CONFIG', '--guard-input applies to --frozen-precision int8 only');
  const frozen = frozenPrecisionOptions(f, (line) => {
    if (!f.json) process.stderr.write(`${line}\n`);
  });
  const texts = int8 ? await guardTexts(f.guardInput) : undefined;
  const manifest = await readManifest(dir); // fails early on a missing task directory
  await checkWritableDir(f.out, { overwrite: !!f.force, overwriteHint: '--force', keep: [dir] }); // and on an existing --out, or one holding the task
  const t0 = performance.now();
  const step = (line: string) => {
    if (!f.json) process.stderr.write(`${line}...\n`);
  };
  step(`loading ${dir}`);
  const { saved, maxLength } = await loadTaskDir(dir, { base: f.base, revision: f.revision, maxLength: f.maxLength, model: frozen, inference: true });
  const model = saved.model;
  const exportLength = f.maxLength ?? maxLength;
  try {
    const r = await exportTask(model, f.out, {
      maxLength: exportLength,
      name: manifest?.name ?? saved.manifest.name,
      overwrite: !!f.force,
      overwriteHint: '--force',
      externalData: f.externalData === 'always' ? true : f.externalData === 'never' ? false : 'auto',
      frozenPrecision: f.frozenPrecision,
      ...(texts ? { guardBatch: model.base.tokenizer.encode(texts, Math.min(128, exportLength)) } : {}),
      onStep: step,
    });
    const seconds = (performance.now() - t0) / 1000;
    if (f.json) printJson({ task: saved.manifest.name, ...r, seconds });
    else printSummary(r, saved.manifest.name, seconds);
  } finally {
    await model.dispose();
  }
}
