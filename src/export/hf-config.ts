/**
 * What an exported task tells transformers.js in `config.json`, and which tasks it can express.
 *
 * Read in transformers.js's own loading code: `src/` of @huggingface/transformers 4.3.2 (the npm
 * package the tests run; the same logic is in huggingface/transformers.js, packages/transformers/src,
 * commit 5ed4c5c0):
 * - `models/auto/modeling_auto.js`, `models/registry.js`: the model class comes from
 *   `config.model_type` (every family in {@link HF_FAMILIES}) and the pipeline's task
 *   (`BertForSequenceClassification`, `…ForTokenClassification`, `…ForQuestionAnswering`); it
 *   has no `AlbertForTokenClassification` and no `ModernBertForQuestionAnswering`;
 *   `architectures` only classifies the model (encoder-only, …) when its files are listed
 *   (`utils/model_registry/resolve_model_type.js`).
 * - `models/modeling_utils.js` (`encoder_forward`), `models/session.js` (`validateInputs`): the
 *   session is fed by input name: the tokenizer's outputs picked by the graph's input names
 *   (`input_ids`, `attention_mask`, and `token_type_ids`, all-zero when the tokenizer gives none,
 *   only where the graph has it: not for DistilBERT, MPNet, ModernBERT, DeBERTa-v3 with
 *   `type_vocab_size: 0`); no family-specific input is built; outputs are read by name: `logits`
 *   (`models/modeling_outputs.js`), `start_logits` and `end_logits` for question answering
 *   (`pipelines/question-answering.js`).
 * - `pipelines/text-classification.js`: labels from `id2label`; scores are softmax of the logits,
 *   or sigmoid when `problem_type` is `multi_label_classification`. Nothing else is read, so a
 *   regression output cannot be expressed (its one logit would always score 1.0).
 * - `pipelines/token-classification.js`: `id2label`, softmax per token.
 * - `models/session.js`, `utils/dtypes.js`: the file is `onnx/model<suffix>.onnx`, the suffix
 *   chosen by `transformers.js_config.dtype` (`fp32` → none); without it Node picks fp32 but the
 *   browser's wasm device picks q8 (`model_quantized.onnx`), hence `dtype: "fp32"` here.
 * - `utils/model-loader.js`: external data is loaded only when `transformers.js_config.use_external_data_format`
 *   says so, from `onnx/model.onnx_data`.
 * - Tokenizer side: see `tokenizer-files.ts`.
 *
 * The head runs inside the exported graph, so two-layer heads export exactly; `architectures`
 * names the Hugging Face class whose outputs the graph has.
 */
import { fail } from '../errors.js';
import type { HeadConfig, HeadKind } from '../heads/head.js';
import { FAMILIES } from '../models/bert/names.js';
import type { Encoder } from '../models/encoder.js';

/** What an encoder family is called on the Hugging Face side, and what transformers.js runs of it. */
export interface HfFamily {
  /** Class name prefix: `Bert`, `XLMRoberta`, `DebertaV2`, `MPNet`, … */
  readonly classPrefix: string;
  /**
   * `tokenizer_class` written into tokenizer_config.json when the base's has none (transformers.js
   * picks its tokenizer class by it; `…Tokenizer` classes that return token type ids matter for pairs).
   */
  readonly tokenizerClass: string;
  /**
   * The head kinds transformers.js 4.3.2 has a model class for (`models/registry.js`:
   * `MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES`, `…TOKEN_CLASSIFICATION…`, `…QUESTION_ANSWERING…`).
   * The others export all the same and run in onnxruntime.
   */
  readonly transformersJs: readonly HeadKind[];
}

const ALL_HEADS: readonly HeadKind[] = ['classification', 'multilabel', 'tagging', 'qa'];

/**
 * Every family export knows, keyed by config.json `model_type` (the BERT family's records give
 * their class names). USE-lite is not here: it has no Hugging Face model type.
 */
export const HF_FAMILIES: Readonly<Record<string, HfFamily>> = {
  ...Object.fromEntries(Object.entries(FAMILIES).map(([family, r]) => {
    const classPrefix = r.classificationClass.replace(/ForSequenceClassification$/, '');
    return [family, { classPrefix, tokenizerClass: `${classPrefix}Tokenizer`, transformersJs: ALL_HEADS }];
  })),
  albert: { classPrefix: 'Albert', tokenizerClass: 'AlbertTokenizer', transformersJs: ['classification', 'multilabel', 'qa'] },
  'deberta-v2': { classPrefix: 'DebertaV2', tokenizerClass: 'DebertaV2Tokenizer', transformersJs: ALL_HEADS },
  mpnet: { classPrefix: 'MPNet', tokenizerClass: 'MPNetTokenizer', transformersJs: ALL_HEADS },
  // Hugging Face saves ModernBERT's tokenizer as PreTrainedTokenizerFast (transformers.js: its base class).
  modernbert: { classPrefix: 'ModernBert', tokenizerClass: 'PreTrainedTokenizerFast', transformersJs: ['classification', 'multilabel', 'tagging'] },
};

/** The record of a family export knows, or undefined (USE-lite, or an unknown family). */
export function hfFamily(family: string): HfFamily | undefined {
  return Object.prototype.hasOwnProperty.call(HF_FAMILIES, family) ? HF_FAMILIES[family] : undefined;
}

/** Hugging Face task class suffix per head kind; regression is refused in {@link checkExportable}. */
const HEAD_CLASS: Readonly<Record<HeadKind, string | undefined>> = {
  classification: 'ForSequenceClassification',
  multilabel: 'ForSequenceClassification',
  regression: undefined,
  tagging: 'ForTokenClassification',
  qa: 'ForQuestionAnswering',
};

/** The transformers.js pipeline that runs an exported head. */
export function pipelineTask(head: Pick<HeadConfig, 'kind'>): string {
  return head.kind === 'tagging' ? 'token-classification' : head.kind === 'qa' ? 'question-answering' : 'text-classification';
}

/**
 * Whether transformers.js has a model class for `head` on `enc` (so that its pipeline runs the
 * export); false for USE-lite and for the family/head pairs {@link HfFamily.transformersJs} lacks.
 */
export function runsInTransformersJs(head: Pick<HeadConfig, 'kind'>, enc: Pick<Encoder, 'family'>): boolean {
  return hfFamily(enc.family)?.transformersJs.includes(head.kind) ?? false;
}

/**
 * Fails, naming what is unsupported, when an export of `head` on `enc` could not give
 * adapterkit's scores.
 *
 * @throws AdapterkitError UNSUPPORTED_MODEL for a regression head or an encoder family export
 *   does not know (neither in {@link HF_FAMILIES} nor the embedded USE-lite).
 */
export function checkExportable(head: HeadConfig, enc: Encoder): void {
  if (head.kind === 'regression') {
    fail('UNSUPPORTED_MODEL', 'a regression head cannot be exported: transformers.js\'s text-classification pipeline turns the logits into softmax scores (sigmoid for multi_label_classification) and reads no other problem_type, so its single output would always score 1.0');
  }
  if (!hfFamily(enc.family) && enc.family !== 'use-lite') {
    fail('UNSUPPORTED_MODEL', `cannot export a ${enc.family} encoder: export knows the ${Object.keys(HF_FAMILIES).join(', ')} families and the embedded use-lite`);
  }
}

/** The `architectures` entry of an export, e.g. `DebertaV2ForTokenClassification` (undefined for USE-lite). */
export function architectureOf(head: HeadConfig, enc: Encoder): string | undefined {
  const suffix = HEAD_CLASS[head.kind];
  const f = hfFamily(enc.family);
  return f && suffix ? `${f.classPrefix}${suffix}` : undefined;
}

/** What the export records about where it came from (`adapterkit` in config.json). */
export interface ExportProvenance {
  readonly version: string;
  readonly task?: string;
  readonly mode: string;
  readonly base: string;
  readonly fingerprint: string;
  readonly merged: boolean;
}

/**
 * config.json of an export: the base's own config.json (for Hugging Face bases; transformers.js
 * and Python keep reading its sizes) with the task's class, labels and problem type, and the
 * transformers.js settings that make it load `onnx/model.onnx` (and its external data).
 */
export function exportConfig(
  head: HeadConfig,
  enc: Encoder,
  o: { baseConfig?: Readonly<Record<string, unknown>>; externalData: boolean; provenance: ExportProvenance; int8?: string },
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(o.baseConfig ?? {}) };
  const arch = architectureOf(head, enc);
  if (arch) out['architectures'] = [arch];
  else delete out['architectures'];
  out['model_type'] = enc.family;
  if (head.kind !== 'qa') {
    out['id2label'] = Object.fromEntries(head.labels.map((l, i) => [String(i), l]));
    out['label2id'] = Object.fromEntries(head.labels.map((l, i) => [l, i]));
    out['num_labels'] = head.labels.length;
  } else {
    for (const k of ['id2label', 'label2id', 'num_labels']) delete out[k];
  }
  if (head.kind === 'classification') out['problem_type'] = 'single_label_classification';
  else if (head.kind === 'multilabel') out['problem_type'] = 'multi_label_classification';
  else delete out['problem_type'];
  const hf = hfFamily(enc.family) !== undefined;
  if (!hf) out['max_position_embeddings'] = enc.maxLength;
  // Replaced whole: a base's device_config could point transformers.js at files the export lacks.
  out['transformers.js_config'] = { dtype: 'fp32', ...(o.externalData ? { use_external_data_format: { 'model.onnx': 1 } } : {}) };
  out['adapterkit'] = {
    ...o.provenance,
    head: head.kind,
    ...(head.kind === 'multilabel' ? { threshold: head.threshold } : {}),
    ...(head.kind === 'tagging' ? { scheme: head.scheme } : {}),
    ...(o.int8 !== undefined ? { int8: { file: 'onnx/model_quantized.onnx', dtype: 'q8', plan: o.int8 } } : {}),
    ...(hf ? {} : { tokenizer: 'adapterkit: this base has no transformers.js tokenizer; run onnx/model.onnx with onnxruntime and adapterkit\'s tokenizer' }),
  };
  return out;
}
