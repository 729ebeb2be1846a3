import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HeadRegistry } from "../../src/adaptation/head-registry.js";
import { HeadSync } from "../../src/adaptation/head-sync.js";
import { ServiceError } from "../../src/core/errors.js";
import { PoolingMode } from "../../src/core/pooling.js";
import { HeadTrainer } from "../../src/heads/index.js";
import type { NewVersion } from "../../src/store/head-store.js";
import { PostgresHeadStore } from "../../src/store/postgres-store.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { until } from "../helpers/adapt-stream.js";
import { throwawayDatabase, type ThrowawayDatabase } from "../helpers/postgres.js";

const log = createLogger("silent", false);
const HASH = "model-hash";

function version(): NewVersion {
  const trainer = HeadTrainer.create({ type: "multiclass", architecture: "linear", inputDim: 4, labels: ["a", "b"], allowNewLabels: false });
  return { labels: ["a", "b"], config: new Uint8Array(), metrics: { examples: 0, accuracy: 0, macroF1: 0, logLoss: 0 }, state: trainer.serialize(), trainedExamples: 0, steps: 0 };
}

/** A replica's registry following a store that another "replica" writes. */
describe("HeadSync: a replica follows heads written elsewhere", () => {
  let db: ThrowawayDatabase;
  let writer: PostgresHeadStore;
  let reader: PostgresHeadStore;
  let registry: HeadRegistry;
  let sync: HeadSync;

  before(async () => {
    db = await throwawayDatabase();
    writer = await PostgresHeadStore.open(db.url, { leaseTtlMs: 2000, log });
    reader = await PostgresHeadStore.open(db.url, { leaseTtlMs: 2000, log });
    registry = new HeadRegistry(reader, HASH, () => PoolingMode.mean, log);
    sync = new HeadSync(reader, registry, 400, log);
    // Each test has its own head (each must pass alone).
    for (const name of ["notified", "min", "deleted"]) await writer.ensureHead(name, "multiclass", HASH);
  });
  after(async () => {
    sync?.stop();
    await reader?.close();
    await writer?.close();
    await db?.drop();
  });

  const serving = async (head: string): Promise<number> => (await registry.get(head).catch(() => ({ version: 0 }))).version;
  /** Commits `count` new versions of the head, each activated. */
  const commit = async (head: string, count: number): Promise<void> => {
    const lease = await writer.acquireLease(head, { wait: false });
    for (let i = 0; i < count; i++) await writer.commitVersion(lease, version(), true);
    await lease.release();
  };

  it("swaps in a commit on notification, and heals a change made without one by re-reading", async () => {
    assert.equal(await serving("notified"), 0);
    const lease = await writer.acquireLease("notified", { wait: false });
    await writer.commitVersion(lease, version(), true);
    await until("the notified commit to be served", 3000, async () => ((await serving("notified")) === 1 ? true : undefined));
    await writer.commitVersion(lease, version(), false);
    await lease.release();
    // A change that sends no notification (as if it were lost): only the periodic re-read sees it.
    await db.sql("UPDATE heads SET active_version = 2 WHERE name = 'notified'");
    await until("the re-read to serve version 2", 3000, async () => ((await serving("notified")) === 2 ? true : undefined));
  });

  it("min_version: answers at once when the store already has it, FAILED_PRECONDITION after the wait otherwise", async () => {
    await commit("min", 3);
    const served = await registry.atLeast("min", 3, 2000);
    assert.equal(served.version, 3);
    const started = performance.now();
    await assert.rejects(registry.atLeast("min", 9, 300), (error: ServiceError) => {
      assert.equal(error.kind, "failed_precondition");
      assert.match(error.message, /serves version 3, older than min_version 9 \(waited 300 ms\)/);
      return true;
    });
    assert.ok(performance.now() - started >= 290);
    await assert.rejects(registry.atLeast("nope", 1, 100), (error: ServiceError) => error.kind === "not_found");
  });

  it("drops a head deleted on another replica", async () => {
    await commit("deleted", 1);
    await until("the head to be served", 3000, async () => ((await serving("deleted")) === 1 && registry.names().includes("deleted") ? true : undefined));
    assert.equal(await writer.deleteHead("deleted"), true);
    await until("the deleted head to stop being served", 3000, () => (registry.names().includes("deleted") ? undefined : true));
  });
});
