/** Sentence pairs as the model takes them: the tokenizer's pair template, cut to the model's length. */
import { invalidArgument } from "./errors.js";
import { TruncationError, type Tokenizer, type TruncationStrategy } from "./tokenizer/index.js";

/** Two texts encoded together (BERT: [CLS] text [SEP] textPair [SEP], token types 0 then 1). */
export interface TextPair {
  readonly text: string;
  readonly textPair: string;
}

/** How an over-long pair is cut: which side of a text goes ("none" rejects it), and which text (Hugging Face's strategies). */
export interface PairTruncation {
  readonly side: "right" | "left" | "none";
  /** Default longest_first, as in Hugging Face. */
  readonly strategy?: TruncationStrategy;
}

/** A pair's ids and token type ids, ready for the batcher. */
export interface EncodedPair {
  readonly ids: Int32Array;
  readonly typeIds: Int32Array;
}

/**
 * Each pair through `tokenizer.encodePair`, cut to `maxLength` tokens (special tokens included) as
 * Hugging Face's `tokenizer(text, text_pair, truncation=strategy, max_length=maxLength)` cuts it.
 * Throws INVALID_ARGUMENT naming the pair when it is too long and truncation is "none", or when the
 * strategy cannot cut enough (only_first with a short first text).
 */
export function encodePairs(tokenizer: Tokenizer, pairs: readonly TextPair[], maxLength: number, truncation: PairTruncation, field = "inputs"): { encoded: EncodedPair[]; tokens: number } {
  const strategy = truncation.strategy ?? "longest_first";
  const encoded = new Array<EncodedPair>(pairs.length);
  let tokens = 0;
  for (let i = 0; i < pairs.length; i++) {
    const { text, textPair } = pairs[i];
    let encoding;
    try {
      encoding =
        truncation.side === "none"
          ? tokenizer.encodePair(text, textPair)
          : tokenizer.encodePair(text, textPair, { truncation: { maxLength, strategy, direction: truncation.side } });
    } catch (error) {
      if (error instanceof TruncationError) throw invalidArgument(`${field}[${i}]: the pair cannot be cut to ${maxLength} tokens: ${error.message}`);
      throw error;
    }
    if (encoding.ids.length > maxLength) {
      throw invalidArgument(`${field}[${i}]: the pair has ${encoding.ids.length} tokens, over the model's maximum of ${maxLength}, and truncation is NONE`);
    }
    encoded[i] = { ids: encoding.ids, typeIds: encoding.typeIds };
    tokens += encoding.ids.length;
  }
  return { encoded, tokens };
}

/** Texts and their pairs, zipped; INVALID_ARGUMENT unless there is exactly one `pairField` entry per text. */
export function zipPairs(texts: readonly string[], pairs: readonly string[], textField: string, pairField: string): TextPair[] {
  if (pairs.length !== texts.length) {
    throw invalidArgument(`${pairField} has ${pairs.length} texts and ${textField} ${texts.length}: send one ${pairField} entry per ${textField} entry`);
  }
  return texts.map((text, i) => ({ text, textPair: pairs[i] }));
}
