/** A tokenizer file that cannot be read or holds something bertd does not implement. */
export class TokenizerLoadError extends Error {
  override name = "TokenizerLoadError";
}

/** Truncation that cannot be done: max length below the template's special tokens, or no sequence to cut. */
export class TruncationError extends RangeError {
  override name = "TruncationError";
}

/** A pair of texts given to a tokenizer whose post-processor has no pair template. */
export class PairNotSupportedError extends Error {
  override name = "PairNotSupportedError";
}
