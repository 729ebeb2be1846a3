/** Settings of a BERT tokenizer (BertNormalizer + BertPreTokenizer + WordPiece). */
export interface TokenizerConfig {
  /** BertNormalizer.lowercase (tokenizer_config.json: do_lower_case). */
  lowercase: boolean;
  /** BertNormalizer.strip_accents, already resolved: HF's `null` means "same as lowercase". */
  stripAccents: boolean;
  /** BertNormalizer.handle_chinese_chars (tokenizer_config.json: tokenize_chinese_chars). */
  handleChineseChars: boolean;
  /** BertNormalizer.clean_text: drop \0, U+FFFD and Cc/Cf/Co/Cs chars, map whitespace to ' '. */
  cleanText: boolean;
  /** WordPiece.max_input_chars_per_word: longer words (in code points) become [UNK]. */
  maxInputCharsPerWord: number;
  /** WordPiece.continuing_subword_prefix. */
  continuingSubwordPrefix: string;
  unkToken: string;
  clsToken: string;
  sepToken: string;
  padToken: string;
  maskToken: string;
  /** tokenizer_config.json model_max_length (informational: truncation is the caller's job). */
  modelMaxLength: number;
}

export interface EncodeOptions {
  /** Wrap the ids in the post-processor's template ([CLS] … [SEP]). Default true. */
  addSpecialTokens?: boolean;
  /** Also return offsets (a slower path). Default false. */
  offsets?: boolean;
}

export interface Encoded {
  /** Token ids, including [CLS]/[SEP] when asked. */
  ids: Int32Array;
  /**
   * Two entries per token: start, end (exclusive) in UTF-16 code units of the ORIGINAL text;
   * 0,0 for the special tokens the template adds. Only when `offsets: true` was asked.
   */
  offsets?: Uint32Array;
}

/** One of tokenizer.json's added_tokens. */
export interface AddedTokenSpec {
  content: string;
  id: number;
  special: boolean;
  /** Matched in the normalized text (true) or in the raw text before normalization (false). */
  normalized: boolean;
  lstrip: boolean;
  rstrip: boolean;
  /** Matched only with no word character on either side. */
  singleWord: boolean;
}

/** Operational knobs that never change the ids. */
export interface BertTokenizerOptions {
  /** Entries in the word → piece-ids cache; 0 disables it. Default 65,536. */
  wordCacheSize?: number;
}

export const DEFAULT_CONFIG: TokenizerConfig = {
  lowercase: true,
  stripAccents: true,
  handleChineseChars: true,
  cleanText: true,
  maxInputCharsPerWord: 100,
  continuingSubwordPrefix: "##",
  unkToken: "[UNK]",
  clsToken: "[CLS]",
  sepToken: "[SEP]",
  padToken: "[PAD]",
  maskToken: "[MASK]",
  modelMaxLength: 512,
};
