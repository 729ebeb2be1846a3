/** The normalizer stage, selected by tokenizer.json's normalizer.type. */
import { TokenizerLoadError } from "../errors.js";
import { isObject, typeOf } from "../json.js";
import type { NormalizedText } from "../normalized-text.js";
import { BertNormalizer, bertNormalizerSpec, type BertNormalizerSpec } from "./bert-normalizer.js";

export { BertNormalizer, type BertNormalizerSpec, type NormalizerFlags } from "./bert-normalizer.js";

/** Every normalizer bertd implements. */
export type NormalizerSpec = BertNormalizerSpec;

export interface Normalizer {
  readonly type: string;
  /** The normalized text, aligned to the original. */
  normalize(input: NormalizedText): NormalizedText;
  /** The same text without the alignment (for added tokens' contents). */
  normalizeString(text: string): string;
}

/** tokenizer.json's "normalizer": null when there is none; an unknown type is a load error naming it. */
export function normalizerSpecFromJson(normalizer: unknown, source: string): NormalizerSpec | null {
  if (normalizer === null || normalizer === undefined) return null;
  if (isObject(normalizer) && normalizer.type === "BertNormalizer") return bertNormalizerSpec(normalizer, source);
  throw new TokenizerLoadError(`${source}: normalizer ${JSON.stringify(typeOf(normalizer))} is not supported (only BertNormalizer or none)`);
}

export function createNormalizer(spec: NormalizerSpec): Normalizer {
  switch (spec.type) {
    case "BertNormalizer":
      return new BertNormalizer(spec);
  }
}
