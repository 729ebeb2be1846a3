import type { Logger } from "pino";
import type { CancelSignal } from "../core/cancellation.js";
import { failedPrecondition, notFound } from "../core/errors.js";
import type { PoolingMode } from "../core/pooling.js";
import { HeadTrainer, type HeadSnapshot } from "../heads/index.js";
import type { HeadStore, StoredHeadType } from "../store/head-store.js";

/** A head as Classify serves it: an immutable snapshot, never the trainer's live arrays. */
export interface ServedHead {
  readonly name: string;
  readonly version: number;
  readonly type: StoredHeadType;
  readonly pooling: PoolingMode;
  readonly snapshot: HeadSnapshot;
  /** A pair head: it classifies sentence pairs. */
  readonly pair: boolean;
}

export type PoolingOfConfig = (config: Uint8Array) => PoolingMode;

const MAX_CACHED_VERSIONS = 64;

/** The heads this replica serves: active versions by name, swapped whole on commit or rollback. */
export class HeadRegistry {
  private readonly active = new Map<string, ServedHead>();
  private readonly versions = new Map<string, ServedHead>();
  /** Refreshes of one head run one after another, so an older read never replaces a newer one. */
  private readonly refreshing = new Map<string, Promise<unknown>>();
  private readonly swapListeners = new Set<(name: string, version: number) => void>();

  constructor(
    private readonly store: HeadStore,
    private readonly modelHash: string,
    private readonly poolingOf: PoolingOfConfig,
    private readonly log: Logger,
  ) {}

  /** Calls back whenever a head's served version changes (0 = no longer served); returns the unsubscribe. */
  onSwap(listener: (name: string, version: number) => void): () => void {
    this.swapListeners.add(listener);
    return () => this.swapListeners.delete(listener);
  }

  /** Loads every head's active version from the store. */
  async loadAll(): Promise<void> {
    for (const head of await this.store.listHeads()) {
      if (head.modelHash !== this.modelHash) {
        this.log.warn({ head: head.name }, "head was trained on another encoder (model hash differs): not served");
        continue;
      }
      if (head.activeVersion > 0) await this.refresh(head.name);
    }
  }

  /** Re-reads a head's active version from the store and swaps it in (or out, when deleted). */
  refresh(name: string): Promise<ServedHead | undefined> {
    const previous = this.refreshing.get(name) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.reload(name));
    this.refreshing.set(name, next);
    const cleanup = (): void => {
      if (this.refreshing.get(name) === next) this.refreshing.delete(name);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  /** Re-reads every head (a missed notification heals here); refreshes those whose active version moved. */
  async resync(): Promise<void> {
    const heads = await this.store.listHeads();
    const names = new Set(heads.map((head) => head.name));
    for (const name of this.active.keys()) if (!names.has(name)) this.forget(name);
    for (const head of heads) {
      if (head.modelHash !== this.modelHash) continue;
      if ((this.active.get(head.name)?.version ?? 0) !== head.activeVersion) await this.refresh(head.name);
    }
  }

  forget(name: string): void {
    const had = this.active.delete(name);
    for (const key of this.versions.keys()) if (key.startsWith(`${name}\0`)) this.versions.delete(key);
    if (had) this.swapped(name, 0);
  }

  /**
   * The active version once it is at least minVersion: read-your-writes across replicas. Re-reads the
   * store at once, then waits for a swap up to waitMs; FAILED_PRECONDITION when it does not come.
   */
  /** The head a request asks for: a pinned version, or the active one at least min_version (waiting up to waitMs). */
  async resolve(name: string, request: { version: number; minVersion: number }, waitMs: number, signal?: CancelSignal): Promise<ServedHead> {
    const head = request.minVersion > 0 && request.version === 0 ? await this.atLeast(name, request.minVersion, waitMs, signal) : await this.get(name, request.version);
    if (request.minVersion > 0 && head.version < request.minVersion) {
      throw failedPrecondition(`head "${name}" serves version ${head.version}, older than min_version ${request.minVersion}`);
    }
    return head;
  }

  async atLeast(name: string, minVersion: number, waitMs: number, signal?: CancelSignal): Promise<ServedHead> {
    const current = (): ServedHead | undefined => {
      const served = this.active.get(name);
      return served && served.version >= minVersion ? served : undefined;
    };
    if (current()) return current()!;
    const deadline = performance.now() + waitMs;
    await this.refresh(name).catch(() => {});
    while (!current() && performance.now() < deadline && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(250, Math.max(1, deadline - performance.now())));
        const unsubscribe = this.onSwap((swapped) => swapped === name && done());
        function done(): void {
          clearTimeout(timer);
          unsubscribe();
          resolve();
        }
      });
      // No notification (yet): read the store again, at most every 250 ms.
      if (!current()) await this.refresh(name).catch(() => {});
    }
    const served = current();
    if (served) return served;
    const serving = this.active.get(name)?.version;
    if (serving === undefined && !(await this.store.getHead(name).catch(() => ({})))) throw notFound(`head "${name}" does not exist`);
    throw failedPrecondition(
      `head "${name}" serves ${serving === undefined ? "no version" : `version ${serving}`}, older than min_version ${minVersion} (waited ${waitMs} ms)`,
    );
  }

  private async reload(name: string): Promise<ServedHead | undefined> {
    const head = await this.store.getHead(name);
    if (!head || head.activeVersion === 0 || head.modelHash !== this.modelHash) {
      if (this.active.has(name)) this.forget(name);
      return undefined;
    }
    const served = await this.version(name, head.activeVersion);
    const before = this.active.get(name)?.version;
    this.active.set(name, served);
    if (before !== served.version) this.swapped(name, served.version);
    return served;
  }

  private swapped(name: string, version: number): void {
    for (const listener of this.swapListeners) listener(name, version);
  }

  /** The served head: its active version, or a given one (0 = active). */
  async get(name: string, version = 0): Promise<ServedHead> {
    if (version === 0) {
      const served = this.active.get(name);
      if (served) return served;
      const head = await this.store.getHead(name);
      if (!head) throw notFound(`head "${name}" does not exist`);
      if (head.modelHash !== this.modelHash) throw trainedOnAnotherModel(name, head.modelHash);
      throw notFound(`head "${name}" has no active version yet (commit an Adapt stream first)`);
    }
    return this.version(name, version);
  }

  private async version(name: string, version: number): Promise<ServedHead> {
    const key = `${name}\0${version}`;
    const cached = this.versions.get(key);
    if (cached) return cached;
    const head = await this.store.getHead(name);
    if (!head) throw notFound(`head "${name}" does not exist`);
    if (head.modelHash !== this.modelHash) throw trainedOnAnotherModel(name, head.modelHash);
    const stored = await this.store.loadVersion(name, version);
    if (!stored) throw notFound(`head "${name}" has no version ${version} (latest is ${head.latestVersion})`);
    const snapshot = HeadTrainer.restore(stored.state).freeze();
    const served: ServedHead = { name, version, type: head.type, pooling: this.poolingOf(stored.config), snapshot, pair: head.input === "pair" };
    this.versions.set(key, served);
    if (this.versions.size > MAX_CACHED_VERSIONS) this.versions.delete(this.versions.keys().next().value!);
    return served;
  }

  names(): string[] {
    return [...this.active.keys()];
  }
}

function trainedOnAnotherModel(name: string, modelHash: string): Error {
  return failedPrecondition(`head "${name}" was trained on another encoder (model hash ${modelHash.slice(0, 12)}…), not the one served: it is not served; retrain it on this model`);
}
