import type { EncoderModel } from "../core/encoder.js";
import type { TextPair } from "../core/pair-inputs.js";
import type { PoolingMode } from "../core/pooling.js";
import { TimeSlicer } from "../core/time-slicer.js";
import type { EmbeddingCache } from "./embedding-cache.js";

/** Head features for texts: the cache first, the encoder (at the given priority) for the rest. */
export function featuresFor(
  encoder: EncoderModel,
  cache: EmbeddingCache,
  texts: readonly string[],
  pooling: PoolingMode,
  priority: "interactive" | "background",
  signal?: AbortSignal,
): Promise<Float32Array[]> {
  return cachedFeatures(
    texts,
    (text) => cache.key(pooling, text),
    cache,
    async (missing) => encoder.pooled(encoder.tokenizeInputs(missing, "right", { unlimited: true }).ids, pooling, { priority, signal }),
  );
}

/** A pair head's logged example (or kept prediction): its [text, text_pair] JSON back into a pair. */
export function pairOfStored(stored: { readonly text: string }): TextPair {
  const [text, textPair] = JSON.parse(stored.text) as [string, string];
  return { text, textPair };
}

/** Head features for sentence pairs (src/core/pair-features.ts; pair template, longest_first truncation). */
export function pairFeaturesFor(
  encoder: EncoderModel,
  cache: EmbeddingCache,
  pairs: readonly TextPair[],
  pooling: PoolingMode,
  priority: "interactive" | "background",
  signal?: AbortSignal,
): Promise<Float32Array[]> {
  return cachedFeatures(
    pairs,
    (pair) => cache.pairKey(pooling, pair.text, pair.textPair),
    cache,
    async (missing) => (await encoder.pairHeadFeatures(missing, pooling, { side: "right" }, { priority, signal }, { unlimited: true })).readouts,
  );
}

async function cachedFeatures<T>(inputs: readonly T[], keyOf: (input: T) => string, cache: EmbeddingCache, encode: (missing: T[]) => Promise<Float32Array[]>): Promise<Float32Array[]> {
  const out = new Array<Float32Array>(inputs.length);
  const missing: number[] = [];
  const keys = new Array<string>(inputs.length);
  const slicer = new TimeSlicer();
  for (let i = 0; i < inputs.length; i++) {
    if (i % 64 === 63) await slicer.pause();
    keys[i] = keyOf(inputs[i]);
    const hit = cache.get(keys[i]);
    if (hit) out[i] = hit;
    else missing.push(i);
  }
  const CHUNK = 256;
  for (let start = 0; start < missing.length; start += CHUNK) {
    const slice = missing.slice(start, start + CHUNK);
    const pooled = await encode(slice.map((i) => inputs[i]));
    slice.forEach((index, j) => {
      // A copy: the pooled vector is a view into its whole batch's buffer.
      const vector = pooled[j].slice();
      out[index] = vector;
      cache.set(keys[index], vector);
    });
  }
  return out;
}
