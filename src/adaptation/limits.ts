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
 * (so a key may burst that many at once). perSecond = 0 means no limit. A caller over the rate is
 * told how long to wait, not refused: the token is theirs already (the bucket goes into debt), so
 * callers sharing a key are paced together and served in the order they asked.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly perSecond: number) {}

  /** Takes one token from the key's bucket; the milliseconds until it may be used (0: now). */
  reserve(key: string, now = performance.now()): number {
    if (this.perSecond <= 0) return 0;
    const capacity = Math.max(1, this.perSecond);
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = { tokens: capacity, at: now }));
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond) - 1;
    bucket.at = now;
    return bucket.tokens >= 0 ? 0 : (-bucket.tokens / this.perSecond) * 1000;
  }
}
