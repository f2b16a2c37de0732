/**
 * Tokenizers described by a Hugging Face tokenizer.json (WordPiece, byte-level BPE, ...), run by
 * the pure-JS `@huggingface/tokenizers` package. That package adds special tokens but neither
 * truncates nor pads, so truncation and padding happen here before and after its post-processor.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { AdapterkitError, fail } from '../../errors.js';
import { describeValue } from '../../util/describe.js';
import { encodeBatch } from './batch.js';
import { checkTokenizerJson } from './hf-json-schema.js';
import { readModelMaxLength, resolveSpecialTokens, type SpecialTokenRole, type TokenizerSideFiles } from './config.js';
import type { EncodedBatch, EncodeOptions, Tokenizer } from './types.js';
import { isJsonObject } from '../../util/json-text.js';

/** Inputs of {@link HfJsonTokenizer}. */
export interface HfJsonTokenizerOptions {
  /** Parsed tokenizer.json. */
  json: Record<string, unknown>;
  /** Path of tokenizer.json, for messages. */
  source: string;
  /** tokenizer_config.json and special_tokens_map.json. */
  side: TokenizerSideFiles;
  /** Overrides the BertNormalizer's `lowercase` (only for tokenizer.json files with a BertNormalizer). */
  doLowerCase?: boolean;
}

type Json = Record<string, unknown>;

/** A tokenizer.json tokenizer; post-processor output (e.g. RoBERTa's `<s> a </s></s> b </s>`) is kept as the file says. */
export class HfJsonTokenizer implements Tokenizer {
  readonly kind: string;
  readonly vocabSize: number;
  readonly padId: number;
  readonly specialTokens: Record<string, string>;
  readonly modelMaxLength: number | undefined;
  private readonly hf: HfTokenizer;
  private readonly json: Json;
  private readonly source: string;
  private readonly unkId: number | undefined;
  /** RoBERTa's processor gives every token type 0 (HF tokenizers does; the JS package gives the pair 1). */
  private readonly allTypesZero: boolean;
  private readonly specialCount: { single: number; pair: number };
  /** Unigram: runs of pieces outside the vocabulary become one piece (one unk), as HF tokenizers' fuse_unk does. */
  private readonly fuseUnknown: boolean;

  constructor(opts: HfJsonTokenizerOptions) {
    this.source = opts.source;
    const json = withLowercase(opts.json, opts.doLowerCase, opts.source);
    this.json = json;
    // Every field the package reads is checked first: it trusts its input (see hf-json-schema.ts).
    checkTokenizerJson(json, opts.source);
    const model = json['model'] as Json;
    // The package insists these keys exist; tokenizer.json files written by HF always have them (possibly null).
    const complete: Json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json };
    try {
      this.hf = new HfTokenizer(complete, packageConfig(opts.side.config));
    } catch (e) {
      // What is left after the schema check: e.g. a regular expression the package cannot compile.
      throw new AdapterkitError('BAD_FILE', `${opts.source}: cannot build the tokenizer: ${(e as Error).message?.slice(0, 200)}`, undefined, { cause: e });
    }
    this.kind = `hf-${(model['type'] as string).toLowerCase()}`;
    this.fuseUnknown = model['type'] === 'Unigram';
    const vocab = this.hf.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.allTypesZero = containsProcessor(json['post_processor'], 'RobertaProcessing');

    const specials = resolveSpecialTokens(opts.side, defaultSpecials(json));
    this.specialTokens = {};
    for (const [role, token] of Object.entries(specials)) if (this.hf.token_to_id(token) !== undefined) this.specialTokens[role] = token;
    const unk = this.specialTokens['unk'];
    this.unkId = unk === undefined ? undefined : this.hf.token_to_id(unk);

    const padding = json['padding'];
    const padFromConfig = isJsonObject(padding) && typeof padding['pad_id'] === 'number' ? padding['pad_id'] : undefined;
    const pad = this.specialTokens['pad'];
    const padId = padFromConfig ?? (pad === undefined ? undefined : this.hf.token_to_id(pad));
    if (padId === undefined) {
      fail('BAD_FILE', `${opts.source}: no pad token: tokenizer.json has no "padding" section and neither tokenizer_config.json nor special_tokens_map.json names a pad_token that is in the vocabulary`);
    }
    this.padId = padId;
    this.modelMaxLength = readModelMaxLength(opts.side);
    this.specialCount = {
      single: this.assemble([], null).ids.length,
      pair: this.assemble([], []).ids.length,
    };
  }

  /** Pieces of `text` without special tokens, e.g. "Hello world" -> ["Hello", "Ġworld"] for byte-level BPE. */
  tokenize(text: string): string[] {
    const pieces = this.hf.tokenize(text);
    return this.fuseUnknown ? fuseUnknownPieces(pieces, (t) => this.hf.token_to_id(t) !== undefined) : pieces;
  }

  /** Encodes texts or pairs; see {@link Tokenizer.encode}. */
  encode(inputs: Array<string | [string, string]>, opts?: EncodeOptions): EncodedBatch {
    return encodeBatch<string>(inputs, opts, {
      pieces: (text) => this.tokenize(text),
      assemble: (a, b) => this.assemble(a, b),
      numSpecial: (pair) => (pair ? this.specialCount.pair : this.specialCount.single),
      padId: this.padId,
      modelMaxLength: this.modelMaxLength,
    });
  }

  /** A JSON-friendly description. */
  summary(): Record<string, unknown> {
    const typeOf = (v: unknown): string | null => (isJsonObject(v) && typeof v['type'] === 'string' ? v['type'] : null);
    const normalizer = this.json['normalizer'];
    return {
      kind: this.kind,
      source: this.source,
      vocabSize: this.vocabSize,
      model: typeOf(this.json['model']),
      normalizer: typeOf(normalizer),
      lowercase: isJsonObject(normalizer) && normalizer['type'] === 'BertNormalizer' ? normalizer['lowercase'] ?? true : null,
      preTokenizer: typeOf(this.json['pre_tokenizer']),
      postProcessor: typeOf(this.json['post_processor']),
      modelMaxLength: this.modelMaxLength ?? null,
      padId: this.padId,
      specialTokens: { ...this.specialTokens },
      specialTokensAdded: { ...this.specialCount },
    };
  }

  /** Runs the post-processor on (already truncated) pieces and maps the result to ids. */
  private assemble(a: string[], b: string[] | null): { ids: number[]; types: number[] } {
    let tokens: string[];
    let types: number[];
    const pp = this.hf.post_processor;
    if (pp === null) {
      tokens = b === null ? a : [...a, ...b];
      types = [...new Array<number>(a.length).fill(0), ...new Array<number>(b?.length ?? 0).fill(1)];
    } else {
      const out = pp.post_process(a, b, true);
      tokens = out.tokens;
      types = out.token_type_ids ?? new Array<number>(tokens.length).fill(0);
      if (out.tokens_pair) {
        // A lone ByteLevel post-processor hands the pair back unmerged.
        tokens = [...tokens, ...out.tokens_pair];
        types = [...types, ...new Array<number>(out.tokens_pair.length).fill(1)];
      }
    }
    if (this.allTypesZero) types = new Array<number>(tokens.length).fill(0);
    const ids = tokens.map((t) => {
      const id = this.hf.token_to_id(t) ?? this.unkId;
      if (id === undefined) fail('BAD_DATA', `${this.source}: piece ${describeValue(t)} is not in the vocabulary and there is no unk token`);
      return id;
    });
    return { ids, types };
  }
}

/**
 * Joins each run of consecutive pieces that are not in the vocabulary into one piece. The package's
 * Unigram model gives every unknown character its own piece (so "©©" would be two unk ids); Hugging
 * Face's tokenizers (Unigram `fuse_unk`) and SentencePiece give one unk for the run.
 */
export function fuseUnknownPieces(pieces: readonly string[], known: (piece: string) => boolean): string[] {
  const out: string[] = [];
  let run = false;
  for (const p of pieces) {
    const unknown = !known(p);
    if (unknown && run) out[out.length - 1] += p;
    else out.push(p);
    run = unknown;
  }
  return out;
}

/**
 * The tokenizer_config.json settings the package reads, with the types it assumes (a string where
 * it expects a list would be a TypeError inside it); other settings are not passed.
 */
function packageConfig(config: Json): Json {
  const out: Json = {};
  const extra = config['additional_special_tokens'];
  if (Array.isArray(extra)) out['additional_special_tokens'] = extra.filter((t): t is string => typeof t === 'string');
  if (typeof config['eos_token'] === 'string') out['eos_token'] = config['eos_token'];
  for (const key of ['remove_space', 'clean_up_tokenization_spaces', 'do_lowercase_and_remove_accent']) {
    if (typeof config[key] === 'boolean') out[key] = config[key];
  }
  return out;
}

/** Conventional special-token names and their roles (a Map: `toString` is no token's name). */
const CONVENTIONAL_ROLES: ReadonlyMap<string, SpecialTokenRole> = new Map([
  ['[PAD]', 'pad'], ['<pad>', 'pad'], ['[UNK]', 'unk'], ['<unk>', 'unk'], ['[MASK]', 'mask'], ['<mask>', 'mask'],
  ['[CLS]', 'cls'], ['[SEP]', 'sep'], ['<s>', 'bos'], ['</s>', 'eos'],
]);

/** Special tokens the tokenizer.json itself implies (conventional added tokens, model unk, post-processor cls/sep, padding token). */
function defaultSpecials(json: Json): Partial<Record<SpecialTokenRole, string>> {
  const out: Partial<Record<SpecialTokenRole, string>> = {};
  // Conventional names among the special added tokens (bert-base-uncased, for one, names its pad nowhere else).
  const added = Array.isArray(json['added_tokens']) ? (json['added_tokens'] as unknown[]) : [];
  for (const entry of added) {
    if (!isJsonObject(entry) || entry['special'] !== true || typeof entry['content'] !== 'string') continue;
    const role = CONVENTIONAL_ROLES.get(entry['content']);
    if (role !== undefined) out[role] = entry['content'];
  }
  const model = json['model'];
  if (isJsonObject(model) && typeof model['unk_token'] === 'string') out.unk = model['unk_token'];
  const padding = json['padding'];
  if (isJsonObject(padding) && typeof padding['pad_token'] === 'string') out.pad = padding['pad_token'];
  const pp = findProcessor(json['post_processor'], ['BertProcessing', 'RobertaProcessing', 'TemplateProcessing']);
  if (pp !== undefined) {
    if (pp['type'] === 'TemplateProcessing') {
      const single = Array.isArray(pp['single']) ? (pp['single'] as unknown[]) : [];
      const specialId = (item: unknown): string | undefined => {
        const st = isJsonObject(item) ? item['SpecialToken'] : undefined;
        return isJsonObject(st) && typeof st['id'] === 'string' ? st['id'] : undefined;
      };
      const first = specialId(single[0]);
      const last = specialId(single[single.length - 1]);
      if (first !== undefined) out.cls = first;
      if (last !== undefined) out.sep = last;
    } else {
      const cls = pp['cls'];
      const sep = pp['sep'];
      if (Array.isArray(cls) && typeof cls[0] === 'string') out.cls = cls[0];
      if (Array.isArray(sep) && typeof sep[0] === 'string') out.sep = sep[0];
      if (pp['type'] === 'RobertaProcessing') {
        if (out.cls !== undefined) out.bos = out.cls;
        if (out.sep !== undefined) out.eos = out.sep;
      }
    }
  }
  return out;
}

function findProcessor(pp: unknown, types: string[]): Json | undefined {
  if (!isJsonObject(pp)) return undefined;
  if (typeof pp['type'] === 'string' && types.includes(pp['type'])) return pp;
  if (pp['type'] === 'Sequence' && Array.isArray(pp['processors'])) {
    for (const inner of pp['processors'] as unknown[]) {
      const found = findProcessor(inner, types);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function containsProcessor(pp: unknown, type: string): boolean {
  return findProcessor(pp, [type]) !== undefined;
}

/** A copy of `json` whose BertNormalizer lowercases as asked; fails when there is no BertNormalizer to change. */
function withLowercase(json: Json, doLowerCase: boolean | undefined, source: string): Json {
  if (doLowerCase === undefined) return json;
  const normalizer = json['normalizer'];
  if (isJsonObject(normalizer) && normalizer['type'] === 'BertNormalizer') {
    return { ...json, normalizer: { ...normalizer, lowercase: doLowerCase } };
  }
  if (isJsonObject(normalizer) && normalizer['type'] === 'Sequence' && Array.isArray(normalizer['normalizers'])) {
    const inner = normalizer['normalizers'] as unknown[];
    if (inner.some((n) => isJsonObject(n) && n['type'] === 'BertNormalizer')) {
      const normalizers = inner.map((n) => (isJsonObject(n) && n['type'] === 'BertNormalizer' ? { ...n, lowercase: doLowerCase } : n));
      return { ...json, normalizer: { ...normalizer, normalizers } };
    }
  }
  fail('BAD_CONFIG', `${source}: doLowerCase can only be set for a tokenizer.json with a BertNormalizer; this one has ${isJsonObject(normalizer) ? `a ${describeValue(normalizer['type'])} normalizer` : 'no normalizer'}`);
}
