/**
 * The one interface every tokenizer in adapterkit implements, and the batch it produces.
 *
 * Shapes use one legend: B = batch size (rows), T = padded sequence length.
 */

/** Options for {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /** Longest row allowed, special tokens included. Default 128 (or the tokenizer's model_max_length if smaller). */
  maxLength?: number;
  /** 'longest' pads to the longest row of the batch; 'max_length' pads every row to `maxLength`. Default 'longest'. */
  padding?: 'longest' | 'max_length';
  /** Cut rows longer than `maxLength` (strategy longest_first for pairs). Default true. */
  truncation?: boolean;
}

/** A padded batch of encoded rows; every array is row-major [B, T]. */
export interface EncodedBatch {
  /** B: number of rows. */
  batchSize: number;
  /** T: padded length of every row. */
  seqLen: number;
  /** [B, T] token ids, padded on the right with the tokenizer's pad id. */
  inputIds: Int32Array;
  /** [B, T] 1 for real tokens (specials included), 0 for padding. */
  attentionMask: Int32Array;
  /** [B, T] segment ids: 0 for the first text, 1 for the second where the model uses them; 0 for padding. */
  tokenTypeIds: Int32Array;
  /** Real tokens per row, special tokens included. */
  lengths: number[];
  /** True where a row lost tokens to truncation. */
  truncated: boolean[];
}

/** A text-to-ids tokenizer for one pretrained model. */
export interface Tokenizer {
  /** Which implementation and model this is, e.g. 'wordpiece' or 'hf-bpe'. */
  readonly kind: string;
  /** Number of rows the embedding matrix needs (largest id + 1). */
  readonly vocabSize: number;
  /** Id used for padding. */
  readonly padId: number;
  /** Special token strings by role: cls, sep, pad, unk, mask, bos, eos as applicable. */
  readonly specialTokens: Record<string, string>;
  /** model_max_length from tokenizer_config.json, undefined when not set (or set to HF's "unlimited" sentinel). */
  readonly modelMaxLength: number | undefined;
  /** Splits one text into pieces, without special tokens. */
  tokenize(text: string): string[];
  /** Encodes single texts or [first, second] pairs into one padded batch. */
  encode(inputs: Array<string | [string, string]>, opts?: EncodeOptions): EncodedBatch;
  /** A JSON-friendly description, for `adapterkit info`. */
  summary(): Record<string, unknown>;
}
