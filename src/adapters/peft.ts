/**
 * PEFT's file layout (peft @ 5d602fd, `PeftModel.save_pretrained`) for the methods PEFT has
 * (LoRA, IA³): `adapter_config.json` (the config dataclass's fields, `json.dump(indent=2,
 * sort_keys=True)`) and `adapter_model.safetensors` (`base_model.model.<module>.lora_A.weight`…,
 * the adapter name removed; PyTorch layouts). The head goes along as PEFT's `modules_to_save`
 * (`base_model.model.classifier.weight`…) where adapterkit's head is exactly the one the
 * Hugging Face `<Family>For<Task>` class has; otherwise the PEFT layout holds the adapter only.
 */
import { fail } from '../errors.js';
import { isTokenHead, type HeadConfig } from '../heads/head.js';
import type { Encoder } from '../models/encoder.js';
import type { FileTensorKey } from './method.js';
import { fromPeftConfigFields, methodOf, type MethodConfig } from './methods/index.js';
import { peftSelected } from './methods/linear-targets.js';
import { sharedLayersIssue } from './adapterhub.js';

/** PEFT's file names. */
export const PEFT_FILES = { config: 'adapter_config.json', weights: 'adapter_model.safetensors', binWeights: 'adapter_model.bin' } as const;

/** The PEFT version whose layout adapterkit writes. */
export const PEFT_VERSION = '0.20.1.dev0@UNKNOWN';

/** PEFT's task type and head module of a head that is the Hugging Face one (see {@link peftHeadOrIssue}). */
export interface PeftHead {
  /** PEFT's `task_type`: SEQ_CLS, TOKEN_CLS or QUESTION_ANS. */
  readonly taskType: string;
  /** The Hugging Face head module, `classifier` or `qa_outputs`. */
  readonly module: string;
  /** What PEFT's `PeftModelFor<Task>` saves in `modules_to_save`. */
  readonly modulesToSave: string[];
}

/** The families whose Hugging Face token classification and question answering heads are a Linear (after dropout) on the hidden states. */
const LINEAR_TOKEN_HEADS = ['bert', 'roberta', 'distilbert', 'electra', 'deberta-v2'];

/**
 * PEFT's task type and the Hugging Face head module of a head, when adapterkit's head is that
 * module exactly, or why it is not; `modulesToSave` is what PEFT's `PeftModelFor<Task>` saves in
 * `modules_to_save` (for sequence classification it adds its defaults `classifier` and `score`,
 * peft_model.py). Used both to write a head into PEFT's layout and to accept one read from it.
 */
export function peftHeadOrIssue(h: HeadConfig, enc: Encoder): PeftHead | { issue: string } {
  if (h.layers !== 1) return { issue: `a ${h.layers}-layer head is not a Hugging Face one` };
  if (h.pooling !== undefined) return { issue: `a head on ${h.pooling} pooling is not a Hugging Face one` };
  if (isTokenHead(h)) {
    if (!LINEAR_TOKEN_HEADS.includes(enc.family)) return { issue: `adapterkit knows the Hugging Face token and answer heads of ${LINEAR_TOKEN_HEADS.join(', ')} (a Linear on the hidden states), not the ${enc.family} one` };
    return h.kind === 'qa'
      ? { taskType: 'QUESTION_ANS', module: 'qa_outputs', modulesToSave: ['qa_outputs'] }
      : { taskType: 'TOKEN_CLS', module: 'classifier', modulesToSave: ['classifier'] };
  }
  // BertForSequenceClassification: dropout + Linear on the pooler output; DebertaV2ForSequenceClassification
  // likewise on its ContextPooler's (the other families' heads differ)
  const pooled = (enc.family === 'bert' || enc.family === 'deberta-v2') && enc.describe().pooler === true;
  if (!pooled) return { issue: `adapterkit knows the Hugging Face sequence classification head of bert and deberta-v2 bases with a pooler (a Linear on the pooler output), not the one of this ${enc.family} base` };
  if (h.kind === 'multilabel') return { issue: 'PEFT\'s layout does not say a head is multi-label' };
  return { taskType: 'SEQ_CLS', module: 'classifier', modulesToSave: ['classifier', 'score'] };
}

/** {@link peftHeadOrIssue} when the head is the Hugging Face one, else undefined. */
export function peftHead(h: HeadConfig, enc: Encoder): PeftHead | undefined {
  const r = peftHeadOrIssue(h, enc);
  return 'issue' in r ? undefined : r;
}

/** PEFT's `adapter_config.json` for an adapter and head, or why PEFT cannot express the adapter. */
export function peftAdapterConfig(c: MethodConfig, enc: Encoder, h: HeadConfig, baseId: string): { json: Record<string, unknown> } | { unsupported: string } {
  const m = methodOf(c);
  if (!m.peft) return { unsupported: `PEFT has no ${c.method} adapters` };
  const shared = sharedLayersIssue(enc);
  if (shared !== undefined) return { unsupported: shared };
  const r = m.peft.config(c, enc);
  if ('unsupported' in r) return r;
  const head = peftHead(h, enc);
  return {
    json: {
      auto_mapping: null, base_model_name_or_path: baseId, inference_mode: true, modules_to_save: head ? head.modulesToSave : null, peft_version: PEFT_VERSION,
      revision: null, task_type: head?.taskType ?? 'FEATURE_EXTRACTION', ...r.config,
    },
  };
}

/** File keys of the adapter's tensors in PEFT's state dict. */
export function peftKeys(c: MethodConfig, enc: Encoder, internalName: string): FileTensorKey[] {
  const m = methodOf(c);
  if (!m.peft) fail('BAD_CONFIG', `PEFT has no ${c.method} adapters`);
  return m.peft.keys(c, enc, internalName);
}

/** PEFT key of an internal head tensor (`head.out.*` only: PEFT's heads are one Linear). */
export function peftHeadKey(module: string, internal: string): string | undefined {
  const m = /^head\.out\.(weight|bias)$/.exec(internal);
  return m ? `base_model.model.${module}.${m[1]}` : undefined;
}

/**
 * Reads PEFT's `adapter_config.json` into a method config; BAD_CONFIG naming the field for
 * anything adapterkit does not implement (another `peft_type`, DoRA, rsLoRA, rank patterns…).
 */
export function fromPeftConfig(json: Record<string, unknown>, enc: Encoder, where: string): MethodConfig {
  const selected = (target: unknown, layers: unknown, rule: 'target' | 'feedforward' = 'target') => {
    const extra = [`${enc.checkpointPrefix}pooler.dense`];
    const s = peftSelected(enc, target, layers, extra, rule, where);
    if (rule === 'feedforward') return s.sites;
    if (s.foreign.length) fail('BAD_CONFIG', `${where}: target_modules also selects ${s.foreign.join(', ')}, which adapterkit has no adapter site for`);
    if (s.sites.length === 0) {
      const shared = sharedLayersIssue(enc);
      fail('BAD_CONFIG', `${where}: target_modules ${JSON.stringify(target)} selects no projection of the ${enc.family} encoder${shared ? ` (${shared}, so PEFT's module names do not name adapterkit's sites)` : ''}`);
    }
    return s.sites;
  };
  return fromPeftConfigFields(json, enc, where, selected);
}
