import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { PredictionRecord, SharedPredictions } from "../store/head-store.js";

export interface PredictionStoreOptions {
  /** How long a prediction can be answered (--feedback-window, in ms). */
  readonly windowMs: number;
  /** Most predictions kept in this process (--feedback-max-predictions); 0 = issue no ids. */
  readonly maxPredictions: number;
  /** PostgreSQL: predictions every replica can answer, written behind the calls that made them. */
  readonly shared?: SharedPredictions;
  readonly log: Logger;
  readonly now?: () => number;
}

export type Lookup =
  | { readonly found: PredictionRecord }
  | { readonly outcome: "unknown_id" | "expired"; readonly detail: string };

/** Flush the write-behind queue this often, or at this many rows. */
const FLUSH_MS = 20;
const FLUSH_ROWS = 500;
/** With a shared store, a prediction issued this recently by another replica may still be on its way. */
const IN_FLIGHT_MS = 2000;
const SWEEP_MS = 10_000;
const ID = /^p1\.([0-9a-z]+)\.([0-9a-z]+)\.([A-Za-z0-9_-]{16})$/;

/**
 * Recent predictions that feedback may answer: in memory, insertion (= time) ordered, bounded by
 * count and age; with a shared store also written (behind the call, batched) to PostgreSQL so a
 * feedback call that reaches another replica finds them. An id says when and by which process it was
 * issued, so a missing prediction is told apart: expired by age, pushed out by the size bound, lost
 * with a restart, or never issued.
 */
export class PredictionStore {
  private readonly records = new Map<string, PredictionRecord>();
  /** This process's id tag: ids from another tag were issued by another process (or before a restart). */
  private readonly boot = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  private readonly startedAtMs: number;
  private evictedThroughMs = 0;
  private pending: PredictionRecord[] = [];
  private flushing: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly options: PredictionStoreOptions) {
    this.now = options.now ?? Date.now;
    this.startedAtMs = this.now();
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  get enabled(): boolean {
    return this.options.maxPredictions > 0;
  }

  get size(): number {
    return this.records.size;
  }

  get windowMs(): number {
    return this.options.windowMs;
  }

  /** A new, unguessable id that carries its issue time. */
  newId(atMs = this.now()): string {
    return `p1.${this.boot}.${atMs.toString(36)}.${randomBytes(12).toString("base64url")}`;
  }

  keep(records: readonly PredictionRecord[]): void {
    if (!this.enabled) return;
    for (const record of records) this.records.set(record.id, record);
    while (this.records.size > this.options.maxPredictions) {
      const [oldest, record] = this.records.entries().next().value!;
      this.records.delete(oldest);
      this.evictedThroughMs = Math.max(this.evictedThroughMs, record.createdAtMs);
    }
    if (this.options.shared) {
      this.pending.push(...records);
      if (this.pending.length >= FLUSH_ROWS) void this.flush();
      else this.flushTimer ??= setTimeout(() => void this.flush(), FLUSH_MS);
    }
  }

  async find(id: string): Promise<Lookup> {
    const now = this.now();
    const parsed = ID.exec(id);
    if (!parsed) return { outcome: "unknown_id", detail: `"${clip(id)}" is not a prediction id bertd issued` };
    const issuedAtMs = parseInt(parsed[2], 36);
    const local = this.records.get(id);
    if (local) return local.expiresAtMs > now ? { found: local } : expired(id, this.options.windowMs);
    if (issuedAtMs + this.options.windowMs <= now) return expired(id, this.options.windowMs);
    const shared = this.options.shared;
    if (shared) {
      let remote = await this.loadShared(shared, id);
      // Issued elsewhere a moment ago: its replica may not have written it yet.
      for (let waited = 0; !remote && parsed[1] !== this.boot && now - issuedAtMs < IN_FLIGHT_MS && waited < IN_FLIGHT_MS; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        remote = await this.loadShared(shared, id);
      }
      if (remote) return remote.expiresAtMs > this.now() ? { found: remote } : expired(id, this.options.windowMs);
    }
    if (parsed[1] === this.boot && issuedAtMs <= this.evictedThroughMs) {
      return { outcome: "expired", detail: `prediction ${clip(id)} was pushed out by newer ones (--feedback-max-predictions ${this.options.maxPredictions})` };
    }
    if (parsed[1] !== this.boot && !shared && issuedAtMs < this.startedAtMs) {
      return { outcome: "expired", detail: `prediction ${clip(id)} was issued before this server restarted (with the embedded store predictions are kept in memory)` };
    }
    return { outcome: "unknown_id", detail: `no prediction ${clip(id)} is kept${shared ? " by any replica" : ""}` };
  }

  /** Writes the queued predictions to the shared store; a failure is logged (this replica still answers them). */
  flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const shared = this.options.shared;
    if (!shared || this.pending.length === 0) return this.flushing ?? Promise.resolve();
    const batch = this.pending.splice(0, this.pending.length);
    const previous = this.flushing ?? Promise.resolve();
    const next = previous.then(() =>
      shared.savePredictions(batch).catch((error: Error) => this.options.log.warn({ err: error.message, predictions: batch.length }, "could not share predictions; only this replica can answer them")),
    );
    this.flushing = next.finally(() => {
      if (this.flushing === next) this.flushing = undefined;
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.flush();
  }

  private async loadShared(shared: SharedPredictions, id: string): Promise<PredictionRecord | undefined> {
    return shared.loadPrediction(id);
  }

  /** Drops expired predictions from the front (the map is in time order); asks the shared store to do the same. */
  private sweep(): void {
    const now = this.now();
    for (const [id, record] of this.records) {
      if (record.expiresAtMs > now) break;
      this.records.delete(id);
    }
    this.options.shared?.deleteExpiredPredictions(now).catch((error: Error) => this.options.log.warn({ err: error.message }, "could not delete expired predictions; the next sweep retries"));
  }
}

function expired(id: string, windowMs: number): Lookup {
  return { outcome: "expired", detail: `prediction ${clip(id)} is older than --feedback-window (${Math.round(windowMs / 1000)} s)` };
}

function clip(id: string): string {
  return id.length > 64 ? `${id.slice(0, 61)}…` : id;
}
