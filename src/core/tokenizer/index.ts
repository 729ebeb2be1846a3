export { BertTokenizer, truncateIds } from "./bert-tokenizer.js";
export { TokenizerLoadError } from "./loader.js";
export type { AddedTokenSpec, BertTokenizerOptions, EncodeOptions, Encoded, TokenizerConfig } from "./types.js";
