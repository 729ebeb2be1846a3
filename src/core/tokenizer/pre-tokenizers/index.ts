/** The pre-tokenizer stage, selected by tokenizer.json's pre_tokenizer.type. */
import { TokenizerLoadError } from "../errors.js";
import { isObject, typeOf, type Json } from "../json.js";
import type { NormalizedText } from "../normalized-text.js";
import { BertPreTokenizer, type BertPreTokenizerSpec } from "./bert-pre-tokenizer.js";
import { ByteLevel, byteLevelSpec, type ByteLevelSpec } from "./byte-level.js";
import { Metaspace, metaspaceSpec, type MetaspaceSpec } from "./metaspace.js";
import { Split, splitSpec, Whitespace, type SplitSpec, type WhitespaceSpec } from "./whitespace.js";

export { BertPreTokenizer, type BertPreTokenizerSpec } from "./bert-pre-tokenizer.js";
export { ByteLevel, type ByteLevelSpec } from "./byte-level.js";
export { Metaspace, type MetaspaceSpec } from "./metaspace.js";

export interface SequencePreTokenizerSpec {
  readonly type: "Sequence";
  readonly pretokenizers: readonly PreTokenizerSpec[];
}

/** Every pre-tokenizer bertd implements. */
export type PreTokenizerSpec = BertPreTokenizerSpec | MetaspaceSpec | WhitespaceSpec | SplitSpec | ByteLevelSpec | SequencePreTokenizerSpec;

export interface PreTokenizer {
  readonly type: string;
  /** Splits normalized text into the words the model sees, each still aligned to the original. */
  preTokenize(input: NormalizedText): NormalizedText[];
  /**
   * The ids-only path: the words without alignments, as [start, end) pairs pushed to `bounds`, of
   * the returned text (the input or a transformed copy); absent where only the aligned path is
   * right. Each range is a key that names its word: the word is wordOf(key), or the key itself.
   */
  readonly words?: (text: string, bounds: number[]) => string;
  readonly wordOf?: (key: string) => string;
}

const SUPPORTED = "BertPreTokenizer, Metaspace, Whitespace, WhitespaceSplit, Split, ByteLevel or Sequence";

function specOf(json: unknown, source: string): PreTokenizerSpec {
  if (isObject(json)) {
    const j: Json = json;
    switch (j.type) {
      case "BertPreTokenizer":
        return { type: "BertPreTokenizer" };
      case "Metaspace":
        return metaspaceSpec(j, source);
      case "Whitespace":
      case "WhitespaceSplit":
        return { type: j.type };
      case "Split":
        return splitSpec(j, source);
      case "ByteLevel":
        return byteLevelSpec(j, source);
      case "Sequence":
        if (!Array.isArray(j.pretokenizers)) throw new TokenizerLoadError(`${source}: pre_tokenizer Sequence needs "pretokenizers"`);
        return { type: "Sequence", pretokenizers: (j.pretokenizers as unknown[]).map((p) => specOf(p, source)) };
    }
  }
  throw new TokenizerLoadError(`${source}: pre_tokenizer ${JSON.stringify(typeOf(json))} is not supported (${SUPPORTED})`);
}

/** tokenizer.json's "pre_tokenizer"; an unknown type (or none) is a load error naming it. */
export function preTokenizerSpecFromJson(preTokenizer: unknown, source: string): PreTokenizerSpec {
  return specOf(preTokenizer, source);
}

class SequencePreTokenizer implements PreTokenizer {
  readonly type = "Sequence";
  readonly words: ((text: string, bounds: number[]) => string) | undefined;
  readonly wordOf: ((key: string) => string) | undefined;

  constructor(private readonly stages: readonly PreTokenizer[]) {
    const ready = stages.length > 0 && stages.every((stage) => stage.words !== undefined);
    this.words = ready ? (text, bounds) => wordsInStages(text, stages, bounds) : undefined;
    this.wordOf = stages[stages.length - 1]?.wordOf;
  }

  preTokenize(input: NormalizedText): NormalizedText[] {
    let words = [input];
    for (const stage of this.stages) words = words.flatMap((word) => stage.preTokenize(word));
    return words;
  }
}

/**
 * Each stage's words split by the next; the last stage's keys are returned joined, their ranges
 * in bounds (a rare combination: XLM-R files of 2020, WhitespaceSplit then Metaspace).
 */
function wordsInStages(text: string, stages: readonly PreTokenizer[], bounds: number[]): string {
  let words = [text];
  const ranges: number[] = [];
  for (const stage of stages) {
    const next: string[] = [];
    for (const word of words) {
      ranges.length = 0;
      const split = stage.words!(word, ranges);
      for (let k = 0; k < ranges.length; k += 2) next.push(split.slice(ranges[k], ranges[k + 1]));
    }
    words = stage === stages[stages.length - 1] || !stage.wordOf ? next : next.map(stage.wordOf);
  }
  let at = 0;
  for (const word of words) bounds.push(at, (at += word.length));
  return words.join("");
}

export function createPreTokenizer(spec: PreTokenizerSpec): PreTokenizer {
  switch (spec.type) {
    case "BertPreTokenizer":
      return new BertPreTokenizer();
    case "Metaspace":
      return new Metaspace(spec);
    case "Whitespace":
    case "WhitespaceSplit":
      return new Whitespace(spec.type);
    case "Split":
      return new Split(spec);
    case "ByteLevel":
      return new ByteLevel(spec);
    case "Sequence":
      return new SequencePreTokenizer(spec.pretokenizers.map(createPreTokenizer));
  }
}
