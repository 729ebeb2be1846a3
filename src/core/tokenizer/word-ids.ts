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
    // A loop: TypedArray.prototype.set costs more than a word's few ids.
    const out = this.ids;
    let n = this.length;
    for (let k = 0; k < ids.length; k++) out[n++] = ids[k];
    this.length = n;
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
 * Word → its ids, looked up by a range of a text without slicing it (an open-addressing table on
 * an FNV-1a hash of the UTF-16 units). At most `capacity` words: when full it starts over, which
 * keeps the current traffic's words without an LRU's bookkeeping on every hit.
 */
export class WordIdsCache {
  private readonly keys: string[] = [];
  private readonly values: WordIds[] = [];
  private readonly hashes: Int32Array;
  /** Slot → entry index + 1 (0: empty). */
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(
    private readonly capacity: number,
    private readonly compute: (word: string) => WordIds,
  ) {
    let size = 16;
    while (size < 2 * capacity) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    this.hashes = new Int32Array(Math.max(capacity, 1));
  }

  /** The ids of the word text[start, end). */
  get(text: string, start: number, end: number): WordIds {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    const length = end - start;
    const { slots, keys, hashes, mask } = this;
    let slot = h & mask;
    for (let entry = slots[slot]; entry !== 0; entry = slots[slot]) {
      const k = entry - 1;
      if (hashes[k] === h && keys[k].length === length && sameUnits(keys[k], text, start)) return this.values[k];
      slot = (slot + 1) & mask;
    }
    const key = text.slice(start, end);
    const ids = this.compute(key);
    if (this.capacity === 0) return ids;
    if (keys.length >= this.capacity) {
      this.clear();
      slot = h & mask;
    }
    hashes[keys.length] = h;
    keys.push(key);
    this.values.push(ids);
    slots[slot] = keys.length;
    return ids;
  }

  private clear(): void {
    this.slots.fill(0);
    this.keys.length = 0;
    this.values.length = 0;
  }
}

function sameUnits(key: string, text: string, start: number): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== text.charCodeAt(start + i)) return false;
  return true;
}
