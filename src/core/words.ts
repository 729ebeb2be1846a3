import type { Tokenizer } from "./tokenizer/index.js";

/** A text cut into words, with each word's [start, end) in UTF-16 code units of `text`. */
export interface WordSplit {
  readonly text: string;
  readonly words: readonly string[];
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

/** Words aligned to WordPiece: the ids to encode and, per word, the position of its first piece. */
export interface AlignedWords extends WordSplit {
  /** [CLS] … [SEP], cut to the maximum length. */
  readonly ids: Int32Array;
  /** Token position of each word's first piece, or -1 when the word has no piece (truncated, or only dropped characters). */
  readonly firstPiece: Int32Array;
  /** The positions of the words that have one, in word order: the rows the encoder returns. */
  readonly positions: Int32Array;
}

const CHUNK = /\S+/gu;
const EDGE = /^[\p{P}\p{S}]$/u;

/**
 * Splits a text into words: whitespace-delimited chunks, with punctuation and symbols at either end
 * of a chunk split off one character per word, so "<jo@x.org>," gives "<", "jo@x.org", ">", ",".
 * Inner punctuation stays ("1.2-3", "don't", "jo@x.org").
 */
export function splitWords(text: string): WordSplit {
  const words: string[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (const match of text.matchAll(CHUNK)) {
    const chunk = match[0];
    const at = match.index;
    const chars = Array.from(chunk);
    let lo = 0;
    let hi = chars.length;
    while (lo < hi && EDGE.test(chars[lo])) lo++;
    while (hi > lo && EDGE.test(chars[hi - 1])) hi--;
    let offset = at;
    const push = (word: string): void => {
      words.push(word);
      starts.push(offset);
      offset += word.length;
      ends.push(offset);
    };
    for (let i = 0; i < lo; i++) push(chars[i]);
    if (hi > lo) push(chars.slice(lo, hi).join(""));
    for (let i = hi; i < chars.length; i++) push(chars[i]);
  }
  return { text, words, starts: Uint32Array.from(starts), ends: Uint32Array.from(ends) };
}

/** Pre-split words joined by single spaces, with each word's offsets in the joined text. */
export function joinWords(words: readonly string[]): WordSplit {
  const starts = new Uint32Array(words.length);
  const ends = new Uint32Array(words.length);
  let offset = 0;
  words.forEach((word, i) => {
    starts[i] = offset;
    ends[i] = offset + word.length;
    offset = ends[i] + 1;
  });
  return { text: words.join(" "), words, starts, ends };
}

/**
 * Tokenizes the split's text with offsets and finds each word's first piece: the first token whose
 * character range overlaps the word's. Tokens past `maxLength` (with [CLS] and [SEP] kept) are cut,
 * so a word whose first piece falls beyond the cut has none, while a word cut after its first piece
 * keeps it.
 */
export function alignWords(tokenizer: Tokenizer, split: WordSplit, maxLength: number): AlignedWords {
  const encoded = tokenizer.encode(split.text, { addSpecialTokens: true, offsets: true });
  const offsets = encoded.offsets!;
  let ids = encoded.ids;
  // Body tokens are 1 … n-2; keep 1 … maxLength-2 of them.
  const bodyEnd = Math.min(ids.length - 1, maxLength - 1);
  if (ids.length > maxLength) {
    const cut = new Int32Array(maxLength);
    cut.set(ids.subarray(0, maxLength - 1));
    cut[maxLength - 1] = ids[ids.length - 1];
    ids = cut;
  }
  const firstPiece = new Int32Array(split.words.length).fill(-1);
  let token = 1;
  for (let w = 0; w < split.words.length; w++) {
    const start = split.starts[w];
    const end = split.ends[w];
    while (token < bodyEnd && offsets[2 * token + 1] <= start) token++;
    if (token < bodyEnd && offsets[2 * token] < end && offsets[2 * token + 1] > start) firstPiece[w] = token;
  }
  const positions = firstPiece.filter((p) => p >= 0);
  return { ...split, ids, firstPiece, positions };
}

/** Splits a flat (words with a piece) × width array into one row per word, undefined for words without a piece. */
export function rowsPerWord(aligned: AlignedWords, flat: Float32Array, width: number): (Float32Array | undefined)[] {
  let row = 0;
  return Array.from(aligned.firstPiece, (piece) => (piece < 0 ? undefined : flat.subarray(width * row, width * ++row)));
}
