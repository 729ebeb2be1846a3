import pg from "pg";
import type { Logger } from "pino";
import type { HeadChange } from "./head-store.js";

export const CHANGES_CHANNEL = "bertd_heads";

/**
 * LISTEN on its own connection (a pooled one would lose the subscription), reconnecting with backoff
 * for as long as it runs. After every (re)connection it reports a change with no head: notifications
 * sent while it was away are lost, so listeners re-read everything.
 */
export class ChangeListener {
  private readonly listeners = new Set<(change: HeadChange) => void>();
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = 250;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly log: Logger,
  ) {}

  subscribe(listener: (change: HeadChange) => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1 && !this.client && !this.timer) void this.connect();
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(this.config);
    this.client = client;
    let failed = false;
    const lost = (error?: Error): void => {
      if (failed) return;
      failed = true;
      if (this.client === client) this.client = undefined;
      client.removeAllListeners("notification");
      void client.end().catch(() => {});
      if (this.stopped) return;
      this.log.warn({ err: error?.message, retryMs: this.retryMs }, "head change listener lost its PostgreSQL connection; reconnecting");
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.connect();
      }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 5000);
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (message) => {
      if (message.channel !== CHANGES_CHANNEL) return;
      const head = parseHead(message.payload);
      this.emit(head === undefined ? {} : { head });
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (error) {
      lost(error as Error);
      return;
    }
    if (this.retryMs > 250) this.log.info("head change listener reconnected to PostgreSQL");
    this.retryMs = 250;
    this.emit({});
  }

  private emit(change: HeadChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

function parseHead(payload: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(payload ?? "") as { head?: unknown };
    return typeof parsed.head === "string" ? parsed.head : undefined;
  } catch {
    return undefined;
  }
}
