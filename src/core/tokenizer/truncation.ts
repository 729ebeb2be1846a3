/**
 * Truncation before the post-processor, as Hugging Face's `truncate_encodings` does it
 * (tokenizers/src/utils/truncation.rs), with stride 0 and no overflowing encodings.
 */
import { TruncationError } from "./errors.js";
import type { Truncation, TruncationDirection } from "./tokenizer.js";

/** One text's tokens before the template. */
export interface TokenSequence {
  readonly ids: Int32Array;
  /** Two entries per token: start, end. */
  readonly offsets: Uint32Array;
  /** Per token, the index of the word (pre-token, or added token) it came from. */
  readonly words: Uint32Array;
  /** Per token, the original text an added token matched (lstrip/rstrip spaces included), else null. */
  readonly texts?: readonly (string | null)[];
}

function keep(sequence: TokenSequence, from: number, to: number): TokenSequence {
  return { ids: sequence.ids.slice(from, to), offsets: sequence.offsets.slice(2 * from, 2 * to), words: sequence.words.slice(from, to), texts: sequence.texts?.slice(from, to) };
}

function cut(sequence: TokenSequence, length: number, direction: TruncationDirection): TokenSequence {
  const n = sequence.ids.length;
  if (length >= n) return sequence;
  return direction === "right" ? keep(sequence, 0, length) : keep(sequence, n - length, n);
}

/** Whole words from the kept end until at least `length` tokens (tokenizers 0.23's tokenize_with_limit). */
function cutAtWord(sequence: TokenSequence, length: number, direction: TruncationDirection): TokenSequence {
  const { words } = sequence;
  const n = words.length;
  if (length >= n) return sequence;
  if (direction === "right") {
    let end = length;
    while (end < n && words[end] === words[end - 1]) end++;
    return keep(sequence, 0, end);
  }
  let start = n - length;
  while (start > 0 && words[start - 1] === words[start]) start--;
  return keep(sequence, start, n);
}

/**
 * Cuts the texts so that together they hold at most truncation.maxLength tokens less the
 * `reserved` ones (the template's special tokens). longest_first shortens the longer text first
 * and, when both must give, leaves them half each (the shorter text gets the smaller half of an
 * odd room); only_first and only_second cut one text and fail when it is too short to give enough.
 *
 * Like Hugging Face's tokenizers 0.23 (tokenize_with_limit), each text is first cut on its own to
 * the whole words that reach maxLength tokens (the first text not for only_second); that decides
 * longest_first's split when both texts are longer than maxLength.
 */
export function truncateSequences(first: TokenSequence, second: TokenSequence | null, truncation: Truncation, reserved: number): [TokenSequence, TokenSequence | null] {
  const { maxLength, strategy = "longest_first", direction = "right" } = truncation;
  if (!Number.isInteger(maxLength) || maxLength < reserved) {
    throw new TruncationError(`maxLength ${maxLength} leaves no room for the ${reserved} special tokens of the template`);
  }
  if (strategy !== "only_second") first = cutAtWord(first, maxLength, direction);
  second = second && cutAtWord(second, maxLength, direction);
  const room = maxLength - reserved;
  if (room === 0) return [cut(first, 0, direction), second && cut(second, 0, direction)];
  const total = first.ids.length + (second?.ids.length ?? 0);
  if (total <= room) return [first, second];
  const toRemove = total - room;
  if (strategy === "longest_first") {
    if (!second) return [cut(first, room, direction), null];
    // Hugging Face's truncate_encodings (tokenizers/src/utils/truncation.rs).
    const shortest = Math.min(first.ids.length, second.ids.length);
    let short = shortest;
    let long = shortest > room ? shortest : Math.max(shortest, room - shortest);
    if (short + long > room) {
      short = Math.floor(room / 2);
      long = short + (room % 2);
    }
    const firstIsShort = first.ids.length <= second.ids.length;
    return [cut(first, firstIsShort ? short : long, direction), cut(second, firstIsShort ? long : short, direction)];
  }
  const target = strategy === "only_first" ? first : second;
  if (!target) throw new TruncationError("only_second truncation needs a second text");
  if (target.ids.length <= toRemove) {
    throw new TruncationError(`${strategy}: the text to cut has ${target.ids.length} tokens, too few to remove the ${toRemove} over ${room}`);
  }
  const shortened = cut(target, target.ids.length - toRemove, direction);
  return strategy === "only_first" ? [shortened, second] : [first, shortened];
}

/**
 * Cuts ids to maxLength, dropping from the end ('right') or the start ('left'). With hasSpecials
 * the first id ([CLS]) and the last ([SEP]) are kept and the cut is made inside them. Returns the
 * input itself when it already fits. (For single-text templates with one special token on each
 * side; the Tokenizer's `truncation` option handles any template.)
 */
export function truncateIds(ids: Int32Array, maxLength: number, side: "right" | "left", hasSpecials: boolean): Int32Array {
  if (!Number.isInteger(maxLength) || maxLength < 0) throw new RangeError(`maxLength must be a non-negative integer, got ${maxLength}`);
  if (ids.length <= maxLength) return ids;
  if (!hasSpecials || ids.length < 2) return side === "right" ? ids.slice(0, maxLength) : ids.slice(ids.length - maxLength);
  if (maxLength < 2) throw new RangeError(`maxLength ${maxLength} leaves no room for the first and last special tokens`);
  const out = new Int32Array(maxLength);
  out[0] = ids[0];
  out[maxLength - 1] = ids[ids.length - 1];
  const keep = maxLength - 2;
  const bodyStart = side === "right" ? 1 : ids.length - 1 - keep;
  out.set(ids.subarray(bodyStart, bodyStart + keep), 1);
  return out;
}
