/** The ids-only path's helpers: a growable id buffer and a bounded word → ids cache. */

/** Ids appended one text at a time; the buffer is reused from text to text. */
export class IdBuffer {
  private ids = new Int32Array(256);
  length = 0;

  push(id: number): void {
    if (this.length === this.ids.length) this.grow(this.length + 1);
    this.ids[this.length++] = id;
  }

  /** One id (a number) or several. */
  pushIds(ids: number | Int32Array): void {
    if (typeof ids === "number") this.push(ids);
    else this.pushAll(ids);
  }

  pushAll(ids: Int32Array): void {
    if (this.length + ids.length > this.ids.length) this.grow(this.length + ids.length);
    this.ids.set(ids, this.length);
    this.length += ids.length;
  }

  /** A copy of the ids so far. */
  take(): Int32Array {
    return this.ids.slice(0, this.length);
  }

  private grow(atLeast: number): void {
    const ids = new Int32Array(Math.max(atLeast, 2 * this.ids.length));
    ids.set(this.ids.subarray(0, this.length));
    this.ids = ids;
  }
}

/** A word's ids: a number when it is one token (most words), else an array. */
export type WordIds = number | Int32Array;

/**
 * word → its ids, at most `capacity` words; when full it starts over, which keeps the words of
 * the current traffic without an LRU's bookkeeping on every hit.
 */
export class WordIdsCache {
  private readonly map = new Map<string, WordIds>();

  constructor(
    private readonly capacity: number,
    private readonly compute: (word: string) => WordIds,
  ) {}

  get(word: string): WordIds {
    let ids = this.map.get(word);
    if (ids === undefined) {
      ids = this.compute(word);
      if (this.capacity > 0) {
        if (this.map.size >= this.capacity) this.map.clear();
        this.map.set(word, ids);
      }
    }
    return ids;
  }
}
