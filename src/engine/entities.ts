import type { WordSplit } from "../core/words.js";
import { spansOf } from "../heads/index.js";

/** A word with its predicted tag; `encoded` is false for a word that got no piece (truncated), tagged O. */
export interface TaggedWord {
  readonly word: string;
  readonly label: string;
  readonly score: number;
  readonly start: number;
  readonly end: number;
  readonly encoded: boolean;
}

/** Consecutive words of one entity: [start, end) in UTF-16 code units of the text, the words' mean score. */
export interface Entity {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly score: number;
}

export interface TaggedText {
  readonly words: TaggedWord[];
  readonly entities: Entity[];
}

/** Each word of `split` with its tag and score, and the BIO spans of the tags merged into entities. */
export function taggedText(split: WordSplit, tags: readonly string[], scores: readonly number[], encoded: readonly boolean[]): TaggedText {
  return {
    words: split.words.map((word, i) => ({ word, label: tags[i], score: scores[i], start: split.starts[i], end: split.ends[i], encoded: encoded[i] })),
    entities: spansOf(tags).map((span) => {
      const start = split.starts[span.start];
      const end = split.ends[span.end - 1];
      let sum = 0;
      for (let i = span.start; i < span.end; i++) sum += scores[i];
      return { type: span.type, start, end, text: split.text.slice(start, end), score: sum / (span.end - span.start) };
    }),
  };
}
