/**
 * BertPreTokenizer: words are runs of non-space non-punctuation, and every punctuation character
 * is a word by itself; whitespace separates and is dropped. Whitespace and punctuation are the Rust
 * crate's (bert-unicode-tables.ts), not the running ICU's.
 */
import type { NormalizedText } from "../normalized-text.js";
import { PUNCTUATION, WHITESPACE } from "../normalizers/bert-unicode-tables.js";
import { matchRanges } from "./whitespace.js";

/** Runs of non-space non-punctuation, or one punctuation char. Global: reset lastIndex before use. */
export const PRE_TOKENIZE_RE = new RegExp(`[^${WHITESPACE}${PUNCTUATION}]+|[${PUNCTUATION}]`, "gu");
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
