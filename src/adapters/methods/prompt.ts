/**
 * Prompt tuning (Lester et al. 2021): `P` trained vectors joined to the sequence that enters the
 * first layer, with AdapterHub's `PromptTuningConfig` fields, defaults and file layout (adapters @
 * 88f18eb, `methods/prompt_tuning.py` `PromptTuning`, `PromptTuningLayer`; `utils.py`
 * `prefix_attention_mask`; `heads/base.py` for token-level heads).
 *
 * AdapterHub joins the prompt to the output of the embeddings module (after positions, token
 * types, LayerNorm and dropout: the prompt has none of them) and widens the attention masks with
 * visible positions. With E = the embedding output [B, T, w] and the prompt p [P, w]:
 *
 *     combine "prefix"            [p ; E]                      the first position is the first prompt vector
 *     combine "prefix_after_bos"  [E_0 ; p ; E_1..]            [CLS] / <s> stays first
 *
 * Every layer then runs over T + P positions; the masks get P visible positions at the same
 * places. The pooling reads what it reads without prompts, over the longer sequence: BERT-style
 * poolers the first position (with "prefix" that is the first prompt vector's state, as in
 * AdapterHub), USE-lite's mean pooling every visible position, prompts included. The last hidden
 * state given to token-level heads (tagging, QA) has the prompt positions taken out again, so
 * tags and answer spans are the input's tokens only (AdapterHub's tagging head gives prompt
 * positions the ignored label; its QA head does not handle prompts at all).
 *
 * Internal tensor: `adapters.<name>.shared.prompt_embedding` [P, w] (AdapterHub's
 * `prompt_tuning.prompt_tunings.<name>.prompt_embedding.weight`).
 */
import { fail } from '../../errors.js';
import { cast, concat, expand, f32, greater, reshape, slice, where, type HostTensor, type Value } from '../../engine/index.js';
import type { BaseModel } from '../../models/base.js';
import type { Encoder, LayerInput } from '../../models/encoder.js';
import { SHARED_SITE_KEY, sharedTensorName } from '../names.js';
import { slotMaskBias, type AdapterMethod, type AdapterTensor, type FileTensorKey, type MethodConfigBase, type MethodHooks } from '../method.js';
import { checkKnownFields, checkNumber, checkOneOf, type RawConfig } from './config-checks.js';
import { SUPPORTED_MODEL_TYPES as BERT_FAMILY } from '../../models/bert/config.js';

/** AdapterHub's ways of joining the prompt to the input. */
export const PROMPT_COMBINES = ['prefix', 'prefix_after_bos'] as const;

/** A prompt-tuning configuration: AdapterHub's `PromptTuningConfig` fields. */
export interface PromptConfig extends MethodConfigBase {
  readonly method: 'prompt_tuning';
  /** P: prompt vectors. */
  readonly prompt_length: number;
  /** `random_uniform` (U(-scale, scale)) or `from_string` (the word embeddings of `prompt_init_text`'s tokens, see {@link promptFromText}). */
  readonly prompt_init: 'random_uniform' | 'from_string';
  readonly prompt_init_text: string | null;
  /** The bound of the uniform initialisation (AdapterHub's class attribute, not written by its `to_dict()`). */
  readonly random_uniform_scale: number;
  readonly combine: (typeof PROMPT_COMBINES)[number];
  /**
   * adapterkit: where the prompt joins. `adapterhub`: the embeddings' output (AdapterHub's
   * `PromptTuning`); `peft`: before the word embeddings, positions, token types and LayerNorm
   * applying to it too (PEFT's `PROMPT_TUNING`, BERT-family encoders, combine "prefix").
   */
  readonly placement: 'adapterhub' | 'peft';
}

/** The prompt-tuning preset: AdapterHub's `prompt_tuning`. */
export const PROMPT_PRESETS = {
  prompt: {
    method: 'prompt_tuning', preset: 'prompt', trainLayerNorms: false, leave_out: [], prompt_length: 10, prompt_init: 'random_uniform', prompt_init_text: null,
    random_uniform_scale: 0.5, combine: 'prefix', placement: 'adapterhub',
  },
  'prompt-peft': {
    method: 'prompt_tuning', preset: 'prompt-peft', trainLayerNorms: false, leave_out: [], prompt_length: 10, prompt_init: 'random_uniform', prompt_init_text: null,
    random_uniform_scale: 0.5, combine: 'prefix', placement: 'peft',
  },
} as const satisfies Record<string, PromptConfig>;

/** AdapterHub's preset name for the prompt-tuning preset. */
export const ADAPTERHUB_PROMPT_NAMES: Readonly<Record<string, keyof typeof PROMPT_PRESETS>> = { prompt_tuning: 'prompt' };

const FIELDS = ['method', 'preset', 'trainLayerNorms', 'leave_out', 'prompt_length', 'prompt_init', 'prompt_init_text', 'random_uniform_scale', 'combine', 'placement'] as const;

/** Validates and freezes a prompt-tuning config. */
export function checkPromptConfig(raw: RawConfig, where = 'prompt_tuning config'): PromptConfig {
  checkKnownFields(raw, FIELDS, where);
  if (typeof raw.trainLayerNorms !== 'boolean') fail('BAD_CONFIG', `${where}: trainLayerNorms must be true or false, got ${JSON.stringify(raw.trainLayerNorms)}`);
  checkNumber(raw, 'prompt_length', where, { min: 1, integer: true });
  checkOneOf(raw, 'prompt_init', ['random_uniform', 'from_string'], where);
  checkOneOf(raw, 'combine', PROMPT_COMBINES, where);
  checkOneOf(raw, 'placement', ['adapterhub', 'peft'], where);
  if (raw.placement === 'peft' && raw.combine !== 'prefix') fail('BAD_CONFIG', `${where}: combine ${JSON.stringify(raw.combine)}: PEFT's prompt (placement "peft") always comes before every token`);
  checkNumber(raw, 'random_uniform_scale', where, { min: 0, exclusiveMin: true });
  const text = raw.prompt_init_text;
  if (text !== null && typeof text !== 'string') fail('BAD_CONFIG', `${where}: prompt_init_text must be a string or null, got ${JSON.stringify(text)}`);
  if (raw.prompt_init === 'from_string' && !text) fail('BAD_CONFIG', `${where}: prompt_init "from_string" needs a prompt_init_text`);
  if (!Array.isArray(raw.leave_out) || raw.leave_out.length) {
    fail('BAD_CONFIG', `${where}: leave_out ${JSON.stringify(raw.leave_out)}: a prompt joins the input of the first layer, there are no layers to leave out`);
  }
  const c = raw as unknown as PromptConfig;
  return Object.freeze({ ...c, leave_out: Object.freeze([]) });
}

/** A prompt-tuning config from the preset and overrides. */
export function promptConfig(overrides: Partial<Omit<PromptConfig, 'method'>> = {}, preset: keyof typeof PROMPT_PRESETS = 'prompt'): PromptConfig {
  return checkPromptConfig({ ...PROMPT_PRESETS[preset], ...overrides });
}

/** Width of what enters layer 0. */
function layerWidth(enc: Encoder): number {
  return enc.sites.embeddings.width;
}

/** Width of the prompt vectors: what enters layer 0, or the word embeddings' for PEFT's placement. */
function widthOf(c: PromptConfig, enc: Encoder): number {
  return c.placement === 'peft' ? (wordEmbeddings(enc)?.width ?? layerWidth(enc)) : layerWidth(enc);
}

/** The word-embedding weight of the encoder (the first embedding-role weight), if any. */
function wordEmbeddings(enc: Encoder): { name: string; width: number } | undefined {
  const s = enc.weightSpecs.find((w) => w.role === 'embedding' && w.shape.length === 2);
  return s ? { name: s.name, width: s.shape[1] as number } : undefined;
}

/** Why AdapterHub's prompt would not be this prompt, if so: AdapterHub joins it before a projection of the embeddings (ELECTRA's, ALBERT's). */
function projectedIssue(enc: Encoder): string | undefined {
  const we = wordEmbeddings(enc);
  if (we && we.width !== layerWidth(enc)) {
    return `the ${enc.family} encoder projects its ${we.width}-wide embeddings to ${layerWidth(enc)}: AdapterHub joins its prompt before that projection, adapterkit after it`;
  }
  return undefined;
}

/**
 * The prompt hook of a mixed-task batch: the group's prompts `prompt()` [B, P, w] (P the longest,
 * shorter ones zero-padded) joined to every example, each example's masks hiding the positions its
 * task does not have (`valid` [B, 1, P]; every one for a task outside the group). Attention sees no
 * order on the encoders that take prompts (their positions are in the embeddings), so only the first
 * position matters, for first-token poolers: with combine "prefix" an example with a prompt gets
 * `[p ; E]` (its first prompt vector first, as alone), one without gets `[E_0 ; p ; E_1..]` (its own
 * first token first); "prefix_after_bos" is `[E_0 ; p ; E_1..]` for all. `strip` takes out the same
 * positions per example.
 */
function mixedPrompt(c: PromptConfig, valid: Value, prompt: () => Value): NonNullable<MethodHooks['prompt']> {
  const afterBos = c.combine === 'prefix_after_bos';
  const at = (v: Value, axis: number, from: number, to = Infinity) => slice(v, [from], [to], [axis]);
  const bos = (v: Value, p: Value, axis: number) => concat([at(v, axis, 0, 1), p, at(v, axis, 1)], axis); // [E_0 ; p ; E_1..]
  const first = (v: Value, p: Value, axis: number) => concat([p, v], axis); // [p ; E]
  // per example: does its task have a prompt (its valid positions come first)? [B, 1, 1]
  const has = greater(slice(valid, [0], [1], [2]), 0.5);
  const B = valid.shape[0] as string | number;
  const pick = (cond: Value, a: () => Value, b: () => Value) => (afterBos ? b() : where(cond, a(), b()));
  let P = 0;
  return {
    insert(x: LayerInput): LayerInput {
      const p = prompt(); // [B, P, w]
      P = p.shape[1] as number;
      const bias = slotMaskBias(valid); // [B, 1, 1, P]
      const mask = cast(reshape(valid, [B, P]), 'int64'); // [B, P]
      return {
        hidden: pick(has, () => first(x.hidden, p, 1), () => bos(x.hidden, p, 1)), // [B, T + P, w]
        maskBias: pick(reshape(has, [B, 1, 1, 1]), () => first(x.maskBias, bias, 3), () => bos(x.maskBias, bias, 3)), // [B, 1, 1, T + P]
        attentionMask: pick(reshape(has, [B, 1]), () => first(x.attentionMask, mask, 1), () => bos(x.attentionMask, mask, 1)), // [B, T + P]
      };
    },
    strip(h: Value): Value {
      return pick(has, () => at(h, 1, P), () => concat([at(h, 1, 0, 1), at(h, 1, 1 + P)], 1)); // [B, T, d]
    },
  };
}

/** The prompt-tuning method. */
export const promptMethod: AdapterMethod<PromptConfig> = {
  id: 'prompt_tuning',
  describe: (c) => `prompt tuning (P=${c.prompt_length}, ${c.placement === 'peft' ? 'before the word embeddings (PEFT)' : c.combine}${c.prompt_init === 'from_string' ? `, from ${JSON.stringify(c.prompt_init_text)}` : ''}${c.trainLayerNorms ? ' + layer norms' : ''})`,
  validateFor(c, enc) {
    const limit = enc.positionLimits?.promptTokens;
    if (limit) fail('BAD_CONFIG', `prompt_tuning config: prompt tuning does not work on the ${enc.family} encoder: ${limit}`);
    if (c.placement === 'peft' && !(BERT_FAMILY as readonly string[]).includes(enc.family)) {
      fail('BAD_CONFIG', `prompt_tuning config: placement "peft" (before the word embeddings) is implemented for the BERT family encoders (${BERT_FAMILY.join(', ')}), not ${enc.family}`);
    }
    if (c.combine === 'prefix_after_bos' && enc.family === 'use-lite') {
      fail('BAD_CONFIG', 'prompt_tuning config: combine "prefix_after_bos" keeps the sequence-start token first, and USE-lite\'s inputs have none (they start with the first word); use "prefix"');
    }
  },
  tensors(c, enc, name): AdapterTensor[] {
    return [{
      name: sharedTensorName(name, 'prompt_embedding'), shape: [c.prompt_length, widthOf(c, enc)], init: { kind: 'uniform', bound: c.random_uniform_scale },
      site: { kind: 'embeddings', key: SHARED_SITE_KEY, layer: -1 }, neutral: 0,
    }];
  },
  hooks(c, enc, name, ctx): MethodHooks {
    const P = c.prompt_length;
    const after = c.combine === 'prefix_after_bos' ? 1 : 0; // positions before the prompt
    const rest = (v: Value, axis: number) => slice(v, [after], [Infinity], [axis]);
    const head = (v: Value, axis: number) => slice(v, [0], [after], [axis]);
    const join = (v: Value, p: Value, axis: number) => concat(after ? [head(v, axis), p, rest(v, axis)] : [p, v], axis);
    const prompt = () => ctx.w(sharedTensorName(name, 'prompt_embedding')); // [P, w]
    const masks = (x: LayerInput) => {
      const g = x.hidden.graph;
      const zeros = expand(reshape(g.literal('float32', new Array<number>(P).fill(0)), [1, 1, 1, P]), [x.maskBias.shape[0] as string | number, 1, 1, P]);
      const ones = expand(reshape(g.literal('int64', new Array<number>(P).fill(1)), [1, P]), [x.attentionMask.shape[0] as string | number, P]);
      return { maskBias: join(x.maskBias, zeros, 3), attentionMask: join(x.attentionMask, ones, 1) }; // [B, 1, 1, T + P], [B, T + P]
    };
    const strip = (h: Value): Value => {
      const tail = slice(h, [after + P], [Infinity], [1]);
      return after ? concat([head(h, 1), tail], 1) : tail; // [B, T, d]
    };
    if (ctx.gathered) {
      if (c.placement === 'peft') fail('BAD_CONFIG', 'prompt_tuning: PEFT\'s placement (prompt-peft) cannot share a mixed-task batch');
      if (!ctx.positions) fail('BAD_CONFIG', 'prompt tuning in a mixed-task batch needs per-example prompt masks, which this model does not give (mixed-task serving does; train prompt-tuning tasks on their own)');
      return { prompt: mixedPrompt(c, ctx.positions('prompt'), prompt) };
    }
    if (c.placement === 'peft') {
      let joined = false;
      return {
        inputPrompt: () => {
          joined = true;
          return prompt();
        },
        prompt: {
          insert(x: LayerInput): LayerInput {
            if (!joined) fail('GRAPH_ERROR', `prompt_tuning: the ${enc.family} encoder did not join the input prompt to its word embeddings`);
            return { hidden: x.hidden, ...masks(x) };
          },
          strip,
        },
      };
    }
    return {
      prompt: {
        insert(x: LayerInput): LayerInput {
          const B = x.hidden.shape[0] as string | number;
          const w = x.hidden.shape[2] as number;
          const p = expand(reshape(prompt(), [1, P, w]), [B, P, w]); // [B, P, w]
          return { hidden: join(x.hidden, p, 1), ...masks(x) }; // [B, T + P, w]
        },
        strip,
      },
    };
  },
  size: { name: 'P', what: 'prompt_length', get: (c) => c.prompt_length, with: (c, n) => checkPromptConfig({ ...c, prompt_length: n }) },
  // prompt lengths may differ (rows are padded, and each example masks the prompt positions its task lacks); the layout of the sequence must agree
  structure: (c) => (c.placement === 'peft'
    ? { unsupported: 'PEFT\'s prompt joins before the word embeddings and shifts the positions of the input\'s tokens by its length, so rows of other tasks (or other lengths) would see other positions' }
    : { key: JSON.stringify({ m: 'prompt_tuning', combine: c.combine }) }),
  positions: (c) => ({ prompt: c.prompt_length }),
  // PEFT's prompt enters before the position embeddings (AdapterHub's after them)
  inputPositions: (c) => (c.placement === 'peft' ? c.prompt_length : 0),
  notComposable: 'AdapterHub joins the prompt of an active setup\'s first adapter only (PromptTuningLayer.forward: adapter_setup.first()) to every row and ignores a prompt-tuning adapter anywhere else in it, so a composition would not compose it; adapterkit refuses rather than ignore it (serve or train it as one adapter)',
  adapterHub: {
    config(c, enc) {
      if (c.placement === 'peft') return { unsupported: 'AdapterHub joins its prompt to the embeddings\' output; this one (placement "peft") is joined before the word embeddings' };
      const issue = projectedIssue(enc);
      if (issue) return { unsupported: issue };
      // PromptTuningConfig.to_dict() (random_uniform_scale is a class attribute, not a field)
      return { config: { architecture: 'prompt_tuning', combine: c.combine, init_weights_seed: null, prompt_init: c.prompt_init, prompt_init_text: c.prompt_init_text, prompt_length: c.prompt_length } };
    },
    keys(c, enc, name, fileName): FileTensorKey[] {
      return [{
        internal: sharedTensorName(name, 'prompt_embedding'), key: `${enc.checkpointPrefix}prompt_tuning.prompt_tunings.${fileName}.prompt_embedding.weight`,
        shape: [c.prompt_length, widthOf(c, enc)], transpose: false,
      }];
    },
  },
  peft: {
    config(c, enc) {
      if (c.placement !== 'peft') return { unsupported: PEFT_PROMPT_ISSUE };
      const a = enc.sites.attentions[0];
      if (widthOf(c, enc) !== enc.hiddenSize) return { unsupported: `PEFT's token_dim is the hidden width (${enc.hiddenSize}), the ${enc.family} encoder's word embeddings are ${widthOf(c, enc)} wide` };
      // PromptTuningConfig (peft tuners/prompt_tuning/config.py); the file holds the trained prompt, so the init fields only record how it started
      return {
        config: {
          num_attention_heads: a?.heads ?? 0, num_layers: enc.numLayers, num_transformer_submodules: 1, num_virtual_tokens: c.prompt_length, peft_type: 'PROMPT_TUNING',
          prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null, token_dim: enc.hiddenSize, tokenizer_kwargs: null, tokenizer_name_or_path: null,
        },
      };
    },
    keys: (c, enc, name) => [{ internal: sharedTensorName(name, 'prompt_embedding'), key: 'prompt_embeddings', shape: [c.prompt_length, widthOf(c, enc)], transpose: false }],
  },
};

/** Why PEFT's prompt tuning is another function. */
export const PEFT_PROMPT_ISSUE = 'PEFT\'s prompt tuning joins its prompt to the word embeddings, before positions, token types and LayerNorm (peft_model.py, inputs_embeds), '
  + 'AdapterHub\'s to the embeddings\' output: another function (the prompt-peft preset, placement "peft", is PEFT\'s)';

/**
 * The prompt of `prompt_init: "from_string"`, as AdapterHub makes it: the word embeddings of the
 * tokens of `prompt_init_text` (the tokenizer's special tokens included), repeated to `P` and cut
 * to it. Pass it as `adapterWeights` of `TaskModel.create`.
 *
 * @throws AdapterkitError BAD_CONFIG when the encoder's word embeddings are not as wide as the prompt.
 */
export function promptFromText(c: PromptConfig, base: BaseModel, name: string): Map<string, HostTensor<'float32'>> {
  if (c.prompt_init !== 'from_string' || !c.prompt_init_text) fail('BAD_CONFIG', 'promptFromText: the config\'s prompt_init is not "from_string" with a prompt_init_text');
  const we = wordEmbeddings(base.encoder);
  const w = widthOf(c, base.encoder);
  if (!we || we.width !== w) fail('BAD_CONFIG', `prompt_tuning config: prompt_init "from_string": ${projectedIssue(base.encoder) ?? `the ${base.encoder.family} encoder has no word embeddings`}, so no word embedding is a prompt vector`);
  const enc = base.tokenizer.encode([c.prompt_init_text], base.encoder.maxLength);
  const ids = Array.from(enc.inputIds.subarray(0, enc.lengths[0]));
  if (ids.length === 0) fail('BAD_CONFIG', `prompt_tuning config: prompt_init_text ${JSON.stringify(c.prompt_init_text)} gives no tokens`);
  const table = base.weights.get(we.name) as HostTensor<'float32'>;
  const out = new Float32Array(c.prompt_length * w);
  for (let i = 0; i < c.prompt_length; i++) out.set(table.data.subarray((ids[i % ids.length] as number) * w, ((ids[i % ids.length] as number) + 1) * w), i * w);
  return new Map([[sharedTensorName(name, 'prompt_embedding'), f32([c.prompt_length, w], out)]]);
}

/** AdapterHub `PromptTuningConfig` fields that adapterkit reads. */
const ADAPTERHUB_FIELDS = new Set(['architecture', 'prompt_length', 'prompt_init', 'prompt_init_text', 'combine', 'init_weights_seed', 'random_uniform_scale']);

/** Reads AdapterHub's `config` of a prompt-tuning adapter (architecture "prompt_tuning"). */
export function promptFromAdapterHub(cfg: RawConfig, where: string): PromptConfig {
  for (const k of Object.keys(cfg)) if (!ADAPTERHUB_FIELDS.has(k)) fail('BAD_CONFIG', `${where}: config.${k} is not a field adapterkit knows for prompt-tuning adapters`);
  // init_weights_seed, prompt_init and its text only decide the initial values, which the file's tensor replaces
  const d = PROMPT_PRESETS.prompt;
  return checkPromptConfig({
    ...d, prompt_length: cfg.prompt_length ?? d.prompt_length, prompt_init: cfg.prompt_init ?? d.prompt_init, prompt_init_text: cfg.prompt_init_text ?? null,
    random_uniform_scale: cfg.random_uniform_scale ?? d.random_uniform_scale, combine: cfg.combine ?? d.combine,
  }, `${where}: config`);
}

/** PEFT `PromptTuningConfig` fields that leave the function alone whatever their value. */
const PEFT_PROMPT_INERT = new Set([
  'peft_type', 'task_type', 'base_model_name_or_path', 'revision', 'inference_mode', 'auto_mapping', 'peft_version', 'modules_to_save', 'num_virtual_tokens', 'token_dim',
  'num_transformer_submodules', 'num_attention_heads', 'num_layers', 'prompt_tuning_init', 'prompt_tuning_init_text', 'tokenizer_name_or_path', 'tokenizer_kwargs',
]);

/** Reads PEFT's prompt-tuning `adapter_config.json` (placement "peft"). */
export function promptFromPeft(json: RawConfig, enc: Encoder, where: string): PromptConfig {
  for (const [k, v] of Object.entries(json)) if (!PEFT_PROMPT_INERT.has(k) && v !== null && v !== undefined) fail('BAD_CONFIG', `${where}: ${k} ${JSON.stringify(v)} is not implemented in adapterkit`);
  const expect = (k: string, want: number) => {
    if (json[k] !== null && json[k] !== undefined && json[k] !== want) fail('BAD_CONFIG', `${where}: ${k} ${JSON.stringify(json[k])} does not fit the ${enc.family} encoder (${want})`);
  };
  expect('num_layers', enc.numLayers);
  expect('token_dim', enc.hiddenSize);
  expect('num_transformer_submodules', 1);
  checkNumber(json, 'num_virtual_tokens', where, { min: 1, integer: true });
  const c = checkPromptConfig({ ...PROMPT_PRESETS['prompt-peft'], prompt_length: json.num_virtual_tokens }, where);
  promptMethod.validateFor(c, enc);
  return c;
}
