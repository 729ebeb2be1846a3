import { createHash } from "node:crypto";

/**
 * What one entry costs beyond its vector's bytes, measured on Node 20 (50,000 entries, after GC):
 * about 280 bytes of V8 heap (the 44-character key, the Map entry, the Float32Array and ArrayBuffer
 * objects) and about 700 bytes of native memory (the ArrayBuffer's backing store record and malloc's
 * own overhead). Counting only the vectors made a 16 MiB cache of 128-wide vectors cost ~48 MiB.
 */
export const ENTRY_OVERHEAD_BYTES = 1024;

/** The memory an entry holding `vectorBytes` of features costs. */
export function entryCost(vectorBytes: number): number {
  return vectorBytes + ENTRY_OVERHEAD_BYTES;
}

/**
 * Pooled features by (model hash, pooling, text): replay passes and refits skip the encoder.
 * Bounded by the memory its entries really cost (vectors plus per-entry overhead); least recently
 * used entries go first.
 */
export class EmbeddingCache {
  private readonly entries = new Map<string, Float32Array>();
  private used = 0;

  constructor(
    private readonly modelHash: string,
    readonly maxBytes: number,
  ) {}

  key(pooling: number, text: string): string {
    return createHash("sha256").update(this.modelHash).update(String(pooling)).update("\0").update(text).digest("base64");
  }

  /** A pair's key: never equal to a single text's (a different separator after the pooling code). */
  pairKey(pooling: number, text: string, textPair: string): string {
    return createHash("sha256").update(this.modelHash).update(String(pooling)).update(`\u0001${text.length}:`).update(text).update(textPair).digest("base64");
  }

  get(key: string): Float32Array | undefined {
    const value = this.entries.get(key);
    if (value) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: Float32Array): void {
    const cost = entryCost(value.byteLength);
    if (this.entries.has(key) || cost > this.maxBytes) return;
    this.entries.set(key, value);
    this.used += cost;
    for (const [oldest, evicted] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.used -= entryCost(evicted.byteLength);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** The memory the entries cost now, by the same accounting that bounds it. */
  get bytes(): number {
    return this.used;
  }
}
