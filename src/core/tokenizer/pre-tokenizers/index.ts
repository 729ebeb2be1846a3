/** The pre-tokenizer stage, selected by tokenizer.json's pre_tokenizer.type. */
import { TokenizerLoadError } from "../errors.js";
import { isObject, typeOf } from "../json.js";
import type { NormalizedText } from "../normalized-text.js";
import { BertPreTokenizer, type BertPreTokenizerSpec } from "./bert-pre-tokenizer.js";

export { BertPreTokenizer, type BertPreTokenizerSpec } from "./bert-pre-tokenizer.js";

/** Every pre-tokenizer bertd implements. */
export type PreTokenizerSpec = BertPreTokenizerSpec;

export interface PreTokenizer {
  readonly type: string;
  /** Splits normalized text into the words the model sees, each still aligned to the original. */
  preTokenize(input: NormalizedText): NormalizedText[];
}

/** tokenizer.json's "pre_tokenizer"; an unknown type (or none) is a load error naming it. */
export function preTokenizerSpecFromJson(preTokenizer: unknown, source: string): PreTokenizerSpec {
  if (isObject(preTokenizer) && preTokenizer.type === "BertPreTokenizer") return { type: "BertPreTokenizer" };
  throw new TokenizerLoadError(`${source}: pre_tokenizer ${JSON.stringify(typeOf(preTokenizer))} is not supported (only BertPreTokenizer)`);
}

export function createPreTokenizer(spec: PreTokenizerSpec): PreTokenizer {
  switch (spec.type) {
    case "BertPreTokenizer":
      return new BertPreTokenizer();
  }
}
