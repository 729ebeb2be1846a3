import type { Logger } from "pino";
import { notFound } from "../core/errors.js";
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
}

export type PoolingOfConfig = (config: Uint8Array) => PoolingMode;

const MAX_CACHED_VERSIONS = 64;

/** The heads this replica serves: active versions by name, swapped whole on commit or rollback. */
export class HeadRegistry {
  private readonly active = new Map<string, ServedHead>();
  private readonly versions = new Map<string, ServedHead>();

  constructor(
    private readonly store: HeadStore,
    private readonly modelHash: string,
    private readonly poolingOf: PoolingOfConfig,
    private readonly log: Logger,
  ) {}

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
  async refresh(name: string): Promise<ServedHead | undefined> {
    const head = await this.store.getHead(name);
    if (!head || head.activeVersion === 0) {
      this.active.delete(name);
      return undefined;
    }
    const served = await this.version(name, head.activeVersion);
    this.active.set(name, served);
    return served;
  }

  forget(name: string): void {
    this.active.delete(name);
    for (const key of this.versions.keys()) if (key.startsWith(`${name}\0`)) this.versions.delete(key);
  }

  /** The served head: its active version, or a given one (0 = active). */
  async get(name: string, version = 0): Promise<ServedHead> {
    if (version === 0) {
      const served = this.active.get(name);
      if (served) return served;
      const head = await this.store.getHead(name);
      if (!head) throw notFound(`head "${name}" does not exist`);
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
    const stored = await this.store.loadVersion(name, version);
    if (!stored) throw notFound(`head "${name}" has no version ${version} (latest is ${head.latestVersion})`);
    const snapshot = HeadTrainer.restore(stored.state).freeze();
    const served: ServedHead = { name, version, type: head.type, pooling: this.poolingOf(stored.config), snapshot };
    this.versions.set(key, served);
    if (this.versions.size > MAX_CACHED_VERSIONS) this.versions.delete(this.versions.keys().next().value!);
    return served;
  }

  names(): string[] {
    return [...this.active.keys()];
  }
}
