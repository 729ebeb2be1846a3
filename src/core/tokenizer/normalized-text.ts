/**
 * A piece of text on its way through the pipeline (normalizers, pre-tokenizers) that knows, for
 * every UTF-16 unit, which range of the ORIGINAL text it came from: the source of every offset.
 */
export class NormalizedText {
  private constructor(
    readonly text: string,
    /** Identity alignment: unit k came from original unit base + k (starts/ends are null). */
    private readonly base: number,
    private readonly starts: Uint32Array | null,
    private readonly ends: Uint32Array | null,
  ) {}

  /** original[start, end) itself, not normalized yet. */
  static original(original: string, start = 0, end = original.length): NormalizedText {
    return new NormalizedText(original.slice(start, end), start, null, null);
  }

  /** A text with explicit per-unit alignments to the original. */
  static aligned(text: string, starts: Uint32Array, ends: Uint32Array): NormalizedText {
    return new NormalizedText(text, 0, starts, ends);
  }

  /** Original offset where unit k of the text starts. */
  start(k: number): number {
    return this.starts ? this.starts[k] : this.base + k;
  }

  /** Original offset (exclusive) where unit k of the text ends. */
  end(k: number): number {
    return this.ends ? this.ends[k] : this.base + k + 1;
  }

  /** The original range of units [from, to) (to > from). */
  originalRange(from: number, to: number): [number, number] {
    return [this.start(from), this.end(to - 1)];
  }

  /** `text` (as long as this one, unit for unit) with this one's alignments. */
  withText(text: string): NormalizedText {
    if (text.length !== this.text.length) throw new RangeError("withText needs a text of the same length");
    return new NormalizedText(text, this.base, this.starts, this.ends);
  }

  /**
   * NormalizedString::prepend: `prefix` before the (non-empty) text; the prefix and the first char
   * both take the first char's alignment, as transformText gives them.
   */
  prepended(prefix: string): NormalizedText {
    const first = this.text.codePointAt(0)! > 0xffff ? 2 : 1;
    const length = prefix.length + this.text.length;
    const starts = new Uint32Array(length);
    const ends = new Uint32Array(length);
    const start = this.start(0);
    const end = this.end(first - 1);
    const head = prefix.length + first;
    starts.fill(start, 0, head);
    ends.fill(end, 0, head);
    for (let k = first; k < this.text.length; k++) {
      starts[prefix.length + k] = this.start(k);
      ends[prefix.length + k] = this.end(k);
    }
    return new NormalizedText(prefix + this.text, 0, starts, ends);
  }

  slice(from: number, to: number): NormalizedText {
    if (!this.starts || !this.ends) return new NormalizedText(this.text.slice(from, to), this.base + from, null, null);
    return new NormalizedText(this.text.slice(from, to), 0, this.starts.subarray(from, to), this.ends.subarray(from, to));
  }

  /**
   * This text transformed into `text`, whose unit k came from units [from[k], to[k]) of this one
   * (to[k] > from[k]); the result maps straight to the original.
   */
  transformed(text: string, from: ArrayLike<number>, to: ArrayLike<number>): NormalizedText {
    const starts = new Uint32Array(text.length);
    const ends = new Uint32Array(text.length);
    for (let k = 0; k < text.length; k++) {
      starts[k] = this.start(from[k]);
      ends[k] = this.end(to[k] - 1);
    }
    return new NormalizedText(text, 0, starts, ends);
  }
}

/** One output character of a Rust-style transform and its change: 0 replaces, 1 inserts, -n also removes n more. */
export type CharChange = readonly [string, number] | readonly [string, number, number];

/**
 * Hugging Face's NormalizedString::transform over the whole text (normalizer.rs transform_range),
 * alignment quirks included: an inserted char takes the previous char's alignment, a replacing one
 * the alignment of the char it consumes; `initialOffset` chars are removed first, and an entry's
 * optional third number removes that many chars before it (NormalizedString::replace).
 */
export function transformText(input: NormalizedText, dest: readonly CharChange[], initialOffset: number): NormalizedText {
  // The input's chars (code points) and their alignments.
  const text = input.text;
  const charStarts: number[] = [];
  const charEnds: number[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    charStarts.push(input.start(i));
    charEnds.push(input.end(i + len - 1));
    i += len;
  }
  let out = "";
  const starts: number[] = [];
  const ends: number[] = [];
  let next = initialOffset; // next input char to consume
  for (const [c, change, skip] of dest) {
    if (skip) next += skip;
    let start: number;
    let end: number;
    if (change > 0) {
      if (next < 1) [start, end] = [0, 0];
      else [start, end] = [charStarts[next - 1], charEnds[next - 1]];
    } else {
      const at = Math.min(next, charStarts.length - 1);
      [start, end] = at >= 0 ? [charStarts[at], charEnds[at]] : [0, 0];
      next += 1 - change;
    }
    out += c;
    for (let k = 0; k < c.length; k++) {
      starts.push(start);
      ends.push(end);
    }
  }
  return NormalizedText.aligned(out, Uint32Array.from(starts), Uint32Array.from(ends));
}

/** precompiled.rs `replace`: `replacement`'s chars for `old`'s; extra chars inserted, fewer ones removing from the last. */
export function pushReplacement(dest: CharChange[], old: string, replacement: string): void {
  let oldCount = 0;
  for (const _ of old) oldCount++;
  const chars = [...replacement];
  for (const c of chars) dest.push([c, 0]);
  const diff = chars.length - oldCount;
  if (diff > 0) for (let k = dest.length - diff; k < dest.length; k++) dest[k] = [dest[k][0], 1];
  else if (diff < 0 && dest.length > 0) {
    const last = dest[dest.length - 1];
    dest[dest.length - 1] = [last[0], last[1] + diff, last[2] ?? 0];
  }
}
