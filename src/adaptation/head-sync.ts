import type { Logger } from "pino";
import type { HeadChange, HeadStore } from "../store/head-store.js";
import type { HeadRegistry } from "./head-registry.js";

/**
 * Keeps this replica's served heads in step with a shared store: each change notification refreshes
 * its head (a notification without a head, sent after the listener reconnects, re-reads all), and a
 * periodic re-read heals whatever notification was missed. Store errors are logged and retried by the
 * next notification or poll; served heads stay as they are meanwhile.
 */
export class HeadSync {
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout | undefined;
  private resyncing: Promise<void> | undefined;

  constructor(
    store: HeadStore,
    private readonly registry: HeadRegistry,
    pollIntervalMs: number,
    private readonly log: Logger,
  ) {
    this.unsubscribe = store.watch((change) => this.changed(change));
    if (pollIntervalMs > 0) {
      this.timer = setInterval(() => void this.resync(), pollIntervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    this.unsubscribe();
    clearInterval(this.timer);
  }

  private changed(change: HeadChange): void {
    if (change.head === undefined) {
      void this.resync();
      return;
    }
    const head = change.head;
    this.registry.refresh(head).catch((error: Error) => this.log.warn({ head, err: error.message }, "could not reload a changed head; the next poll retries"));
  }

  private resync(): Promise<void> {
    this.resyncing ??= this.registry
      .resync()
      .catch((error: Error) => this.log.warn({ err: error.message }, "could not re-read the heads; served heads stay as they are"))
      .finally(() => (this.resyncing = undefined));
    return this.resyncing;
  }
}
