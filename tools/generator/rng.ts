// Seeded pseudo-random numbers for the generated weights.
//
// xoshiro128** (Blackman & Vigna) seeded through splitmix32; normal deviates by Box–Muller. Each
// tensor draws from its own stream, keyed by (seed, tensor name), so a tensor's values do not depend
// on which other tensors the model has: models of 2 and 4 layers from one seed share layer 0.
//
// Everything is 32-bit integer arithmetic except Box–Muller's log/sqrt/cos/sin, which V8 computes
// with its own fdlibm port (not the platform's libm), so output is the same on every Node platform.

/** FNV-1a over the UTF-16 code units of `text`. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function splitmix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is an integer in [0, 2^32); `stream` names an independent sequence under that seed. */
  constructor(seed: number, stream = "") {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer in [0, 4294967295], got ${seed}`);
    }
    let a = seed | 0;
    let b = fnv1a(stream) | 0;
    let out: number;
    [a, out] = splitmix32(a);
    this.s0 = out;
    [a, out] = splitmix32(a);
    this.s1 = out;
    [b, out] = splitmix32(b);
    this.s2 = out;
    [, out] = splitmix32(b);
    this.s3 = out;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  nextUint32(): number {
    const s0 = this.s0, s1 = this.s1, s2 = this.s2 ^ s0, s3 = this.s3 ^ s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    this.s1 = s1 ^ s2;
    this.s0 = s0 ^ s3;
    this.s2 = s2 ^ (s1 << 9);
    this.s3 = rotl(s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Fills `out` with normal(mean, std) deviates rounded to float32. */
  fillNormal(out: Float32Array, mean: number, std: number): Float32Array {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = 1 - this.nextDouble(); // (0, 1]: log is finite
      const u2 = this.nextDouble();
      const r = Math.sqrt(-2 * Math.log(u1)) * std;
      const theta = 2 * Math.PI * u2;
      out[i] = mean + r * Math.cos(theta);
      if (i + 1 < out.length) out[i + 1] = mean + r * Math.sin(theta);
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
