/** Server-wide limits on what Adapt streams may create. */
export interface AdaptLimits {
  readonly maxLabelsPerHead: number;
  readonly maxHeads: number;
  /** Characters in one example's text (the same limit as an Embed input's). */
  readonly maxInputChars: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per key name: `perSecond` tokens a second, holding at most one second's worth
 * (so a key may burst that many at once). perSecond = 0 means no limit.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly perSecond: number) {}

  /** Takes one token from the key's bucket; false when it is empty. */
  take(key: string, now = performance.now()): boolean {
    if (this.perSecond <= 0) return true;
    const capacity = Math.max(1, this.perSecond);
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = { tokens: capacity, at: now }));
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }
}
