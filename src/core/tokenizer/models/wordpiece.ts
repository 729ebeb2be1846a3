import type { ModelPiece, TokenizerModel } from "./model.js";

/** tokenizer.json's {"type": "WordPiece", …} model. */
export interface WordPieceSpec {
  readonly type: "WordPiece";
  /** token → id, without the added tokens. */
  readonly vocab: ReadonlyMap<string, number>;
  readonly unkToken: string;
  readonly continuingSubwordPrefix: string;
  /** Longer words (in code points) become the unknown token. */
  readonly maxInputCharsPerWord: number;
}

/**
 * WordPiece, greedy longest-match-first, as in HF (Rust `tokenizers` and transformers.js agree):
 * a word of more than maxInputCharsPerWord code points, or one that cannot be fully covered by
 * vocabulary pieces ("##"-prefixed after the first), is a single [UNK].
 */
export class WordPiece implements TokenizerModel {
  readonly type = "WordPiece";
  /** token → id for first pieces. */
  private readonly first: Map<string, number>;
  /** token without the continuation prefix → id, for the tokens that carry the prefix. */
  private readonly continuation: Map<string, number>;
  /** Longest key (UTF-16 units) of each map: no longer candidate can match. */
  private readonly maxFirst: number;
  private readonly maxContinuation: number;

  constructor(
    vocab: ReadonlyMap<string, number>,
    readonly unkId: number,
    readonly prefix: string,
    readonly maxInputChars: number,
  ) {
    this.first = new Map(vocab);
    this.continuation = new Map();
    let maxFirst = 0;
    let maxContinuation = 0;
    for (const [token, id] of vocab) {
      maxFirst = Math.max(maxFirst, token.length);
      if (token.startsWith(prefix)) {
        const rest = token.slice(prefix.length);
        this.continuation.set(rest, id);
        maxContinuation = Math.max(maxContinuation, rest.length);
      }
    }
    this.maxFirst = maxFirst;
    this.maxContinuation = maxContinuation;
  }

  /**
   * Piece ids of one normalized word: a number when it is one piece (or [UNK]), else an Int32Array.
   * With `ends`, the end of each piece (UTF-16 units of the word) is pushed there for multi-piece words.
   */
  tokenize(word: string, ends?: number[]): number | Int32Array {
    const n = word.length;
    if (n === 0) return this.unkId; // never asked: pre-tokens are non-empty
    if (n > this.maxInputChars && codePointLength(word, this.maxInputChars) > this.maxInputChars) return this.unkId;
    let pieces: number[] | undefined;
    let start = 0;
    let single = -1;
    while (start < n) {
      const map = start === 0 ? this.first : this.continuation;
      let end = Math.min(n, start + (start === 0 ? this.maxFirst : this.maxContinuation));
      if (end < n && isLowSurrogate(word.charCodeAt(end)) && isHighSurrogate(word.charCodeAt(end - 1))) end--;
      let found = -1;
      while (end > start) {
        const id = map.get(word.slice(start, end));
        if (id !== undefined) {
          found = id;
          break;
        }
        // Step back one code point, as transformers.js does (it slices an array of code points).
        end -= end - 2 >= start && isLowSurrogate(word.charCodeAt(end - 1)) && isHighSurrogate(word.charCodeAt(end - 2)) ? 2 : 1;
      }
      if (found < 0) return this.unkId;
      if (start === 0 && end === n) return found;
      ends?.push(end);
      if (single < 0 && !pieces) single = found;
      else {
        pieces ??= [single];
        pieces.push(found);
      }
      start = end;
    }
    return pieces ? Int32Array.from(pieces) : single;
  }

  pieces(word: string): ModelPiece[] {
    const ends: number[] = [];
    const ids = this.tokenize(word, ends);
    if (typeof ids === "number") return [{ id: ids, start: 0, end: word.length }];
    return Array.from(ids, (id, k) => ({ id, start: k === 0 ? 0 : ends[k - 1], end: ends[k] }));
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Code points in s, counting stops once past `limit`. A lone surrogate counts as one. */
export function codePointLength(s: string, limit = Infinity): number {
  let count = 0;
  for (let i = 0; i < s.length && count <= limit; i++, count++) {
    if (isHighSurrogate(s.charCodeAt(i)) && i + 1 < s.length && isLowSurrogate(s.charCodeAt(i + 1))) i++;
  }
  return count;
}

/**
 * The model for a spec. Piece ids go through `resolve` (the tokenizer's token → id, added tokens
 * first), as transformers.js's convert_tokens_to_ids does.
 */
export function wordPieceFromSpec(spec: WordPieceSpec, resolve: (token: string) => number): WordPiece {
  const pieceIds = new Map<string, number>();
  for (const token of spec.vocab.keys()) pieceIds.set(token, resolve(token));
  return new WordPiece(pieceIds, resolve(spec.unkToken), spec.continuingSubwordPrefix, spec.maxInputCharsPerWord);
}
