/**
 * Deterministic holdout assignment from an example id, identical across processes, restarts and machines
 * (integer arithmetic only).
 *
 * Exact definition (reproducible elsewhere, e.g. Python's mmh3):
 *   key = UTF-8 bytes of exampleId
 *   a   = MurmurHash3_x86_32(key, floor(seed / 2^32))
 *   h1  = MurmurHash3_x86_32(key, (seed mod 2^32) XOR a)
 *   h2  = MurmurHash3_x86_32(key, h1)
 *   u   = (h1 · 2^21 + floor(h2 / 2^11)) / 2^53          (uniform in [0, 1), 53 bits; every seed bit matters)
 *   holdout ⇔ u < fraction
 * For a fixed seed the holdout sets are nested: raising the fraction only adds examples.
 */

const encoder = new TextEncoder();

/** MurmurHash3 x86 32-bit of bytes with a uint32 seed; returns a uint32. */
export function murmur3_32(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const n = bytes.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = n & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2] << 16;
    if (tail >= 2) k ^= bytes[blocks + 1] << 8;
    k ^= bytes[blocks];
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The id's uniform position in [0, 1) for this seed (see the module comment). */
export function holdoutPosition(exampleId: string, seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be an integer in [0, 2^53), got ${seed}`);
  const key = encoder.encode(exampleId);
  const lo = seed % 4294967296;
  const hi = Math.floor(seed / 4294967296);
  const a = murmur3_32(key, hi);
  const h1 = murmur3_32(key, (lo ^ a) >>> 0);
  const h2 = murmur3_32(key, h1);
  return (h1 * 2097152 + (h2 >>> 11)) / 9007199254740992;
}

/** Whether the example with this id belongs to the holdout (never trained on). */
export function isHoldout(exampleId: string, fraction: number, seed: number): boolean {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`fraction must be in [0, 1], got ${fraction}`);
  if (fraction === 0) return false;
  return holdoutPosition(exampleId, seed) < fraction;
}
