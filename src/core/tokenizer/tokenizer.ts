/**
 * What every tokenizer offers, whatever its family: the fast BertTokenizer and the generic
 * PipelineTokenizer (normalizer → pre-tokenizer → model → post-processor) alike.
 */
import type { EncodeOptions, Encoded } from "./types.js";

/** The special tokens the engine needs by role (BERT's names; other families map theirs onto these). */
export interface SpecialTokenIds {
  readonly cls: number;
  readonly sep: number;
  readonly pad: number;
  readonly unk: number;
  readonly mask: number;
}

export type TruncationDirection = "right" | "left";
/** Which text of a pair loses tokens: Hugging Face's longest_first, only_first and only_second. */
export type TruncationStrategy = "longest_first" | "only_first" | "only_second";

export interface Truncation {
  /** Most tokens in the result, the template's special tokens included. */
  readonly maxLength: number;
  /** "right" (default) keeps the start of a text, "left" its end. */
  readonly direction?: TruncationDirection;
  /** For pairs; default "longest_first". */
  readonly strategy?: TruncationStrategy;
}

export interface EncodingOptions {
  /** Apply the post-processor's template ([CLS] A [SEP], [CLS] A [SEP] B [SEP]…). Default true. */
  readonly addSpecialTokens?: boolean;
  /** Cut the texts (never the template's special tokens) to fit. Default: no cut. */
  readonly truncation?: Truncation;
}

/** A tokenized text or pair of texts, as the model takes it (not padded). */
export interface Encoding {
  readonly ids: Int32Array;
  /** Segment of each token as the template says (BERT: 0 for [CLS] A [SEP], 1 for B [SEP]). */
  readonly typeIds: Int32Array;
  /** 1 for every token (an encoding is never padded). */
  readonly attentionMask: Uint8Array;
  /**
   * Two entries per token: start, end (exclusive) in UTF-16 code units of the text the token came
   * from (the first or the second, see sequenceIds); 0,0 for the template's special tokens.
   */
  readonly offsets: Uint32Array;
  /** 1 for the special tokens the template added, 0 otherwise (added tokens in the text included). */
  readonly specialTokensMask: Uint8Array;
  /** 0 or 1: which text the token came from; -1 for the template's special tokens. */
  readonly sequenceIds: Int8Array;
}

export interface DecodeOptions {
  /** Leave out special added tokens ([CLS], [SEP], [PAD]…). Default false. */
  readonly skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** Model vocabulary plus added tokens (the largest id + 1). */
  readonly vocabSize: number;
  readonly specialIds: SpecialTokenIds;
  /** The tokenizer's model, as tokenizer.json's model.type names it: "WordPiece", "Unigram" or "BPE". */
  readonly type: string;
  /** tokenizer_config.json's model_max_length (the tokenizer itself never cuts unless asked). */
  readonly modelMaxLength: number;
  tokenToId(token: string): number | undefined;
  /** Throws RangeError for an id outside the vocabulary. */
  idToToken(id: number): string;
  /** One text's ids (and offsets when asked): the fast path the engine uses today. */
  encode(text: string, options?: EncodeOptions): Encoded;
  encodeText(text: string, options?: EncodingOptions): Encoding;
  /** A pair of texts through the pair template (BERT: [CLS] A [SEP] B [SEP], type ids 0…0 1…1). */
  encodePair(first: string, second: string, options?: EncodingOptions): Encoding;
  /** Ids back to text through tokenizer.json's decoder. Throws RangeError for an id outside the vocabulary. */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
}
