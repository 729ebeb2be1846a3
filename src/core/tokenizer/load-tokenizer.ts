/** The tokenizer for a model directory: the fast path where it applies, else the generic pipeline. */
import { BertTokenizer } from "./bert-tokenizer.js";
import { specFromDirectory, specFromTokenizerJson, type TokenizerSpec } from "./loader.js";
import { PipelineTokenizer } from "./pipeline.js";
import type { Tokenizer } from "./tokenizer.js";
import type { BertTokenizerOptions } from "./types.js";

export interface LoadTokenizerOptions extends BertTokenizerOptions {
  /** Use the generic pipeline even where the fast path applies (for tests and comparisons). Default false. */
  pipeline?: boolean;
}

export function tokenizerFromSpec(spec: TokenizerSpec, options: LoadTokenizerOptions = {}): Tokenizer {
  return !options.pipeline && BertTokenizer.supports(spec) ? new BertTokenizer(spec, options) : new PipelineTokenizer(spec);
}

/** tokenizer.json (its model type picks the model) or vocab.txt + tokenizer_config.json; throws TokenizerLoadError. */
export function loadTokenizer(dir: string, options?: LoadTokenizerOptions): Tokenizer {
  return tokenizerFromSpec(specFromDirectory(dir), options);
}

export function tokenizerFromJson(tokenizerJson: unknown, tokenizerConfig?: unknown, options?: LoadTokenizerOptions): Tokenizer {
  return tokenizerFromSpec(specFromTokenizerJson(tokenizerJson, tokenizerConfig), options);
}
