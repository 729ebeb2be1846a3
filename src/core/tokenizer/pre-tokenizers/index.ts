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
   * The ids-only path: the words without alignments, as keys pushed to `out` (absent where only the
   * aligned path is right). A key names its word: the word is wordOf(key), or the key itself.
   */
  readonly words?: (text: string, out: string[]) => void;
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
  readonly words: ((text: string, out: string[]) => void) | undefined;
  readonly wordOf: ((key: string) => string) | undefined;

  constructor(private readonly stages: readonly PreTokenizer[]) {
    const ready = stages.length > 0 && stages.every((stage) => stage.words !== undefined);
    this.words = ready ? (text, out) => wordsInStages(text, stages, out) : undefined;
    this.wordOf = stages[stages.length - 1]?.wordOf;
  }

  preTokenize(input: NormalizedText): NormalizedText[] {
    let words = [input];
    for (const stage of this.stages) words = words.flatMap((word) => stage.preTokenize(word));
    return words;
  }
}

/** Each stage's words split by the next; the last stage's keys go to out. */
function wordsInStages(text: string, stages: readonly PreTokenizer[], out: string[]): void {
  let words = [text];
  for (let k = 0; k < stages.length; k++) {
    const last = k === stages.length - 1;
    const next: string[] = last ? out : [];
    for (const word of words) stages[k].words!(word, next);
    const wordOf = stages[k].wordOf;
    words = last || !wordOf ? next : next.map(wordOf);
  }
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
