/**
 * xoshiro128** — a small, fast, seedable PRNG whose whole state is four uint32 words (so it serializes
 * exactly). Seeded from a uint53 through splitmix32 so that nearby seeds give unrelated streams.
 */
export class Prng {
  private readonly s: Uint32Array;

  private constructor(state: Uint32Array) {
    this.s = state;
  }

  static fromSeed(seed: number): Prng {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be an integer in [0, 2^53), got ${seed}`);
    let x = (seed >>> 0) ^ Math.imul((seed / 2 ** 32) >>> 0, 0x9e3779b9);
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    const s = new Uint32Array([next(), next(), next(), next()]);
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
    return new Prng(s);
  }

  static fromState(state: ArrayLike<number>): Prng {
    if (state.length !== 4) throw new RangeError("PRNG state must be 4 words");
    const s = Uint32Array.from(state);
    if ((s[0] | s[1] | s[2] | s[3]) === 0) throw new RangeError("PRNG state must not be all zero");
    return new Prng(s);
  }

  /** A copy of the four state words. */
  state(): number[] {
    return Array.from(this.s);
  }

  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextDouble() * n);
  }

  /** Standard normal (Box–Muller, one value per two uniforms; no cached spare, so the state stays 4 words). */
  nextNormal(): number {
    const u1 = 1 - this.nextDouble(); // (0, 1]
    const u2 = this.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle(a: { length: number; [i: number]: number }): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
