import type { EncoderModel } from "../core/encoder.js";
import type { PoolingMode } from "../core/pooling.js";
import { TimeSlicer } from "../core/time-slicer.js";
import type { EmbeddingCache } from "./embedding-cache.js";

/** Head features for texts: the cache first, the encoder (at the given priority) for the rest. */
export async function featuresFor(
  encoder: EncoderModel,
  cache: EmbeddingCache,
  texts: readonly string[],
  pooling: PoolingMode,
  priority: "interactive" | "background",
  signal?: AbortSignal,
): Promise<Float32Array[]> {
  const out = new Array<Float32Array>(texts.length);
  const missing: number[] = [];
  const keys = new Array<string>(texts.length);
  const slicer = new TimeSlicer();
  for (let i = 0; i < texts.length; i++) {
    if (i % 64 === 63) await slicer.pause();
    keys[i] = cache.key(pooling, texts[i]);
    const hit = cache.get(keys[i]);
    if (hit) out[i] = hit;
    else missing.push(i);
  }
  const CHUNK = 256;
  for (let start = 0; start < missing.length; start += CHUNK) {
    const slice = missing.slice(start, start + CHUNK);
    const { ids } = encoder.tokenizeInputs(slice.map((i) => texts[i]), "right", { unlimited: true });
    const pooled = await encoder.pooled(ids, pooling, { priority, signal });
    slice.forEach((index, j) => {
      // A copy: the pooled vector is a view into its whole batch's buffer.
      const vector = pooled[j].slice();
      out[index] = vector;
      cache.set(keys[index], vector);
    });
  }
  return out;
}
