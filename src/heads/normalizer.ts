/**
 * Per-feature standardization from running statistics (Welford, float64).
 *
 * After n examples: mean_i, var_i = M2_i / n (population variance), and
 *   n < 2:  x̂_i = x_i − mean_i                          (no variance estimate yet: centering only)
 *   n ≥ 2:  x̂_i = (x_i − mean_i) / sqrt(var_i + floor),  floor = 1e-6 · mean_j(var_j) + 1e-12
 * The relative floor keeps (near-)constant features from exploding while leaving the transform invariant
 * to a global rescaling of the features.
 *
 * Only HeadTrainer.learn() calls update(); prediction and evaluation only read.
 */
export class RunningNormalizer {
  readonly dim: number;
  private n: number;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
  /** Derived from (n, mean, m2); recomputed lazily after updates. */
  private readonly scaleCache: Float64Array;
  private dirty = true;

  constructor(dim: number, n = 0, mean?: Float64Array, m2?: Float64Array) {
    this.dim = dim;
    this.n = n;
    this.mean = mean ?? new Float64Array(dim);
    this.m2 = m2 ?? new Float64Array(dim);
    if (this.mean.length !== dim || this.m2.length !== dim) throw new RangeError("normalizer arrays must have length dim");
    this.scaleCache = new Float64Array(dim);
  }

  get count(): number {
    return this.n;
  }

  /** Welford update with one raw example. */
  update(x: ArrayLike<number>): void {
    const n = ++this.n;
    const inv = 1 / n;
    const mean = this.mean;
    const m2 = this.m2;
    for (let i = 0; i < this.dim; i++) {
      const xi = x[i];
      const d = xi - mean[i];
      const mi = mean[i] + d * inv;
      mean[i] = mi;
      m2[i] += d * (xi - mi);
    }
    this.dirty = true;
  }

  /** 1 / std per feature (1 while n < 2). The returned array is owned by the normalizer: do not modify. */
  scale(): Float64Array {
    if (this.dirty) {
      const s = this.scaleCache;
      if (this.n < 2) {
        s.fill(1);
      } else {
        const inv = 1 / this.n;
        let total = 0;
        for (let i = 0; i < this.dim; i++) total += this.m2[i];
        const floor = 1e-6 * total * inv / this.dim + 1e-12;
        for (let i = 0; i < this.dim; i++) s[i] = 1 / Math.sqrt(this.m2[i] * inv + floor);
      }
      this.dirty = false;
    }
    return this.scaleCache;
  }
}

/** out_i = (x_i − mean_i) · scale_i. */
export function standardizeInto(x: ArrayLike<number>, mean: Float64Array, scale: Float64Array, out: Float64Array): void {
  const d = mean.length;
  for (let i = 0; i < d; i++) out[i] = (x[i] - mean[i]) * scale[i];
}
