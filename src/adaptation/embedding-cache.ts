import { createHash } from "node:crypto";

/**
 * Pooled features by (model hash, pooling, text): replay passes and refits skip the encoder.
 * Bounded by bytes; least recently used entries go first.
 */
export class EmbeddingCache {
  private readonly entries = new Map<string, Float32Array>();
  private bytes = 0;

  constructor(
    private readonly modelHash: string,
    private readonly maxBytes: number,
  ) {}

  key(pooling: number, text: string): string {
    return createHash("sha256").update(this.modelHash).update(String(pooling)).update("\0").update(text).digest("base64");
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
    if (this.entries.has(key) || value.byteLength > this.maxBytes) return;
    this.entries.set(key, value);
    this.bytes += value.byteLength;
    for (const [oldest, evicted] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= evicted.byteLength;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
