export { BertTokenizer } from "./bert-tokenizer.js";
export { PairNotSupportedError, TokenizerLoadError, TruncationError } from "./errors.js";
export { loadTokenizer, tokenizerFromJson, tokenizerFromSpec, type LoadTokenizerOptions } from "./load-tokenizer.js";
export { PipelineTokenizer } from "./pipeline.js";
export type { DecodeOptions, Encoding, EncodingOptions, SpecialTokenIds, Tokenizer, Truncation, TruncationDirection, TruncationStrategy } from "./tokenizer.js";
export { truncateIds } from "./truncation.js";
export type { AddedTokenSpec, BertTokenizerOptions, EncodeOptions, Encoded, TokenizerConfig } from "./types.js";
