/** The normalizer stage, selected by tokenizer.json's normalizer.type. */
import { TokenizerLoadError } from "../errors.js";
import { bool, isObject, typeOf, type Json } from "../json.js";
import type { NormalizedText } from "../normalized-text.js";
import { BertNormalizer, bertNormalizerSpec, type BertNormalizerSpec } from "./bert-normalizer.js";
import { Precompiled, type PrecompiledSpec } from "./precompiled.js";
import { Replace, replaceSpec, type ReplaceSpec } from "./replace.js";
import { Lowercase, Nmt, Strip, UnicodeNormalizer, type LowercaseSpec, type NmtSpec, type StripSpec, type UnicodeSpec } from "./unicode.js";

export { BertNormalizer, type BertNormalizerSpec, type NormalizerFlags } from "./bert-normalizer.js";
export { Precompiled, type PrecompiledSpec } from "./precompiled.js";

export interface SequenceNormalizerSpec {
  readonly type: "Sequence";
  readonly normalizers: readonly NormalizerSpec[];
}

/** Every normalizer bertd implements. */
export type NormalizerSpec = BertNormalizerSpec | PrecompiledSpec | ReplaceSpec | UnicodeSpec | NmtSpec | StripSpec | LowercaseSpec | SequenceNormalizerSpec;

export interface Normalizer {
  readonly type: string;
  /** The normalized text, aligned to the original. */
  normalize(input: NormalizedText): NormalizedText;
  /** The same text without the alignment (for added tokens' contents). */
  normalizeString(text: string): string;
}

const SUPPORTED = "BertNormalizer, Precompiled, Replace, NFC, NFD, NFKC, NFKD, Nmt, Strip, Lowercase, Sequence or none";

function componentSpec(json: Json, source: string): NormalizerSpec {
  switch (json.type) {
    case "BertNormalizer":
      return bertNormalizerSpec(json, source);
    case "Precompiled": {
      const map = json.precompiled_charsmap;
      if (typeof map !== "string" || map.length === 0) throw new TokenizerLoadError(`${source}: Precompiled needs a base64 precompiled_charsmap`);
      return { type: "Precompiled", charsmap: new Uint8Array(Buffer.from(map, "base64")) };
    }
    case "Replace":
      return replaceSpec(json, source);
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return { type: json.type };
    case "Nmt":
      return { type: "Nmt" };
    case "Lowercase":
      return { type: "Lowercase" };
    case "Strip":
      return { type: "Strip", left: bool(json.strip_left, true, "Strip.strip_left", source), right: bool(json.strip_right, true, "Strip.strip_right", source) };
    case "Sequence": {
      if (!Array.isArray(json.normalizers)) throw new TokenizerLoadError(`${source}: normalizer Sequence needs "normalizers"`);
      return { type: "Sequence", normalizers: (json.normalizers as unknown[]).map((n) => requireSpec(n, source)) };
    }
  }
  throw new TokenizerLoadError(`${source}: normalizer ${JSON.stringify(typeOf(json))} is not supported (${SUPPORTED})`);
}

function requireSpec(normalizer: unknown, source: string): NormalizerSpec {
  if (!isObject(normalizer)) throw new TokenizerLoadError(`${source}: normalizer ${JSON.stringify(typeOf(normalizer))} is not supported (${SUPPORTED})`);
  return componentSpec(normalizer, source);
}

/** tokenizer.json's "normalizer": null when there is none; an unknown type is a load error naming it. */
export function normalizerSpecFromJson(normalizer: unknown, source: string): NormalizerSpec | null {
  if (normalizer === null || normalizer === undefined) return null;
  return requireSpec(normalizer, source);
}

class SequenceNormalizer implements Normalizer {
  readonly type = "Sequence";
  constructor(private readonly stages: readonly Normalizer[]) {}
  normalize(input: NormalizedText): NormalizedText {
    let text = input;
    for (const stage of this.stages) text = stage.normalize(text);
    return text;
  }
  normalizeString(text: string): string {
    let out = text;
    for (const stage of this.stages) out = stage.normalizeString(out);
    return out;
  }
}

export function createNormalizer(spec: NormalizerSpec): Normalizer {
  switch (spec.type) {
    case "BertNormalizer":
      return new BertNormalizer(spec);
    case "Precompiled":
      return new Precompiled(spec);
    case "Replace":
      return new Replace(spec);
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return new UnicodeNormalizer(spec.type);
    case "Nmt":
      return new Nmt();
    case "Strip":
      return new Strip(spec);
    case "Lowercase":
      return new Lowercase();
    case "Sequence":
      return new SequenceNormalizer(spec.normalizers.map(createNormalizer));
  }
}
