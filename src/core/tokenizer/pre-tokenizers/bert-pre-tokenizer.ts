/**
 * BertPreTokenizer: words are runs of non-space non-punctuation, and every punctuation character
 * is a word by itself; whitespace separates and is dropped. transformers.js's regular expression,
 * so Unicode categories follow the running V8/ICU.
 */
import type { NormalizedText } from "../normalized-text.js";
import { matchRanges } from "./whitespace.js";

/** BertPreTokenizer's punctuation: Unicode P* plus the ASCII ranges 33-47, 58-64, 91-96, 123-126. */
const PUNCTUATION = "\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E";
/** Runs of non-space non-punctuation, or one punctuation char. Global: reset lastIndex before use. */
export const PRE_TOKENIZE_RE = new RegExp(`[^\\s${PUNCTUATION}]+|[${PUNCTUATION}]`, "gu");
export const PUNCTUATION_CHAR_RE = new RegExp(`^[${PUNCTUATION}]$`, "u");

export interface BertPreTokenizerSpec {
  readonly type: "BertPreTokenizer";
}

/** The pipeline stage. */
export class BertPreTokenizer {
  readonly type = "BertPreTokenizer";

  preTokenize(input: NormalizedText): NormalizedText[] {
    const words: NormalizedText[] = [];
    PRE_TOKENIZE_RE.lastIndex = 0; // matchAll copies lastIndex
    for (const match of input.text.matchAll(PRE_TOKENIZE_RE)) words.push(input.slice(match.index, match.index + match[0].length));
    return words;
  }

  readonly words = (text: string, bounds: number[]): string => matchRanges(text, PRE_TOKENIZE_RE, bounds);
}
