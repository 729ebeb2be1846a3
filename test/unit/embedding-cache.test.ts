import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EmbeddingCache, ENTRY_OVERHEAD_BYTES, entryCost } from "../../src/adaptation/embedding-cache.js";

/** A deterministic stream of vector widths: 128-wide pooled features and token states of 1–40 words. */
function width(i: number): number {
  return i % 3 === 0 ? 128 : 128 * (1 + ((i * 7919) % 40));
}

describe("EmbeddingCache", () => {
  it("never holds more than its byte budget, counting each entry's overhead as well as its vector", () => {
    const budget = 1 << 20;
    const cache = new EmbeddingCache("model", budget);
    let mostEntries = 0;
    for (let i = 0; i < 20_000; i++) {
      cache.set(cache.key(0, `text ${i}`), new Float32Array(width(i)));
      if (i % 7 === 0) cache.get(cache.key(0, `text ${i >> 1}`));
      assert.ok(cache.bytes <= budget, `after ${i + 1} inserts: ${cache.bytes} bytes > budget ${budget}`);
      mostEntries = Math.max(mostEntries, cache.size);
    }
    // It fills up to the budget rather than far below it.
    assert.ok(cache.bytes > budget - entryCost(128 * 40 * 4), `only ${cache.bytes} of ${budget} bytes used`);
    // 128-wide vectors alone would fit 2,048 entries in 1 MiB; with the overhead counted, under 1,000.
    assert.ok(mostEntries < budget / (512 + ENTRY_OVERHEAD_BYTES) + 1, `${mostEntries} entries`);
  });

  it("keeps what was used recently and drops the least recently used first", () => {
    const cache = new EmbeddingCache("model", 3 * entryCost(512));
    const keys = ["a", "b", "c", "d"].map((t) => cache.key(0, t));
    cache.set(keys[0], new Float32Array(128));
    cache.set(keys[1], new Float32Array(128));
    cache.set(keys[2], new Float32Array(128));
    assert.ok(cache.get(keys[0]));
    cache.set(keys[3], new Float32Array(128));
    assert.equal(cache.size, 3);
    assert.equal(cache.get(keys[1]), undefined);
    assert.ok(cache.get(keys[0]) && cache.get(keys[2]) && cache.get(keys[3]));
    assert.equal(cache.bytes, 3 * entryCost(512));
  });

  it("refuses an entry larger than the whole budget instead of emptying itself for it", () => {
    const cache = new EmbeddingCache("model", 4 * entryCost(512));
    cache.set(cache.key(0, "small"), new Float32Array(128));
    cache.set(cache.key(0, "huge"), new Float32Array(4096));
    assert.equal(cache.size, 1);
    assert.equal(cache.get(cache.key(0, "huge")), undefined);
  });

  it("keys depend on the pooling and the text", () => {
    const cache = new EmbeddingCache("model", 1 << 20);
    assert.notEqual(cache.key(0, "x"), cache.key(1, "x"));
    assert.notEqual(cache.key(0, "x"), cache.key(0, "y"));
    assert.equal(cache.key(0, "x"), new EmbeddingCache("model", 1).key(0, "x"));
    assert.notEqual(cache.key(0, "x"), new EmbeddingCache("other", 1).key(0, "x"));
  });
});
