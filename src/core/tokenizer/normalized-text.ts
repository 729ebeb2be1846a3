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
