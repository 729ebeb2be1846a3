import type { Logger } from "pino";
import type { HeadStore } from "../store/head-store.js";
import { liveMetrics, type LiveMetrics } from "./live-metrics.js";

/** Most recent answered predictions the live metrics cover (--live-window). */
export async function headLiveMetrics(store: HeadStore, head: string, window: number): Promise<{ all: LiveMetrics; versions: Map<number, LiveMetrics> } | undefined> {
  const record = await store.getHead(head);
  if (!record) return undefined;
  const scored = await store.scoredFeedback(head, window);
  const groups = new Map<number, typeof scored>();
  for (const item of scored) {
    const group = groups.get(item.served.version) ?? [];
    group.push(item);
    groups.set(item.served.version, group);
  }
  return { all: liveMetrics(record.type, scored), versions: new Map([...groups].map(([v, items]) => [v, liveMetrics(record.type, items)])) };
}

/**
 * Keeps the live-accuracy gauges of heads that get feedback on this replica up to date: recomputed from
 * the store (so every replica reports the same window) at most every `everyMs` per head.
 */
export class LiveGauges {
  private readonly scheduled = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly store: HeadStore,
    private readonly window: number,
    private readonly set: (head: string, metrics: LiveMetrics) => void,
    private readonly log: Logger,
    private readonly everyMs = 500,
  ) {}

  changed(head: string): void {
    if (this.scheduled.has(head)) return;
    const timer = setTimeout(() => {
      this.scheduled.delete(head);
      void this.refresh(head);
    }, this.everyMs);
    timer.unref();
    this.scheduled.set(head, timer);
  }

  async refresh(head: string): Promise<LiveMetrics | undefined> {
    try {
      const live = await headLiveMetrics(this.store, head, this.window);
      if (live) this.set(head, live.all);
      return live?.all;
    } catch (error) {
      this.log.warn({ head, err: (error as Error).message }, "could not compute live accuracy; the next feedback retries");
      return undefined;
    }
  }

  stop(): void {
    for (const timer of this.scheduled.values()) clearTimeout(timer);
    this.scheduled.clear();
  }
}
