/** Latency samples in milliseconds and the percentiles people quote. */
export class Latencies {
  private readonly samples: number[] = [];

  add(ms: number): void {
    this.samples.push(ms);
  }

  get count(): number {
    return this.samples.length;
  }

  percentile(p: number): number {
    if (this.samples.length === 0) return NaN;
    const sorted = this.samples.slice().sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  }

  summary(): { p50: number; p95: number; p99: number } {
    return { p50: this.percentile(50), p95: this.percentile(95), p99: this.percentile(99) };
  }
}

/** Runs `task(i)` for i in [0, total) with `concurrency` callers; returns seconds elapsed. */
export async function closedLoop(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await task(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

/**
 * Sends at a fixed rate for `seconds`, whatever the answers; latency counts from the scheduled send
 * time, so a stalled server cannot hide its queueing (no coordinated omission).
 */
export async function openLoop(
  ratePerSecond: number,
  seconds: number,
  task: (i: number, scheduledAt: number) => Promise<void>,
): Promise<void> {
  const total = Math.floor(ratePerSecond * seconds);
  const interval = 1000 / ratePerSecond;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduledAt = started + i * interval;
    const wait = scheduledAt - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(task(i, scheduledAt));
  }
  await Promise.all(pending);
}
